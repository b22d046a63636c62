//! The two-thread walk finds exactly what the one-thread walk finds on the same copy: the same
//! objects with the same types and sizes, each at the same breadth-first depth (which of two
//! parents of equal depth claims an object may differ; the length of its chain may not).

mod common;

use common::{build, copy_of, Target};
use heapsnap::heap::edges::KeyLabels;
use heapsnap::heap::walk::{walk_with_threads, Keep};
use heapsnap::heap::{Heap, Mode, NO_PARENT};

/// (address, type name, size, exact, depth) of every object, in address order.
fn described(heap: &Heap) -> Vec<(u64, String, u64, bool, u32)> {
    let objects: Vec<_> = heap.objects().collect();
    let mut depth = vec![u32::MAX; objects.len()];
    for start in 0..objects.len() {
        // Climb to the first object whose depth is known (or a root), then come back down.
        let mut path = vec![start];
        while depth[*path.last().unwrap()] == u32::MAX {
            let parent = objects[*path.last().unwrap()].parent;
            if parent == NO_PARENT {
                break;
            }
            path.push(parent as usize);
            assert!(path.len() <= objects.len(), "parent chain loops");
        }
        let top = *path.last().unwrap();
        let mut d = if depth[top] == u32::MAX {
            0
        } else {
            depth[top]
        };
        depth[top] = d;
        for &i in path.iter().rev().skip(1) {
            d += 1;
            depth[i] = d;
        }
    }
    objects
        .iter()
        .zip(depth)
        .map(|(o, d)| {
            (
                o.address,
                heap.types[o.type_id as usize].name.clone(),
                o.size,
                o.size_exact,
                d,
            )
        })
        .collect()
}

#[test]
fn two_threads_find_what_one_thread_finds() {
    let Some(b) = build("3.12.1") else { return };
    // Breadth-first levels of 60,000+ candidates: far above the size walked by two threads.
    let target = Target::idle(&b.python, common::ITEMS_60K);
    let pid = target.pid();
    let (interp, image) = copy_of(pid);

    let walk = |threads| {
        walk_with_threads(
            &image,
            &interp,
            Mode::Full,
            false,
            Keep::Graph,
            KeyLabels::Masked,
            threads,
        )
        .unwrap()
        .into_ordered_heap()
    };
    let one = described(&walk(1));
    let two = described(&walk(2));
    assert!(one.len() > 300_000, "{} objects", one.len());
    assert_eq!(one.len(), two.len());
    let differing: Vec<_> = one
        .iter()
        .zip(&two)
        .filter(|(a, b)| a != b)
        .take(5)
        .collect();
    assert!(differing.is_empty(), "first differences: {differing:?}");
    println!("FIGURES objects={} (one thread and two agree)", one.len());
}
