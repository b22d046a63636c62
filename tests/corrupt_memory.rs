//! Corrupted memory must never make heapsnap panic or hang: take a real copy of a Python
//! process, overwrite random words of it, and walk the result, many times.

mod common;

use std::time::{Duration, Instant};

use common::{build, copy_of, fixture, Rng, Target};
use heapsnap::heap::edges::KeyLabels;
use heapsnap::heap::walk::{walk, Keep};
use heapsnap::heap::Mode;
use heapsnap::memory::image::Image;
use heapsnap::memory::process::ProcessMemory;

fn corrupted_walks(build_name: &'static str) {
    let Some(b) = build(build_name) else { return };
    let truth = std::env::temp_dir().join(format!("heapsnap-corrupt-{}.jsonl", std::process::id()));
    let target = Target::start(
        &b.python,
        &[
            fixture("workload.py").to_str().unwrap(),
            "--truth",
            truth.to_str().unwrap(),
        ],
    );
    let pid = target.pid();
    let (interp, image) = copy_of(pid);
    let clean = walk(
        &image,
        &interp,
        Mode::Full,
        false,
        Keep::Graph,
        KeyLabels::Masked,
    )
    .unwrap()
    .into_ordered_heap();
    let regions = image.to_regions();
    let total: u64 = regions.iter().map(|(_, d)| d.len() as u64 / 8).sum();

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut completed, mut refused) = (0, 0);
    for round in 0..40 {
        let mut parts = regions.clone();
        // From a few words to a few thousand, with values that look like pointers, counts,
        // small numbers and garbage.
        let flips = 1 << (round % 12);
        for _ in 0..flips {
            let mut word = rng.next() % total;
            let part = parts.iter_mut().find(|(_, d)| {
                let n = d.len() as u64 / 8;
                if word < n {
                    true
                } else {
                    word -= n;
                    false
                }
            });
            let (start, data) = part.unwrap();
            let value = match rng.next() % 4 {
                0 => *start + ((rng.next() % data.len() as u64) & !7),
                1 => rng.next() % 1_000_000_000,
                2 => rng.next() % 64,
                _ => rng.next(),
            };
            let at = word as usize * 8;
            data[at..at + 8].copy_from_slice(&value.to_le_bytes());
        }
        // Read-only memory (type names) still comes from the live process.
        let corrupt = Image::from_regions(parts).with_fallback(Box::new(ProcessMemory::new(pid)));
        for tolerant in [false, true] {
            let started = Instant::now();
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                walk(
                    &corrupt,
                    &interp,
                    Mode::Full,
                    tolerant,
                    Keep::Graph,
                    KeyLabels::Masked,
                )
                .map(|w| w.into_ordered_heap().len())
            }));
            let took = started.elapsed();
            assert!(
                result.is_ok(),
                "walk panicked (round {round}, {flips} words overwritten)"
            );
            assert!(
                took < Duration::from_secs(20),
                "walk took {took:?} (round {round})"
            );
            match &result {
                Ok(Ok(_)) => completed += 1,
                _ => refused += 1,
            }
            if let Ok(Ok(n)) = result {
                // A walk that succeeds still finds a census of the same order.
                assert!(n <= clean.len() * 4 + 1000, "round {round}: {n} objects");
            }
        }
    }
    println!(
        "FIGURES build={build_name} clean={} corrupted walks completed={completed} refused={refused}",
        clean.len()
    );
    assert!(
        completed > 0,
        "no corrupted walk got through: the test exercises nothing"
    );
}

#[test]
fn corrupted_memory_never_panics_or_hangs_3_12_1() {
    corrupted_walks("3.12.1");
}

#[test]
fn corrupted_memory_never_panics_or_hangs_2_7_18() {
    corrupted_walks("2.7.18");
}
