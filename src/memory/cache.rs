//! Reading a stopped process in place, through a bounded cache: the low-memory mode's source of
//! bytes, where the copy would not fit. The target stays stopped for the whole walk, so what
//! the cache holds never goes stale; the walk reads through it as it would read the copy.
//!
//! The cache holds fixed-size chunks of the target's address space, fetched with
//! `process_vm_readv` on first use, in sets of a few chunks each (a chunk's set is fixed by its
//! address; within a set the chunk to evict is chosen by the clock algorithm). Each thread
//! reads through chunks of its own: a lock taken for each read (a few dozen per object) cost
//! about half of the walk's time, and a heapsnap process has two reading threads at most
//! ([`crate::parallel`]), so the memory bound is shared between them.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::image::RegionLayout;
use super::process::ProcessMemory;
use super::{Memory, MemoryError, PAGE};

/// Bytes per cached chunk. Each breadth-first level of the walk sweeps the heap, reading part of
/// each page: W1 (126 MB of regions, 3.12.1) fetched 403 MB in 64 KiB chunks, 267 MB in 32 KiB,
/// 164 MB in 16 KiB, 156 MB in 8 KiB, 151 MB in 4 KiB (2 MB of chunks per thread).
pub const CHUNK: usize = 16 << 10;
const CHUNK_SHIFT: u32 = CHUNK.trailing_zeros();
/// Chunks per set.
const WAYS: usize = 8;
/// Threads that may read at once, each through chunks of its own.
const READERS: usize = 2;
const EMPTY: u64 = u64::MAX;
// A chunk's readable pages are one `u16`.
const _: () = assert!(CHUNK / PAGE as usize <= 16);

/// One chunk held by a set.
struct Slot {
    /// The chunk number (address >> [`CHUNK_SHIFT`]), or [`EMPTY`].
    chunk: u64,
    /// Which of its pages were read (bit `i`: page `i`); the others are not in the target's
    /// copied regions or could not be read.
    pages: u16,
    /// Read since the clock hand last passed.
    referenced: bool,
    /// Allocated on first use: a small target does not take the whole budget.
    bytes: Vec<u8>,
}

struct Set {
    slots: [Slot; WAYS],
    hand: usize,
}

/// One thread's chunks, for the cache numbered `owner` (0: none).
#[derive(Default)]
struct Chunks {
    owner: u64,
    /// A power of two of them: a chunk's set is its number's low bits.
    sets: Vec<Set>,
}

thread_local! {
    /// This thread's chunks of the cache it reads (one at a time; reading another replaces them).
    static CHUNKS: RefCell<Chunks> = RefCell::default();
}

/// Numbers caches, so that a thread knows whose chunks it holds.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Chunks of a stopped process, fetched on demand, at most a fixed number in memory.
pub struct LiveCache {
    id: u64,
    source: ProcessMemory,
    /// Sets per reading thread.
    sets: usize,
    /// Bytes read from the process so far.
    fetched: AtomicU64,
    /// The process went away: reads fail from then on.
    gone: AtomicBool,
}

impl LiveCache {
    /// A cache of at most `budget` bytes in all (at least one set per reading thread) over the
    /// memory of process `pid`.
    pub fn new(pid: i32, budget: usize) -> LiveCache {
        let per_thread = (budget / READERS / (CHUNK * WAYS)).max(1);
        // The largest power of two that fits.
        let sets = 1 << per_thread.ilog2();
        LiveCache {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            source: ProcessMemory::new(pid),
            sets,
            fetched: AtomicU64::new(0),
            gone: AtomicBool::new(false),
        }
    }

    /// The most memory the cache's chunks can take (all reading threads together).
    pub fn capacity(&self) -> usize {
        READERS * self.sets * WAYS * CHUNK
    }

    /// Bytes read from the process so far (each chunk as often as it was fetched).
    pub fn fetched(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }

    /// Whether a read failed because the process had exited.
    pub fn gone(&self) -> bool {
        self.gone.load(Ordering::Relaxed)
    }

    /// Fill `out` with the bytes at `addr`, which `layout` places inside one region. False if
    /// some of them could not be read. A range within one chunk is served from this thread's
    /// chunks; a longer one (a piece of a big list's items) is read directly.
    pub fn read(&self, layout: &RegionLayout, addr: u64, out: &mut [u8]) -> bool {
        let chunk = addr >> CHUNK_SHIFT;
        let offset = (addr & (CHUNK as u64 - 1)) as usize;
        if offset + out.len() > CHUNK {
            return self.read_direct(addr, out);
        }
        CHUNKS.with_borrow_mut(|chunks| {
            if chunks.owner != self.id {
                chunks.owner = self.id;
                chunks.sets = (0..self.sets).map(|_| Set::empty()).collect();
            }
            let set = &mut chunks.sets[chunk as usize & (self.sets - 1)];
            let way = match set.slots.iter().position(|s| s.chunk == chunk) {
                Some(way) => way,
                None => {
                    let way = set.victim();
                    self.fill(layout, chunk, &mut set.slots[way]);
                    way
                }
            };
            let slot = &mut set.slots[way];
            slot.referenced = true;
            let first_page = offset / PAGE as usize;
            let last_page = (offset + out.len().max(1) - 1) / PAGE as usize;
            let wanted = ((1u32 << (last_page + 1)) - (1u32 << first_page)) as u16;
            if slot.pages & wanted != wanted {
                return false;
            }
            out.copy_from_slice(&slot.bytes[offset..offset + out.len()]);
            true
        })
    }

    /// Read `out.len()` bytes at `addr` straight from the process, all or nothing.
    fn read_direct(&self, addr: u64, out: &mut [u8]) -> bool {
        self.fetched.fetch_add(out.len() as u64, Ordering::Relaxed);
        match self.source.read(addr, out) {
            Ok(()) => true,
            Err(e) => {
                self.note(e);
                false
            }
        }
    }

    fn note(&self, e: MemoryError) {
        if let MemoryError::Gone(_) = e {
            self.gone.store(true, Ordering::Relaxed);
        }
    }

    /// Fetch chunk `chunk` into `slot`: the parts of it inside `layout`'s regions, skipping
    /// pages that cannot be read (as the copy does).
    fn fill(&self, layout: &RegionLayout, chunk: u64, slot: &mut Slot) {
        let start = chunk << CHUNK_SHIFT;
        let end = start + CHUNK as u64;
        slot.chunk = chunk;
        slot.pages = 0;
        slot.bytes.resize(CHUNK, 0);
        for (span_start, span_end) in layout.overlapping(start, end) {
            let mut at = span_start;
            while at < span_end {
                let local = (at - start) as usize..(span_end - start) as usize;
                let n = match self.source.read_partial(at, &mut slot.bytes[local]) {
                    Ok(n) => n as u64,
                    Err(e) => {
                        self.note(e);
                        return;
                    }
                };
                self.fetched.fetch_add(n, Ordering::Relaxed);
                // Pages of which some bytes were read (only those inside the regions are ever
                // asked for).
                for page in (at - start) / PAGE..(at + n - start).div_ceil(PAGE) {
                    slot.pages |= 1 << page;
                }
                // Skip the unreadable page (if any) and go on after it.
                at += n.div_ceil(PAGE) * PAGE + PAGE;
            }
        }
    }
}

impl Drop for LiveCache {
    /// This thread's chunks go with the cache (a helper thread's go when it ends).
    fn drop(&mut self) {
        let _ = CHUNKS.try_with(|chunks| {
            let mut chunks = chunks.borrow_mut();
            if chunks.owner == self.id {
                *chunks = Chunks::default();
            }
        });
    }
}

impl Set {
    fn empty() -> Set {
        Set {
            slots: std::array::from_fn(|_| Slot {
                chunk: EMPTY,
                pages: 0,
                referenced: false,
                bytes: Vec::new(),
            }),
            hand: 0,
        }
    }

    /// The slot to fill: an empty one, or the first the clock hand finds not referenced since
    /// it last passed.
    fn victim(&mut self) -> usize {
        if let Some(way) = self.slots.iter().position(|s| s.chunk == EMPTY) {
            return way;
        }
        loop {
            let way = self.hand;
            self.hand = (self.hand + 1) % WAYS;
            let slot = &mut self.slots[way];
            if !std::mem::take(&mut slot.referenced) {
                return way;
            }
        }
    }
}
