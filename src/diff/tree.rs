//! The retained sizes of the new objects as a tree small enough to draw (the HTML report's
//! icicle): the dominator tree restricted to the new objects, with objects of the same type at
//! the same place merged into one node ("20 × matplotlib.figure.Figure").
//!
//! A node's children are the new objects that its objects immediately dominate, grouped by
//! type; the top level is the new objects no other new object dominates. A node's value is its
//! objects' retained bytes. Small nodes (under 0.2 % of the whole) are folded into one "other"
//! node per parent, and at most [`MAX_NODES`] nodes are made (the biggest first).

use std::collections::{BTreeMap, BinaryHeap};

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
    // Children lists among the new objects (CSR), and the tops.
    let mut start = vec![0u32; n + 1];
    let mut tops = Vec::new();
    for &i in new {
        let d = o.idom[i];
        if d != NO_INDEX && is_new[d as usize] {
            start[d as usize + 1] += 1;
        } else {
            tops.push(i);
        }
    }
    for k in 0..n {
        start[k + 1] += start[k];
    }
    let mut fill = start.clone();
    let mut children = vec![0u32; new.len() - tops.len()];
    for &i in new {
        let d = o.idom[i];
        if d != NO_INDEX && is_new[d as usize] {
            children[fill[d as usize] as usize] = i as u32;
            fill[d as usize] += 1;
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
