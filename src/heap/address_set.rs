//! A set of addresses of the memory image, as a bitmap: one bit per 8-byte word (objects are
//! 8-byte aligned and live in copied memory), so that a lookup is a region lookup and a bit
//! test — no hashing, and 1/64 of the image in size. The walk's visited set, and the ranks
//! that put objects in address order.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use crate::memory::image::RegionLayout;

/// The set. Threads may insert concurrently.
pub(super) struct AddressSet {
    layout: Arc<RegionLayout>,
    /// Index of each region's first word in `bits`.
    first_word: Vec<usize>,
    bits: Vec<AtomicU64>,
}

impl AddressSet {
    pub(super) fn new(layout: Arc<RegionLayout>) -> AddressSet {
        let mut first_word = Vec::with_capacity(layout.region_count());
        let mut words = 0;
        for i in 0..layout.region_count() {
            first_word.push(words);
            words += (layout.region(i).1 as usize).div_ceil(8).div_ceil(64);
        }
        AddressSet {
            layout,
            first_word,
            bits: std::iter::repeat_with(|| AtomicU64::new(0))
                .take(words)
                .collect(),
        }
    }

    /// The bit of `addr`: index in `bits` and mask.
    #[inline]
    pub(super) fn locate(&self, addr: u64) -> Option<(usize, u64)> {
        let region = self.layout.region_of(addr)?;
        let bit = ((addr - self.layout.region(region).0) / 8) as usize;
        Some((self.first_word[region] + bit / 64, 1u64 << (bit % 64)))
    }

    /// Add `addr` (8-byte aligned); true if it was not in the set. Addresses outside the image
    /// are never objects: they count as present.
    #[inline]
    pub(super) fn insert(&self, addr: u64) -> bool {
        self.insert_inside(addr) == Some(true)
    }

    /// [`AddressSet::insert`], telling an address outside the image (`None`) from one seen
    /// before (`Some(false)`).
    #[inline]
    pub(super) fn insert_inside(&self, addr: u64) -> Option<bool> {
        let (word, mask) = self.locate(addr)?;
        let bits = &self.bits[word];
        // Most candidates were seen before: test before paying for an atomic update.
        Some(bits.load(Relaxed) & mask == 0 && bits.fetch_or(mask, Relaxed) & mask == 0)
    }

    /// Whether `addr` is in the set.
    pub(super) fn contains(&self, addr: u64) -> bool {
        self.locate(addr)
            .is_some_and(|(word, mask)| self.bits[word].load(Relaxed) & mask != 0)
    }

    pub(super) fn remove(&self, addr: u64) {
        if let Some((word, mask)) = self.locate(addr) {
            self.bits[word].fetch_and(!mask, Relaxed);
        }
    }

    /// For each word of the bitmap, how many bits are set in the words before it (regions are
    /// in address order, and so are their words), and the total.
    pub(super) fn ranks(&self) -> (Vec<u32>, u32) {
        let mut before = Vec::with_capacity(self.bits.len());
        let mut total = 0u32;
        for w in &self.bits {
            before.push(total);
            total += w.load(Relaxed).count_ones();
        }
        (before, total)
    }

    /// The rank of `addr` among the addresses of the set, given [`AddressSet::ranks`]: `None`
    /// outside the image.
    pub(super) fn rank(&self, before: &[u32], addr: u64) -> Option<u32> {
        let (word, mask) = self.locate(addr)?;
        Some(before[word] + (self.bits[word].load(Relaxed) & (mask - 1)).count_ones())
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
        let set = AddressSet::new(image.layout().clone());
        assert!(set.insert(0x1200));
        assert!(set.insert(0x2000));
        assert!(!set.insert(0x1200));
        assert!(set.insert(0x1000));
        assert!(!set.insert(0x3000), "outside the image counts as seen");
    }
}
