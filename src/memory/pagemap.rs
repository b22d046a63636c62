//! Which pages of the target are resident, from `/proc/<pid>/pagemap` (one 64-bit entry per
//! page; bit 63 present, bit 62 swapped). Big anonymous areas are mostly untouched reservations
//! (thread stacks, allocator arenas): copying only their resident pages keeps the copy, and the
//! target's pause, proportional to the memory really in use.

use std::fs::File;
use std::os::unix::fs::FileExt;

use super::PAGE;

const PRESENT: u64 = 1 << 63;
const SWAPPED: u64 = 1 << 62;

/// Runs of pages in `[start, end)` that hold data (present or swapped out), merged.
pub fn resident_runs(pid: i32, start: u64, end: u64) -> std::io::Result<Vec<(u64, u64)>> {
    let file = File::open(format!("/proc/{pid}/pagemap"))?;
    let pages = ((end - start) / PAGE) as usize;
    let mut entries = vec![0u8; pages * 8];
    let mut done = 0;
    while done < entries.len() {
        let n = file.read_at(&mut entries[done..], (start / PAGE) * 8 + done as u64)?;
        if n == 0 {
            break;
        }
        done += n;
    }
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for (i, e) in entries[..done].chunks_exact(8).enumerate() {
        let entry = u64::from_le_bytes(e.try_into().unwrap());
        if entry & (PRESENT | SWAPPED) == 0 {
            continue;
        }
        let page = start + i as u64 * PAGE;
        match runs.last_mut() {
            Some(run) if run.1 == page => run.1 = page + PAGE,
            _ => runs.push((page, page + PAGE)),
        }
    }
    Ok(runs)
}
