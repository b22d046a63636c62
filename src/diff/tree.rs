//! The retained sizes of the new objects as a tree small enough to draw (the HTML report's
//! icicle): the dominator tree restricted to the new objects, with objects of the same type at
//! the same place merged into one node ("20 × matplotlib.figure.Figure").
//!
//! A node's children are the new objects whose nearest new dominator is one of its objects
//! (through old objects if need be), grouped by type; the top level is the new objects no
//! other new object dominates, so no byte counts twice. A node's value is its
//! objects' retained bytes. Small nodes (under 0.2 % of the whole) are folded into one "other"
//! node per parent, and at most [`MAX_NODES`] nodes are made (the biggest first).

use std::collections::{BTreeMap, BinaryHeap, HashMap};

use serde::Serialize;

use crate::snapshot::{Snapshot, NO_INDEX};

/// The most nodes a tree has.
pub const MAX_NODES: usize = 2000;

/// A node: objects of one type at one place in the tree.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TreeNode {
    /// `20 × matplotlib.figure.Figure`, or `other (N objects)`.
    pub name: String,
    pub objects: u64,
    pub retained: u64,
    pub children: Vec<TreeNode>,
}

/// The tree of the new objects (positions in `after`), or None when `after` has no retained
/// sizes (dumped with `--no-retained`, or in low-memory mode) or no object is new.
pub fn retained_tree(after: &Snapshot, new: &[usize]) -> Option<TreeNode> {
    let o = &after.objects;
    let n = o.len();
    if new.is_empty() || o.retained.len() != n || o.idom.len() != n {
        return None;
    }
    let mut is_new = vec![false; n];
    for &i in new {
        is_new[i] = true;
    }
    // Each new object's nearest new dominator (none: it is a top): its immediate dominator,
    // or, through old objects, the first new one above it; memoized along the way, so that a
    // new object under an old one under a new one is counted once, below the upper one.
    let mut above: HashMap<usize, Option<usize>> = HashMap::new();
    let mut nearest_new = |i: usize| -> Option<usize> {
        let mut trail = Vec::new();
        let mut at = o.idom[i];
        let found = loop {
            if at == NO_INDEX || trail.len() > n {
                break None;
            }
            let d = at as usize;
            if is_new[d] {
                break Some(d);
            }
            if let Some(&known) = above.get(&d) {
                break known;
            }
            trail.push(d);
            at = o.idom[d];
        };
        for d in trail {
            above.insert(d, found);
        }
        found
    };
    let dominator: Vec<Option<usize>> = new.iter().map(|&i| nearest_new(i)).collect();
    // Children lists among the new objects (CSR), and the tops.
    let mut start = vec![0u32; n + 1];
    let mut tops = Vec::new();
    for (&i, d) in new.iter().zip(&dominator) {
        match d {
            Some(d) => start[d + 1] += 1,
            None => tops.push(i),
        }
    }
    for k in 0..n {
        start[k + 1] += start[k];
    }
    let mut fill = start.clone();
    let mut children = vec![0u32; new.len() - tops.len()];
    for (&i, d) in new.iter().zip(&dominator) {
        if let Some(d) = *d {
            children[fill[d] as usize] = i as u32;
            fill[d] += 1;
        }
    }
    let total: u64 = tops.iter().map(|&i| o.retained.get(i)).sum();
    let small = total / 500;
    let mut arena = vec![Growing::new(
        format!("{} new objects", crate::render::group(new.len() as u64)),
        new.len() as u64,
        total,
        Vec::new(),
    )];
    let place = |arena: &mut Vec<Growing>,
                 parent: usize,
                 members: Vec<usize>,
                 queue: &mut BinaryHeap<(u64, usize)>| {
        let mut by_type: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for i in members {
            by_type.entry(o.type_index[i]).or_default().push(i);
        }
        let (mut other_objects, mut other_bytes) = (0u64, 0u64);
        for (t, members) in by_type {
            let retained: u64 = members.iter().map(|&i| o.retained.get(i)).sum();
            if retained < small || arena.len() >= MAX_NODES {
                other_objects += members.len() as u64;
                other_bytes += retained;
                continue;
            }
            let name = format!(
                "{} × {}",
                crate::render::group(members.len() as u64),
                after.types[t as usize].name
            );
            arena.push(Growing::new(name, members.len() as u64, retained, members));
            let id = arena.len() - 1;
            arena[parent].children.push(id);
            queue.push((retained, id));
        }
        if other_objects > 0 {
            arena.push(Growing::new(
                format!("other ({} objects)", crate::render::group(other_objects)),
                other_objects,
                other_bytes,
                Vec::new(),
            ));
            let id = arena.len() - 1;
            arena[parent].children.push(id);
        }
    };
    // Biggest nodes are expanded first, so that the node budget goes where the bytes are.
    let mut queue = BinaryHeap::new();
    place(&mut arena, 0, tops, &mut queue);
    while let Some((_, id)) = queue.pop() {
        if arena.len() >= MAX_NODES {
            break;
        }
        let members = std::mem::take(&mut arena[id].members);
        let below: Vec<usize> = members
            .iter()
            .flat_map(|&i| &children[start[i] as usize..start[i + 1] as usize])
            .map(|&c| c as usize)
            .collect();
        if !below.is_empty() {
            place(&mut arena, id, below, &mut queue);
        }
    }
    Some(build(&arena, 0))
}

/// A node while the tree grows: its objects (until it is expanded) and its children's places
/// in the arena.
struct Growing {
    name: String,
    objects: u64,
    retained: u64,
    members: Vec<usize>,
    children: Vec<usize>,
}

impl Growing {
    fn new(name: String, objects: u64, retained: u64, members: Vec<usize>) -> Growing {
        Growing {
            name,
            objects,
            retained,
            members,
            children: Vec::new(),
        }
    }
}

/// The node `id` of the arena, with its children, biggest first.
fn build(arena: &[Growing], id: usize) -> TreeNode {
    let node = &arena[id];
    let mut children: Vec<TreeNode> = node.children.iter().map(|&k| build(arena, k)).collect();
    children.sort_by(|a, b| b.retained.cmp(&a.retained).then(a.name.cmp(&b.name)));
    TreeNode {
        name: node.name.clone(),
        objects: node.objects,
        retained: node.retained,
        children,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::census::TypeRow;
    use crate::snapshot::{ObjectColumns, Sizes};

    fn sizes(values: &[u64]) -> Sizes {
        let mut s = Sizes::with_capacity(values.len());
        for &v in values {
            s.push(v);
        }
        s
    }

    /// A new object under an old one under a new one: counted once, below the upper one.
    #[test]
    fn new_objects_under_old_ones_count_once() {
        let meta = crate::snapshot::test_meta(4);
        let row = |name: &str| TypeRow {
            name: name.into(),
            count: 1,
            size: 0,
            approximate: 0,
            retained: 0,
        };
        let after = Snapshot {
            format: crate::snapshot::FORMAT.into(),
            schema_version: 2,
            meta,
            types: vec![row("Old"), row("Leak"), row("Part")],
            labels: vec![String::new()],
            objects: ObjectColumns {
                address: vec![16, 32, 48, 64],
                type_index: vec![0, 1, 0, 2],
                size: sizes(&[50, 100, 100, 100]),
                parent: vec![NO_INDEX, 0, 1, 2],
                label: vec![0; 4],
                retained: sizes(&[350, 300, 200, 100]),
                idom: vec![NO_INDEX, 0, 1, 2],
                garbage: Vec::new(),
                gc_age: Vec::new(),
            },
        };
        let tree = retained_tree(&after, &[1, 3]).unwrap();
        assert_eq!(tree.retained, 300, "the lower new object counted twice");
        assert_eq!(tree.children.len(), 1);
        let leak = &tree.children[0];
        assert_eq!((leak.name.as_str(), leak.retained), ("1 × Leak", 300));
        assert_eq!(leak.children[0].name, "1 × Part");
    }
}
