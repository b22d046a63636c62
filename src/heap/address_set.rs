//! Addresses of the memory image as 32-bit slots, and sets of them as bitmaps.
//!
//! Objects are 8-byte aligned and live in copied memory, so an object's address is named by
//! its 8-byte word's index over all the image's regions: a [`Slot`], 4 bytes where an address
//! takes 8 (the walk keeps one per object and per edge: most of heapsnap's memory besides the
//! copy). The walk's visited set is a bitmap over the slots (1/64 of the image in size; a
//! lookup is a region lookup and a bit test, no hashing), and its ranks put objects in address
//! order.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use crate::memory::image::RegionLayout;

/// An 8-byte word of the image, numbered over its regions in address order (so slots sort as
/// their addresses do).
pub type Slot = u32;

/// Slots per entry of [`Slots::region_by_chunk`] (a 32 KiB piece of the image).
const CHUNK_SLOTS_SHIFT: u32 = 12;

/// The mapping between addresses and slots of one image. Each region's slots start at a
/// multiple of 64, so that a region has bitmap words of its own.
#[derive(Clone)]
pub struct Slots {
    layout: Arc<RegionLayout>,
    /// The first slot of each region, and one past the last region's.
    first_slot: Vec<u64>,
    /// For each chunk of 2^[`CHUNK_SLOTS_SHIFT`] slots, the region holding its first slot (or
    /// the next region): where the search from a slot to its address starts.
    region_by_chunk: Vec<u32>,
}

impl Slots {
    /// The slots of `layout`, or `None` when it spans more than 32-bit slots name (32 GiB).
    pub fn new(layout: Arc<RegionLayout>) -> Option<Slots> {
        let mut first_slot = Vec::with_capacity(layout.region_count() + 1);
        let mut slots = 0u64;
        for i in 0..layout.region_count() {
            first_slot.push(slots);
            slots += layout.region(i).1.div_ceil(8).div_ceil(64) * 64;
        }
        first_slot.push(slots);
        if slots > u64::from(u32::MAX) {
            return None;
        }
        let chunks = slots.div_ceil(1 << CHUNK_SLOTS_SHIFT) as usize;
        let mut region_by_chunk = Vec::with_capacity(chunks);
        let mut region = 0usize;
        for chunk in 0..chunks as u64 {
            let first = chunk << CHUNK_SLOTS_SHIFT;
            while first_slot[region + 1] <= first {
                region += 1;
            }
            region_by_chunk.push(region as u32);
        }
        Some(Slots {
            layout,
            first_slot,
            region_by_chunk,
        })
    }

    /// The slot of `addr`, `None` outside the image (its low 3 bits are dropped).
    #[inline]
    pub fn slot(&self, addr: u64) -> Option<Slot> {
        let region = self.layout.region_of(addr)?;
        let (start, _) = self.layout.region(region);
        Some((self.first_slot[region] + (addr - start) / 8) as Slot)
    }

    /// The address of `slot`.
    #[inline]
    pub fn address(&self, slot: Slot) -> u64 {
        let slot = u64::from(slot);
        let mut region = self.region_by_chunk[(slot >> CHUNK_SLOTS_SHIFT) as usize] as usize;
        while self.first_slot[region + 1] <= slot {
            region += 1;
        }
        self.layout.region(region).0 + (slot - self.first_slot[region]) * 8
    }

    /// How many slots there are (bits of a set).
    fn count(&self) -> u64 {
        self.first_slot.last().copied().unwrap_or(0)
    }
}

/// A set of slots. Threads may insert concurrently.
pub(super) struct AddressSet {
    slots: Slots,
    bits: Vec<AtomicU64>,
}

impl AddressSet {
    pub(super) fn new(slots: Slots) -> AddressSet {
        let words = (slots.count() / 64) as usize;
        AddressSet {
            slots,
            bits: std::iter::repeat_with(|| AtomicU64::new(0))
                .take(words)
                .collect(),
        }
    }

    pub(super) fn slots(&self) -> &Slots {
        &self.slots
    }

    /// The bit of `slot`: index in `bits` and mask.
    #[inline]
    fn bit(slot: Slot) -> (usize, u64) {
        ((slot / 64) as usize, 1u64 << (slot % 64))
    }

    /// Add `addr` (8-byte aligned): its slot, and true if it was not in the set; `None` for an
    /// address outside the image (never an object).
    #[inline]
    pub(super) fn insert_inside(&self, addr: u64) -> Option<(Slot, bool)> {
        let slot = self.slots.slot(addr)?;
        let (word, mask) = Self::bit(slot);
        let bits = &self.bits[word];
        // Most candidates were seen before: test before paying for an atomic update.
        let new = bits.load(Relaxed) & mask == 0 && bits.fetch_or(mask, Relaxed) & mask == 0;
        Some((slot, new))
    }

    /// Add `slot`; true if it was not in the set.
    pub(super) fn insert_slot(&self, slot: Slot) -> bool {
        let (word, mask) = Self::bit(slot);
        self.bits[word].fetch_or(mask, Relaxed) & mask == 0
    }

    /// Empty the set.
    pub(super) fn clear(&self) {
        for w in &self.bits {
            w.store(0, Relaxed);
        }
    }

    /// Whether `slot` is in the set.
    pub(super) fn contains(&self, slot: Slot) -> bool {
        let (word, mask) = Self::bit(slot);
        self.bits[word].load(Relaxed) & mask != 0
    }

    pub(super) fn remove(&self, slot: Slot) {
        let (word, mask) = Self::bit(slot);
        self.bits[word].fetch_and(!mask, Relaxed);
    }

    /// For each word of the bitmap, how many bits are set in the words before it (slots are
    /// in address order, and so are the words), and the total.
    pub(super) fn ranks(&self) -> (Vec<u32>, u32) {
        let mut before = Vec::with_capacity(self.bits.len());
        let mut total = 0u32;
        for w in &self.bits {
            before.push(total);
            total += w.load(Relaxed).count_ones();
        }
        (before, total)
    }

    /// The rank of `slot` among the slots of the set, given [`AddressSet::ranks`].
    #[inline]
    pub(super) fn rank(&self, before: &[u32], slot: Slot) -> u32 {
        let (word, mask) = Self::bit(slot);
        before[word] + (self.bits[word].load(Relaxed) & (mask - 1)).count_ones()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::image::Image;

    #[test]
    fn address_set_covers_regions_of_any_length() {
        // 516 bytes: 65 words, so two bitmap words; the next region must not share them.
        let image = Image::from_regions(vec![(0x1000, vec![0; 516]), (0x2000, vec![0; 8])]);
        let set = AddressSet::new(Slots::new(image.layout().clone()).unwrap());
        let new = |addr| set.insert_inside(addr).map(|(_, new)| new);
        assert_eq!(new(0x1200), Some(true));
        assert_eq!(new(0x2000), Some(true));
        assert_eq!(new(0x1200), Some(false));
        assert_eq!(new(0x1000), Some(true));
        assert_eq!(new(0x3000), None, "outside the image");
    }

    #[test]
    fn slots_name_addresses_both_ways_in_address_order() {
        // Regions of odd lengths, one past a chunk of slots, and far apart.
        let image = Image::from_regions(vec![
            (0x1000, vec![0; 516]),
            (0x10_0000, vec![0; 40 << 10]),
            (0x7f00_0000_0000, vec![0; 64]),
        ]);
        let slots = Slots::new(image.layout().clone()).unwrap();
        let addresses = [
            0x1000,
            0x1100,
            0x1200,
            0x10_0000,
            0x10_0000 + (40 << 10) - 8,
        ]
        .into_iter()
        .chain([0x7f00_0000_0000, 0x7f00_0000_0038]);
        let mut last = None;
        for addr in addresses {
            let slot = slots.slot(addr).expect("inside the image");
            assert_eq!(slots.address(slot), addr);
            assert!(last < Some(slot), "slots sort as their addresses");
            last = Some(slot);
        }
        assert_eq!(slots.slot(0x3000), None);
    }
}
