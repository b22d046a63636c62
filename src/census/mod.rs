//! The census: objects grouped by type name, with counts, sizes and shares — the table guppy's
//! `hp.heap()` prints, computed from a walked heap.

pub mod watch;

use std::collections::HashMap;

use crate::heap::Heap;

/// One type's line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TypeRow {
    pub name: String,
    pub count: u64,
    pub size: u64,
    /// How many of these objects have a size heapsnap could not reproduce exactly.
    pub approximate: u64,
    /// The retained bytes of the objects of this type that no other object of this type
    /// dominates: what freeing every one of them would free (absent in schema 1 snapshots).
    #[serde(default)]
    pub retained: u64,
}

/// All rows, largest total size first, and the totals.
#[derive(Debug, Clone)]
pub struct Census {
    pub rows: Vec<TypeRow>,
    pub objects: u64,
    pub bytes: u64,
    /// Garbage awaiting collection (counted in the rows too).
    pub garbage_objects: u64,
    pub garbage_bytes: u64,
}

impl Census {
    pub fn from_heap(heap: &Heap) -> Census {
        // Types are grouped by name: classes of the same qualified name (e.g. re-imported
        // modules) share a row, the row of their group.
        let (row_of_type, groups) = heap.type_groups();
        let mut rows: Vec<TypeRow> = vec![
            TypeRow {
                name: String::new(),
                count: 0,
                size: 0,
                approximate: 0,
                retained: 0,
            };
            groups
        ];
        for (t, &row) in heap.types.iter().zip(&row_of_type) {
            rows[row as usize].name.clone_from(&t.name);
        }
        let row_of_type: Vec<usize> = row_of_type.into_iter().map(|r| r as usize).collect();
        let (mut objects, mut bytes) = (0, 0);
        let (mut garbage_objects, mut garbage_bytes) = (0, 0);
        for o in heap.census_entries() {
            let row = &mut rows[row_of_type[o.type_id as usize]];
            row.count += 1;
            row.size += o.size;
            row.approximate += u64::from(!o.size_exact);
            objects += 1;
            bytes += o.size;
            if o.garbage {
                garbage_objects += 1;
                garbage_bytes += o.size;
            }
        }
        for (type_id, tally) in heap.folded.iter().enumerate() {
            let row = &mut rows[row_of_type[type_id]];
            row.count += tally.count;
            row.size += tally.size;
            row.approximate += tally.approximate;
            objects += tally.count;
            bytes += tally.size;
        }
        rows.retain(|r| r.count > 0);
        rows.sort_by(|a, b| {
            b.size
                .cmp(&a.size)
                .then(b.count.cmp(&a.count))
                .then(a.name.cmp(&b.name))
        });
        Census {
            rows,
            objects,
            bytes,
            garbage_objects,
            garbage_bytes,
        }
    }

    /// Fill in each row's retained bytes from the retained bytes per group of
    /// [`Heap::type_groups`] (the heap's dominators, [`Heap::retained_by_type_group`], or
    /// dominators solved apart).
    pub fn add_retained(&mut self, heap: &Heap, by_group: &[u64]) {
        let (group_of_type, _) = heap.type_groups();
        let index: HashMap<String, usize> = self
            .index()
            .into_iter()
            .map(|(name, row)| (name.to_string(), row))
            .collect();
        for (t, group) in heap.types.iter().zip(group_of_type) {
            if let (Some(&row), Some(&bytes)) = (index.get(&t.name), by_group.get(group as usize)) {
                self.rows[row].retained = bytes;
            }
        }
    }

    /// The row index of each type name.
    pub fn index(&self) -> HashMap<&str, usize> {
        self.rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name.as_str(), i))
            .collect()
    }
}
