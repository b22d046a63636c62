//! The physical floor of a blocking census: stop every thread of `<pid>`, copy its writable
//! memory, resume it, walk nothing. Prints one JSON line:
//!
//! `{"pid":..,"mode":..,"prepare_ms":..,"pause_ms":..,"total_ms":..,"bytes":..,"regions":..,"threads":..}`
//!
//! - `prepare_ms`: allocating and faulting in the copy's buffers, before the stop (0 for
//!   `--naive`); `prepare_ms + total_ms` is what any census that copies the heap must spend
//!   before it can start walking;
//! - `pause_ms`: what `Frozen::resume` reports, the figure comparable to heapsnap's `pause_ms`;
//! - `total_ms`: the whole stop → resume sequence, as the target may feel it.
//!
//! Modes:
//!
//! - `raw_copy <pid>` (`"mode":"image"`): exactly the copy `heapsnap dump` makes, through the
//!   library's capture functions: `capture::prepare_copy` (buffers allocated and faulted in
//!   while the target still runs), then `capture::copy_with` (stop, `read_maps` + the copy,
//!   resume). heapsnap's pause should equal this one.
//! - `raw_copy <pid> --naive` (`"mode":"naive"`): every byte of every writable mapping, into
//!   buffers allocated while the target is stopped (so the pause also pays the page faults of
//!   heapsnap's own buffers, and copies untouched reservations): what a straightforward
//!   `process_vm_readv` copy costs.
//!
//! Used by `bench/run`; `cargo build --release --examples` builds it.

use std::time::{Duration, Instant};

use heapsnap::capture::{copy_with, prepare_copy};
use heapsnap::memory::freeze::Frozen;
use heapsnap::memory::image::wants_copy;
use heapsnap::memory::maps::read_maps;
use heapsnap::memory::process::ProcessMemory;

const PAGE: usize = 4096;

fn fail(code: i32, msg: impl std::fmt::Display) -> ! {
    eprintln!("raw_copy: error: {msg}");
    std::process::exit(code);
}

/// Every writable mapping, whole, into fresh buffers; returns (bytes, regions, the buffers).
fn naive_copy(pid: i32, source: &ProcessMemory) -> Result<NaiveCopy, String> {
    let maps = read_maps(pid).map_err(|e| e.to_string())?;
    let (mut bytes, mut regions, mut kept) = (0u64, 0usize, Vec::new());
    for m in maps.iter().filter(|m| wants_copy(m)) {
        let len = m.len() as usize;
        let mut buf = vec![0u8; len];
        let mut at = 0usize;
        while at < len {
            let n = source
                .read_partial(m.start + at as u64, &mut buf[at..len])
                .map_err(|e| e.to_string())?;
            if n > 0 {
                bytes += n as u64;
                regions += 1;
            }
            // Skip the unreadable page (if any) and go on after it.
            at += n.div_ceil(PAGE) * PAGE + PAGE;
        }
        kept.push(buf);
    }
    Ok((bytes, regions, kept))
}

/// What a naive copy copied: bytes, regions, and the buffers.
type NaiveCopy = (u64, usize, Vec<Vec<u8>>);

/// The naive copy: stopped, every writable mapping read into buffers allocated now.
fn naive(pid: i32) -> (Duration, usize, Result<NaiveCopy, String>) {
    let frozen = Frozen::stop(pid).unwrap_or_else(|e| fail(7, e));
    let threads = frozen.thread_count();
    let copied = naive_copy(pid, &ProcessMemory::new(pid));
    (frozen.resume(), threads, copied)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let naive_mode = args.iter().any(|a| a == "--naive");
    let pid: i32 = match args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(|a| a.parse())
    {
        Some(Ok(p)) => p,
        _ => {
            eprintln!("usage: raw_copy <pid> [--naive]");
            std::process::exit(2);
        }
    };
    // As in `heapsnap dump`: the plan (and its faulted-in buffers) is made before the stop.
    let prepare = Instant::now();
    let mut plan = (!naive_mode).then(|| prepare_copy(pid).unwrap_or_else(|e| fail(1, e)));
    let prepare_ms = prepare.elapsed().as_secs_f64() * 1e3;
    let t0 = Instant::now();
    let (pause, threads, copied) = match &mut plan {
        Some(plan) => {
            let copied = copy_with(pid, plan).unwrap_or_else(|e| fail(7, e));
            let stats = copied.image.stats();
            let result = Ok((stats.bytes, stats.regions, Some(copied.image), Vec::new()));
            (copied.pause, copied.threads, result)
        }
        None => {
            let (pause, threads, copied) = naive(pid);
            (
                pause,
                threads,
                copied.map(|(b, r, bufs)| (b, r, None, bufs)),
            )
        }
    };
    drop(plan);
    let total_ms = t0.elapsed().as_secs_f64() * 1e3;

    let (bytes, regions, image, bufs) = copied.unwrap_or_else(|e| fail(8, e));
    println!(
        "{{\"pid\":{pid},\"mode\":\"{}\",\"prepare_ms\":{prepare_ms:.3},\"pause_ms\":{:.3},\
         \"total_ms\":{total_ms:.3},\"bytes\":{bytes},\"regions\":{regions},\"threads\":{threads}}}",
        if naive_mode { "naive" } else { "image" },
        pause.as_secs_f64() * 1e3,
    );
    // Free the copy only after the line is out: freeing it is not part of the floor.
    drop(image);
    drop(bufs);
}
