//! `heapsnap dump <pid>`: capture the census ([`crate::capture`]), then print and write it.

use super::{exit, print_stdout, DumpArgs, Failure};
use crate::capture::{capture, CaptureError, FailureKind, Options, Patience};
use crate::heap::edges::KeyLabels;
use crate::render::census::census_table;
use crate::snapshot::{output, write_objects_jsonl, Snapshot};

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

/// Check every output path before anything is stopped: a typo must not cost the target a
/// pause. Each must be writable; they must not be the same file; and without `--quiet` none
/// may be heapsnap's standard output, where the table goes.
fn check_output_paths(args: &DumpArgs) -> Result<(), Failure> {
    let outputs: Vec<&std::path::Path> = [&args.output, &args.objects]
        .into_iter()
        .flatten()
        .map(std::path::PathBuf::as_path)
        .collect();
    for path in &outputs {
        output::check_writable(path).map_err(|e| write_failure(path, e))?;
    }
    if let [snapshot, objects] = outputs[..] {
        if output::same_file(snapshot, objects) {
            return Err(Failure::new(
                exit::USAGE,
                format!(
                    "-o and --objects both name {}: give two files",
                    objects.display()
                ),
            ));
        }
    }
    let stdout = std::path::Path::new("/dev/stdout");
    match outputs.iter().find(|p| output::same_file(p, stdout)) {
        Some(path) if !args.quiet => Err(Failure::new(
            exit::USAGE,
            format!(
                "{} is heapsnap's standard output, where the table goes too: add --quiet",
                path.display()
            ),
        )),
        _ => Ok(()),
    }
}

pub fn run(args: &DumpArgs) -> Result<(), Failure> {
    check_output_paths(args)?;
    let options = Options {
        mode: args.mode.into(),
        nonblocking: args.nonblocking,
        low_memory: args.low_memory,
        retained: !args.no_retained,
        objects: args.output.is_some() || args.objects.is_some(),
        keys: if args.keys {
            KeyLabels::Literal
        } else {
            KeyLabels::Masked
        },
        patience: Patience::default(),
    };
    let print_trail = |trail: &[String]| {
        if args.verbose {
            for line in trail {
                eprintln!("heapsnap: {line}");
            }
        }
    };
    let taken = capture(args.pid, &options).map_err(|e| {
        print_trail(&e.trail);
        capture_failure(e)
    })?;
    for w in &taken.warnings {
        eprintln!("heapsnap: warning: {w}");
    }
    print_trail(&taken.trail);
    let (meta, census, heap) = (&taken.meta, &taken.census, &taken.heap);
    if let Some(path) = &args.output {
        Snapshot::write_heap(path, meta, census, heap).map_err(|e| write_failure(path, e))?;
    }
    if let Some(path) = &args.objects {
        write_objects_jsonl(path, heap).map_err(|e| write_failure(path, e))?;
    }
    if args.quiet {
        Ok(())
    } else {
        print_stdout(&census_table(meta, census, args.top))
    }
}
