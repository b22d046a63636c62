//! Walking the heap: from the GC lists (and, in full mode, the interpreter's roots) through
//! every referent, on a memory image. Produces every object with its type and size.
//!
//! - `address_set` — bitmaps of addresses of the copy (the visited set; address ranks);
//! - [`edges`] — how a parent holds a child: retainer-chain labels;
//! - [`gc_lists`] — interpreters and their generation lists;
//! - [`garbage`] — what the cyclic collector would free now;
//! - [`allocator`] — the object allocator's pools: allocated against free;
//! - [`dominators`] — the dominator tree and retained sizes;
//! - [`types`] — validated type objects and what each needs;
//! - [`referents`] — per-type `tp_traverse` emulation;
//! - [`sizes`] — `sys.getsizeof`;
//! - [`hashing`] — fast hash tables for addresses;
//! - [`objects`] — decoding str, tuple and dict contents;
//! - [`order`] — the walk's result put in address order (ranks, no sort);
//! - [`walk`] — the traversal itself.

mod address_set;
pub mod allocator;
pub mod dominators;
pub mod edges;
pub mod garbage;
pub mod gc_lists;
pub mod hashing;
pub mod objects;
pub mod order;
pub mod referents;
pub mod sizes;
pub mod types;
pub mod walk;

use thiserror::Error;

use address_set::{Slot, Slots};
use dominators::ABSENT;

/// Which objects the census counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Exactly `gc.get_objects()` plus the `gc.get_referents` closure.
    Gc,
    /// Also what that misses: code contents, all dict keys, types, interned strings, frames.
    Full,
}

#[derive(Debug, Error)]
pub enum WalkError {
    #[error("the target's memory is inconsistent: {0}")]
    Corrupt(String),
    /// More memory than 32-bit slots can name ([`address_set::Slots`]).
    #[error("the target has {0} bytes of writable memory to read; heapsnap reads at most 32 GiB")]
    TooBig(u64),
}

/// One live object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapObject {
    pub address: u64,
    /// Index into [`Heap::types`].
    pub type_id: u32,
    /// `sys.getsizeof`.
    pub size: u64,
    /// False when the type has a `__sizeof__` heapsnap cannot reproduce.
    pub size_exact: bool,
    /// Index in [`Heap::objects`] (address order) of the object through which the walk first
    /// reached this one (the walk is breadth first from the roots, so the parent is on a
    /// shortest path), or [`NO_PARENT`] for roots and unreached objects.
    pub parent: u32,
    /// Index in [`Heap::labels`]: how the parent holds it (`.attr`, `['key']`), or the root's
    /// name; 0 (empty) for objects no root reaches; from [`edges::INDEX_LABEL_BASE`] on, the
    /// item index `[i]` itself.
    pub label: u32,
    /// Set when the object is garbage awaiting collection.
    pub garbage: Option<garbage::GarbageKind>,
    /// Its GC age: the age of the generation list it is on (youngest 1), 0 when on none
    /// ([`crate::interpreter::layout::GcLayout::list_ages`]).
    pub gc_age: u8,
    /// Its immediate dominator (index in address order; [`NO_PARENT`]: the root above all
    /// roots) and retained size, once computed.
    pub idom: u32,
    pub retained: u64,
}

pub const NO_PARENT: u32 = u32::MAX;

/// Objects of one type counted without a record ([`Heap::folded`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct TypeTally {
    pub count: u64,
    pub size: u64,
    /// How many have an approximate size.
    pub approximate: u64,
}

/// One object as a census counts it ([`Heap::census_entries`]).
#[derive(Debug, Clone, Copy)]
pub struct CensusEntry {
    pub type_id: u32,
    pub size: u64,
    pub size_exact: bool,
    /// Garbage awaiting collection.
    pub garbage: bool,
}

/// The walk's compact record of one candidate: 20 bytes, as there is one per object and they
/// are most of heapsnap's memory besides the copy. [`HeapObject`] is what readers get.
#[derive(Debug, Clone, Copy)]
struct Record {
    /// Where it is (its address: [`Heap::slots`]).
    slot: Slot,
    /// `sys.getsizeof`, or [`Record::BIG`] when it does not fit (the size is then in
    /// [`Heap::big_sizes`], by slot).
    size: u32,
    /// The type id, its top bit set when the size is approximate; or one of the markers
    /// [`Record::PENDING`] and [`Record::NOT_AN_OBJECT`].
    kind: u32,
    /// Record index of the parent, or [`NO_PARENT`].
    parent: u32,
    label: u32,
}

impl Record {
    const BIG: u32 = u32::MAX;
    const APPROXIMATE: u32 = 1 << 31;
    /// Queued, not yet processed.
    const PENDING: u32 = 0x7FFF_FFFE;
    /// Processed: not an object.
    const NOT_AN_OBJECT: u32 = 0x7FFF_FFFF;

    fn is_object(&self) -> bool {
        self.kind & !Record::APPROXIMATE < Record::PENDING
    }
}

impl Heap {
    /// The position in address order of record `index` ([`NO_PARENT`] for one that is not an
    /// object, and before there is an order).
    fn position(&self, index: usize) -> u32 {
        match &self.order {
            Order::None => NO_PARENT,
            Order::Permutation { position, .. } => position[index],
            Order::InPlace => index as u32,
        }
    }

    /// The object of record `index`, its parent numbered in address order, its dominator and
    /// retained size from `dominance` (none: [`NO_PARENT`] and 0).
    fn object(
        &self,
        index: usize,
        position: usize,
        dominance: Option<&dominators::Dominators>,
    ) -> HeapObject {
        let record = &self.records[index];
        HeapObject {
            address: self.slots.address(record.slot),
            type_id: record.kind & !Record::APPROXIMATE,
            size: self.size(record),
            size_exact: record.kind & Record::APPROXIMATE == 0,
            parent: match record.parent {
                NO_PARENT => NO_PARENT,
                parent => self.position(parent as usize),
            },
            label: record.label,
            garbage: self.garbage.kind(index),
            gc_age: self.ages.get(position).copied().unwrap_or(0),
            idom: match dominance.map(|d| d.idom[index]) {
                None | Some(NO_PARENT) => NO_PARENT,
                Some(idom) => self.position(idom as usize),
            },
            retained: dominance.map_or(0, |d| d.retained[index]),
        }
    }
}

impl Heap {
    /// The size of the object of `record`.
    fn size(&self, record: &Record) -> u64 {
        match record.size {
            Record::BIG => self.big_sizes.get(&record.slot).copied().unwrap_or(0),
            size => u64::from(size),
        }
    }

    /// Number of objects in address order (none without an order).
    pub fn len(&self) -> usize {
        match &self.order {
            Order::None => 0,
            Order::Permutation { by_address, .. } => by_address.len(),
            Order::InPlace => self.records.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The objects in address order, each `parent` an index in that order.
    pub fn objects(&self) -> impl Iterator<Item = HeapObject> + '_ {
        self.objects_in(0..self.len())
    }

    /// Objects `range` (in address order) of [`Heap::objects`].
    pub fn objects_in(
        &self,
        range: std::ops::Range<usize>,
    ) -> impl Iterator<Item = HeapObject> + '_ {
        self.objects_in_with(range, self.dominators())
    }

    /// [`Heap::objects_in`], their dominators and retained sizes from `dominance` (none:
    /// [`NO_PARENT`] and 0).
    pub fn objects_in_with<'a>(
        &'a self,
        range: std::ops::Range<usize>,
        dominance: Option<&'a dominators::Dominators>,
    ) -> impl Iterator<Item = HeapObject> + 'a {
        range.map(move |i| self.object(self.record_at(i), i, dominance))
    }

    /// Objects `range` (in address order): each one's retained size and immediate dominator
    /// (a position; [`NO_PARENT`]: the root above all roots) in `dominance` — what
    /// [`Heap::objects_in_with`] gives of them, without the rest.
    pub fn dominance_in<'a>(
        &'a self,
        range: std::ops::Range<usize>,
        dominance: &'a dominators::Dominators,
    ) -> impl Iterator<Item = (u64, u32)> + 'a {
        range.map(move |i| {
            let index = self.record_at(i);
            let idom = match dominance.idom[index] {
                NO_PARENT => NO_PARENT,
                idom => self.position(idom as usize),
            };
            (dominance.retained[index], idom)
        })
    }

    /// The record index of object `i` in address order.
    fn record_at(&self, i: usize) -> usize {
        match &self.order {
            Order::Permutation { by_address, .. } => by_address[i] as usize,
            Order::None | Order::InPlace => i,
        }
    }

    /// Ask for the dominator tree and retained sizes: [`Heap::has_dominators`] from now on,
    /// computed by [`Heap::compute_dominators`] (or [`Heap::solve_dominators`], on another
    /// thread while this one does something else, then [`Heap::set_dominators`]).
    pub fn want_dominators(&mut self) {
        if matches!(self.dominance, Dominance::NotWanted) {
            self.dominance = Dominance::Pending;
        }
    }

    /// Whether the dominators are wanted and not computed yet.
    pub fn dominators_pending(&self) -> bool {
        matches!(self.dominance, Dominance::Pending)
    }

    /// Compute the dominator tree and every object's retained size (see [`dominators`]); the
    /// walk's extra edges are released.
    pub fn compute_dominators(&mut self) {
        let edges = self.take_dominator_edges();
        let solved = self.solve_dominators(edges);
        let by_group = self.retained_by_type_group_of(&solved);
        self.set_dominators(solved, by_group);
    }

    /// The walk's extra edges, for [`Heap::solve_dominators`].
    pub fn take_dominator_edges(&mut self) -> Option<order::CrossEdges> {
        self.edges.take()
    }

    /// The dominator tree and retained sizes of this heap, with the walk's extra `edges`.
    pub fn solve_dominators(&self, edges: Option<order::CrossEdges>) -> dominators::Dominators {
        let edges = match (edges, &self.order) {
            (
                Some(edges),
                Order::Permutation {
                    position,
                    by_address,
                },
            ) => edges.between_records(position, by_address),
            _ => Vec::new(),
        };
        // By record: parents and sizes are read in order.
        let records = &self.records;
        dominators::dominators(dominators::Graph {
            parent: records
                .iter()
                .map(|r| if r.is_object() { r.parent } else { ABSENT })
                .collect(),
            edges,
            size: |i: usize| self.size(&records[i]),
        })
    }

    /// Per group of [`Heap::type_groups`], the retained bytes of its objects that no object of
    /// the same group dominates (the dominator tree grouped by class), by `solved`.
    pub fn retained_by_type_group_of(&self, solved: &dominators::Dominators) -> Vec<u64> {
        let (group_of_type, groups) = self.type_groups();
        let records = &self.records;
        solved.retained_by_group(
            |i| match records[i].is_object() {
                true => group_of_type[(records[i].kind & !Record::APPROXIMATE) as usize],
                false => 0,
            },
            groups,
        )
    }

    /// Keep the dominators [`Heap::solve_dominators`] computed, and their
    /// [`Heap::retained_by_type_group_of`].
    pub fn set_dominators(&mut self, solved: dominators::Dominators, by_group: Vec<u64>) {
        self.dominance = Dominance::Computed {
            dominators: solved,
            by_group,
        };
    }

    /// Types grouped by name (classes of the same qualified name, e.g. of a re-imported
    /// module, are one group): each type's group, and the number of groups, numbered in the
    /// order of [`Heap::types`].
    pub fn type_groups(&self) -> (Vec<u32>, usize) {
        let mut by_name: std::collections::HashMap<&str, u32> = Default::default();
        let groups = self
            .types
            .iter()
            .map(|t| {
                let next = by_name.len() as u32;
                *by_name.entry(t.name.as_str()).or_insert(next)
            })
            .collect();
        (groups, by_name.len())
    }

    /// Per group of [`Heap::type_groups`], the retained bytes of its objects that no object of
    /// the same group dominates (the dominator tree grouped by class), once computed.
    pub fn retained_by_type_group(&self) -> Option<&[u64]> {
        match &self.dominance {
            Dominance::Computed { by_group, .. } => Some(by_group),
            _ => None,
        }
    }

    /// The dominator tree and retained sizes, once computed.
    pub fn dominators(&self) -> Option<&dominators::Dominators> {
        match &self.dominance {
            Dominance::Computed { dominators, .. } => Some(dominators),
            _ => None,
        }
    }

    /// Whether the dominators are computed or wanted (objects then carry `idom` and
    /// `retained`, once computed).
    pub fn has_dominators(&self) -> bool {
        !matches!(self.dominance, Dominance::NotWanted)
    }

    /// The positions (address order) of the garbage awaiting collection, ascending.
    pub fn garbage_positions(&self) -> Vec<u32> {
        let mut out: Vec<u32> = self
            .garbage
            .records()
            .map(|r| self.position(r))
            .filter(|&p| p != order::NOT_PLACED)
            .collect();
        out.sort_unstable();
        out
    }

    /// What a census needs of each object, in no particular order: none of the lookups of
    /// [`Heap::objects`] (position, address, dominators).
    pub fn census_entries(&self) -> impl Iterator<Item = CensusEntry> + '_ {
        self.records
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_object())
            .map(|(i, record)| CensusEntry {
                type_id: record.kind & !Record::APPROXIMATE,
                size: self.size(record),
                size_exact: record.kind & Record::APPROXIMATE == 0,
                garbage: self.garbage.kind(i).is_some(),
            })
    }
}

/// Where a heap's dominator tree stands.
enum Dominance {
    /// Not asked for (`--no-retained`, low-memory mode).
    NotWanted,
    /// Asked for ([`Heap::want_dominators`]), not computed yet: the walk's cross edges wait.
    Pending,
    /// Each object's immediate dominator and retained size, by record, and the retained bytes
    /// per type group ([`Heap::retained_by_type_group`]).
    Computed {
        dominators: dominators::Dominators,
        by_group: Vec<u64>,
    },
}

/// How a heap's records are put in address order, the order of [`Heap::objects`].
enum Order {
    /// Not yet: the walk's own result, before [`order::Walked`] puts it in order.
    None,
    /// Through a permutation; the records stay in walk order ([`order::Walked::into_heap`]).
    Permutation {
        /// Record index → index in address order.
        position: Vec<u32>,
        /// Index in address order → record index.
        by_address: Vec<u32>,
    },
    /// The records themselves are in address order, objects only, parents numbered in it
    /// ([`order::Walked::into_heap_in_place`]).
    InPlace,
}

/// The result of a walk: its objects in address order (see [`Heap::objects`]), their types and
/// edge labels.
pub struct Heap {
    /// The walk's records, in the order the walk found them (unless [`Order::InPlace`]):
    /// objects, and candidates that were not objects (their position is
    /// [`order::NOT_PLACED`]). Their `parent` is a record index.
    records: Vec<Record>,
    /// Objects counted by type id without a record (a walk that kept counts only,
    /// [`walk::Keep::Counts`]): in the census, not in [`Heap::objects`].
    pub folded: Vec<TypeTally>,
    /// The addresses of the records' slots.
    slots: Slots,
    /// Sizes that do not fit a record's 32 bits, by slot.
    big_sizes: hashing::FastMap<Slot, u64>,
    order: Order,
    pub types: Vec<types::TypeInfo>,
    /// Garbage awaiting collection, by record.
    garbage: garbage::Garbage,
    /// Each object's GC age ([`HeapObject::gc_age`]), by position; empty when unknown.
    ages: Vec<u8>,
    /// The walk's edges other than each object's first (parent) one, until the dominators are
    /// computed.
    edges: Option<order::CrossEdges>,
    dominance: Dominance,
    pub labels: Vec<String>,
    pub interpreters: usize,
    /// What the walk had to cut short: torn GC lists of a copy taken without stopping (a
    /// tolerant walk), roots beyond the thread and frame caps.
    pub warnings: Vec<String>,
    /// How the walk went, for `-v`: where the GC lists are and what they hold, the warnings.
    pub notes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_keep_big_sizes_and_approximate_flags() {
        let image = crate::memory::image::Image::from_regions(vec![(0x1000, vec![0; 0x3000])]);
        let slots = Slots::new(image.layout().clone()).unwrap();
        let record = |address, size, kind, parent| Record {
            slot: slots.slot(address).unwrap(),
            size,
            kind,
            parent,
            label: 0,
        };
        let heap = Heap {
            folded: Vec::new(),
            records: vec![
                record(0x2000, Record::BIG, 3 | Record::APPROXIMATE, NO_PARENT),
                record(0x3000, 0, Record::NOT_AN_OBJECT, 0),
                record(0x1000, 56, 1, 0),
            ],
            big_sizes: [(slots.slot(0x2000).unwrap(), 5 << 30)]
                .into_iter()
                .collect(),
            slots: slots.clone(),
            order: Order::Permutation {
                position: vec![1, order::NOT_PLACED, 0],
                by_address: vec![2, 0],
            },
            types: Vec::new(),
            garbage: Default::default(),
            ages: Vec::new(),
            edges: None,
            dominance: Dominance::NotWanted,
            labels: Vec::new(),
            interpreters: 1,
            warnings: Vec::new(),
            notes: Vec::new(),
        };
        let objects: Vec<HeapObject> = heap.objects().collect();
        assert_eq!(heap.len(), 2);
        assert_eq!(
            (objects[0].address, objects[0].size, objects[0].size_exact),
            (0x1000, 56, true)
        );
        assert_eq!(objects[0].parent, 1, "parent renumbered in address order");
        assert_eq!(
            (objects[1].size, objects[1].size_exact, objects[1].type_id),
            (5 << 30, false, 3)
        );
        assert_eq!(heap.census_entries().count(), 2);
    }
}
