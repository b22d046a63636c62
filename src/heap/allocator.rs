//! The object allocator's (pymalloc's) pools, found in the target's memory by their headers:
//! how much of its arenas' resident memory holds allocated blocks, and how much is free
//! (blocks freed and not reused, empty pools an arena keeps). No allocator table is needed, so
//! stripped builds and every version read the same way.
//!
//! A pool is `pymalloc_pool` bytes at an address aligned to that size, starting with its
//! header (2.7–3.15, 48 bytes): `ref.count` u32 +0 (allocated blocks; the rest of that word
//! is zero), `freeblock` +8, `nextpool` +16, `prevpool` +24, `arenaindex` u32 +32, `szidx`
//! u32 +36, `nextoffset` u32 +40 (the first block never handed out), `maxnextoffset` u32 +44
//! (pool size minus the block size). A pool never used is not resident, and its zero header
//! is rejected.

use crate::memory::Memory;

/// The pools' header size (`POOL_OVERHEAD`).
const HEADER: u64 = 48;
/// The largest block pymalloc hands out (`SMALL_REQUEST_THRESHOLD`).
const MAX_BLOCK: u64 = 512;

/// What the pools hold (bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllocatorUsage {
    pub pools: u64,
    /// The pools' memory: pools × pool size.
    pub pool_bytes: u64,
    /// In allocated blocks (objects, and buffers of objects: list items, dict tables).
    pub allocated: u64,
}

impl AllocatorUsage {
    /// Resident in the pools and not allocated: headers, free blocks, empty pools.
    pub fn free(&self) -> u64 {
        self.pool_bytes - self.allocated
    }
}

/// The pools in `regions` (start, length) of `memory`, for pools of `pool_size` bytes. Each
/// candidate's header is read alone: on a live process that is one small read per pool, not a
/// sweep of the whole memory.
pub fn allocator_usage(
    memory: &dyn Memory,
    regions: impl Iterator<Item = (u64, u64)>,
    pool_size: u64,
) -> AllocatorUsage {
    let mut usage = AllocatorUsage::default();
    for (start, len) in regions {
        let mut pool = start.next_multiple_of(pool_size);
        while pool + pool_size <= start + len {
            let mut header = [0u8; HEADER as usize];
            if memory.read(pool, &mut header).is_ok() {
                if let Some(allocated) = allocated_bytes(&header, pool, pool_size) {
                    usage.pools += 1;
                    usage.pool_bytes += pool_size;
                    usage.allocated += allocated;
                }
            }
            pool += pool_size;
        }
    }
    usage
}

/// The bytes in allocated blocks of the pool at `pool` whose header is `h`, if it is one.
fn allocated_bytes(h: &[u8; HEADER as usize], pool: u64, pool_size: u64) -> Option<u64> {
    let u32_at = |at: usize| u64::from(u32::from_le_bytes(h[at..at + 4].try_into().unwrap()));
    let u64_at = |at: usize| u64::from_le_bytes(h[at..at + 8].try_into().unwrap());
    let (count, padding) = (u32_at(0), u32_at(4));
    let freeblock = u64_at(8);
    let (szidx, next, max_next) = (u32_at(36), u32_at(40), u32_at(44));
    let block = pool_size.checked_sub(max_next)?;
    // Size classes step by 16 bytes (8 in builds before bpo-27987's backports).
    let class_ok = block == (szidx + 1) * 16 || block == (szidx + 1) * 8;
    let carved = next.checked_sub(HEADER)? / block.max(1);
    let valid = padding == 0
        && (8..=MAX_BLOCK).contains(&block)
        && class_ok
        && next >= HEADER
        && next <= max_next + block
        && (next - HEADER).is_multiple_of(block)
        && count <= carved
        && (freeblock == 0 || (pool + HEADER..pool + pool_size).contains(&freeblock));
    valid.then_some(count * block)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::image::Image;

    fn header(count: u32, szidx: u32, next: u32, pool_size: u32, freeblock: u64) -> Vec<u8> {
        let block = (szidx + 1) * 16;
        let mut h = vec![0u8; HEADER as usize];
        h[0..4].copy_from_slice(&count.to_le_bytes());
        h[8..16].copy_from_slice(&freeblock.to_le_bytes());
        h[32..36].copy_from_slice(&7u32.to_le_bytes());
        h[36..40].copy_from_slice(&szidx.to_le_bytes());
        h[40..44].copy_from_slice(&next.to_le_bytes());
        h[44..48].copy_from_slice(&(pool_size - block).to_le_bytes());
        h
    }

    #[test]
    fn counts_allocated_blocks_of_valid_pools_only() {
        let pool = 16 << 10;
        let mut memory = vec![0u8; 4 * pool as usize];
        // Pool 0: 10 blocks of 32 bytes carved, 6 allocated. Pool 1: empty (count 0) but
        // used before. Pool 2: never used (zero). Pool 3: a count above what was carved.
        memory[..48].copy_from_slice(&header(6, 1, 48 + 10 * 32, pool as u32, 0));
        memory[pool as usize..pool as usize + 48].copy_from_slice(&header(
            0,
            3,
            48 + 64,
            pool as u32,
            0x10_0000 + pool + 48,
        ));
        let bad = 3 * pool as usize;
        memory[bad..bad + 48].copy_from_slice(&header(11, 1, 48 + 10 * 32, pool as u32, 0));
        let image = Image::from_regions(vec![(0x10_0000, memory)]);
        let usage = allocator_usage(&image, [(0x10_0000, 4 * pool)].into_iter(), pool);
        assert_eq!(usage.pools, 2);
        assert_eq!(usage.allocated, 6 * 32);
        assert_eq!(usage.free(), 2 * pool - 6 * 32);
    }
}
