//! The snapshot reader and `diff` under hostile files: a real snapshot, mutated at random
//! (truncated, bytes flipped, numbers replaced by huge, negative or wrong-typed values, slices
//! dropped or repeated, deep nesting), for a fixed time in CI. Every file must be refused with
//! an error or compared, never panic; the command line says one line and exits 9.
//!
//! Longer run: `HEAPSNAP_FUZZ_SECONDS=600 cargo nextest run --release --test fuzz_reader`.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

use common::{build, heapsnap, Rng, Target};
use heapsnap::diff::{diff, GroupBy, Options};
use heapsnap::snapshot::Snapshot;

const VALUES: [&str; 12] = [
    "-1",
    "-9223372036854775809",
    "18446744073709551616",
    "4294967295",
    "1e309",
    "0.5",
    "\"x\"",
    "null",
    "true",
    "[]",
    "{}",
    "[[[[[[[[[[]]]]]]]]]]",
];

fn mutate(base: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = base.to_vec();
    for _ in 0..1 + rng.below(3) {
        match rng.below(6) {
            0 => out.truncate(rng.below(out.len())),
            1 => {
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(out.len());
                    if let Some(b) = out.get_mut(at) {
                        *b = rng.next() as u8;
                    }
                }
            }
            2 => {
                // Replace one number with a hostile value.
                let at = rng.below(out.len());
                if let Some(start) = out[at..].iter().position(u8::is_ascii_digit) {
                    let start = at + start;
                    let len = out[start..]
                        .iter()
                        .take_while(|b| b.is_ascii_digit())
                        .count();
                    let value = VALUES[rng.below(VALUES.len())].as_bytes();
                    out.splice(start..start + len, value.iter().copied());
                }
            }
            3 => {
                let (a, b) = (rng.below(out.len()), rng.below(out.len()));
                out.drain(a.min(b)..a.max(b));
            }
            4 => {
                let (a, b) = (rng.below(out.len()), rng.below(out.len()));
                let piece = out[a.min(b)..a.max(b)].to_vec();
                let at = rng.below(out.len());
                out.splice(at..at, piece);
            }
            _ => {
                let depth = 1 + rng.below(100_000);
                let at = rng.below(out.len());
                let nested = "[".repeat(depth) + &"]".repeat(depth);
                out.splice(at..at, nested.into_bytes());
            }
        }
    }
    out
}

fn options() -> Options {
    Options {
        group_by: GroupBy::Type,
        all_rows: true,
        chain_types: 5,
        chains_per_type: 5,
        chain_for: Vec::new(),
        attachments: 5,
        suspects: 5,
        include_garbage: false,
    }
}

/// A small real snapshot to mutate.
fn base_snapshot(dir: &Path) -> Option<Vec<u8>> {
    let b = build("3.12.1")?;
    let target = Target::idle(
        &b.python,
        "import gc\nitems = [{'k': str(i)} for i in range(300)]\nc = []\nc.append(c)\n\
         gc.disable()\nx = [c]\ndel c, x",
    );
    let path = dir.join("base.json");
    common::dump_to(target.pid(), &path);
    Some(std::fs::read(&path).unwrap())
}

#[test]
fn hostile_snapshots_are_refused_or_compared_never_a_panic() {
    let dir = std::env::temp_dir().join(format!("heapsnap-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let Some(base) = base_snapshot(&dir) else {
        return;
    };
    let seconds: u64 = std::env::var("HEAPSNAP_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut cases, mut refused, mut compared) = (0u64, 0u64, 0u64);
    let path = dir.join("mutated.json");
    let mut cli_checked = 0;
    while Instant::now() < deadline {
        let bytes = mutate(&base, &mut rng);
        std::fs::write(&path, &bytes).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| match Snapshot::read(&path) {
            Ok(s) => {
                let _ = diff(&s, &s, Some(&s), &options());
                true
            }
            Err(_) => false,
        }));
        match outcome {
            Ok(true) => compared += 1,
            Ok(false) => refused += 1,
            Err(_) => {
                let kept = dir.join(format!("panic-{cases}.json"));
                std::fs::write(&kept, &bytes).unwrap();
                panic!(
                    "case {cases} panicked; the file is kept at {}",
                    kept.display()
                );
            }
        }
        // Now and then through the command line: one line on stderr and exit 9, or success.
        if cases % 50 == 0 {
            let out = heapsnap()
                .arg("diff")
                .args([&path, &path])
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            match out.status.code() {
                Some(0) => {}
                Some(9) => assert_eq!(stderr.lines().count(), 1, "case {cases}: {stderr}"),
                other => panic!("case {cases}: exit {other:?}: {stderr}"),
            }
            cli_checked += 1;
        }
        cases += 1;
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "{cases} mutated snapshots in {seconds} s: {refused} refused, {compared} compared; \
         {cli_checked} through the command line"
    );
    assert!(cases > 20, "too few cases ran");
    assert!(
        refused > 0 && compared > 0,
        "the mutations should both break and keep files"
    );
}
