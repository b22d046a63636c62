//! Dominators and retained sizes: the bytes that would be freed if an object went.
//!
//! The graph is the walk's: every edge it followed (the first one to each object, kept as its
//! parent, and every other one, kept as a "cross" edge), from one root above all the roots
//! (the named roots and the objects only the GC lists gave). Object `d` dominates `o` when every
//! path from that root to `o` goes through `d`; `o`'s retained size is its size plus that of
//! every object it dominates. Semi-NCA (Georgiadis, Tarjan): a depth-first numbering, semi-
//! dominators with a path-compressed forest, then each immediate dominator as the nearest
//! common ancestor of the depth-first parent and the semi-dominator — all loops, no recursion,
//! 4-byte indices: about 40 bytes per object and 12 per edge while it runs.
//!
//! Vertices are the walk's records, in the order the walk found them (parents, sizes and types
//! are read in order). Subtrees that hang from their parent alone are left out of semi-NCA and
//! added back (half of W1's objects). [`Dominators::retained_by_group`] gives the "dominator
//! tree grouped by class" of the census's Retained column.

use super::NO_PARENT;

/// A `parent` entry of an index that is not a vertex at all (a walk record that turned out
/// not to be an object): no edges, no size, no dominator.
pub const ABSENT: u32 = u32::MAX - 1;

/// The dominator tree: each vertex's immediate dominator ([`NO_PARENT`]: the root above all
/// roots; [`ABSENT`] for what is not a vertex) and retained size, by vertex index.
pub struct Dominators {
    pub idom: Vec<u32>,
    pub retained: Vec<u64>,
}

/// What [`dominators`] is given, vertex by vertex.
pub struct Graph<S> {
    /// Each vertex's first edge's source (the walk's parent), [`NO_PARENT`] when it hangs from
    /// the root above all roots, or [`ABSENT`].
    pub parent: Vec<u32>,
    /// The other edges (`from`, `to`); `from` may be [`NO_PARENT`] too.
    pub edges: Vec<(u32, u32)>,
    pub size: S,
}

/// Compute the dominators of a graph and each vertex's retained size.
pub fn dominators<S: Fn(usize) -> u64>(graph: Graph<S>) -> Dominators {
    let Graph {
        parent,
        mut edges,
        size,
    } = graph;
    let n = parent.len();
    // Subtrees that hang from their parent alone (no edge into them but the parent's, none out
    // of them but to their own children: most strings and numbers, and whatever only they
    // hold) are on no path to anything else: each vertex of them is dominated by its parent
    // and retains its subtree. The graph is solved without them: the vertices with any other
    // edge, and those above them.
    let mut in_graph = vec![false; n];
    for &(from, to) in &edges {
        if from != NO_PARENT {
            in_graph[from as usize] = true;
        }
        in_graph[to as usize] = true;
    }
    // The walk numbers a parent before its children: one pass from the last vertex up marks
    // the parents of the vertices in the graph, and adds up the subtrees outside it. Without
    // that order only leaves are left out.
    let parents_first = parent
        .iter()
        .enumerate()
        .all(|(i, &p)| p >= ABSENT || (p as usize) < i);
    if !parents_first {
        for &p in parent.iter().filter(|&&p| p < ABSENT) {
            in_graph[p as usize] = true;
        }
    }
    // The bytes each vertex retains, for those outside the graph; for those in it, so far
    // their own and their outside children's.
    let mut retained: Vec<u64> = Vec::with_capacity(n);
    crate::memory::populate_spare(&mut retained, n);
    retained.resize(n, 0);
    for i in (0..n).rev() {
        let p = parent[i];
        if p == ABSENT {
            continue;
        }
        retained[i] += size(i);
        if p != NO_PARENT {
            if in_graph[i] {
                in_graph[p as usize] = true;
            } else {
                retained[p as usize] += retained[i];
            }
        }
    }
    // Vertex index → index of the reduced graph, and back.
    let mut reduced: Vec<u32> = Vec::with_capacity(n);
    crate::memory::populate_spare(&mut reduced, n);
    reduced.resize(n, NO_PARENT);
    let mut vertex_of = Vec::new();
    for (i, _) in in_graph.iter().enumerate().filter(|(_, &kept)| kept) {
        reduced[i] = vertex_of.len() as u32;
        vertex_of.push(i as u32);
    }
    drop(in_graph);
    let reduced_parent: Vec<u32> = vertex_of
        .iter()
        .map(|&i| match parent[i as usize] {
            NO_PARENT => NO_PARENT,
            p => reduced[p as usize],
        })
        .collect();
    for (from, to) in &mut edges {
        if *from != NO_PARENT {
            *from = reduced[*from as usize];
        }
        *to = reduced[*to as usize];
    }
    let solved = semi_nca(&reduced_parent, &edges, |r| retained[vertex_of[r] as usize]);
    drop((reduced_parent, edges));
    let mut idom = parent;
    for (r, &i) in vertex_of.iter().enumerate() {
        idom[i as usize] = match solved.idom[r] {
            NO_PARENT => NO_PARENT,
            d => vertex_of[d as usize],
        };
        retained[i as usize] = solved.retained[r];
    }
    drop((solved, reduced, vertex_of));
    Dominators { idom, retained }
}

impl Dominators {
    /// Per group (`group` of each vertex, below `groups`), the retained bytes of its vertices
    /// that no other vertex of the same group dominates: what freeing all of them would free.
    pub fn retained_by_group(&self, group: impl Fn(usize) -> u32, groups: usize) -> Vec<u64> {
        retained_by_group(&self.idom, &self.retained, group, groups)
    }
}

/// Per group, the retained bytes of the vertices no vertex of the same group dominates: one
/// pass down the dominator tree, counting per group how many of the current vertex's
/// dominators belong to it. A leaf of the tree whose group no inner vertex has (most strings
/// and numbers) cannot have a dominator of its group: it counts at once, and the pass goes
/// through the inner vertices and the other leaves only.
fn retained_by_group(
    idom: &[u32],
    retained: &[u64],
    group: impl Fn(usize) -> u32,
    groups: usize,
) -> Vec<u64> {
    let n = idom.len();
    let mut out = vec![0u64; groups];
    let mut inner = vec![false; n];
    for &d in idom.iter().filter(|&&d| d < ABSENT) {
        inner[d as usize] = true;
    }
    let mut inner_group = vec![false; groups];
    for (i, _) in inner.iter().enumerate().filter(|(_, &x)| x) {
        inner_group[group(i) as usize] = true;
    }
    // The tree of the vertices the pass goes through (the inner ones, and the leaves that
    // might have a dominator of their group) as first-child and next-sibling links; vertex `n`
    // is the root above all roots. The other leaves count at once.
    const NONE: u32 = u32::MAX;
    let mut first_child = vec![NONE; n + 1];
    let mut next_sibling = vec![NONE; n];
    for (i, &d) in idom.iter().enumerate().rev() {
        if d == ABSENT {
            continue;
        }
        if !inner[i] {
            let g = group(i) as usize;
            if !inner_group[g] || d == NO_PARENT {
                out[g] += retained[i];
                continue;
            }
        }
        let d = if d == NO_PARENT { n } else { d as usize };
        next_sibling[i] = first_child[d];
        first_child[d] = i as u32;
    }
    drop(inner_group);
    let mut inside = vec![0u32; groups];
    // The inner vertices entered and not yet left, and the vertex to visit next.
    let mut path: Vec<u32> = Vec::new();
    let mut next = first_child[n];
    loop {
        if next == NONE {
            let Some(left) = path.pop() else { break };
            inside[group(left as usize) as usize] -= 1;
            next = next_sibling[left as usize];
            continue;
        }
        let v = next as usize;
        let g = group(v) as usize;
        if inside[g] == 0 {
            out[g] += retained[v];
        }
        if inner[v] {
            inside[g] += 1;
            path.push(v as u32);
            next = first_child[v];
        } else {
            next = next_sibling[v];
        }
    }
    out
}

/// The dominators of a reduced graph, by its vertex index.
struct Solved {
    idom: Vec<u32>,
    retained: Vec<u64>,
}

/// The dominators of a graph given as `parent` (each vertex's first edge's source, or
/// [`NO_PARENT`]) and `edges`, by semi-NCA.
fn semi_nca(parent: &[u32], edges: &[(u32, u32)], size: impl Fn(usize) -> u64) -> Solved {
    let n = parent.len();
    // Vertex 0 is the root above all roots; vertex i is vertex i + 1.
    let v = n + 1;
    let pairs = || {
        parent
            .iter()
            .enumerate()
            .map(|(i, &p)| (vertex(p), i as u32 + 1))
            .chain(edges.iter().map(|&(f, t)| (vertex(f), t + 1)))
    };
    // Successors and predecessors, counted in one pass and filled in another.
    let (mut successors, mut predecessors) =
        Csr::pair_with_counts(v, |count| pairs().for_each(|(f, t)| count(f, t)));
    for (f, t) in pairs() {
        successors.push(f, t);
        predecessors.push(t, f);
    }
    // Depth-first preorder numbers (0 = not reached) and the depth-first parent, by number.
    const UNSEEN: u32 = u32::MAX;
    let mut number = vec![UNSEEN; v];
    let mut vertex_of: Vec<u32> = Vec::with_capacity(v);
    let mut dfs_parent: Vec<u32> = Vec::with_capacity(v);
    let mut stack: Vec<(u32, u32)> = vec![(0, 0)];
    number[0] = 0;
    vertex_of.push(0);
    dfs_parent.push(0);
    while let Some(top) = stack.last_mut() {
        let (at, next) = *top;
        let succ = successors.of(at as usize);
        if let Some(&w) = succ.get(next as usize) {
            top.1 += 1;
            if number[w as usize] == UNSEEN {
                number[w as usize] = vertex_of.len() as u32;
                dfs_parent.push(number[at as usize]);
                vertex_of.push(w);
                stack.push((w, 0));
            }
        } else {
            stack.pop();
        }
    }
    drop(stack);
    drop(successors);
    let reached = vertex_of.len();
    // Semi-dominators, by number, with a path-compressed forest of processed vertices.
    let mut semi: Vec<u32> = (0..reached as u32).collect();
    let mut label: Vec<u32> = (0..reached as u32).collect();
    let mut ancestor: Vec<u32> = vec![UNSEEN; reached];
    let mut path: Vec<u32> = Vec::new();
    for w in (1..reached).rev() {
        let mut best = semi[w];
        for &p in predecessors.of(vertex_of[w] as usize) {
            let p = number[p as usize];
            if p != UNSEEN {
                let u = eval(p, &mut ancestor, &mut label, &semi, &mut path);
                best = best.min(semi[u as usize]);
            }
        }
        semi[w] = best;
        ancestor[w] = dfs_parent[w];
    }
    drop(predecessors);
    drop(number);
    drop(ancestor);
    drop(label);
    // Immediate dominators: climb from the depth-first parent to at most the semi-dominator.
    let mut idom = dfs_parent;
    for w in 1..reached {
        let mut d = idom[w];
        while d > semi[w] {
            d = idom[d as usize];
        }
        idom[w] = d;
    }
    drop(semi);
    // Retained sizes: each vertex adds its own to its dominator's, children (higher numbers)
    // first.
    let mut retained = vec![0u64; reached];
    for w in (1..reached).rev() {
        retained[w] += size(vertex_of[w] as usize - 1);
        let d = idom[w] as usize;
        retained[d] += retained[w];
    }
    let mut out = Solved {
        idom: vec![NO_PARENT; n],
        retained: vec![0; n],
    };
    for w in 1..reached {
        let object = vertex_of[w] as usize - 1;
        let d = vertex_of[idom[w] as usize];
        out.idom[object] = if d == 0 { NO_PARENT } else { d - 1 };
        out.retained[object] = retained[w];
    }
    out
}

/// The vertex of a parent index.
fn vertex(parent: u32) -> u32 {
    if parent == NO_PARENT {
        0
    } else {
        parent + 1
    }
}

/// Lengauer–Tarjan's EVAL with path compression, without recursion: the vertex of least
/// semi-dominator on the forest path from `v` up to (not including) its forest root.
fn eval(v: u32, ancestor: &mut [u32], label: &mut [u32], semi: &[u32], path: &mut Vec<u32>) -> u32 {
    const NONE: u32 = u32::MAX;
    if ancestor[v as usize] == NONE {
        return v;
    }
    // Collect the path to the vertex just below the forest root.
    path.clear();
    let mut x = v;
    while ancestor[ancestor[x as usize] as usize] != NONE {
        path.push(x);
        x = ancestor[x as usize];
    }
    // Compress from the top down: each vertex takes the better label of its ancestor.
    while let Some(y) = path.pop() {
        let a = ancestor[y as usize] as usize;
        if semi[label[a] as usize] < semi[label[y as usize] as usize] {
            label[y as usize] = label[a];
        }
        ancestor[y as usize] = ancestor[a];
    }
    label[v as usize]
}

/// Adjacency lists in one array (compressed sparse rows).
struct Csr {
    start: Vec<u32>,
    items: Vec<u32>,
    /// Where the next item of each list goes, while it is filled.
    fill: Vec<u32>,
}

impl Csr {
    /// Two sets of lists for `n` vertices counted in one pass: `counting` calls its argument
    /// once per item to come with the item's vertex in the first and in the second.
    fn pair_with_counts(n: usize, counting: impl FnOnce(&mut dyn FnMut(u32, u32))) -> (Csr, Csr) {
        let mut first = vec![0u32; n + 1];
        let mut second = vec![0u32; n + 1];
        counting(&mut |a, b| {
            first[a as usize + 1] += 1;
            second[b as usize + 1] += 1;
        });
        (Csr::from_counts(first), Csr::from_counts(second))
    }

    /// Empty lists from counts (`start[v + 1]`: the number of items of vertex `v`).
    fn from_counts(mut start: Vec<u32>) -> Csr {
        let n = start.len() - 1;
        for i in 0..n {
            start[i + 1] += start[i];
        }
        Csr {
            items: vec![0; start[n] as usize],
            fill: start[..n].to_vec(),
            start,
        }
    }

    fn push(&mut self, from: u32, to: u32) {
        let at = &mut self.fill[from as usize];
        self.items[*at as usize] = to;
        *at += 1;
    }

    fn of(&self, v: usize) -> &[u32] {
        &self.items[self.start[v] as usize..self.start[v + 1] as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Immediate dominators by brute force: d dominates o if removing d cuts o from the root.
    fn brute(parent: &[u32], edges: &[(u32, u32)]) -> Vec<u32> {
        let n = parent.len();
        let mut succ = vec![Vec::new(); n + 1];
        for (i, &p) in parent.iter().enumerate() {
            succ[vertex(p) as usize].push(i + 1);
        }
        for &(f, t) in edges {
            succ[f as usize + 1].push(t as usize + 1);
        }
        let reach = |without: usize| {
            let mut seen = vec![false; n + 1];
            let mut stack = vec![0];
            seen[0] = true;
            while let Some(x) = stack.pop() {
                for &y in &succ[x] {
                    if y != without && !seen[y] {
                        seen[y] = true;
                        stack.push(y);
                    }
                }
            }
            seen
        };
        let doms: Vec<Vec<bool>> = (0..=n).map(reach).collect();
        (1..=n)
            .map(|o| {
                // Strict dominators of o; the immediate one is dominated by all the others.
                let strict: Vec<usize> = (1..=n).filter(|&d| d != o && !doms[d][o]).collect();
                let idom = strict
                    .iter()
                    .copied()
                    .find(|&d| strict.iter().all(|&e| e == d || !doms[e][d]));
                idom.map_or(NO_PARENT, |d| d as u32 - 1)
            })
            .collect()
    }

    #[test]
    fn matches_brute_force_on_random_graphs() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = |m: u32| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % u64::from(m)) as u32
        };
        for round in 0..300 {
            let n = 1 + next(40) as usize;
            // A spanning tree in index order (as the breadth-first walk gives), then extra edges.
            let parent: Vec<u32> = (0..n as u32)
                .map(|i| {
                    if i == 0 || next(5) == 0 {
                        NO_PARENT
                    } else {
                        next(i)
                    }
                })
                .collect();
            let edges: Vec<(u32, u32)> = (0..next(3 * n as u32))
                .map(|_| (next(n as u32), next(n as u32)))
                .collect();
            let size = |i: usize| i as u64 + 1;
            let group = |i: usize| (i % 3) as u32;
            // Two records that are not vertices at the end.
            let mut with_absent = parent.clone();
            with_absent.extend([ABSENT, ABSENT]);
            let d = dominators(Graph {
                parent: with_absent,
                edges: edges.clone(),
                size: |i: usize| if i < n { size(i) } else { 0 },
            });
            assert_eq!(d.idom[..n], brute(&parent, &edges), "round {round}");
            assert_eq!(d.idom[n..], [ABSENT, ABSENT]);
            assert_eq!(d.retained[n..], [0, 0]);
            // Retained sizes: an object and everything it dominates.
            let dominated_by = |x: usize, o: usize| {
                let mut y = d.idom[x];
                while y != NO_PARENT {
                    if y as usize == o {
                        return true;
                    }
                    y = d.idom[y as usize];
                }
                false
            };
            let mut by_group = [0u64; 3];
            for o in 0..n {
                let below: u64 = size(o)
                    + (0..n)
                        .filter(|&x| dominated_by(x, o))
                        .map(size)
                        .sum::<u64>();
                assert_eq!(d.retained[o], below, "round {round} object {o}");
                if !(0..n).any(|x| group(x) == group(o) && dominated_by(o, x)) {
                    by_group[group(o) as usize] += below;
                }
            }
            let group_of = |i: usize| if i < n { group(i) } else { 0 };
            assert_eq!(d.retained_by_group(group_of, 3), by_group, "round {round}");
        }
    }
}
