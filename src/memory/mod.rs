//! Where the bytes come from.
//!
//! Everything heapsnap knows about a target comes through this module: the list of its memory
//! mappings ([`maps`]), reads of its address space ([`Memory`], implemented by the live process in
//! [`process`]), stopping every thread for a consistent read ([`freeze`]), and the copy of its
//! writable memory that the heap walk runs on ([`image`], copying only resident pages of big
//! anonymous areas: [`pagemap`]; never more than the memory heapsnap may use: [`limits`]), or,
//! where that copy would not fit, the stopped process read in place through a bounded cache
//! ([`cache`]). The walk never talks to the process directly, so a core file ([`core`]) stands
//! in for a live process.

pub mod cache;
pub mod core;
pub mod freeze;
pub mod image;
pub mod limits;
pub mod maps;
pub mod pagemap;
pub mod process;
pub mod smaps;

use thiserror::Error;

/// The size of a memory page (x86-64 Linux, base pages).
pub const PAGE: u64 = 4096;

/// Why a read of the target's memory failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MemoryError {
    #[error("address {addr:#x} (+{len}) is not readable")]
    Unreadable { addr: u64, len: usize },
    #[error("process {0} has exited")]
    Gone(i32),
    #[error("permission denied reading memory of process {0}")]
    PermissionDenied(i32),
}

/// A source of the target's memory: the live process, a copy of it, or a core file.
pub trait Memory {
    /// Fill `buf` with the bytes at `addr`, all or nothing.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError>;

    fn read_u64(&self, addr: u64) -> Result<u64, MemoryError> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn read_u32(&self, addr: u64) -> Result<u32, MemoryError> {
        let mut b = [0u8; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// A NUL-terminated string of at most `max` bytes (lossy UTF-8).
    fn read_c_string(&self, addr: u64, max: usize) -> Result<String, MemoryError> {
        let mut out = Vec::new();
        let mut chunk = [0u8; 64];
        let mut at = addr;
        while out.len() < max {
            // Never read across a page boundary in one go: the string may end just before an
            // unmapped page.
            let to_page_end = (PAGE - (at % PAGE)) as usize;
            let n = chunk.len().min(to_page_end);
            self.read(at, &mut chunk[..n])?;
            if let Some(end) = chunk[..n].iter().position(|&c| c == 0) {
                out.extend_from_slice(&chunk[..end]);
                return Ok(String::from_utf8_lossy(&out).into_owned());
            }
            out.extend_from_slice(&chunk[..n]);
            at += n as u64;
        }
        Err(MemoryError::Unreadable { addr, len: max })
    }
}

/// Fault in every page of buffers about to be filled, so that filling them takes no page
/// faults (~1.3 µs a page here, up to twice that for a fault taken by a write). Their contents are
/// not kept: a zero byte may be written to any page.
pub fn populate<'a>(buffers: impl IntoIterator<Item = &'a mut [u8]>) {
    let spans: Vec<(usize, usize)> = buffers
        .into_iter()
        .map(|b| (b.as_mut_ptr() as usize, b.len()))
        .collect();
    // SAFETY: each span is a buffer borrowed mutably for the duration of the call.
    unsafe { fault_in(&spans) }
}

/// [`populate`] the first `n` elements of the spare capacity of `vec` (for a big vector about
/// to grow by that much).
pub fn populate_spare<T>(vec: &mut Vec<T>, n: usize) {
    let spare = vec.spare_capacity_mut();
    let n = n.min(spare.len());
    let spare = &mut spare[..n];
    // SAFETY: the spare capacity is allocated, writable and borrowed mutably; writing zero
    // bytes to `MaybeUninit` memory is allowed.
    unsafe { fault_in(&[(spare.as_mut_ptr() as usize, std::mem::size_of_val(spare))]) }
}

/// How much memory a thread faults in at a time; less than two pieces in all are faulted in by
/// one thread.
const FAULT_IN_PIECE: usize = 4 << 20;

/// Fault in the pages of `spans` (address, length) on two threads: page faults on different
/// pages of one process run in parallel (128 MB: 23 ms instead of 40 here). Both use
/// [`populate_raw`] (one `madvise` a piece), except this thread while the helper is starting:
/// `madvise` holds the process's memory map lock, which a starting thread needs to map its
/// stack and malloc arena (its start was seen to wait up to 36 ms behind it), so this thread
/// writes a byte per page ([`touch_raw`]: a page fault does not take that lock) until then.
///
/// # Safety
/// Each span must be valid for writes and not otherwise accessed during the call.
unsafe fn fault_in(spans: &[(usize, usize)]) {
    for &(at, len) in spans {
        ask_for_huge_pages(at, len);
    }
    let total: usize = spans.iter().map(|&(_, len)| len).sum();
    if total < 2 * FAULT_IN_PIECE {
        for &(at, len) in spans {
            populate_raw(at as *mut u8, len);
        }
        return;
    }
    let pieces = spans.iter().flat_map(|&(at, len)| {
        (0..len)
            .step_by(FAULT_IN_PIECE)
            .map(move |offset| (at + offset, FAULT_IN_PIECE.min(len - offset)))
    });
    let helper_started = std::sync::atomic::AtomicBool::new(false);
    crate::parallel::share(
        pieces,
        |(at, len)| {
            helper_started.store(true, std::sync::atomic::Ordering::Relaxed);
            // SAFETY: a piece of a span the caller vouches for, taken by one thread only.
            unsafe { populate_raw(at as *mut u8, len) }
        },
        |(at, len)| {
            let at = at as *mut u8;
            // SAFETY: as above.
            unsafe {
                if helper_started.load(std::sync::atomic::Ordering::Relaxed) {
                    populate_raw(at, len)
                } else {
                    touch_raw(at, len)
                }
            }
        },
    );
}

/// The size of a transparent huge page (x86-64).
const HUGE_PAGE: usize = 2 << 20;

/// Ask for transparent huge pages for the 2 MiB-aligned part of `at..at + len` (where the
/// system gives them on request: `transparent_hugepage/enabled` = madvise, as on many
/// distributions; nothing changes under `always` or `never`). A fault then zeroes 2 MiB at
/// once instead of 512 faults of 4 KiB, and the walk's random reads over a copy of gigabytes
/// miss the TLB less. W16 (1.86 GB, 3.12.1): fault-in and copy 1.79 → 0.43–0.54 s (the walk
/// stays at 1.6–2.0 s: bound by memory latency, not the TLB); W1 45 → 39 ms.
fn ask_for_huge_pages(at: usize, len: usize) {
    let first = at.next_multiple_of(HUGE_PAGE);
    let last = (at + len) / HUGE_PAGE * HUGE_PAGE;
    if last > first {
        // SAFETY: advice only, on memory the caller owns; its contents do not change.
        unsafe {
            libc::madvise(
                first as *mut libc::c_void,
                last - first,
                libc::MADV_HUGEPAGE,
            );
        }
    }
}

/// One `madvise(MADV_POPULATE_WRITE)` for the page-aligned part (Linux 5.14+; cheaper than a
/// fault per page), a zero byte written per page elsewhere (so the contents are not kept).
///
/// # Safety
/// `ptr..ptr + len` must be valid for writes and not otherwise accessed during the call.
unsafe fn populate_raw(ptr: *mut u8, len: usize) {
    if len == 0 {
        return;
    }
    let page = PAGE as usize;
    let addr = ptr as usize;
    let first = addr.next_multiple_of(page);
    let last = (addr + len) / page * page;
    // MADV_POPULATE_WRITE only faults the pages in; their contents do not change.
    if last > first
        && libc::madvise(
            first as *mut libc::c_void,
            last - first,
            libc::MADV_POPULATE_WRITE,
        ) == 0
    {
        // The partial pages at both ends.
        ptr.write_volatile(0);
        ptr.add(len - 1).write_volatile(0);
        return;
    }
    touch_raw(ptr, len);
}

/// Fault in every page by writing a zero byte to each.
///
/// # Safety
/// `ptr..ptr + len` must be valid for writes and not otherwise accessed during the call.
unsafe fn touch_raw(ptr: *mut u8, len: usize) {
    for offset in (0..len).step_by(PAGE as usize) {
        ptr.add(offset).write_volatile(0);
    }
    // The last page, when `ptr` is not page-aligned.
    if len > 0 {
        ptr.add(len - 1).write_volatile(0);
    }
}
