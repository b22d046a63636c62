//! The capture pipeline: from a pid (or a core file: [`capture_core`]) to a walked heap and its
//! census, the one sequence every command, test and example uses. Every source ends in the
//! same steps: the walk of an [`Image`], then `finish` (order, dominators, census, meta).
//!
//! Find the interpreter; stop the target (unless non-blocking); if its collector is in the
//! middle of a collection, resume it at once and stop it again a little later; copy its
//! writable memory; resume; walk the copy. A stop that lands while a thread links or unlinks a
//! GC header leaves a torn list, which the walk finds: that copy is dropped and the target is
//! stopped again. Stops are bounded in count and time ([`Patience`]); when no safe moment comes,
//! the last copy is walked tolerantly (torn lists walked around, every object reachable from
//! the roots still found) and the result is marked inconsistent. Only memory that no retry can
//! explain fails as [`FailureKind::Inconsistent`].
//!
//! Where the copy would not fit in the memory heapsnap may use (or with
//! [`Options::low_memory`]), nothing is copied: the target is read in place through a bounded
//! cache ([`Image::live_cached`]) and stays stopped for the whole walk, a longer pause; the
//! retained sizes, whose computation would break that mode's memory bound, are left out.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::census::Census;
use crate::heap::allocator::{allocator_usage, AllocatorUsage};
use crate::heap::edges::KeyLabels;
use crate::heap::gc_lists::collection_in_progress;
use crate::heap::order::Walked;
use crate::heap::walk::{walk, Keep};
use crate::heap::{Heap, Mode, WalkError};
use crate::interpreter::{FindError, Interpreter, Target};
use crate::memory::core::CoreFile;
use crate::memory::freeze::{FreezeError, Frozen};
use crate::memory::image::{CopyPlan, Image};
use crate::memory::maps::{read_maps, Mapping};
use crate::memory::process::ProcessMemory;
use crate::memory::smaps::resident_memory;
use crate::memory::{Memory, MemoryError};
use crate::snapshot::{MemoryAccount, MemoryMode, Meta, PythonInfo, LEFT_OUT_RETAINED};

/// Why a capture failed. Each kind has its own exit code (README "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    NoSuchProcess,
    PermissionDenied,
    NotPython,
    Unsupported,
    /// The target exited, or could not be stopped, during the read.
    TargetLost,
    /// The target's memory did not hold together, and no retry explained it.
    Inconsistent,
    /// The copy would not fit in the memory heapsnap may use.
    TooBig,
    /// A core file that cannot be read (not a core, damaged, cut short).
    BadCore,
}

/// A failed capture: what kind of failure, and one line that says it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CaptureError {
    pub kind: FailureKind,
    pub message: String,
    /// The steps taken before the failure, for `--verbose` (see [`Capture::trail`]).
    pub trail: Vec<String>,
}

impl CaptureError {
    fn new(kind: FailureKind, message: impl Into<String>) -> CaptureError {
        CaptureError {
            kind,
            message: message.into(),
            trail: Vec::new(),
        }
    }
}

/// How long to wait for a moment when the target's GC lists can be read: at most this many
/// stops, and no new stop after this much time.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    pub max_stops: u32,
    pub within: Duration,
}

impl Default for Patience {
    /// 20 stops in 3 s: a collector busy 90 % of the time still leaves a safe moment with
    /// near certainty, and each stop that finds a collection costs the target well under a
    /// millisecond (it is resumed at once).
    fn default() -> Patience {
        Patience {
            max_stops: 20,
            within: Duration::from_secs(3),
        }
    }
}

/// What to capture, and how.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub mode: Mode,
    /// Copy without stopping the target (the census may be inconsistent).
    pub nonblocking: bool,
    /// Read the stopped target in place instead of copying it (a longer pause, much less
    /// memory); chosen anyway when the copy would not fit.
    pub low_memory: bool,
    /// Compute the dominator tree and retained sizes (copy mode only: the low-memory mode
    /// leaves them out).
    pub retained: bool,
    /// Keep every object's record ([`Capture::heap`] holds them all: a snapshot's or
    /// `--objects`' rows). Without, a table by type is all the caller needs, and the
    /// low-memory mode folds records into counts as it walks ([`Keep::Counts`]).
    pub objects: bool,
    /// How dict keys appear in labels: masked unless they read like names, or literally.
    pub keys: KeyLabels,
    pub patience: Patience,
    /// Told the name of each phase as it starts ("copying", "walking", ...), for a progress
    /// indicator; the library itself prints nothing.
    pub on_phase: Option<fn(&'static str)>,
}

/// The most memory the low-memory mode's cache of the target's memory takes: 1 MB for each of
/// two reading threads (W1, 3.12.1, fetched in all: 198 MB with 1 MB in all, 179 MB with 2 MB,
/// 164 MB with 4 MB; each breadth-first level sweeps the heap, so more barely helps).
const LOW_MEMORY_CACHE: usize = 2 << 20;

impl Options {
    /// What the walk keeps, reading the target in place (`live`) or from a copy.
    fn keep(&self, live: bool) -> Keep {
        if live && !self.objects {
            Keep::Counts
        } else if self.retained && !live {
            Keep::Graph
        } else {
            Keep::Objects
        }
    }

    /// What a census by type needs, and no more (no objects, no retained sizes): a sample of
    /// `heapsnap top` or `heapsnap record`.
    pub fn census_only(mode: Mode, low_memory: bool) -> Options {
        Options {
            low_memory,
            retained: false,
            objects: false,
            ..Options::blocking(mode)
        }
    }

    /// Stop the target for the copy, with the default patience.
    pub fn blocking(mode: Mode) -> Options {
        Options {
            mode,
            nonblocking: false,
            low_memory: false,
            retained: true,
            objects: true,
            keys: KeyLabels::Masked,
            patience: Patience::default(),
            on_phase: None,
        }
    }

    /// Tell the observer (if any) that `phase` starts.
    fn phase(&self, phase: &'static str) {
        if let Some(observe) = self.on_phase {
            observe(phase);
        }
    }
}

/// A census of a live process, ready to print or save.
///
/// From [`capture`] and [`capture_core`] it is complete. The `_deferred` variants leave the
/// retained sizes (if wanted) to compute: [`Capture::complete`], or writing the snapshot,
/// which computes them while it formats and writes the other columns.
pub struct Capture {
    pub meta: Meta,
    pub census: Census,
    pub heap: Heap,
    /// What the user should know about this capture (one line each).
    pub warnings: Vec<String>,
    /// How the target was read, one line per step, for `--verbose`: how the interpreter was
    /// found (files, runtime, version, table, debug offsets), what happened at each stop, and
    /// where the GC lists are.
    pub trail: Vec<String>,
}

impl Capture {
    /// Compute the retained sizes, if they are wanted and not computed yet: the heap's
    /// dominators and the census's Retained column.
    pub fn complete(&mut self) {
        if self.heap.dominators_pending() {
            let started = Instant::now();
            self.heap.compute_dominators();
            let (census, heap) = (&mut self.census, &self.heap);
            if let Some(by_group) = heap.retained_by_type_group() {
                census.add_retained(heap, by_group);
            }
            self.trail.push(format!(
                "dominators and retained sizes: {:.1} ms",
                started.elapsed().as_secs_f64() * 1e3
            ));
        }
    }

    fn completed(mut self) -> Capture {
        self.complete();
        self
    }
}

/// The target, copied: its image and how the copy went.
pub struct Copied {
    pub image: Image,
    /// How long the target was stopped (or, non-blocking, how long the copy took).
    pub pause: Duration,
    /// Threads stopped (0 when non-blocking).
    pub threads: usize,
}

/// Find the interpreter of process `pid` (nothing is stopped).
pub fn locate(pid: i32) -> Result<Interpreter, CaptureError> {
    locate_noting(pid, &mut Vec::new())
}

/// [`locate`], each step of the search added to `trail`.
fn locate_noting(pid: i32, trail: &mut Vec<String>) -> Result<Interpreter, CaptureError> {
    let maps = first_maps(pid)?;
    let live = ProcessMemory::new(pid);
    Interpreter::find_noting(&Target::process(pid), &maps, &live, trail)
        .map_err(|e| find_failure(pid, e))
}

/// Take a census of process `pid`. Its trail (or the error's) says how it went.
pub fn capture(pid: i32, options: &Options) -> Result<Capture, CaptureError> {
    capture_deferred(pid, options).map(Capture::completed)
}

/// [`capture`], its retained sizes left to compute (see [`Capture`]).
pub fn capture_deferred(pid: i32, options: &Options) -> Result<Capture, CaptureError> {
    let mut trail = Vec::new();
    match capture_noting(pid, options, &mut trail) {
        Ok(capture) => Ok(Capture { trail, ..capture }),
        Err(e) => Err(CaptureError { trail, ..e }),
    }
}

/// [`capture`], each step added to `trail` (the result's own trail is left empty).
fn capture_noting(
    pid: i32,
    options: &Options,
    trail: &mut Vec<String>,
) -> Result<Capture, CaptureError> {
    let interp = locate_noting(pid, trail)?;
    let taken = if options.nonblocking {
        take_running(pid, &interp, options)?
    } else {
        take_stopped(pid, &interp, options, trail)?
    };
    if taken.copied.image.source_gone() {
        return Err(CaptureError::new(
            FailureKind::TargetLost,
            format!("process {pid} exited during the walk; the census would be incomplete"),
        ));
    }
    Ok(finish(Source::Process(pid), &interp, taken, options, trail))
}

/// Take the census of the process a core file holds (from `gcore` or a kernel core dump); the
/// files it mapped are read under `sysroot` when given. The same walk as for a live process,
/// on the core's writable memory; nothing is stopped, so there is no pause.
pub fn capture_core(
    path: &Path,
    sysroot: Option<&Path>,
    options: &Options,
) -> Result<Capture, CaptureError> {
    capture_core_deferred(path, sysroot, options).map(Capture::completed)
}

/// [`capture_core`], its retained sizes left to compute (see [`Capture`]).
pub fn capture_core_deferred(
    path: &Path,
    sysroot: Option<&Path>,
    options: &Options,
) -> Result<Capture, CaptureError> {
    let mut trail = Vec::new();
    match capture_core_noting(path, sysroot, options, &mut trail) {
        Ok(capture) => Ok(Capture { trail, ..capture }),
        Err(e) => Err(CaptureError { trail, ..e }),
    }
}

fn capture_core_noting(
    path: &Path,
    sysroot: Option<&Path>,
    options: &Options,
    trail: &mut Vec<String>,
) -> Result<Capture, CaptureError> {
    let core = CoreFile::open(path, sysroot)
        .map_err(|e| CaptureError::new(FailureKind::BadCore, e.to_string()))?;
    let (pid, threads, name) = (core.pid, core.threads, core.path().to_string());
    trail.push(format!(
        "core {name}: pid {pid}, {threads} thread(s), {} memory areas, executable {}",
        core.mappings.len(),
        if core.executable.is_empty() {
            "unknown"
        } else {
            &core.executable
        }
    ));
    let target = Target {
        pid,
        executable: core.executable.clone(),
        files: core.files().clone(),
    };
    let interp = Interpreter::find_noting(&target, &core.mappings, &core, trail)
        .map_err(|e| find_failure(pid, e))?;
    let started = Instant::now();
    options.phase("reading the core");
    let regions = core.writable_regions();
    let image = Image::from_regions(regions)
        .with_static_data(&core.mappings)
        .with_fallback(Box::new(core));
    trail.push(format!(
        "read {} of writable memory from the core in {:.1} ms",
        crate::render::human_bytes(image.stats().bytes),
        started.elapsed().as_secs_f64() * 1e3
    ));
    // A core taken in the middle of a collection has its lists spliced: walk around them.
    let collecting = collection_in_progress(&image, &interp).ok().flatten() == Some(true);
    let walk_started = Instant::now();
    options.phase("walking");
    let walk_with = |tolerant| {
        walk(
            &image,
            &interp,
            options.mode,
            tolerant,
            options.keep(false),
            options.keys,
        )
    };
    let (walked, consistent, warnings) = match walk_with(collecting) {
        Ok(walked) if !collecting => (walked, true, Vec::new()),
        Ok(walked) => (
            walked,
            false,
            vec![
                "the core was taken while the collector was collecting: the census walked \
                  around its lists (objects only its temporary list holds are missing)"
                    .to_string(),
            ],
        ),
        Err(WalkError::Corrupt(why)) => (
            walk_with(true).map_err(|e| walk_failure(pid, e))?,
            false,
            vec![format!(
                "the core's GC lists do not hold together ({why}; taken while a thread \
                 updated them?): the census walked around them"
            )],
        ),
        Err(e) => return Err(walk_failure(pid, e)),
    };
    let taken = Taken {
        copied: Copied {
            image,
            pause: Duration::ZERO,
            threads,
        },
        walked,
        walk_time: walk_started.elapsed(),
        stops: 0,
        consistent,
        warnings,
    };
    let source = Source::Core { pid, path: &name };
    Ok(finish(source, &interp, taken, options, trail))
}

/// How long each step after the walk took, for the trail.
struct PhaseClock {
    last: Instant,
    laps: Vec<(&'static str, Duration)>,
}

impl PhaseClock {
    fn start() -> PhaseClock {
        PhaseClock {
            last: Instant::now(),
            laps: Vec::new(),
        }
    }

    /// The step `name` ended now.
    fn lap(&mut self, name: &'static str) {
        let now = Instant::now();
        self.laps.push((name, now - self.last));
        self.last = now;
    }

    /// "name 1.2 ms, name 3.4 ms".
    fn laps(&self) -> String {
        let laps: Vec<String> = self
            .laps
            .iter()
            .map(|(name, took)| format!("{name} {:.1} ms", took.as_secs_f64() * 1e3))
            .collect();
        laps.join(", ")
    }
}

/// What was read: a live process, or a core file.
enum Source<'a> {
    Process(i32),
    Core { pid: i32, path: &'a str },
}

/// From a walked copy to the capture: the objects put in address order, the dominators, the
/// census and the meta; the same for every source.
fn finish(
    source: Source,
    interp: &Interpreter,
    taken: Taken,
    options: &Options,
    trail: &mut Vec<String>,
) -> Capture {
    let Taken {
        copied,
        mut walked,
        walk_time,
        stops,
        consistent,
        mut warnings,
    } = taken;
    let Copied {
        image,
        pause,
        threads,
    } = copied;
    let mut clock = PhaseClock::start();
    let stats = image.stats();
    let low_memory = image.is_live();
    let pools = match source {
        // Read one pool header at a time from the process: through the cache, each would
        // fetch a whole chunk (a sweep of all its memory).
        Source::Process(pid) if low_memory => pools_of(&ProcessMemory::new(pid), &image, interp),
        _ => pools_of(&image, &image, interp),
    };
    clock.lap("allocator pools");
    let heap = if low_memory {
        // The cache goes first; the records are put in order in place (8 bytes per object
        // less); no dominators.
        drop(image);
        let heap = walked.into_heap_in_place();
        clock.lap("ordering");
        heap
    } else {
        // Release the copy first (~9 ms per 100 MB), then rank the objects (two threads, ~6 ms
        // for 1.2M objects here): ranking needs only where the regions were, and its positions
        // (4 bytes per record) made the peak while the copy was there. Not both at once:
        // unmapping interrupts the other core with TLB flushes, which made ranking three times
        // slower (18 ms).
        drop(image);
        clock.lap("releasing the copy");
        let order = walked.address_order();
        let mut heap = walked.into_heap(order);
        clock.lap("ordering");
        if options.retained {
            heap.want_dominators();
        }
        heap
    };
    trail.extend(heap.notes.iter().cloned());
    warnings.extend(heap.warnings.iter().cloned());
    options.phase("counting by type");
    let census = Census::from_heap(&heap);
    clock.lap("census");
    let (pid, core_file, live) = match source {
        Source::Process(pid) => (pid, None, Some(pid)),
        Source::Core { pid, path } => (pid, Some(path.to_string()), None),
    };
    // A core's census is of the moment the core was written.
    let taken_at = match &core_file {
        Some(path) => std::fs::metadata(path).and_then(|m| m.modified()).ok(),
        None => Some(SystemTime::now()),
    }
    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
    .map_or(0.0, |d| d.as_secs_f64());
    let meta = Meta {
        pid,
        core_file,
        // What identifies the process: from a core file, only its pid is known.
        hostname: live
            .map(|_| read_trimmed("/proc/sys/kernel/hostname"))
            .unwrap_or_default(),
        start_time: live.map_or(0, start_time),
        boot_id: live
            .map(|_| read_trimmed("/proc/sys/kernel/random/boot_id"))
            .unwrap_or_default(),
        taken_at,
        heapsnap_version: env!("CARGO_PKG_VERSION").into(),
        python: PythonInfo {
            version: interp.version.to_string(),
            binary: interp.binary.clone(),
            shared_library: interp.shared_library,
            symbols: interp.has_symtab,
        },
        mode: options.mode,
        consistent,
        stops,
        objects: census.objects,
        bytes: census.bytes,
        garbage_objects: census.garbage_objects,
        garbage_bytes: census.garbage_bytes,
        pause_ms: pause.as_secs_f64() * 1e3,
        walk_ms: walk_time.as_secs_f64() * 1e3,
        copied_bytes: if low_memory { 0 } else { stats.bytes },
        threads,
        interpreters: heap.interpreters,
        memory_mode: if low_memory {
            MemoryMode::Low
        } else {
            MemoryMode::Copy
        },
        read_bytes: stats.read_bytes,
        left_out: if !heap.has_dominators() {
            vec![LEFT_OUT_RETAINED.into()]
        } else {
            Vec::new()
        },
        warnings: warnings.clone(),
        memory: live.and_then(|pid| memory_account(pid, &census, pools)),
    };
    clock.lap("memory account");
    trail.push(format!(
        "after the walk ({:.1} ms): {}",
        walk_time.as_secs_f64() * 1e3,
        clock.laps()
    ));
    Capture {
        meta,
        census,
        heap,
        warnings,
        trail: Vec::new(),
    }
}

/// The object allocator's pools in the regions of `image`, their headers read from `mem`.
fn pools_of(mem: &dyn Memory, image: &Image, interp: &Interpreter) -> AllocatorUsage {
    let layout = image.layout();
    let regions = (0..layout.region_count()).map(|i| layout.region(i));
    allocator_usage(mem, regions, interp.layout.pymalloc_pool)
}

/// Where the target's resident memory is, if its smaps can be read.
fn memory_account(pid: i32, census: &Census, pools: AllocatorUsage) -> Option<MemoryAccount> {
    let resident = resident_memory(pid).ok()?;
    Some(MemoryAccount {
        rss: resident.rss,
        files: resident.files,
        thread_stacks: resident.thread_stacks,
        anonymous: resident.anonymous,
        objects: census.bytes,
        allocator_pools: pools.pool_bytes,
        allocator_free: pools.free(),
        outside_objects: resident
            .anonymous
            .saturating_sub(census.bytes + pools.free()),
    })
}

/// A copy and its walk, and how many stops it took to get them.
struct Taken {
    copied: Copied,
    walked: Walked,
    walk_time: Duration,
    stops: u32,
    consistent: bool,
    warnings: Vec<String>,
}

/// Stop, copy and walk until a copy's GC lists hold together or patience runs out; what
/// happened at each stop is added to `trail`.
fn take_stopped(
    pid: i32,
    interp: &Interpreter,
    options: &Options,
    trail: &mut Vec<String>,
) -> Result<Taken, CaptureError> {
    let started = Instant::now();
    let live = ProcessMemory::new(pid);
    let mut backoff = Backoff::new();
    let mut stops = 0;
    let mut in_place = options.low_memory;
    let mut mode_warning = None;
    loop {
        let last = stops + 1 >= options.patience.max_stops.max(1)
            || started.elapsed() >= options.patience.within;
        // Allocate and fault in the copy's buffers while the target still runs, unless the
        // target is read in place.
        let maps = read_maps(pid).map_err(|_| target_lost(pid))?;
        let plan = match (!in_place).then(|| CopyPlan::prepare(pid, &maps)) {
            Some(Ok(plan)) => Some(plan),
            Some(Err(t)) => {
                mode_warning = Some(format!(
                    "process {pid} has {t}: it is read in place instead (low-memory mode), \
                     which keeps it stopped for the whole walk, a longer pause (about 1.5 s per \
                     GB of its memory on an idle host, more on a busy one, against 0.1 s for a \
                     copy)"
                ));
                in_place = true;
                None
            }
            None => None,
        };
        let keep = options.keep(in_place);
        options.phase(if in_place {
            "reading in place"
        } else {
            "copying"
        });
        let frozen = Frozen::stop(pid).map_err(|e| freeze_failure(pid, e))?;
        stops += 1;
        trail.push(format!(
            "stop {stops}: {} thread(s) stopped (thread list read {} times)",
            frozen.thread_count(),
            frozen.rounds()
        ));
        // A few bytes read live, before anything is copied: a stop that lands mid-collection
        // costs the target only the stop itself.
        let collecting = collection_in_progress(&live, interp).ok().flatten() == Some(true);
        if collecting && !last {
            let pause = frozen.resume();
            let wait = backoff.next();
            trail.push(format!(
                "stop {stops}: the collector is collecting; resumed after {:.2} ms, next stop in {} ms",
                pause.as_secs_f64() * 1e3,
                wait.as_millis()
            ));
            std::thread::sleep(wait);
            continue;
        }
        // Low-memory mode: the target stays stopped until its walk in place is done.
        let (mut copied, stopped) = match plan {
            Some(mut plan) => {
                let copied = copy_stopped(pid, frozen, &mut plan)?;
                // Buffers the copy did not use (mappings that changed) are freed now the
                // target runs.
                drop(plan);
                (copied, None)
            }
            None => (
                Copied {
                    image: live_image(pid)?,
                    pause: Duration::ZERO,
                    threads: frozen.thread_count(),
                },
                Some(frozen),
            ),
        };
        let walk_started = Instant::now();
        options.phase("walking");
        // While the collector collects, its lists are known to be spliced: walk around them.
        let result = walk(
            &copied.image,
            interp,
            options.mode,
            collecting,
            keep,
            options.keys,
        );
        let pause_ms = stopped
            .as_ref()
            .map_or(copied.pause, Frozen::paused)
            .as_secs_f64()
            * 1e3;
        let (walked, consistent, warnings) = match result {
            Ok(walked) if !collecting => {
                trail.push(format!(
                    "stop {stops}: copied, paused {pause_ms:.2} ms; GC lists whole"
                ));
                (walked, true, Vec::new())
            }
            Ok(walked) => {
                let why = format!(
                    "the collector was collecting at each of {stops} stops over {:.1} s: the \
                     census walked around its lists (objects only its temporary list holds are \
                     missing)",
                    started.elapsed().as_secs_f64()
                );
                trail.push(format!("stop {stops}: paused {pause_ms:.2} ms; {why}"));
                (walked, false, vec![why])
            }
            Err(WalkError::Corrupt(why)) if !last => {
                let wait = backoff.next();
                trail.push(format!(
                    "stop {stops}: paused {pause_ms:.2} ms; {why} (a thread was stopped \
                     mid-update?); next stop in {} ms",
                    wait.as_millis()
                ));
                drop(copied);
                drop(stopped);
                std::thread::sleep(wait);
                continue;
            }
            Err(WalkError::Corrupt(why)) => {
                // No safe moment came: walk around what is torn.
                let walked = walk(
                    &copied.image,
                    interp,
                    options.mode,
                    true,
                    keep,
                    options.keys,
                )
                .map_err(|e| walk_failure(pid, e))?;
                let warning = format!(
                    "no stop of {stops} in {:.1} s found the GC lists whole ({why}): the census \
                     walked around them",
                    started.elapsed().as_secs_f64()
                );
                trail.push(format!("stop {stops}: paused {pause_ms:.2} ms; {warning}"));
                (walked, false, vec![warning])
            }
            Err(e) => return Err(walk_failure(pid, e)),
        };
        let walk_time = walk_started.elapsed();
        if let Some(frozen) = stopped {
            copied.pause = frozen.resume();
        }
        return Ok(Taken {
            copied,
            walked,
            walk_time,
            stops,
            consistent,
            warnings: mode_warning.into_iter().chain(warnings).collect(),
        });
    }
}

/// `--nonblocking`: one copy of the running target, walked tolerantly (a list torn by the
/// running target is walked around, never fatal).
fn take_running(pid: i32, interp: &Interpreter, options: &Options) -> Result<Taken, CaptureError> {
    let maps = read_maps(pid).map_err(|_| target_lost(pid))?;
    let mut plan = CopyPlan::prepare(pid, &maps).map_err(|t| {
        CaptureError::new(
            FailureKind::TooBig,
            format!(
                "process {pid} has {t} (without --nonblocking it would be read in place, \
                 stopped)"
            ),
        )
    })?;
    let started = Instant::now();
    options.phase("copying");
    let image = copy_image(pid, &mut plan)?;
    let copied = Copied {
        image,
        pause: started.elapsed(),
        threads: 0,
    };
    let walk_started = Instant::now();
    options.phase("walking");
    let walked = walk(
        &copied.image,
        interp,
        options.mode,
        true,
        options.keep(false),
        options.keys,
    )
    .map_err(|e| walk_failure(pid, e))?;
    Ok(Taken {
        copied,
        walked,
        walk_time: walk_started.elapsed(),
        stops: 0,
        consistent: false,
        warnings: vec![format!(
            "--nonblocking: process {pid} kept running during the copy; the census may be \
             inconsistent"
        )],
    })
}

/// Stop `pid` once, copy its writable memory and resume it: one stop, no retry (for tests and
/// examples that walk the copy themselves).
pub fn copy_once(pid: i32) -> Result<Copied, CaptureError> {
    let mut plan = prepare_copy(pid)?;
    copy_with(pid, &mut plan)
}

/// The buffers for a copy of `pid`, allocated and faulted in while it still runs (refused when
/// they would not fit in the memory heapsnap may use).
pub fn prepare_copy(pid: i32) -> Result<CopyPlan, CaptureError> {
    let maps = first_maps(pid)?;
    CopyPlan::prepare(pid, &maps)
        .map_err(|t| CaptureError::new(FailureKind::TooBig, format!("process {pid} has {t}")))
}

/// Stop `pid`, copy it into `plan`'s buffers and resume it (the unused buffers stay in `plan`).
pub fn copy_with(pid: i32, plan: &mut CopyPlan) -> Result<Copied, CaptureError> {
    let frozen = Frozen::stop(pid).map_err(|e| freeze_failure(pid, e))?;
    copy_stopped(pid, frozen, plan)
}

/// Copy the stopped target into the plan's buffers, then resume it. The buffers the copy did
/// not use stay in `plan`, to be freed by the caller now that the target runs.
fn copy_stopped(pid: i32, frozen: Frozen, plan: &mut CopyPlan) -> Result<Copied, CaptureError> {
    let image = copy_image(pid, plan);
    let threads = frozen.thread_count();
    let pause = frozen.resume();
    Ok(Copied {
        image: image?,
        pause,
        threads,
    })
}

/// `pid`'s writable memory read in place (the process must stay stopped while it is read);
/// reads outside it go to the live process too.
fn live_image(pid: i32) -> Result<Image, CaptureError> {
    // Maps are read now, stopped: they must describe the memory read.
    let maps = read_maps(pid).map_err(|_| target_lost(pid))?;
    Ok(Image::live_cached(pid, &maps, LOW_MEMORY_CACHE)
        .with_static_data(&maps)
        .with_fallback(Box::new(ProcessMemory::new(pid))))
}

/// The copy of `pid`'s writable memory; reads outside it go to the live process.
fn copy_image(pid: i32, plan: &mut CopyPlan) -> Result<Image, CaptureError> {
    let source = ProcessMemory::new(pid);
    // Maps are read now (stopped, unless non-blocking): they must describe the memory copied.
    let maps = read_maps(pid).map_err(|_| target_lost(pid))?;
    let image = Image::copy_process(&source, &maps, plan).map_err(|e| memory_failure(pid, e))?;
    Ok(image
        .with_static_data(&maps)
        .with_fallback(Box::new(source)))
}

/// Jittered exponential waits between stops: 2 ms doubling to 256 ms, each between half and all
/// of its step, so that the stops do not fall into step with a periodic collector.
struct Backoff {
    step: Duration,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff {
            step: Duration::from_millis(2),
        }
    }

    fn next(&mut self) -> Duration {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let half = self.step / 2;
        let wait = half + half.mul_f64(f64::from(nanos % 1000) / 1000.0);
        self.step = (self.step * 2).min(Duration::from_millis(256));
        wait
    }
}

/// The target's maps before anything is done: the first sign of a missing process or of
/// missing rights.
fn first_maps(pid: i32) -> Result<Vec<Mapping>, CaptureError> {
    let no_such = || {
        CaptureError::new(
            FailureKind::NoSuchProcess,
            format!("no process with pid {pid}"),
        )
    };
    if pid <= 0 || !std::path::Path::new(&format!("/proc/{pid}")).exists() {
        return Err(no_such());
    }
    read_maps(pid).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            CaptureError::new(FailureKind::PermissionDenied, permission_message(pid))
        }
        _ => no_such(),
    })
}

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
fn target_lost(pid: i32) -> CaptureError {
    CaptureError::new(
        FailureKind::TargetLost,
        format!("process {pid} exited during the read"),
    )
}

/// A walk that failed: memory that no retry explains, or more than slots can name.
fn walk_failure(pid: i32, e: WalkError) -> CaptureError {
    let kind = match e {
        WalkError::Corrupt(_) => FailureKind::Inconsistent,
        WalkError::TooBig(_) => FailureKind::TooBig,
    };
    CaptureError::new(kind, format!("process {pid}: {e}"))
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

fn memory_failure(pid: i32, e: MemoryError) -> CaptureError {
    match e {
        MemoryError::PermissionDenied(_) => {
            CaptureError::new(FailureKind::PermissionDenied, permission_message(pid))
        }
        MemoryError::Gone(_) => target_lost(pid),
        e @ MemoryError::Unreadable { .. } => CaptureError::new(
            FailureKind::Inconsistent,
            format!("reading process {pid}: {e}"),
        ),
    }
}

fn find_failure(pid: i32, e: FindError) -> CaptureError {
    match e {
        FindError::NotPython { .. } => CaptureError::new(FailureKind::NotPython, e.to_string()),
        FindError::Unsupported { .. } | FindError::FreeThreaded(_) | FindError::NeedsSymbols(_) => {
            CaptureError::new(FailureKind::Unsupported, e.to_string())
        }
        // Nothing is stopped yet: an unreadable runtime means this is no interpreter we know.
        FindError::Memory(MemoryError::Unreadable { addr, .. }) => CaptureError::new(
            FailureKind::NotPython,
            format!("process {pid}: the Python runtime's memory at {addr:#x} is not readable"),
        ),
        FindError::Memory(m) => memory_failure(pid, m),
    }
}

fn freeze_failure(pid: i32, e: FreezeError) -> CaptureError {
    match e {
        FreezeError::NoSuchProcess(_) => target_lost(pid),
        // The kernel refuses to seize a process that is exiting (EPERM, as for a lack of rights).
        FreezeError::PermissionDenied(_) if exiting(pid) => target_lost(pid),
        FreezeError::PermissionDenied(_) => match tracer_of(pid) {
            Some(tracer) => CaptureError::new(
                FailureKind::PermissionDenied,
                format!(
                    "process {pid} is already traced by process {tracer} (a debugger, py-spy or \
                     strace?); detach it first"
                ),
            ),
            None => CaptureError::new(FailureKind::PermissionDenied, permission_message(pid)),
        },
        e @ (FreezeError::Timeout { .. } | FreezeError::Other { .. }) => {
            CaptureError::new(FailureKind::TargetLost, e.to_string())
        }
    }
}

/// When `pid` started: field 22 of /proc/<pid>/stat, in clock ticks after boot.
fn start_time(pid: i32) -> u64 {
    stat_fields(pid)
        .and_then(|f| f.get(19)?.parse().ok())
        .unwrap_or(0)
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}
