//! A copy of the target's writable memory, taken while it is stopped, that the heap walk runs
//! on after the target has been resumed.
//!
//! Every Python object lives in writable memory (the heap, pymalloc arenas, and the `.data` of
//! the interpreter for static objects), so the walk only needs those regions; the rare reads of
//! read-only memory (type names in `.rodata`) go to a fallback source, which is immutable.

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
}

/// Figures about a copy, for reporting.
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyStats {
    pub bytes: u64,
    pub regions: usize,
}

/// Which mappings the census copies: readable, writable, real process memory.
pub fn wants_copy(m: &Mapping) -> bool {
    m.readable && m.writable && !m.is_special() && !m.is_empty()
}

impl Image {
    /// Copy every writable mapping of a live process. Adjacent mappings become one region (a
    /// static object may straddle the end of `.data` and the start of `.bss`); unreadable holes
    /// are skipped.
    pub fn copy_process(source: &ProcessMemory, maps: &[Mapping]) -> Result<Image, MemoryError> {
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for m in maps.iter().filter(|m| wants_copy(m)) {
            match ranges.last_mut() {
                Some(last) if last.1 == m.start => last.1 = m.end,
                _ => ranges.push((m.start, m.end)),
            }
        }
        let mut regions = Vec::new();
        for (start, end) in ranges {
            copy_range(source, start, end, &mut regions)?;
        }
        regions.sort_by_key(|r| r.start);
        Ok(Image {
            regions,
            fallback: None,
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
        }
    }

    /// Where reads outside the copied regions go (read-only memory of the live process).
    pub fn with_fallback(mut self, fallback: Box<dyn Memory + Send + Sync>) -> Image {
        self.fallback = Some(fallback);
        self
    }

    pub fn stats(&self) -> CopyStats {
        CopyStats {
            bytes: self.regions.iter().map(|r| r.data.len() as u64).sum(),
            regions: self.regions.len(),
        }
    }

    /// The index of the copied region holding `addr`.
    #[inline]
    pub fn region_of(&self, addr: u64) -> Option<usize> {
        let i = self.regions.partition_point(|r| r.start <= addr);
        if i == 0 {
            return None;
        }
        let r = &self.regions[i - 1];
        (addr < r.end()).then_some(i - 1)
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

    /// Copied regions as (start, length), in address order.
    pub fn region_bounds(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.regions.iter().map(|r| (r.start, r.data.len() as u64))
    }
}

impl Memory for Image {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        if let Some(s) = self.slice(addr, buf.len()) {
            buf.copy_from_slice(s);
            return Ok(());
        }
        match &self.fallback {
            Some(f) => f.read(addr, buf),
            None => Err(MemoryError::Unreadable {
                addr,
                len: buf.len(),
            }),
        }
    }
}

/// Copy `[start, end)` in large reads, splitting it where pages cannot be read.
fn copy_range(
    source: &ProcessMemory,
    start: u64,
    end: u64,
    out: &mut Vec<Region>,
) -> Result<(), MemoryError> {
    const PAGE: u64 = 4096;
    let mut at = start;
    while at < end {
        let mut data = vec![0u8; (end - at) as usize];
        let n = source.read_partial(at, &mut data)?;
        if n > 0 {
            data.truncate(n);
            out.push(Region { start: at, data });
        }
        // Skip the unreadable page (if any) and go on after it.
        at += (n as u64).div_ceil(PAGE) * PAGE + PAGE;
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
