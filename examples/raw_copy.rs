//! The physical floor of a blocking census: stop every thread of `<pid>`, read its memory maps,
//! copy every writable mapping once (exactly what `heapsnap dump` copies), resume it. Nothing is
//! walked. Prints one JSON line:
//!
//! `{"pid":..,"mode":..,"stop_ms":..,"pause_ms":..,"copy_ms":..,"total_ms":..,"bytes":..,"regions":..,"threads":..}`
//!
//! - `stop_ms`: time to seize and interrupt every thread (before the pause clock starts, as in
//!   `heapsnap dump`);
//! - `pause_ms`: what `Frozen::resume` reports, the figure comparable to heapsnap's `pause_ms`;
//! - `copy_ms`: read_maps + copy alone;
//! - `total_ms`: the whole stop → resume sequence, as the target may feel it.
//!
//! `raw_copy <pid>` copies into fresh buffers, so the kernel also faults in every destination
//! page while the target is stopped. `raw_copy <pid> --prefault` reads the maps and allocates and
//! touches one buffer per
//! writable mapping *before* stopping the target, then only `process_vm_readv`s into them while
//! it is stopped (a mapping that appeared or grew meanwhile gets a fresh buffer): the floor
//! without the page faults.
//!
//! Used by `bench/run`; `cargo build --release --examples` builds it.

use std::collections::HashMap;
use std::time::Instant;

use heapsnap::memory::freeze::Frozen;
use heapsnap::memory::image::wants_copy;
use heapsnap::memory::maps::read_maps;
use heapsnap::memory::process::ProcessMemory;

const PAGE: usize = 4096;

fn fail(code: i32, msg: impl std::fmt::Display) -> ! {
    eprintln!("raw_copy: error: {msg}");
    std::process::exit(code);
}

/// One zeroed buffer per writable mapping, every page already faulted in.
fn prefaulted_buffers(pid: i32) -> HashMap<u64, Vec<u8>> {
    let maps = read_maps(pid).unwrap_or_else(|e| fail(3, e));
    maps.iter()
        .filter(|m| wants_copy(m))
        .map(|m| {
            let mut buf = vec![0u8; m.len() as usize];
            for i in (0..buf.len()).step_by(PAGE) {
                // A volatile write: the page must really be faulted in now.
                // SAFETY: `i` is in bounds.
                unsafe { std::ptr::write_volatile(buf.as_mut_ptr().add(i), 1) };
            }
            (m.start, buf)
        })
        .collect()
}

/// Copy every writable mapping into the prepared buffers; returns (bytes, regions).
fn copy_into(
    pid: i32,
    source: &ProcessMemory,
    bufs: &mut HashMap<u64, Vec<u8>>,
) -> Result<(u64, usize), String> {
    let maps = read_maps(pid).map_err(|e| e.to_string())?;
    let (mut bytes, mut regions) = (0u64, 0usize);
    for m in maps.iter().filter(|m| wants_copy(m)) {
        let len = m.len() as usize;
        let buf = bufs.entry(m.start).or_default();
        if buf.len() < len {
            *buf = vec![0u8; len];
        }
        let mut at = 0usize;
        while at < len {
            let n = source
                .read_partial(m.start + at as u64, &mut buf[at..len])
                .map_err(|e| e.to_string())?;
            if n > 0 {
                bytes += n as u64;
                regions += 1;
            }
            at += n.div_ceil(PAGE) * PAGE + PAGE;
        }
    }
    Ok((bytes, regions))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let prefault = args.iter().any(|a| a == "--prefault");
    let pid: i32 = match args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(|a| a.parse())
    {
        Some(Ok(p)) => p,
        _ => {
            eprintln!("usage: raw_copy <pid> [--prefault]");
            std::process::exit(2);
        }
    };
    let source = ProcessMemory::new(pid);
    let mut bufs = if prefault {
        prefaulted_buffers(pid)
    } else {
        HashMap::new()
    };

    let t0 = Instant::now();
    let frozen = Frozen::stop(pid).unwrap_or_else(|e| fail(7, e));
    let stop_ms = t0.elapsed().as_secs_f64() * 1e3;
    let threads = frozen.thread_count();
    let t1 = Instant::now();
    let copied = copy_into(pid, &source, &mut bufs);
    let copy_ms = t1.elapsed().as_secs_f64() * 1e3;
    let pause = frozen.resume();
    let total_ms = t0.elapsed().as_secs_f64() * 1e3;

    let (bytes, regions) = copied.unwrap_or_else(|e| fail(8, e));
    println!(
        "{{\"pid\":{pid},\"mode\":\"{}\",\"stop_ms\":{stop_ms:.3},\"pause_ms\":{:.3},\
         \"copy_ms\":{copy_ms:.3},\"total_ms\":{total_ms:.3},\"bytes\":{bytes},\
         \"regions\":{regions},\"threads\":{threads}}}",
        if prefault { "prefault" } else { "image" },
        pause.as_secs_f64() * 1e3,
    );
    // Free the copy only after the line is out: freeing it is not part of the floor.
    drop(bufs);
}
