//! The walk's result, and putting its objects in address order (the snapshot's order) without
//! sorting or moving them: an object's position is its rank among the bits of the walk's own
//! visited set, and readers go through the inverse permutation.

use super::address_set::{AddressSet, Slot};
use super::{Heap, Order, Record, NO_PARENT};

/// Where each record goes in address order.
pub struct AddressOrder {
    /// Record index → position, [`NOT_PLACED`] for candidates that were not objects.
    position: Vec<u32>,
    /// Number of objects.
    count: usize,
    /// The visited set's ranks ([`AddressSet::ranks`]), which number the objects.
    before: Vec<u32>,
    /// Each object's GC age, by position.
    ages: Vec<u8>,
}

/// The walk's cross edges, kept as found (from a record to a slot) until the dominators need
/// them, with what numbers their targets: the visited set (objects only) and its ranks. Their
/// conversion to record pairs is part of computing the dominators, off the caller's path
/// when they are computed on another thread.
pub struct CrossEdges {
    lists: Vec<Vec<(u32, Slot)>>,
    visited: AddressSet,
    before: Vec<u32>,
}

impl CrossEdges {
    /// The edges between objects, as record pairs (from may be [`NO_PARENT`]); those from or
    /// to a candidate that was not an object go.
    pub(super) fn between_records(self, position: &[u32], by_address: &[u32]) -> Vec<(u32, u32)> {
        let CrossEdges {
            lists,
            visited,
            before,
        } = self;
        lists
            .iter()
            .flatten()
            .filter(|&&(from, to)| {
                visited.contains(to) && (from == NO_PARENT || position[from as usize] != NOT_PLACED)
            })
            .map(|&(from, to)| (from, by_address[visited.rank(&before, to) as usize]))
            .collect()
    }
}

/// Each object's GC age ([`crate::interpreter::layout::GcLayout::list_ages`]; 0: on no GC
/// list), by position, from the GC lists' objects and where each is (`position`).
fn ages_by_position(
    seeds: &GcSeeds,
    count: usize,
    position: impl Fn(Slot) -> Option<u32>,
) -> Vec<u8> {
    let mut ages = vec![0u8; count];
    let mut slots = seeds.slots.iter();
    for &(length, age) in &seeds.runs {
        for &slot in slots.by_ref().take(length) {
            if let Some(p) = position(slot) {
                ages[p as usize] = age;
            }
        }
    }
    ages
}

/// The objects of the GC lists, list after list, and each list's run of them with its age
/// ([`crate::interpreter::layout::GcLayout::list_ages`]): 4 bytes per object while the walk
/// runs.
pub struct GcSeeds {
    pub(super) slots: Vec<Slot>,
    pub(super) runs: Vec<(usize, u8)>,
}

/// The position of a record that is not an object.
pub(super) const NOT_PLACED: u32 = u32::MAX;

/// A walked heap, objects still in the order the walk found them (one record per candidate).
pub struct Walked {
    pub(super) heap: Heap,
    /// The address of every record: the walk's visited set.
    pub(super) visited: AddressSet,
    /// The edges the walk did not take (their targets were found first another way): from a
    /// record ([`NO_PARENT`]: from the root above all roots) to a slot; one list per walking
    /// thread (put together only once the copy is gone).
    pub(super) cross: Vec<Vec<(u32, Slot)>>,
    /// The objects on the GC lists, with their lists' ages.
    pub(super) gc_seeds: GcSeeds,
}

impl Walked {
    /// Each object's position in address order: its rank among the objects' bits in the
    /// visited bitmap (linear time, no sort; two threads). Needs only where the image's
    /// regions were, not their bytes: the copy can be released before [`Walked::into_heap`]
    /// takes more memory.
    pub fn address_order(&mut self) -> AddressOrder {
        let records = &self.heap.records;
        let set = &self.visited;
        // Candidates that were not objects leave the set: what remains are the objects.
        for o in records.iter().filter(|o| !o.is_object()) {
            set.remove(o.slot);
        }
        let (before, total) = set.ranks();
        let rank = |records: &[Record], out: &mut [u32]| {
            for (o, p) in records.iter().zip(out) {
                *p = if o.is_object() {
                    set.rank(&before, o.slot)
                } else {
                    NOT_PLACED
                };
            }
        };
        let mut position = vec![0u32; records.len()];
        let half = records.len() / 2;
        let (head, tail) = position.split_at_mut(half);
        crate::parallel::join(
            || rank(&records[half..], tail),
            || rank(&records[..half], head),
        );
        let ages = ages_by_position(&self.gc_seeds, total as usize, |slot| {
            set.contains(slot).then(|| set.rank(&before, slot))
        });
        AddressOrder {
            position,
            count: total as usize,
            before,
            ages,
        }
    }

    /// The heap, its objects readable in address order (the snapshot's order) through the
    /// inverse permutation of `order`: the records stay where they are (moving them would need
    /// as much memory again, freshly faulted in).
    pub fn into_heap(self, order: AddressOrder) -> Heap {
        let Walked {
            mut heap,
            visited,
            cross,
            ..
        } = self;
        let AddressOrder {
            position,
            count,
            before,
            ages,
        } = order;
        // The visited set numbers the cross edges' targets until the dominators are computed;
        // without edges, its memory goes before the inverse permutation takes some.
        heap.edges = (!cross.iter().all(Vec::is_empty)).then_some(CrossEdges {
            lists: cross,
            visited,
            before,
        });
        heap.ages = ages;
        let mut by_address = vec![0u32; count];
        for (record, &p) in position.iter().enumerate() {
            if p != NOT_PLACED {
                by_address[p as usize] = record as u32;
            }
        }
        heap.order = Order::Permutation {
            position,
            by_address,
        };
        heap
    }

    /// The heap, its records sorted into address order in place (objects only), parents
    /// renumbered from the visited set's ranks first: no [`AddressOrder`] and no inverse
    /// permutation (8 bytes per record less than [`Walked::into_heap`]), and no cross edges
    /// (no dominators). For the low-memory mode: slower than that (W1: sorting ~70 ms;
    /// following the permutation's cycles in place, a random swap per object, took ~250 ms).
    pub fn into_heap_in_place(self) -> Heap {
        let Walked {
            mut heap,
            visited,
            gc_seeds,
            ..
        } = self;
        let records = &mut heap.records;
        if heap.folded.is_empty() {
            // Candidates that were not objects leave the set: what remains are the objects.
            for o in records.iter().filter(|o| !o.is_object()) {
                visited.remove(o.slot);
            }
        } else {
            // The folded objects have no record (and no position): the set holds the records'
            // objects only.
            visited.clear();
            for o in records.iter().filter(|o| o.is_object()) {
                visited.insert_slot(o.slot);
            }
        }
        let (before, count) = visited.ranks();
        let position = |r: &Record| r.is_object().then(|| visited.rank(&before, r.slot));
        if heap.folded.is_empty() {
            heap.ages = ages_by_position(&gc_seeds, count as usize, |slot| {
                visited.contains(slot).then(|| visited.rank(&before, slot))
            });
        }
        // Parents and garbage first, while records are still where their indices say (a
        // parent is always an object: only objects are walked).
        heap.garbage = heap
            .garbage
            .renumbered(|r| position(&records[r]).map(|p| p as usize));
        for i in 0..records.len() {
            let parent = records[i].parent;
            if parent != NO_PARENT {
                records[i].parent = position(&records[parent as usize]).unwrap_or(NO_PARENT);
            }
        }
        // What is not an object ends up after the objects.
        records.sort_unstable_by_key(|r| (!r.is_object(), r.slot));
        records.truncate(count as usize);
        heap.order = Order::InPlace;
        heap
    }

    /// [`Walked::address_order`] then [`Walked::into_heap`], for a caller with no memory to
    /// release in between.
    pub fn into_ordered_heap(mut self) -> Heap {
        let order = self.address_order();
        self.into_heap(order)
    }
}
