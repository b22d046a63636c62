//! How much of the copy the walk reads: the case for (or against) a page cache that fetches
//! memory on demand instead of copying every writable mapping during the stop.
//!
//! `walk_touch <pid>` copies the target as `heapsnap dump` does (the target is stopped only for
//! the copy), makes the copy's buffers read-only (so that each is a mapping of its own, apart
//! from the walk's own memory), clears the referenced bits of this process's pages
//! (`/proc/self/clear_refs`), walks the copy in full mode, and sums the `Referenced` pages of
//! those mappings in `/proc/self/smaps`. `copied_bytes` counts the whole pages of the buffers.
//! Prints one JSON line:
//!
//! `{"pid":..,"copied_bytes":..,"touched_bytes":..,"touched_pct":..,"walk_ms":..,"objects":..}`
//!
//! An on-demand design would have to keep the target stopped for the whole walk (`walk_ms`,
//! plus the fetches) and would fetch at least `touched_bytes` (4 KiB pages; more with bigger
//! chunks). Used by `bench/run`; `cargo build --release --examples` builds it.

use std::time::Instant;

use heapsnap::heap::edges::KeyLabels;
use heapsnap::heap::walk::{walk, Keep};
use heapsnap::heap::Mode;

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("walk_touch: error: {msg}");
    std::process::exit(1);
}

/// Make the page-aligned inside of each buffer read-only, which splits it into mappings of its
/// own (the walk only reads the copy): then `/proc/self/smaps` counts exactly those pages.
/// Returns the page ranges.
fn isolate(ranges: &[(usize, usize)]) -> Vec<(usize, usize)> {
    const PAGE: usize = 4096;
    let mut pages = Vec::new();
    for &(start, len) in ranges {
        let (first, last) = (start.next_multiple_of(PAGE), (start + len) / PAGE * PAGE);
        if last > first {
            // SAFETY: the range lies inside a live buffer of the copy, which is only read from
            // now on and never freed (see `main`).
            let done = unsafe {
                libc::mprotect(first as *mut libc::c_void, last - first, libc::PROT_READ)
            };
            if done == 0 {
                pages.push((first, last));
            }
        }
    }
    pages
}

/// Referenced bytes of the mappings in /proc/self/smaps that lie inside `pages`.
fn referenced_bytes(pages: &[(usize, usize)]) -> u64 {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_else(|e| fail(e));
    let mut total = 0;
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        if let Some((range, _)) = line.split_once(' ') {
            if let Some((a, b)) = range.split_once('-') {
                if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
                {
                    current = Some((a, b));
                    continue;
                }
            }
        }
        if let (Some(kb), Some((a, b))) = (line.strip_prefix("Referenced:"), current) {
            if pages.iter().any(|&(s, e)| s <= a && b <= e) {
                let kb: u64 = kb.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
                total += kb * 1024;
            }
        }
    }
    total
}

fn main() {
    let pid: i32 = match std::env::args().nth(1).map(|a| a.parse()) {
        Some(Ok(p)) => p,
        _ => {
            eprintln!("usage: walk_touch <pid>");
            std::process::exit(2);
        }
    };
    let interp = heapsnap::capture::locate(pid).unwrap_or_else(|e| fail(e));
    let image = heapsnap::capture::copy_once(pid)
        .unwrap_or_else(|e| fail(e))
        .image;
    let ranges: Vec<(usize, usize)> = image.local_ranges().collect();
    let pages = isolate(&ranges);
    let counted: usize = pages.iter().map(|(s, e)| e - s).sum();
    // Everything is cleared so that the count starts now.
    std::fs::write("/proc/self/clear_refs", "1").unwrap_or_else(|e| fail(e));
    let started = Instant::now();
    let walked = walk(
        &image,
        &interp,
        Mode::Full,
        false,
        Keep::Graph,
        KeyLabels::Masked,
    )
    .unwrap_or_else(|e| fail(e));
    let walk_ms = started.elapsed().as_secs_f64() * 1e3;
    let touched = referenced_bytes(&pages);
    let objects = walked.into_ordered_heap().len();
    // Freeing a read-only buffer could make the allocator write into it: keep them.
    std::mem::forget(image);
    println!(
        "{{\"pid\":{pid},\"copied_bytes\":{counted},\"touched_bytes\":{touched},\
         \"touched_pct\":{:.1},\"walk_ms\":{walk_ms:.1},\"objects\":{}}}",
        100.0 * touched as f64 / counted.max(1) as f64,
        objects
    );
}
