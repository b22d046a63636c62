//! `heapsnap diff A.json B.json [C.json]`: compare snapshots from files, or samples of a
//! series (`series.jsonl@N`).

use super::{exit, print_json_or, progress, read_snapshot, DiffArgs, Failure};
use crate::diff::{diff, resolve_type_names, Options};
use crate::render::diff::diff_table;
use std::path::Path;

use crate::snapshot::series::{is_series, read_sample};
use crate::snapshot::{ReadError, Snapshot};

/// A snapshot file (`lean`: only what identifies its objects, see [`Snapshot::read_lean`]),
/// or `SERIES@N`: sample N of a series (from 0; negative from the end). A path that exists as
/// written is a file, even with an `@` in its name.
fn read(path: &Path, lean: bool) -> Result<Snapshot, Failure> {
    let bad = |e: ReadError| Failure::new(exit::BAD_SNAPSHOT, e.to_string());
    if path.exists() {
        if is_series(path) {
            return Err(Failure::new(
                exit::BAD_SNAPSHOT,
                format!(
                    "{} is a series: pick a sample, e.g. {0}@0 (the first) or {0}@-1 (the last)",
                    path.display()
                ),
            ));
        }
        return read_snapshot(path, !lean);
    }
    let text = path.to_string_lossy();
    if let Some((file, n)) = text.rsplit_once('@') {
        let n: i64 = n.parse().map_err(|_| {
            Failure::new(
                exit::BAD_SNAPSHOT,
                format!("{text}: after @ comes a sample number (0, 1, ... or -1 for the last)"),
            )
        })?;
        return read_sample(Path::new(file), n)
            .map(|s| s.into_snapshot())
            .map_err(bad);
    }
    Snapshot::read(path).map_err(bad)
}

pub fn run(args: &DiffArgs) -> Result<(), Failure> {
    let progress = progress::start("reading the snapshots");
    let reading = |path: &Path, lean: bool| {
        progress::phase(&format!("reading {}", path.display()));
        read(path, lean)
    };
    // Only B's objects are explained (chains, attachments, suspects): A and C need only what
    // identifies their objects, except to group by the packages objects hang under.
    let lean = !matches!(args.by, super::GroupByArg::Module);
    let before = reading(&args.before, lean)?;
    let after = reading(&args.after, false)?;
    let later = args
        .later
        .as_deref()
        .map(|p| reading(p, lean))
        .transpose()?;
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
    progress::phase("comparing");
    let d = diff(&before, &after, later.as_ref(), &opts);
    drop(progress);
    for w in &d.warnings {
        eprintln!("heapsnap: warning: {w}");
    }
    print_json_or(args.json, &d, || diff_table(&d, args.top))
}
