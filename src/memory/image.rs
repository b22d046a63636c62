//! The memory image the heap walk runs on: the target's writable memory, either copied while
//! it is stopped (the walk then runs after the target has been resumed), or read in place
//! through a bounded cache while it stays stopped (the low-memory mode: [`Image::live_cached`]).
//!
//! Every Python object lives in writable memory (the heap, pymalloc arenas, and the `.data` of
//! the interpreter for static objects), so the walk only needs those regions; the rare reads of
//! read-only memory (type names in `.rodata`) go to a fallback source, which is immutable.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::cache::LiveCache;
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

    /// The parts of the regions inside `[start, end)`, as (start, end).
    pub fn overlapping(&self, start: u64, end: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
        let first = self
            .spans
            .partition_point(|&(s, len)| s.saturating_add(len) <= start);
        self.spans[first..]
            .iter()
            .take_while(move |&&(s, _)| s < end)
            .map(move |&(s, len)| (s.max(start), s.saturating_add(len).min(end)))
    }
}

/// Where the bytes of an image's regions are.
enum Bytes {
    /// Copied: the bytes of each region of the layout.
    Copy(Vec<Vec<u8>>),
    /// In the stopped process, read through a cache.
    Live(LiveCache),
}

/// Bytes of an image: borrowed from a copy, or read from the live process (held inline when
/// small, so that the walk's many small reads allocate nothing).
pub enum Slice<'a> {
    Borrowed(&'a [u8]),
    Inline { bytes: [u8; INLINE], len: u8 },
    Owned(Vec<u8>),
}

/// The longest read held inline in a [`Slice`] (a dict key table's header is 40 bytes).
const INLINE: usize = 64;

impl std::ops::Deref for Slice<'_> {
    type Target = [u8];

    #[inline(always)]
    fn deref(&self) -> &[u8] {
        match self {
            Slice::Borrowed(bytes) => bytes,
            Slice::Inline { bytes, len } => &bytes[..*len as usize],
            Slice::Owned(bytes) => bytes,
        }
    }
}

/// Sorted, non-overlapping regions and their bytes, plus the source for everything else.
pub struct Image {
    layout: Arc<RegionLayout>,
    bytes: Bytes,
    /// The writable mappings of files (the `.data` of the executable and of shared
    /// libraries), sorted: objects there are C statics, never freed.
    static_data: Vec<(u64, u64)>,
    fallback: Option<Box<dyn Memory + Send + Sync>>,
    /// The fallback source (the live process) went away during the walk: read-only memory,
    /// such as type names, could not be read, so the result may lack objects.
    source_gone: AtomicBool,
}

/// Figures about an image, for reporting.
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyStats {
    /// Bytes its regions cover.
    pub bytes: u64,
    pub regions: usize,
    /// Bytes read from the process: the copy, or what the cache fetched so far (a chunk as
    /// often as it was fetched).
    pub read_bytes: u64,
    /// The most memory a live image's cache may take (0 for a copy).
    pub cache_bytes: u64,
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
/// pause is spent copying, not taking page faults in heapsnap's own memory. Found by the start
/// of their range in O(1) while the target is stopped; those no range used are freed with the
/// plan, after the target has been resumed.
pub struct CopyPlan {
    buffers: HashMap<u64, Vec<u8>>,
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
        // Ranges are disjoint: their starts are distinct keys.
        let mut buffers: HashMap<u64, Vec<u8>> = ranges
            .into_iter()
            .map(|(start, end)| (start, vec![0u8; (end - start) as usize]))
            .collect();
        super::populate(buffers.values_mut().map(|data| data.as_mut_slice()));
        Ok(CopyPlan { buffers })
    }

    /// The prepared buffer for `[start, end)` if there is one big enough, else a new one. A
    /// buffer too small stays in the plan (it is freed with it, after the pause).
    fn buffer(&mut self, start: u64, end: u64) -> Vec<u8> {
        let len = (end - start) as usize;
        match self.buffers.remove(&start) {
            Some(mut data) if data.len() >= len => {
                data.truncate(len);
                data
            }
            Some(small) => {
                self.buffers.insert(start, small);
                vec![0u8; len]
            }
            None => vec![0u8; len],
        }
    }
}

impl Image {
    /// Copy the writable memory of a live (stopped) process, into the plan's buffers where the
    /// mappings did not change since it was made. Unreadable holes are skipped. The buffers no
    /// range used stay in `plan`: drop it once the target runs again (freeing memory inside
    /// the pause would lengthen it).
    pub fn copy_process(
        source: &ProcessMemory,
        maps: &[Mapping],
        plan: &mut CopyPlan,
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
        let spans = regions
            .iter()
            .map(|r| (r.start, r.data.len() as u64))
            .collect();
        Image::with_bytes(
            RegionLayout::new(spans),
            Bytes::Copy(regions.into_iter().map(|r| r.data).collect()),
        )
    }

    fn with_bytes(layout: RegionLayout, bytes: Bytes) -> Image {
        Image {
            layout: Arc::new(layout),
            bytes,
            static_data: Vec::new(),
            fallback: None,
            source_gone: AtomicBool::new(false),
        }
    }

    /// The writable memory of a live process, read in place through a cache of at most about
    /// `cache_bytes` (no copy): the process must stay stopped until the walk is done. The
    /// regions are those a copy would take (`maps` read while it is stopped).
    pub fn live_cached(pid: i32, maps: &[Mapping], cache_bytes: usize) -> Image {
        let spans = copy_ranges(pid, maps)
            .into_iter()
            .map(|(start, end)| (start, end - start))
            .collect();
        Image::with_bytes(
            RegionLayout::new(spans),
            Bytes::Live(LiveCache::new(pid, cache_bytes)),
        )
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

    /// Note which of `maps` hold static data: the private writable mappings of files (see
    /// [`Image::is_static_data`]).
    pub fn with_static_data(mut self, maps: &[Mapping]) -> Image {
        self.static_data = maps
            .iter()
            .filter(|m| wants_copy(m) && !m.path.is_empty() && !m.path.starts_with('['))
            .map(|m| (m.start, m.end))
            .collect();
        self.static_data.sort_unstable();
        self
    }

    /// Whether `addr` is in a file's writable mapping: a C static (None, small ints and
    /// static types of ≤ 3.11, a module's static objects), which the process never frees.
    pub fn is_static_data(&self, addr: u64) -> bool {
        let i = self
            .static_data
            .partition_point(|&(start, _)| start <= addr);
        i > 0 && addr < self.static_data[i - 1].1
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
            .filter_map(|&(start, len)| Some((start, self.slice(start, len as usize)?.to_vec())))
            .collect()
    }

    /// Where the copy's bytes are in this process's own memory, region by region (to measure
    /// which of them a walk reads: `examples/walk_touch.rs`); none for a live image.
    pub fn local_ranges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let copied: &[Vec<u8>] = match &self.bytes {
            Bytes::Copy(data) => data,
            Bytes::Live(_) => &[],
        };
        copied.iter().map(|d| (d.as_ptr() as usize, d.len()))
    }

    /// Whether the bytes are read from the stopped process (low-memory mode), not copied.
    pub fn is_live(&self) -> bool {
        matches!(self.bytes, Bytes::Live(_))
    }

    /// Where the regions are (shared: it may outlive the copy's bytes).
    pub fn layout(&self) -> &Arc<RegionLayout> {
        &self.layout
    }

    /// Whether a read of the live process failed because it had exited.
    pub fn source_gone(&self) -> bool {
        self.source_gone.load(Ordering::Relaxed)
            || matches!(&self.bytes, Bytes::Live(cache) if cache.gone())
    }

    pub fn stats(&self) -> CopyStats {
        let bytes = self.layout.spans.iter().map(|&(_, len)| len).sum();
        let (read_bytes, cache_bytes) = match &self.bytes {
            Bytes::Copy(_) => (bytes, 0),
            Bytes::Live(cache) => (cache.fetched(), cache.capacity() as u64),
        };
        CopyStats {
            bytes,
            regions: self.layout.spans.len(),
            read_bytes,
            cache_bytes,
        }
    }

    /// Hint the CPU to bring the copied cache line at `addr` into cache (no-op if not copied).
    #[inline]
    pub fn prefetch(&self, addr: u64) {
        #[cfg(target_arch = "x86_64")]
        if let Some(bytes) = self.copied(addr, 1) {
            // SAFETY: a prefetch never faults, and the pointer is into the copy anyway.
            unsafe {
                std::arch::x86_64::_mm_prefetch(
                    bytes.as_ptr() as *const i8,
                    std::arch::x86_64::_MM_HINT_T0,
                )
            };
        }
    }

    /// `len` bytes at `addr` in the copy, if it is one and they are all inside one region.
    #[inline(always)]
    fn copied(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let Bytes::Copy(data) = &self.bytes else {
            return None;
        };
        let i = self.layout.region_of(addr)?;
        let off = (addr - self.layout.spans[i].0) as usize;
        data[i].get(off..off.checked_add(len)?)
    }

    /// `len` bytes at `addr`, if they are all inside one region: borrowed from a copy, owned
    /// when read from the live process.
    #[inline(always)]
    pub fn slice(&self, addr: u64, len: usize) -> Option<Slice<'_>> {
        match &self.bytes {
            Bytes::Copy(_) => self.copied(addr, len).map(Slice::Borrowed),
            Bytes::Live(cache) => self.live_slice(cache, addr, len),
        }
    }

    #[inline(never)]
    fn live_slice(&self, cache: &LiveCache, addr: u64, len: usize) -> Option<Slice<'_>> {
        if !self.contains(addr, len) {
            return None;
        }
        if len <= INLINE {
            let mut bytes = [0u8; INLINE];
            return cache
                .read(&self.layout, addr, &mut bytes[..len])
                .then_some(Slice::Inline {
                    bytes,
                    len: len as u8,
                });
        }
        let mut bytes = vec![0u8; len];
        cache
            .read(&self.layout, addr, &mut bytes)
            .then_some(Slice::Owned(bytes))
    }

    /// `N` bytes at `addr`, if they are all inside one region (no allocation in either mode,
    /// and no [`Slice`] to look through).
    #[inline(always)]
    pub fn array<const N: usize>(&self, addr: u64) -> Option<[u8; N]> {
        match &self.bytes {
            Bytes::Copy(_) => self.copied(addr, N)?.try_into().ok(),
            Bytes::Live(cache) => self.live_array(cache, addr),
        }
    }

    #[inline(never)]
    fn live_array<const N: usize>(&self, cache: &LiveCache, addr: u64) -> Option<[u8; N]> {
        let mut bytes = [0u8; N];
        (self.contains(addr, N) && cache.read(&self.layout, addr, &mut bytes)).then_some(bytes)
    }

    /// True if `len` bytes at `addr` lie inside one region (object memory must).
    #[inline(always)]
    pub fn contains(&self, addr: u64, len: usize) -> bool {
        self.layout.region_of(addr).is_some_and(|i| {
            let (start, region_len) = self.layout.spans[i];
            (len as u64) <= region_len - (addr - start)
        })
    }

    /// A pointer-sized word, `None` when outside the regions.
    #[inline(always)]
    pub fn word(&self, addr: u64) -> Option<u64> {
        self.array(addr).map(u64::from_le_bytes)
    }

    #[inline]
    pub fn u32_at(&self, addr: u64) -> Option<u32> {
        self.array(addr).map(u32::from_le_bytes)
    }

    #[inline]
    pub fn u8_at(&self, addr: u64) -> Option<u8> {
        self.array(addr).map(|[b]| b)
    }
}

impl Memory for Image {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        if let Some(s) = self.slice(addr, buf.len()) {
            buf.copy_from_slice(&s);
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
    fn copy_plan_hands_out_its_buffers_by_start_and_keeps_the_rest() {
        let mut plan = CopyPlan {
            buffers: [(0x1000, vec![1u8; 0x2000]), (0x9000, vec![2u8; 0x1000])]
                .into_iter()
                .collect(),
        };
        let prepared = plan.buffers[&0x1000].as_ptr();
        let got = plan.buffer(0x1000, 0x2000);
        assert_eq!(got.as_ptr(), prepared, "the prepared buffer, not a new one");
        assert_eq!(got.len(), 0x1000, "cut to the range");
        // The range grew since the plan: a new buffer, and the small one stays in the plan.
        let grown = plan.buffer(0x9000, 0xb000);
        assert_eq!((grown.len(), grown[0]), (0x2000, 0));
        assert_eq!(plan.buffer(0x5000, 0x6000).len(), 0x1000);
        assert_eq!(
            plan.buffers.keys().copied().collect::<Vec<_>>(),
            vec![0x9000],
            "unused buffers are left for the caller to free after the pause"
        );
    }

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
        assert!(
            image.slice(0x1ffc, 8).is_none(),
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

    #[test]
    fn a_live_image_reads_what_a_copy_holds_through_a_small_cache() {
        use crate::memory::cache::CHUNK;
        // This process's own memory, read as a target's: 40 chunks through the 8 of this thread.
        let pattern: Vec<u64> = (0..40 * CHUNK as u64 / 8)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        let bytes: Vec<u8> = pattern.iter().flat_map(|w| w.to_le_bytes()).collect();
        let start = bytes.as_ptr() as u64;
        // The region starts 8 bytes in and ends 8 bytes early: reads beyond it must fail.
        let (first, len) = (start + 8, bytes.len() as u64 - 16);
        let live = Image::with_bytes(
            RegionLayout::new(vec![(first, len)]),
            Bytes::Live(LiveCache::new(std::process::id() as i32, 16 * CHUNK)),
        );
        let copy = Image::from_regions(vec![(first, bytes[8..bytes.len() - 8].to_vec())]);
        assert!(live.is_live() && !copy.is_live());
        // Three sweeps in opposite directions, so that chunks are evicted and fetched again.
        let addresses: Vec<u64> = (0..len / 8 + 2).map(|i| start + 8 * i).collect();
        for sweep in 0..3 {
            let order: Box<dyn Iterator<Item = &u64>> = if sweep == 1 {
                Box::new(addresses.iter().rev())
            } else {
                Box::new(addresses.iter())
            };
            for &addr in order {
                assert_eq!(live.word(addr), copy.word(addr), "word at {addr:#x}");
                assert_eq!(live.u8_at(addr + 3), copy.u8_at(addr + 3));
            }
        }
        assert_eq!(live.word(start), None, "before the region");
        assert_eq!(live.word(first + len - 4), None, "across its end");
        // Reads across a chunk boundary, small (inline) and large (read directly).
        let boundary = (first / CHUNK as u64 + 3) * CHUNK as u64;
        for (at, n) in [(boundary - 4, 8), (boundary - 100, 200), (first, 5 * CHUNK)] {
            let (a, b) = (live.slice(at, n), copy.slice(at, n));
            assert_eq!(a.as_deref(), b.as_deref(), "{n} bytes at {at:#x}");
            assert!(a.is_some());
        }
        let stats = live.stats();
        assert_eq!(
            stats.cache_bytes,
            16 * CHUNK as u64,
            "the cache holds 16 chunks, 8 for each reading thread"
        );
        assert!(
            stats.read_bytes > 2 * len,
            "evicted chunks were fetched again ({} bytes read)",
            stats.read_bytes
        );
        drop(bytes);
    }

    #[test]
    fn overlapping_clips_regions_to_the_range() {
        let layout = RegionLayout::new(vec![(0x1000, 0x1000), (0x3000, 0x2000), (0x8000, 0x10)]);
        let parts: Vec<_> = layout.overlapping(0x1800, 0x4000).collect();
        assert_eq!(parts, [(0x1800, 0x2000), (0x3000, 0x4000)]);
        assert_eq!(layout.overlapping(0x5000, 0x8000).count(), 0);
        assert_eq!(
            layout.overlapping(0, u64::MAX).count(),
            3,
            "every region of an unbounded range"
        );
    }
}
