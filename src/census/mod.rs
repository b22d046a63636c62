//! The census: objects grouped by type name, with counts, sizes and shares — the table guppy's
//! `hp.heap()` prints, computed from a walked heap.

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
        let mut by_name: HashMap<&str, usize> = HashMap::new();
        let mut rows: Vec<TypeRow> = Vec::new();
        // Types are grouped by name: classes of the same qualified name (e.g. re-imported
        // modules) share a row.
        let row_of_type: Vec<usize> = heap
            .types
            .iter()
            .map(|t| {
                *by_name.entry(t.name.as_str()).or_insert_with(|| {
                    rows.push(TypeRow {
                        name: t.name.clone(),
                        count: 0,
                        size: 0,
                        approximate: 0,
                    });
                    rows.len() - 1
                })
            })
            .collect();
        let (mut objects, mut bytes) = (0, 0);
        let (mut garbage_objects, mut garbage_bytes) = (0, 0);
        for o in heap.objects_unordered() {
            let row = &mut rows[row_of_type[o.type_id as usize]];
            row.count += 1;
            row.size += o.size;
            row.approximate += u64::from(!o.size_exact);
            objects += 1;
            bytes += o.size;
            if o.garbage.is_some() {
                garbage_objects += 1;
                garbage_bytes += o.size;
            }
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

    /// The row index of each type name.
    pub fn index(&self) -> HashMap<&str, usize> {
        self.rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name.as_str(), i))
            .collect()
    }
}
