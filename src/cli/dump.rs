//! `heapsnap dump <pid>`: capture the census ([`crate::capture`]), then print and write it.

use super::{exit, DumpArgs, Failure};
use crate::capture::{capture, CaptureError, FailureKind, Options, Patience};
use crate::render::census::census_table;
use crate::snapshot::{write_objects_jsonl, Snapshot};

/// The exit code of a failed capture (README "Exit codes").
pub fn capture_failure(e: CaptureError) -> Failure {
    let code = match e.kind {
        FailureKind::NoSuchProcess => exit::NO_SUCH_PROCESS,
        FailureKind::PermissionDenied => exit::PERMISSION,
        FailureKind::NotPython => exit::NOT_PYTHON,
        FailureKind::Unsupported => exit::UNSUPPORTED,
        FailureKind::TargetLost => exit::TARGET_LOST,
        FailureKind::Inconsistent => exit::INCONSISTENT,
        FailureKind::TooBig => exit::ERROR,
    };
    Failure::new(code, e.message)
}

pub fn write_failure(path: &std::path::Path, e: std::io::Error) -> Failure {
    Failure::new(exit::ERROR, format!("cannot write {}: {e}", path.display()))
}

pub fn run(args: &DumpArgs) -> Result<(), Failure> {
    let options = Options {
        mode: args.mode,
        nonblocking: args.nonblocking,
        patience: Patience::default(),
    };
    let taken = capture(args.pid, &options).map_err(capture_failure)?;
    for w in &taken.warnings {
        eprintln!("heapsnap: warning: {w}");
    }
    if args.verbose {
        for line in &taken.trail {
            eprintln!("heapsnap: {line}");
        }
    }
    let (meta, census, heap) = (&taken.meta, &taken.census, &taken.heap);
    if let Some(path) = &args.output {
        Snapshot::write_heap(path, meta, census, heap).map_err(|e| write_failure(path, e))?;
    }
    if let Some(path) = &args.objects {
        write_objects_jsonl(path, heap).map_err(|e| write_failure(path, e))?;
    }
    if !args.quiet {
        print!("{}", census_table(meta, census, args.top));
    }
    Ok(())
}
