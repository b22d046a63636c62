//! A copy of the target's writable memory, taken while it is stopped, that the heap walk runs
//! on after the target has been resumed.
//!
//! Every Python object lives in writable memory (the heap, pymalloc arenas, and the `.data` of
//! the interpreter for static objects), so the walk only needs those regions; the rare reads of
//! read-only memory (type names in `.rodata`) go to a fallback source, which is immutable.

use std::cell::Cell;

use super::pagemap::resident_runs;
use super::{maps::Mapping, process::ProcessMemory, Memory, MemoryError};

/// One copied, contiguous, fully readable range.
struct Region {
    start: u64,
    data: Vec<u8>,
}

impl Region {
    fn end(&self) -> u64 {
        self.start + self.data.len() as u64
    }
}

/// The copy: sorted, non-overlapping regions, plus the source for everything else.
pub struct Image {
    regions: Vec<Region>,
    fallback: Option<Box<dyn Memory + Send + Sync>>,
    /// The region of the last successful lookup.
    last: Cell<usize>,
    /// The fallback source (the live process) went away during the walk: read-only memory,
    /// such as type names, could not be read, so the result may lack objects.
    source_gone: Cell<bool>,
}

/// Figures about a copy, for reporting.
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyStats {
    pub bytes: u64,
    pub regions: usize,
}

/// Which mappings the census copies: readable, writable, private process memory. Python
/// objects are never allocated in shared mappings (memory-mapped files, `/dev/shm`) or device
/// memory; copying those would read the target's files from disk while it is stopped.
pub fn wants_copy(m: &Mapping) -> bool {
    m.readable
        && m.writable
        && !m.shared
        && !m.is_special()
        && !m.is_empty()
        && !m.path.starts_with("/dev/")
}

/// Anonymous mappings at least this big are copied page-run by page-run, resident pages only.
const SPARSE_COPY_MIN: u64 = 1 << 20;

/// The address ranges to copy: writable mappings, adjacent ones merged (a static object may
/// straddle the end of `.data` and the start of `.bss`), big anonymous areas reduced to their
/// resident pages.
fn copy_ranges(pid: i32, maps: &[Mapping]) -> Vec<(u64, u64)> {
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    let mut push = |start: u64, end: u64| match ranges.last_mut() {
        Some(last) if last.1 == start => last.1 = end,
        _ => ranges.push((start, end)),
    };
    for m in maps.iter().filter(|m| wants_copy(m)) {
        let anonymous = m.path.is_empty() || m.path == "[heap]";
        if anonymous && m.len() >= SPARSE_COPY_MIN {
            if let Ok(runs) = resident_runs(pid, m.start, m.end) {
                for (start, end) in runs {
                    push(start, end);
                }
                continue;
            }
        }
        push(m.start, m.end);
    }
    ranges
}

/// Buffers for the copy, allocated and faulted in before the target is stopped, so that the
/// pause is spent copying, not taking page faults in heapsnap's own memory.
pub struct CopyPlan {
    buffers: Vec<(u64, Vec<u8>)>,
}

/// How much memory a copy needs, and how much the machine has.
#[derive(Debug, Clone, Copy)]
pub struct TooBig {
    pub needed: u64,
    pub available: u64,
}

/// `MemAvailable` from /proc/meminfo, in bytes.
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Fault in every page of `data` now: one `madvise(MADV_POPULATE_WRITE)` for the page-aligned
/// part (Linux 5.14+), a write per page where that is not available.
fn populate(data: &mut [u8]) {
    const PAGE: usize = 4096;
    let addr = data.as_mut_ptr() as usize;
    let first = addr.next_multiple_of(PAGE);
    let last = (addr + data.len()) / PAGE * PAGE;
    if last > first {
        // SAFETY: `[first, last)` lies inside `data`, which this function borrows mutably;
        // MADV_POPULATE_WRITE only faults the pages in (they stay zero).
        let done = unsafe {
            libc::madvise(
                first as *mut libc::c_void,
                last - first,
                libc::MADV_POPULATE_WRITE,
            )
        } == 0;
        if done {
            // The partial pages at both ends.
            data[0] = 0;
            if let Some(end) = data.last_mut() {
                *end = 0;
            }
            return;
        }
    }
    for page in data.iter_mut().step_by(PAGE) {
        // SAFETY: `page` is a valid, exclusive reference into `data`; the volatile write
        // makes sure the page is really faulted in now.
        unsafe { std::ptr::write_volatile(page, 0) };
    }
}

impl CopyPlan {
    /// Plan from the target's current mappings (read again, and adjusted, once it is stopped).
    /// Refuses a copy that would not fit in the machine's available memory (with a margin for
    /// the walk), rather than driving the host into swap or the OOM killer.
    pub fn prepare(pid: i32, maps: &[Mapping]) -> Result<CopyPlan, TooBig> {
        let ranges = copy_ranges(pid, maps);
        let needed: u64 = ranges.iter().map(|(s, e)| e - s).sum();
        if let Some(available) = available_memory() {
            if needed + needed / 2 > available {
                return Err(TooBig { needed, available });
            }
        }
        let buffers = ranges
            .into_iter()
            .map(|(start, end)| {
                let mut data = vec![0u8; (end - start) as usize];
                populate(&mut data);
                (start, data)
            })
            .collect();
        Ok(CopyPlan { buffers })
    }

    /// A prepared buffer for `[start, end)`, or a new one.
    fn buffer(&mut self, start: u64, end: u64) -> Vec<u8> {
        let len = (end - start) as usize;
        match self
            .buffers
            .iter()
            .position(|(s, b)| *s == start && b.len() >= len)
        {
            Some(i) => {
                let mut data = self.buffers.swap_remove(i).1;
                data.truncate(len);
                data
            }
            None => vec![0u8; len],
        }
    }
}

impl Image {
    /// Copy the writable memory of a live (stopped) process, into the plan's buffers where the
    /// mappings did not change since it was made. Unreadable holes are skipped.
    pub fn copy_process(
        source: &ProcessMemory,
        maps: &[Mapping],
        mut plan: CopyPlan,
    ) -> Result<Image, MemoryError> {
        // Two workers, each taking ranges in turn from the largest down: the copy is bound by
        // memory bandwidth, which one core does not saturate.
        let mut jobs: Vec<(u64, Vec<u8>)> = copy_ranges(source.pid, maps)
            .into_iter()
            .map(|(start, end)| (start, plan.buffer(start, end)))
            .collect();
        // `pop` takes from the end: largest last in the vector.
        jobs.sort_by_key(|(_, b)| b.len());
        let queue = std::sync::Mutex::new(jobs);
        let work = || -> Result<Vec<Region>, MemoryError> {
            let mut out = Vec::new();
            loop {
                let job = queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
                let Some((start, buffer)) = job else {
                    return Ok(out);
                };
                copy_range(source, start, buffer, &mut out)?;
            }
        };
        let (a, b) = std::thread::scope(|scope| {
            let helper = scope.spawn(work);
            let mine = work();
            let theirs = helper
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (mine, theirs)
        });
        let mut regions = a?;
        regions.extend(b?);
        regions.sort_by_key(|r| r.start);
        Ok(Image {
            regions,
            fallback: None,
            last: Cell::new(0),
            source_gone: Cell::new(false),
        })
    }

    /// Build an image from raw regions (used by tests and by sources other than a process).
    pub fn from_regions(mut parts: Vec<(u64, Vec<u8>)>) -> Image {
        parts.sort_by_key(|p| p.0);
        let regions = parts
            .into_iter()
            .map(|(start, data)| Region { start, data })
            .collect();
        Image {
            regions,
            fallback: None,
            last: Cell::new(0),
            source_gone: Cell::new(false),
        }
    }

    /// Where reads outside the copied regions go (read-only memory of the live process).
    pub fn with_fallback(mut self, fallback: Box<dyn Memory + Send + Sync>) -> Image {
        self.fallback = Some(fallback);
        self
    }

    /// A copy of the regions as (start, bytes): for building altered images (tests of corrupt
    /// memory) with [`Image::from_regions`].
    pub fn to_regions(&self) -> Vec<(u64, Vec<u8>)> {
        self.regions
            .iter()
            .map(|r| (r.start, r.data.clone()))
            .collect()
    }

    /// Whether a read of the live process failed because it had exited.
    pub fn source_gone(&self) -> bool {
        self.source_gone.get()
    }

    pub fn stats(&self) -> CopyStats {
        CopyStats {
            bytes: self.regions.iter().map(|r| r.data.len() as u64).sum(),
            regions: self.regions.len(),
        }
    }

    /// The index of the copied region holding `addr`. The last region found is tried first:
    /// consecutive reads are mostly in the same region.
    #[inline]
    pub fn region_of(&self, addr: u64) -> Option<usize> {
        let last = self.last.get();
        if let Some(r) = self.regions.get(last) {
            if addr >= r.start && addr < r.end() {
                return Some(last);
            }
        }
        let i = self.regions.partition_point(|r| r.start <= addr);
        if i == 0 {
            return None;
        }
        let r = &self.regions[i - 1];
        (addr < r.end()).then(|| {
            self.last.set(i - 1);
            i - 1
        })
    }

    /// Start and length of region `i`.
    pub fn region(&self, i: usize) -> (u64, u64) {
        let r = &self.regions[i];
        (r.start, r.data.len() as u64)
    }

    pub fn region_count(&self) -> usize {
        self.regions.len()
    }

    /// `len` copied bytes at `addr`, if they are all inside one copied region.
    #[inline]
    pub fn slice(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let r = &self.regions[self.region_of(addr)?];
        let off = (addr - r.start) as usize;
        r.data.get(off..off.checked_add(len)?)
    }

    /// True if `len` bytes at `addr` are in the copy (object memory must be).
    #[inline]
    pub fn contains(&self, addr: u64, len: usize) -> bool {
        self.slice(addr, len).is_some()
    }

    /// A pointer-sized word from the copy, `None` when not copied.
    #[inline]
    pub fn word(&self, addr: u64) -> Option<u64> {
        let b = self.slice(addr, 8)?;
        Some(u64::from_le_bytes(b.try_into().ok()?))
    }

    #[inline]
    pub fn u32_at(&self, addr: u64) -> Option<u32> {
        let b = self.slice(addr, 4)?;
        Some(u32::from_le_bytes(b.try_into().ok()?))
    }

    #[inline]
    pub fn u8_at(&self, addr: u64) -> Option<u8> {
        self.slice(addr, 1).map(|b| b[0])
    }
}

impl Memory for Image {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        if let Some(s) = self.slice(addr, buf.len()) {
            buf.copy_from_slice(s);
            return Ok(());
        }
        match &self.fallback {
            Some(f) => f.read(addr, buf).inspect_err(|e| {
                if let MemoryError::Gone(_) = e {
                    self.source_gone.set(true);
                }
            }),
            None => Err(MemoryError::Unreadable {
                addr,
                len: buf.len(),
            }),
        }
    }
}

/// Copy `buffer.len()` bytes from `start` into `buffer` in one large read, splitting it into
/// several regions where pages cannot be read.
fn copy_range(
    source: &ProcessMemory,
    start: u64,
    mut buffer: Vec<u8>,
    out: &mut Vec<Region>,
) -> Result<(), MemoryError> {
    const PAGE: u64 = 4096;
    let end = start + buffer.len() as u64;
    let mut at = start;
    while at < end {
        let n = source.read_partial(at, &mut buffer)?;
        // Skip the unreadable page (if any) and go on after it.
        let next = at + (n as u64).div_ceil(PAGE) * PAGE + PAGE;
        let rest = if next < end {
            buffer.split_off((next - at) as usize)
        } else {
            Vec::new()
        };
        if n > 0 {
            buffer.truncate(n);
            out.push(Region {
                start: at,
                data: buffer,
            });
        }
        buffer = rest;
        at = next;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_addresses_and_refuses_gaps() {
        let image = Image::from_regions(vec![
            (0x2000, vec![7u8; 0x1000]),
            (0x1000, (0..16u8).cycle().take(0x1000).collect()),
        ]);
        assert_eq!(
            image.word(0x1000),
            Some(u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]))
        );
        assert_eq!(image.u8_at(0x2fff), Some(7));
        assert_eq!(
            image.slice(0x1ffc, 8),
            None,
            "a read may not straddle two regions"
        );
        assert_eq!(image.word(0x3000), None);
        assert_eq!(image.word(0x0), None);
        let mut buf = [0u8; 4];
        assert!(image.read(0x5000, &mut buf).is_err());
        assert_eq!(image.stats().bytes, 0x2000);
    }
}
