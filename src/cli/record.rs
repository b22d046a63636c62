//! `heapsnap record <pid> --interval S [--duration S] -o series.jsonl`: a census by type every
//! interval, one JSON line each, for hours at a low duty cycle. Ctrl-C (SIGINT) or SIGTERM
//! ends it between samples with a complete file; so does the target's exit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

use super::dump::{capture_failure, write_failure};
use super::{exit, Failure, RecordArgs};
use crate::capture::{capture, FailureKind, Options};
use crate::render::{count_of, group, human_bytes};
use crate::snapshot::series::SeriesWriter;

/// Set by SIGINT and SIGTERM: end the recording after the sample under way.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn request_stop(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Route SIGINT and SIGTERM to [`STOP`] instead of ending the process.
fn catch_stop_signals() -> Result<(), Failure> {
    let action = SigAction::new(
        SigHandler::Handler(request_stop),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { sigaction(signal, &action) }
            .map_err(|e| Failure::new(exit::ERROR, format!("cannot catch {signal}: {e}")))?;
    }
    Ok(())
}

fn seconds(value: f64, flag: &str) -> Result<Duration, Failure> {
    if value > 0.0 && value.is_finite() {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(Failure::new(
            exit::USAGE,
            format!("{flag} must be a positive number of seconds, not {value}"),
        ))
    }
}

pub fn run(args: &RecordArgs) -> Result<(), Failure> {
    let interval = seconds(args.interval, "--interval")?;
    let duration = args
        .duration
        .map(|d| seconds(d, "--duration"))
        .transpose()?;
    let options = Options::census_only(args.mode.into(), args.low_memory);
    let mut series =
        SeriesWriter::create(&args.output).map_err(|e| write_failure(&args.output, e))?;
    catch_stop_signals()?;
    let start = Instant::now();
    let mut written = 0u64;
    let ended = loop {
        let began = Instant::now();
        match capture(args.pid, &options) {
            Ok(taken) => {
                written = series
                    .append(&taken.meta, &taken.census)
                    .map_err(|e| write_failure(&args.output, e))?;
                if !args.quiet {
                    eprintln!(
                        "heapsnap: sample {}: {} objects, {}; paused {:.1} ms",
                        written - 1,
                        group(taken.census.objects),
                        human_bytes(taken.census.bytes),
                        taken.meta.pause_ms
                    );
                }
            }
            Err(e)
                if written > 0
                    && matches!(e.kind, FailureKind::NoSuchProcess | FailureKind::TargetLost) =>
            {
                break format!("process {} exited", args.pid);
            }
            Err(e) if written > 0 => eprintln!("heapsnap: warning: sample skipped: {e}"),
            Err(e) => return Err(capture_failure(e)),
        }
        if duration.is_some_and(|d| start.elapsed() + interval > d) {
            break "the duration is over".to_string();
        }
        // Wait out the interval in short steps, so that a stop request is prompt.
        while !STOP.load(Ordering::Relaxed) && began.elapsed() < interval {
            std::thread::sleep(Duration::from_millis(20).min(interval));
        }
        if STOP.load(Ordering::Relaxed) {
            break "interrupted".to_string();
        }
    };
    eprintln!(
        "heapsnap: {ended}: {} in {}",
        count_of(written, "sample", "samples"),
        args.output.display()
    );
    Ok(())
}
