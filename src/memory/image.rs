//! A copy of the target's writable memory, taken while it is stopped, that the heap walk runs
//! on after the target has been resumed.
//!
//! Every Python object lives in writable memory (the heap, pymalloc arenas, and the `.data` of
//! the interpreter for static objects), so the walk only needs those regions; the rare reads of
//! read-only memory (type names in `.rodata`) go to a fallback source, which is immutable.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::limits::{headroom, Headroom};
use super::pagemap::resident_runs;
use super::{maps::Mapping, process::ProcessMemory, Memory, MemoryError, PAGE};

/// One copied, contiguous, fully readable range.
struct Region {
    start: u64,
    data: Vec<u8>,
}

/// Address → region in two table lookups: the walk translates a few dozen addresses per
/// object, and a binary search over a few hundred regions (each arena, each resident run is
/// one) costs more than everything else it does per read.
///
/// The address space (47 bits) is cut into 64 KiB chunks; each chunk records the only region
/// that touches it, or that several do (then a binary search decides).
struct RegionDirectory {
    /// Indexed by `addr >> 32`: a table for the 65,536 chunks of that 4 GiB, where any region is.
    top: Vec<Option<Box<[u32]>>>,
    /// Some region lies above the 47-bit user address space the tables cover (possible with
    /// 5-level paging): addresses up there are found by binary search.
    beyond: bool,
}

const CHUNK_SHIFT: u32 = 16;
const TOP_SHIFT: u32 = 32;
/// Top-level entries: the 128 TiB of a 47-bit user address space.
const TOP_ENTRIES: usize = 1 << (47 - TOP_SHIFT);
const NO_REGION: u32 = u32::MAX;
const SEVERAL_REGIONS: u32 = u32::MAX - 1;

impl RegionDirectory {
    fn new(spans: &[(u64, u64)]) -> RegionDirectory {
        let mut top: Vec<Option<Box<[u32]>>> = Vec::new();
        let mut beyond = false;
        let chunks_per_top = 1usize << (TOP_SHIFT - CHUNK_SHIFT);
        for (i, &(start, len)) in spans.iter().enumerate() {
            if len == 0 {
                continue;
            }
            let first = start >> CHUNK_SHIFT;
            let last = start.saturating_add(len - 1) >> CHUNK_SHIFT;
            for chunk in first..=last {
                let t = (chunk >> (TOP_SHIFT - CHUNK_SHIFT)) as usize;
                if t >= TOP_ENTRIES {
                    beyond = true;
                    break;
                }
                if t >= top.len() {
                    top.resize_with(t + 1, || None);
                }
                let table = top[t]
                    .get_or_insert_with(|| vec![NO_REGION; chunks_per_top].into_boxed_slice());
                let slot = &mut table[chunk as usize & (chunks_per_top - 1)];
                *slot = if *slot == NO_REGION {
                    i as u32
                } else {
                    SEVERAL_REGIONS
                };
            }
        }
        RegionDirectory { top, beyond }
    }

    /// The region touching `addr`'s chunk, [`SEVERAL_REGIONS`] or [`NO_REGION`].
    #[inline(always)]
    fn lookup(&self, addr: u64) -> u32 {
        match self.top.get((addr >> TOP_SHIFT) as usize) {
            Some(Some(table)) => {
                table[(addr >> CHUNK_SHIFT) as usize & ((1 << (TOP_SHIFT - CHUNK_SHIFT)) - 1)]
            }
            _ if self.beyond && addr >> TOP_SHIFT >= TOP_ENTRIES as u64 => SEVERAL_REGIONS,
            _ => NO_REGION,
        }
    }
}

/// Where the copied regions are (not what they hold): enough to map addresses to regions, and
/// to outlive the copy's memory.
pub struct RegionLayout {
    /// (start, length) of each region, by address.
    spans: Vec<(u64, u64)>,
    directory: RegionDirectory,
}

impl RegionLayout {
    fn new(spans: Vec<(u64, u64)>) -> RegionLayout {
        RegionLayout {
            directory: RegionDirectory::new(&spans),
            spans,
        }
    }

    /// The index of the region holding `addr`.
    #[inline(always)]
    pub fn region_of(&self, addr: u64) -> Option<usize> {
        let i = match self.directory.lookup(addr) {
            NO_REGION => return None,
            SEVERAL_REGIONS => self
                .spans
                .partition_point(|&(start, _)| start <= addr)
                .checked_sub(1)?,
            i => i as usize,
        };
        let (start, len) = self.spans[i];
        (addr >= start && addr - start < len).then_some(i)
    }

    /// Start and length of region `i`.
    #[inline(always)]
    pub fn region(&self, i: usize) -> (u64, u64) {
        self.spans[i]
    }

    pub fn region_count(&self) -> usize {
        self.spans.len()
    }
}

/// The copy: sorted, non-overlapping regions, plus the source for everything else.
pub struct Image {
    layout: Arc<RegionLayout>,
    /// The bytes of each region of `layout`.
    data: Vec<Vec<u8>>,
    fallback: Option<Box<dyn Memory + Send + Sync>>,
    /// The fallback source (the live process) went away during the walk: read-only memory,
    /// such as type names, could not be read, so the result may lack objects.
    source_gone: AtomicBool,
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

/// How much memory a copy needs, and how much heapsnap may use (the machine's or its cgroup's).
#[derive(Debug, Clone)]
pub struct TooBig {
    pub needed: u64,
    pub available: Headroom,
}

/// "N MB of memory in use; ... only M MB left under ...": the end of a sentence naming the
/// process.
impl std::fmt::Display for TooBig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mb = |bytes: u64| bytes / 1_000_000;
        write!(
            f,
            "{} MB of memory in use; heapsnap copies it to take a consistent census and needs \
             about 1.5 times that, but there is only {} MB ",
            mb(self.needed),
            mb(self.available.bytes)
        )?;
        match &self.available.cgroup {
            Some(cgroup) => write!(f, "left under the memory limit of cgroup {cgroup}"),
            None => write!(f, "available on this machine"),
        }
    }
}

impl CopyPlan {
    /// Plan from the target's current mappings (read again, and adjusted, once it is stopped).
    /// Refuses a copy that would not fit in the memory available to heapsnap (the machine's,
    /// or its container's), with a margin for the walk, rather than driving the host into swap
    /// or a container into the OOM killer (which might pick the target).
    pub fn prepare(pid: i32, maps: &[Mapping]) -> Result<CopyPlan, TooBig> {
        let ranges = copy_ranges(pid, maps);
        let needed: u64 = ranges.iter().map(|(s, e)| e - s).sum();
        if let Some(available) = headroom() {
            if needed + needed / 2 > available.bytes {
                return Err(TooBig { needed, available });
            }
        }
        let mut buffers: Vec<(u64, Vec<u8>)> = ranges
            .into_iter()
            .map(|(start, end)| (start, vec![0u8; (end - start) as usize]))
            .collect();
        super::populate(buffers.iter_mut().map(|(_, data)| data.as_mut_slice()));
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
        jobs.sort_by_key(|(_, b)| std::cmp::Reverse(b.len()));
        // Each thread's regions, and the first error it met (it copies nothing after that).
        let mut copied: [Result<Vec<Region>, MemoryError>; 2] = [Ok(Vec::new()), Ok(Vec::new())];
        let [theirs, ours] = &mut copied;
        let work = |out: &mut Result<Vec<Region>, MemoryError>, (start, buffer)| {
            if let Ok(regions) = out {
                if let Err(e) = copy_range(source, start, buffer, regions) {
                    *out = Err(e);
                }
            }
        };
        crate::parallel::share(
            jobs.into_iter(),
            |job| work(theirs, job),
            |job| work(ours, job),
        );
        let [theirs, ours] = copied;
        let mut regions = theirs?;
        regions.extend(ours?);
        Ok(Image::new(regions))
    }

    fn new(mut regions: Vec<Region>) -> Image {
        regions.sort_by_key(|r| r.start);
        Image {
            layout: Arc::new(RegionLayout::new(
                regions
                    .iter()
                    .map(|r| (r.start, r.data.len() as u64))
                    .collect(),
            )),
            data: regions.into_iter().map(|r| r.data).collect(),
            fallback: None,
            source_gone: AtomicBool::new(false),
        }
    }

    /// Build an image from raw regions (used by tests and by sources other than a process).
    pub fn from_regions(parts: Vec<(u64, Vec<u8>)>) -> Image {
        Image::new(
            parts
                .into_iter()
                .map(|(start, data)| Region { start, data })
                .collect(),
        )
    }

    /// Where reads outside the copied regions go (read-only memory of the live process).
    pub fn with_fallback(mut self, fallback: Box<dyn Memory + Send + Sync>) -> Image {
        self.fallback = Some(fallback);
        self
    }

    /// A copy of the regions as (start, bytes): for building altered images (tests of corrupt
    /// memory) with [`Image::from_regions`].
    pub fn to_regions(&self) -> Vec<(u64, Vec<u8>)> {
        self.layout
            .spans
            .iter()
            .zip(&self.data)
            .map(|(&(start, _), data)| (start, data.clone()))
            .collect()
    }

    /// Where the copy's bytes are in this process's own memory, region by region (to measure
    /// which of them a walk reads: `examples/walk_touch.rs`).
    pub fn local_ranges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.data.iter().map(|d| (d.as_ptr() as usize, d.len()))
    }

    /// Where the regions are (shared: it may outlive the copy's bytes).
    pub fn layout(&self) -> &Arc<RegionLayout> {
        &self.layout
    }

    /// Whether a read of the live process failed because it had exited.
    pub fn source_gone(&self) -> bool {
        self.source_gone.load(Ordering::Relaxed)
    }

    pub fn stats(&self) -> CopyStats {
        CopyStats {
            bytes: self.data.iter().map(|d| d.len() as u64).sum(),
            regions: self.data.len(),
        }
    }

    /// Hint the CPU to bring the copied cache line at `addr` into cache (no-op if not copied).
    #[inline]
    pub fn prefetch(&self, addr: u64) {
        #[cfg(target_arch = "x86_64")]
        if let Some(bytes) = self.slice(addr, 1) {
            // SAFETY: a prefetch never faults, and the pointer is into the copy anyway.
            unsafe {
                std::arch::x86_64::_mm_prefetch(
                    bytes.as_ptr() as *const i8,
                    std::arch::x86_64::_MM_HINT_T0,
                )
            };
        }
    }

    /// `len` copied bytes at `addr`, if they are all inside one copied region.
    #[inline(always)]
    pub fn slice(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let i = self.layout.region_of(addr)?;
        let off = (addr - self.layout.spans[i].0) as usize;
        self.data[i].get(off..off.checked_add(len)?)
    }

    /// True if `len` bytes at `addr` are in the copy (object memory must be).
    #[inline(always)]
    pub fn contains(&self, addr: u64, len: usize) -> bool {
        self.slice(addr, len).is_some()
    }

    /// A pointer-sized word from the copy, `None` when not copied.
    #[inline(always)]
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
                    self.source_gone.store(true, Ordering::Relaxed);
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

    #[test]
    fn addresses_above_47_bits_are_found_without_a_huge_table() {
        let high = 1u64 << 50;
        let image = Image::from_regions(vec![(high, vec![1u8; 4096]), (0x1000, vec![2u8; 16])]);
        assert_eq!(image.word(high + 8), Some(0x0101_0101_0101_0101));
        assert_eq!(image.word(0x1008), Some(0x0202_0202_0202_0202));
        assert_eq!(image.word(high + 4096), None);
        assert_eq!(image.word(1u64 << 49), None);
        assert!(image.layout.directory.top.len() <= TOP_ENTRIES);
    }
}
