//! `heapsnap report A.json B.json [C.json] -o report.html`: the comparison as one
//! self-contained HTML page ([`crate::render::report`]).

use std::path::Path;

use super::dump::write_failure;
use super::{progress, read_snapshot, Failure, ReportArgs};
use crate::diff::tree::retained_tree;
use crate::diff::{diff_and_new, GroupBy, Options};
use crate::render::report::report_html;
use crate::snapshot::{output, write_atomically, Snapshot};

pub fn run(args: &ReportArgs) -> Result<(), Failure> {
    output::check_writable(&args.output).map_err(|e| write_failure(&args.output, e))?;
    let progress = progress::start("reading the snapshots");
    let files: Vec<&Path> = args.snapshots.iter().map(|p| p.as_path()).collect();
    let mut snapshots = Vec::new();
    for (k, path) in files.iter().enumerate() {
        progress::phase(&format!("reading {}", path.display()));
        // Only B's objects are explained: A and C need only what identifies their objects.
        snapshots.push(read_snapshot(path, k == 1)?);
    }
    progress::phase("comparing");
    let opts = Options {
        group_by: GroupBy::Type,
        all_rows: false,
        chain_types: 5,
        chains_per_type: 2,
        chain_for: Vec::new(),
        attachments: 8,
        suspects: 5,
        include_garbage: args.include_garbage,
    };
    let (before, after, later) = (&snapshots[0], &snapshots[1], snapshots.get(2));
    let (d, new) = diff_and_new(before, after, later, &opts);
    for w in &d.warnings {
        progress::eprint_line(&format!("heapsnap: warning: {w}"));
    }
    let tree = retained_tree(after, &new);
    drop(new);
    let all: Vec<&Snapshot> = snapshots.iter().collect();
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let page = report_html(&all, &names, &d, tree.as_ref());
    progress::phase(&format!("writing {}", args.output.display()));
    write_atomically(&args.output, |out| out.write_all(page.as_bytes()))
        .map_err(|e| write_failure(&args.output, e))?;
    drop(progress);
    eprintln!("heapsnap: report written to {}", args.output.display());
    Ok(())
}
