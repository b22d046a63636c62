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

use super::NO_PARENT;

/// The dominator tree: each object's immediate dominator ([`NO_PARENT`]: the root above all
/// roots) and retained size, by object index.
pub struct Dominators {
    pub idom: Vec<u32>,
    pub retained: Vec<u64>,
}

/// Compute the dominators of `n` objects, given each one's `parent` (the walk's first edge to
/// it, or [`NO_PARENT`] when it hangs from the root above all roots), the other edges
/// (`from`, `to`; `from` may be [`NO_PARENT`] too), and their sizes.
pub fn dominators(
    parent: &[u32],
    mut edges: Vec<(u32, u32)>,
    size: impl Fn(usize) -> u64,
) -> Dominators {
    let n = parent.len();
    // Leaves that only their parent holds (most strings and numbers: 48 % of W1's objects) are
    // on no path to anything else: each is dominated by its parent and retains its own size,
    // which its parent retains too. The graph is solved without them.
    let mut in_graph = vec![false; n];
    for &p in parent.iter().filter(|&&p| p != NO_PARENT) {
        in_graph[p as usize] = true;
    }
    for &(from, to) in &edges {
        if from != NO_PARENT {
            in_graph[from as usize] = true;
        }
        in_graph[to as usize] = true;
    }
    // Object index → vertex index of the reduced graph, and back.
    let mut reduced = vec![NO_PARENT; n];
    let mut object_of = Vec::new();
    for (i, _) in in_graph.iter().enumerate().filter(|(_, &kept)| kept) {
        reduced[i] = object_of.len() as u32;
        object_of.push(i as u32);
    }
    drop(in_graph);
    let mut own = vec![0u64; object_of.len()];
    for (i, &p) in parent.iter().enumerate() {
        match reduced[i] {
            NO_PARENT if p != NO_PARENT => own[reduced[p as usize] as usize] += size(i),
            NO_PARENT => {}
            r => own[r as usize] += size(i),
        }
    }
    let reduced_parent: Vec<u32> = object_of
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
    let solved = semi_nca(&reduced_parent, &edges, |r| own[r]);
    drop((reduced_parent, edges, own));
    let mut out = Dominators {
        idom: parent.to_vec(),
        retained: Vec::with_capacity(n),
    };
    for (i, &r) in reduced.iter().enumerate() {
        out.retained.push(match r {
            NO_PARENT => size(i),
            r => {
                out.idom[i] = match solved.idom[r as usize] {
                    NO_PARENT => NO_PARENT,
                    d => object_of[d as usize],
                };
                solved.retained[r as usize]
            }
        });
    }
    out
}

/// The dominators of a graph given as in [`dominators`], by semi-NCA.
fn semi_nca(parent: &[u32], edges: &[(u32, u32)], size: impl Fn(usize) -> u64) -> Dominators {
    let n = parent.len();
    // Vertex 0 is the root above all roots; object i is vertex i + 1.
    let v = n + 1;
    let successors = Csr::new(
        v,
        parent
            .iter()
            .enumerate()
            .map(|(i, &p)| (vertex(p), i as u32 + 1))
            .chain(edges.iter().map(|&(f, t)| (vertex(f), t + 1))),
    );
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
    let reached = vertex_of.len();
    // Predecessors, by number.
    let mut predecessors = Csr::with_counts(reached, |count| {
        for from in 0..v {
            if number[from] != UNSEEN {
                for &to in successors.of(from) {
                    count(number[to as usize]);
                }
            }
        }
    });
    for from in 0..v {
        let nf = number[from];
        if nf != UNSEEN {
            for &to in successors.of(from) {
                predecessors.push(number[to as usize], nf);
            }
        }
    }
    drop(successors);
    // Semi-dominators, by number, with a path-compressed forest of processed vertices.
    let mut semi: Vec<u32> = (0..reached as u32).collect();
    let mut label: Vec<u32> = (0..reached as u32).collect();
    let mut ancestor: Vec<u32> = vec![UNSEEN; reached];
    let mut path: Vec<u32> = Vec::new();
    for w in (1..reached).rev() {
        let mut best = semi[w];
        for &p in predecessors.of(w) {
            let u = eval(p, &mut ancestor, &mut label, &semi, &mut path);
            best = best.min(semi[u as usize]);
        }
        semi[w] = best;
        ancestor[w] = dfs_parent[w];
    }
    drop(predecessors);
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
    let mut out = Dominators {
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
    /// Empty lists for `n` vertices, sized by `counting`, which calls its argument once per
    /// item to come with the item's vertex; fill them with [`Csr::push`].
    fn with_counts(n: usize, counting: impl FnOnce(&mut dyn FnMut(u32))) -> Csr {
        let mut start = vec![0u32; n + 1];
        counting(&mut |f| start[f as usize + 1] += 1);
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

    /// Lists for `n` vertices from (from, to) pairs; the pairs are produced twice (count, fill).
    fn new<I>(n: usize, pairs: I) -> Csr
    where
        I: Iterator<Item = (u32, u32)> + Clone,
    {
        let mut csr = Csr::with_counts(n, |count| pairs.clone().for_each(|(f, _)| count(f)));
        for (f, t) in pairs {
            csr.push(f, t);
        }
        csr.fill = Vec::new();
        csr
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
            let d = dominators(&parent, edges.clone(), size);
            assert_eq!(d.idom, brute(&parent, &edges), "round {round}");
            // Retained sizes: an object and everything it dominates.
            for o in 0..n {
                let mut below = size(o);
                for x in 0..n {
                    let mut y = d.idom[x];
                    while y != NO_PARENT {
                        if y as usize == o {
                            below += size(x);
                            break;
                        }
                        y = d.idom[y as usize];
                    }
                }
                assert_eq!(d.retained[o], below, "round {round} object {o}");
            }
        }
    }
}
