//! `heapsnap diff A.json B.json [C.json]`: compare snapshots from files.

use super::{exit, print_stdout, DiffArgs, Failure};
use crate::diff::{diff, resolve_type_names, Options};
use crate::render::diff::diff_table;
use crate::snapshot::Snapshot;

pub fn run(args: &DiffArgs) -> Result<(), Failure> {
    let read = |p: &std::path::Path| {
        Snapshot::read(p).map_err(|e| Failure::new(exit::BAD_SNAPSHOT, e.to_string()))
    };
    let before = read(&args.before)?;
    let after = read(&args.after)?;
    let later = args.later.as_deref().map(read).transpose()?;
    let snapshots: Vec<&Snapshot> = [&before, &after].into_iter().chain(&later).collect();
    let chain_for = resolve_type_names(&snapshots, &args.types)
        .map_err(|e| Failure::new(exit::USAGE, format!("--type: {e}")))?;
    let opts = Options {
        group_by: args.by.into(),
        all_rows: args.all,
        chain_types: args.chains,
        chains_per_type: args.per_type,
        chain_for,
        attachments: args.attachments,
        suspects: args.suspects,
        include_garbage: args.include_garbage,
    };
    let d = diff(&before, &after, later.as_ref(), &opts);
    for w in &d.warnings {
        eprintln!("heapsnap: warning: {w}");
    }
    if args.json {
        let text = serde_json::to_string_pretty(&d)
            .map_err(|e| Failure::new(exit::ERROR, format!("cannot encode JSON: {e}")))?;
        print_stdout(&format!("{text}\n"))
    } else {
        print_stdout(&diff_table(&d, args.top))
    }
}
