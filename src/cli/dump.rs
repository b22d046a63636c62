//! `heapsnap dump <pid>`: find the interpreter, stop the target, copy its writable memory,
//! resume it, walk the copy, and print / write the census.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::{exit, DumpArgs, Failure};
use crate::census::Census;
use crate::heap::{walk::walk, Heap, Mode, WalkError};
use crate::interpreter::{FindError, Interpreter};
use crate::memory::freeze::{FreezeError, Frozen};
use crate::memory::image::{CopyPlan, Image};
use crate::memory::maps::{read_maps, Mapping};
use crate::memory::process::ProcessMemory;
use crate::memory::MemoryError;
use crate::render::census::census_table;
use crate::snapshot::{write_objects_jsonl, Meta, PythonInfo, Snapshot};

fn permission_message(pid: i32) -> String {
    format!(
        "permission denied reading process {pid}: heapsnap needs to run as root or with \
         CAP_SYS_PTRACE (check /proc/sys/kernel/yama/ptrace_scope; in a container add \
         --cap-add=SYS_PTRACE)"
    )
}

/// The fields of /proc/<pid>/stat from the state on (field 3): those after the parenthesised
/// command name, which may hold spaces and parentheses.
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// The target went away while heapsnap read it.
fn target_lost(pid: i32) -> Failure {
    Failure::new(
        exit::TARGET_LOST,
        format!("process {pid} exited during the read"),
    )
}

/// Whether `pid` is gone or exiting (a zombie, or dead: state `Z`, `X` or `x`).
fn exiting(pid: i32) -> bool {
    let state = stat_fields(pid).and_then(|f| f.first().cloned());
    matches!(state.as_deref(), None | Some("Z" | "X" | "x"))
}

/// The pid tracing `pid` (`TracerPid` in /proc/<pid>/status), if any.
fn tracer_of(pid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let tracer: i32 = status
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))?
        .trim()
        .parse()
        .ok()?;
    (tracer != 0).then_some(tracer)
}

fn memory_failure(pid: i32, e: MemoryError) -> Failure {
    match e {
        MemoryError::PermissionDenied(_) => Failure::new(exit::PERMISSION, permission_message(pid)),
        MemoryError::Gone(_) => target_lost(pid),
        e @ MemoryError::Unreadable { .. } => {
            Failure::new(exit::INCONSISTENT, format!("reading process {pid}: {e}"))
        }
    }
}

fn find_failure(pid: i32, e: FindError) -> Failure {
    match e {
        FindError::NotPython { .. } => Failure::new(exit::NOT_PYTHON, e.to_string()),
        FindError::Unsupported { .. } | FindError::FreeThreaded(_) | FindError::NeedsSymbols(_) => {
            Failure::new(exit::UNSUPPORTED, e.to_string())
        }
        // Nothing is stopped yet: an unreadable runtime means this is no interpreter we know.
        FindError::Memory(MemoryError::Unreadable { addr, .. }) => Failure::new(
            exit::NOT_PYTHON,
            format!("process {pid}: the Python runtime's memory at {addr:#x} is not readable"),
        ),
        FindError::Memory(m) => memory_failure(pid, m),
    }
}

fn freeze_failure(pid: i32, e: FreezeError) -> Failure {
    match e {
        FreezeError::NoSuchProcess(_) => target_lost(pid),
        // The kernel refuses to seize a process that is exiting (EPERM, as for a lack of rights).
        FreezeError::PermissionDenied(_) if exiting(pid) => target_lost(pid),
        FreezeError::PermissionDenied(_) => match tracer_of(pid) {
            Some(tracer) => Failure::new(
                exit::PERMISSION,
                format!(
                    "process {pid} is already traced by process {tracer} (a debugger, py-spy or \
                     strace?); detach it first"
                ),
            ),
            None => Failure::new(exit::PERMISSION, permission_message(pid)),
        },
        e @ (FreezeError::Timeout { .. } | FreezeError::Other { .. }) => {
            Failure::new(exit::TARGET_LOST, e.to_string())
        }
    }
}

/// The target, copied: its image and how the copy went.
struct Copy {
    image: Image,
    pause_ms: f64,
    threads: usize,
}

/// Stop (unless `nonblocking`), copy the writable memory, resume. `maps`, read before, size
/// the buffers prepared while the target still runs.
fn copy_target(pid: i32, maps: &[Mapping], nonblocking: bool) -> Result<Copy, Failure> {
    let source = ProcessMemory::new(pid);
    // Allocate and fault in the copy's buffers while the target still runs.
    let plan = CopyPlan::prepare(pid, maps)
        .map_err(|t| Failure::new(exit::ERROR, format!("process {pid} has {t}")))?;
    let frozen = if nonblocking {
        None
    } else {
        Some(Frozen::stop(pid).map_err(|e| freeze_failure(pid, e))?)
    };
    let started = Instant::now();
    // Maps are read while stopped: they must describe the memory we copy.
    let maps = read_maps(pid).map_err(|_| target_lost(pid))?;
    let image = Image::copy_process(&source, &maps, plan).map_err(|e| memory_failure(pid, e))?;
    let threads = frozen.as_ref().map(|f| f.thread_count()).unwrap_or(0);
    let pause = match frozen {
        Some(f) => f.resume(),
        None => started.elapsed(),
    };
    Ok(Copy {
        image: image.with_fallback(Box::new(source)),
        pause_ms: pause.as_secs_f64() * 1e3,
        threads,
    })
}

/// A census of a live process, ready to print or save.
pub struct Taken {
    pub meta: Meta,
    pub census: Census,
    pub heap: Heap,
}

/// Find the interpreter of `pid`, copy its memory (stopping it unless `nonblocking`), walk it.
pub fn take(pid: i32, mode: Mode, nonblocking: bool) -> Result<Taken, Failure> {
    if pid <= 0 || !std::path::Path::new(&format!("/proc/{pid}")).exists() {
        return Err(Failure::new(
            exit::NO_SUCH_PROCESS,
            format!("no process with pid {pid}"),
        ));
    }
    let maps = read_maps(pid).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            Failure::new(exit::PERMISSION, permission_message(pid))
        }
        _ => Failure::new(exit::NO_SUCH_PROCESS, format!("no process with pid {pid}")),
    })?;
    let live = ProcessMemory::new(pid);
    let interp = Interpreter::find(pid, &maps, &live).map_err(|e| find_failure(pid, e))?;

    let copy = copy_target(pid, &maps, nonblocking)?;
    if nonblocking {
        eprintln!(
            "heapsnap: warning: --nonblocking: process {pid} kept running during the copy; \
             the census may be inconsistent"
        );
    }
    let walk_started = Instant::now();
    let walked = walk(&copy.image, &interp, mode, nonblocking).map_err(|e| match e {
        WalkError::Corrupt(_) if nonblocking => Failure::new(
            exit::INCONSISTENT,
            format!("{e} (the target changed during a --nonblocking read; retry without it)"),
        ),
        WalkError::Corrupt(_) => Failure::new(exit::INCONSISTENT, e.to_string()),
    })?;
    let walk_ms = walk_started.elapsed().as_secs_f64() * 1e3;
    if copy.image.source_gone() {
        return Err(Failure::new(
            exit::TARGET_LOST,
            format!("process {pid} exited during the walk; the census would be incomplete"),
        ));
    }
    let Copy {
        image,
        pause_ms,
        threads,
    } = copy;
    let copied_bytes = image.stats().bytes;
    // Rank the objects (two threads, ~6 ms for 1.2M objects here), then release the copy before
    // the census and the snapshot's text take memory (~9 ms per 100 MB). Not both at once:
    // unmapping interrupts the other core with TLB flushes, which made ranking three times
    // slower (18 ms) and the two together slower than one after the other (17 ms against 15).
    let order = walked.address_order();
    drop(image);
    let heap = walked.into_heap(order);
    for w in &heap.warnings {
        eprintln!("heapsnap: warning: --nonblocking: {w}; objects past that point may be missing");
    }
    let census = Census::from_heap(&heap);
    let meta = Meta {
        pid,
        hostname: hostname(),
        start_time: start_time(pid),
        boot_id: std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        taken_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0),
        heapsnap_version: env!("CARGO_PKG_VERSION").into(),
        python: PythonInfo {
            version: interp.version.to_string(),
            binary: interp.binary.clone(),
            shared_library: interp.shared_library,
            symbols: interp.has_symtab,
        },
        mode,
        consistent: !nonblocking,
        objects: census.objects,
        bytes: census.bytes,
        pause_ms,
        walk_ms,
        copied_bytes,
        threads,
        interpreters: heap.interpreters,
    };
    Ok(Taken { meta, census, heap })
}

pub fn write_failure(path: &std::path::Path, e: std::io::Error) -> Failure {
    Failure::new(exit::ERROR, format!("cannot write {}: {e}", path.display()))
}

pub fn run(args: &DumpArgs) -> Result<(), Failure> {
    let Taken { meta, census, heap } = take(args.pid, args.mode, args.nonblocking)?;
    if let Some(path) = &args.output {
        Snapshot::write_heap(path, &meta, &census, &heap).map_err(|e| write_failure(path, e))?;
    }
    if let Some(path) = &args.objects {
        write_objects_jsonl(path, &heap).map_err(|e| write_failure(path, e))?;
    }
    if !args.quiet {
        print!("{}", census_table(&meta, &census, args.top));
    }
    Ok(())
}

/// When `pid` started: field 22 of /proc/<pid>/stat, in clock ticks after boot.
fn start_time(pid: i32) -> u64 {
    stat_fields(pid)
        .and_then(|f| f.get(19)?.parse().ok())
        .unwrap_or(0)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}
