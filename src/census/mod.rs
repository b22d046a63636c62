//! The census: objects grouped by type name, with counts, sizes and shares — the table guppy's
//! `hp.heap()` prints, computed from a walked heap.

pub mod watch;

use std::collections::HashMap;

use crate::heap::{Heap, NO_PARENT};

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

/// Per row, the retained bytes of its objects that no object of the same row dominates (the
/// dominator tree grouped by class): one pass down the dominator tree, counting per row how
/// many of the current node's dominators belong to it.
fn retained_per_row(heap: &Heap, row_of_type: &[usize], rows: usize) -> Vec<u64> {
    let mut out = vec![0u64; rows];
    let n = heap.len();
    let Some(tree) = heap.dominator_tree().filter(|_| n > 0) else {
        return out;
    };
    let row: Vec<u32> = heap
        .type_ids()
        .map(|t| row_of_type[t as usize] as u32)
        .collect();
    let retained = &tree.retained;
    // Children lists of the dominator tree; node n is the root above all roots.
    let mut start = vec![0u32; n + 3];
    let idom: Vec<u32> = tree
        .idom
        .iter()
        .map(|&d| if d == NO_PARENT { n as u32 } else { d })
        .collect();
    for &d in &idom {
        start[d as usize + 2] += 1;
    }
    for i in 0..=n {
        start[i + 1] += start[i];
    }
    let mut children = vec![0u32; n];
    for (child, &d) in idom.iter().enumerate() {
        let at = &mut start[d as usize + 1];
        children[*at as usize] = child as u32;
        *at += 1;
    }
    drop(idom);
    // Children of d are children[start[d]..start[d + 1]].
    let mut inside = vec![0u32; rows];
    let mut stack: Vec<(u32, u32)> = vec![(n as u32, start[n])];
    while let Some(top) = stack.last_mut() {
        let (node, next) = *top;
        if next < start[node as usize + 1] {
            top.1 += 1;
            let child = children[next as usize] as usize;
            let r = row[child] as usize;
            if inside[r] == 0 {
                out[r] += retained[child];
            }
            inside[r] += 1;
            stack.push((child as u32, start[child]));
        } else {
            stack.pop();
            if (node as usize) < n {
                inside[row[node as usize] as usize] -= 1;
            }
        }
    }
    out
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
                        retained: 0,
                    });
                    rows.len() - 1
                })
            })
            .collect();
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
        for (row, retained) in retained_per_row(heap, &row_of_type, rows.len())
            .into_iter()
            .enumerate()
        {
            rows[row].retained = retained;
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
