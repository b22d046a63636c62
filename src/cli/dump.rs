//! `heapsnap dump <pid>` or `heapsnap dump <core>`: capture the census ([`crate::capture`]),
//! then print and write it.

use super::{exit, print_stdout, progress, DumpArgs, Failure};
use std::path::PathBuf;

use crate::capture::{
    capture_core_deferred, capture_deferred, CaptureError, FailureKind, Options, Patience,
};
use crate::heap::edges::KeyLabels;
use crate::memory::core::is_core;
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
        FailureKind::BadCore => exit::BAD_CORE,
    };
    Failure::new(code, e.message)
}

/// Take a census of `pid`, write it to `path` and read it back ([`super::read_snapshot`]):
/// how `around` and `demo` take the snapshots they compare, no heap kept between them.
pub fn snapshot_to(
    pid: i32,
    options: &Options,
    path: &std::path::Path,
    explained: bool,
) -> Result<Snapshot, Failure> {
    let mut taken = capture_deferred(pid, options).map_err(capture_failure)?;
    Snapshot::write_heap(path, &taken.meta, &mut taken.census, &mut taken.heap)
        .map_err(|e| write_failure(path, e))?;
    drop(taken);
    super::read_snapshot(path, explained)
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

/// What `dump` reads: a live process, or a core file.
enum Read {
    Process(i32),
    Core(PathBuf),
}

/// A number is a pid; anything else must name an ELF core file.
fn what_to_read(args: &DumpArgs) -> Result<Read, Failure> {
    let usage = |m: String| Failure::new(exit::USAGE, m);
    if let Ok(pid) = args.target.parse::<i32>() {
        if args.sysroot.is_some() {
            return Err(usage(
                "--sysroot is for core files, not for a live process".into(),
            ));
        }
        return Ok(Read::Process(pid));
    }
    let path = PathBuf::from(&args.target);
    if !path.exists() {
        return Err(Failure::new(
            exit::BAD_CORE,
            format!("{}: no such file, and not a pid", args.target),
        ));
    }
    if args.nonblocking || args.low_memory {
        return Err(usage(
            "--nonblocking and --low-memory are for a live process, not for a core file".into(),
        ));
    }
    if !is_core(&path) {
        return Err(Failure::new(
            exit::BAD_CORE,
            format!(
                "{}: not a pid, and not an ELF core file (gcore or a kernel core dump)",
                args.target
            ),
        ));
    }
    Ok(Read::Core(path))
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
        on_phase: progress::phase_observer(),
    };
    let print_trail = |trail: &[String]| {
        if args.verbose {
            for line in trail {
                progress::eprint_line(&format!("heapsnap: {line}"));
            }
        }
    };
    let read = what_to_read(args)?;
    let progress = (!args.quiet).then(|| progress::start(format!("census of {}", args.target)));
    let mut taken = match read {
        Read::Process(pid) => capture_deferred(pid, &options),
        Read::Core(path) => capture_core_deferred(&path, args.sysroot.as_deref(), &options),
    }
    .map_err(|e| {
        print_trail(&e.trail);
        capture_failure(e)
    })?;
    for w in &taken.warnings {
        progress::eprint_line(&format!("heapsnap: warning: {w}"));
    }
    print_trail(&taken.trail);
    if let Some(path) = &args.output {
        progress::phase(&format!("writing {}", path.display()));
        let started = std::time::Instant::now();
        Snapshot::write_heap(path, &taken.meta, &mut taken.census, &mut taken.heap)
            .map_err(|e| write_failure(path, e))?;
        print_trail(&[format!(
            "wrote {} in {:.1} ms",
            path.display(),
            started.elapsed().as_secs_f64() * 1e3
        )]);
    }
    // The retained sizes, unless writing the snapshot computed them.
    if taken.heap.dominators_pending() {
        progress::phase("computing retained sizes");
        taken.complete();
    }
    let (meta, census, heap) = (&taken.meta, &taken.census, &taken.heap);
    if let Some(path) = &args.objects {
        progress::phase(&format!("writing {}", path.display()));
        write_objects_jsonl(path, heap).map_err(|e| write_failure(path, e))?;
    }
    drop(progress);
    if args.quiet {
        Ok(())
    } else {
        print_stdout(&census_table(meta, census, args.top))
    }
}
