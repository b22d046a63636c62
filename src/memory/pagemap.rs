//! Which pages of the target are resident, from `/proc/<pid>/pagemap` (one 64-bit entry per
//! page; bit 63 present, bit 62 swapped). Big anonymous areas are mostly untouched reservations
//! (thread stacks, allocator arenas): copying only their resident pages keeps the copy, and the
//! target's pause, proportional to the memory really in use. Pages mapped to the kernel's
//! shared zero page (memory read but never written, such as a `calloc`'d buffer only read, or
//! a page read by another tool through `process_vm_readv`) hold no data and are left out too.

use std::fs::File;
use std::os::unix::fs::FileExt;

use super::PAGE;

const PRESENT: u64 = 1 << 63;
const SWAPPED: u64 = 1 << 62;
/// Bits 0–54: the page frame number (0 unless the reader has CAP_SYS_ADMIN).
const PFN: u64 = (1 << 55) - 1;

/// The frame number of the kernel's zero page, found by reading a fresh anonymous page of our
/// own; `None` when frame numbers cannot be seen.
fn zero_page_frame() -> Option<u64> {
    static FRAME: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *FRAME.get_or_init(|| {
        // SAFETY: a private anonymous mapping of one page, read once and unmapped; nothing
        // else refers to it.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                PAGE as usize,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if p == libc::MAP_FAILED {
                return None;
            }
            std::ptr::read_volatile(p as *const u8);
            let frame = File::open("/proc/self/pagemap").ok().and_then(|f| {
                let mut e = [0u8; 8];
                f.read_exact_at(&mut e, (p as u64 / PAGE) * 8).ok()?;
                let entry = u64::from_le_bytes(e);
                (entry & PRESENT != 0 && entry & PFN != 0).then_some(entry & PFN)
            });
            libc::munmap(p, PAGE as usize);
            frame
        }
    })
}

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
    let zero = zero_page_frame();
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for (i, e) in entries[..done].chunks_exact(8).enumerate() {
        let entry = u64::from_le_bytes(e.try_into().unwrap());
        if entry & (PRESENT | SWAPPED) == 0 {
            continue;
        }
        if entry & PRESENT != 0 && zero == Some(entry & PFN) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_only_read_are_left_out_written_ones_kept() {
        const PAGES: usize = 16;
        let len = PAGES * PAGE as usize;
        // SAFETY: a private anonymous mapping of our own, unmapped at the end.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        let base = p as u64;
        // SAFETY: inside the mapping.
        unsafe {
            for i in 0..PAGES {
                std::ptr::read_volatile((p as *const u8).add(i * PAGE as usize));
            }
            *(p as *mut u8).add(3 * PAGE as usize) = 1;
            *(p as *mut u8).add(4 * PAGE as usize) = 1;
        }
        let runs = resident_runs(std::process::id() as i32, base, base + len as u64).unwrap();
        // SAFETY: unmapping what was mapped above.
        unsafe { libc::munmap(p, len) };
        if zero_page_frame().is_some() {
            assert_eq!(runs, vec![(base + 3 * PAGE, base + 5 * PAGE)]);
        } else {
            eprintln!("frame numbers are hidden (not CAP_SYS_ADMIN): zero pages count as data");
            assert_eq!(runs, vec![(base, base + len as u64)]);
        }
    }
}
