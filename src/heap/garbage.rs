//! Garbage awaiting collection: what the cyclic collector would free if it ran now, computed on
//! the copy with the collector's own rule, and what only that garbage keeps alive.
//!
//! The collector (`gc_collect_main`: `update_refs`, `subtract_refs`, `move_unreachable`) takes
//! each tracked object's reference count, subtracts the references other tracked objects hold
//! to it, and keeps whatever a positive remainder — a reference from outside — reaches through
//! tracked objects; the rest is unreachable. That set ([`GarbageKind::Cyclic`]) is exactly what
//! `gc.collect()` puts in `gc.garbage` under `gc.DEBUG_SAVEALL`. Freeing it then drops the last
//! references to more objects (strings, untracked tuples, ...): those are
//! [`GarbageKind::HeldByGarbage`], found by counting references down as the garbage goes.
//!
//! Only objects the walk did not reach from a root are candidates: whatever a root reaches
//! through strong references is alive, and the walk from the roots follows only strong ones.

use super::address_set::Slots;
use super::hashing::FastMap;
use super::objects::View;
use super::referents::gc_referents;
use super::types::TypeInfo;
use super::Record;
use crate::interpreter::layout::{RefcountRule, TrackedMark};

/// Why an object is garbage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GarbageKind {
    /// Unreachable by the collector's rule: part of (or held by) a reference cycle that nothing
    /// outside holds.
    Cyclic,
    /// Held only by garbage: freed by reference counting when the garbage goes.
    HeldByGarbage,
}

/// The garbage among a walk's records, by record index.
#[derive(Debug, Default)]
pub struct Garbage {
    cyclic: Vec<u64>,
    held: Vec<u64>,
}

impl Garbage {
    pub fn kind(&self, record: usize) -> Option<GarbageKind> {
        let bit = |bits: &[u64]| {
            bits.get(record / 64)
                .is_some_and(|w| w & (1 << (record % 64)) != 0)
        };
        if bit(&self.cyclic) {
            Some(GarbageKind::Cyclic)
        } else if bit(&self.held) {
            Some(GarbageKind::HeldByGarbage)
        } else {
            None
        }
    }

    /// The record indices of all garbage.
    pub fn records(&self) -> impl Iterator<Item = usize> + '_ {
        ones(&self.cyclic).chain(ones(&self.held))
    }

    /// The same garbage, each record renumbered by `index` (`None`: dropped).
    pub(super) fn renumbered(&self, index: impl Fn(usize) -> Option<usize>) -> Garbage {
        let mut out = Garbage::default();
        for (from, to) in [(&self.cyclic, &mut out.cyclic), (&self.held, &mut out.held)] {
            for i in ones(from).filter_map(&index) {
                Garbage::mark(to, i);
            }
        }
        out
    }

    fn mark(bits: &mut Vec<u64>, record: usize) {
        if bits.len() <= record / 64 {
            bits.resize(record / 64 + 1, 0);
        }
        bits[record / 64] |= 1 << (record % 64);
    }
}

/// The indices of the bits set in `bits`.
fn ones(bits: &[u64]) -> impl Iterator<Item = usize> + '_ {
    bits.iter().enumerate().flat_map(|(w, &word)| {
        (0..64)
            .filter(move |b| word & (1 << b) != 0)
            .map(move |b| w * 64 + b)
    })
}

/// The reference count of `obj`, saturated: immortal objects never reach zero.
fn refcount(view: &View, obj: u64) -> i64 {
    let word = view.word(obj);
    match view.layout.refcount {
        RefcountRule::Plain => word.min(i64::MAX as u64) as i64,
        RefcountRule::SplitWithFlags if word >> 48 & 1 != 0 => i64::MAX,
        RefcountRule::SplitWithFlags => i64::from(word as u32),
    }
}

/// Whether the collector tracks `obj` (a GC object).
fn tracked(view: &View, obj: u64) -> bool {
    let header = obj.wrapping_sub(view.layout.gc.head_size);
    match view.layout.gc.tracked {
        TrackedMark::NextNotNull => view.word(header) != 0,
        TrackedMark::RefsNotUntracked(off) => view.word(header + off) as i64 != -2,
    }
}

/// The garbage among `records[unrooted..]` (the objects the walk reached only from the GC
/// lists); `info` gives each record's type.
pub(super) fn find_garbage<'t>(
    view: &View,
    slots: &Slots,
    records: &[Record],
    unrooted: usize,
    info: impl Fn(u32) -> &'t TypeInfo,
) -> Garbage {
    // The candidates, by address: record index, type, and whether the collector tracks it.
    let mut candidates: FastMap<u64, (usize, u32, bool)> = FastMap::default();
    for (i, r) in records.iter().enumerate().skip(unrooted) {
        if r.is_object() {
            let type_id = r.kind & !Record::APPROXIMATE;
            let address = slots.address(r.slot);
            let gc = info(type_id).is_gc_object(view, address);
            candidates.insert(address, (i, type_id, gc && tracked(view, address)));
        }
    }
    let referents = |addr: u64, type_id: u32, all_keys: bool, out: &mut dyn FnMut(u64)| {
        let ty = info(type_id);
        if ty.is_gc_object(view, addr) {
            gc_referents(view, addr, ty, all_keys, &mut |child, _| out(child));
        }
    };
    // update_refs + subtract_refs: what is left of each tracked count once the references
    // from other tracked candidates are taken away.
    let mut outside: FastMap<u64, i64> = candidates
        .iter()
        .filter(|(_, &(_, _, tracked))| tracked)
        .map(|(&addr, _)| (addr, refcount(view, addr)))
        .collect();
    for (&addr, &(_, type_id, tracked)) in &candidates {
        if tracked {
            referents(addr, type_id, false, &mut |child| {
                if let Some(count) = outside.get_mut(&child) {
                    *count -= 1;
                }
            });
        }
    }
    // move_unreachable: what a reference from outside reaches, through tracked candidates.
    let mut reachable: Vec<u64> = outside
        .iter()
        .filter(|(_, &count)| count > 0)
        .map(|(&addr, _)| addr)
        .collect();
    let mut alive: FastMap<u64, ()> = reachable.iter().map(|&a| (a, ())).collect();
    while let Some(addr) = reachable.pop() {
        let type_id = candidates[&addr].1;
        referents(addr, type_id, false, &mut |child| {
            if outside.contains_key(&child) && alive.insert(child, ()).is_none() {
                reachable.push(child);
            }
        });
    }
    let mut garbage = Garbage::default();
    let mut freed: Vec<u64> = Vec::new();
    for &addr in outside.keys() {
        if !alive.contains_key(&addr) {
            Garbage::mark(&mut garbage.cyclic, candidates[&addr].0);
            freed.push(addr);
        }
    }
    // Freeing it: every reference it held goes; what that leaves at zero goes too.
    let mut left: FastMap<u64, i64> = FastMap::default();
    let is_garbage = |g: &Garbage, i: usize| g.kind(i).is_some();
    while let Some(addr) = freed.pop() {
        let type_id = candidates[&addr].1;
        let mut gone = Vec::new();
        referents(addr, type_id, true, &mut |child| {
            let Some(&(i, _, _)) = candidates.get(&child) else {
                return;
            };
            if is_garbage(&garbage, i) {
                return;
            }
            let count = left.entry(child).or_insert_with(|| refcount(view, child));
            *count -= 1;
            if *count == 0 {
                gone.push((child, i));
            }
        });
        for (child, i) in gone {
            Garbage::mark(&mut garbage.held, i);
            freed.push(child);
        }
    }
    garbage
}
