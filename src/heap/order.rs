//! The walk's result, and putting its objects in address order (the snapshot's order) without
//! sorting or moving them: an object's position is its rank among the bits of the walk's own
//! visited set, and readers go through the inverse permutation.

use super::address_set::AddressSet;
use super::walk::CrossEdge;
use super::{Heap, Record, NO_PARENT};

/// Where each record goes in address order.
pub struct AddressOrder {
    /// Record index → position, [`NOT_PLACED`] for candidates that were not objects.
    position: Vec<u32>,
    /// Number of objects.
    count: usize,
    /// The walk's cross edges between objects, as positions (from, to).
    edges: Vec<(u32, u32)>,
}

/// The position of a record that is not an object.
pub(super) const NOT_PLACED: u32 = u32::MAX;

/// A walked heap, objects still in the order the walk found them (one record per candidate).
pub struct Walked {
    pub(super) heap: Heap,
    /// The address of every record: the walk's visited set.
    pub(super) visited: AddressSet,
    /// The edges the walk did not take (their targets were found first another way).
    pub(super) cross: Vec<CrossEdge>,
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
            set.remove(o.address);
        }
        let (before, total) = set.ranks();
        let rank = |records: &[Record], out: &mut [u32]| {
            for (o, p) in records.iter().zip(out) {
                *p = if o.is_object() {
                    set.rank(&before, o.address).unwrap_or(NOT_PLACED)
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
        // Cross edges between objects, by position (an edge to a candidate that was not an
        // object goes).
        let edges = std::mem::take(&mut self.cross)
            .into_iter()
            .filter(|e| set.contains(e.to))
            .filter_map(|e| {
                let from = match e.from {
                    NO_PARENT => NO_PARENT,
                    record => match position[record as usize] {
                        NOT_PLACED => return None,
                        from => from,
                    },
                };
                Some((from, set.rank(&before, e.to)?))
            })
            .collect();
        AddressOrder {
            position,
            count: total as usize,
            edges,
        }
    }

    /// The heap, its objects readable in address order (the snapshot's order) through the
    /// inverse permutation of `order`: the records stay where they are (moving them would need
    /// as much memory again, freshly faulted in).
    pub fn into_heap(self, order: AddressOrder) -> Heap {
        let Walked { mut heap, .. } = self;
        let AddressOrder {
            position,
            count,
            edges,
        } = order;
        let mut by_address = vec![0u32; count];
        for (record, &p) in position.iter().enumerate() {
            if p != NOT_PLACED {
                by_address[p as usize] = record as u32;
            }
        }
        heap.position = position;
        heap.by_address = by_address;
        heap.edges = edges;
        heap
    }

    /// [`Walked::address_order`] then [`Walked::into_heap`], for a caller with no memory to
    /// release in between.
    pub fn into_ordered_heap(mut self) -> Heap {
        let order = self.address_order();
        self.into_heap(order)
    }
}
