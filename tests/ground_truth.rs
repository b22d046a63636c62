//! The census against the in-process ground truth, object by object: the fixture computes
//! `gc.get_objects()` + the `gc.get_referents` closure with `sys.getsizeof` after heapsnap has
//! read it, and both are joined by address.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::{assert_succeeded, build, heapsnap, Build, Target};
use serde_json::Value;

struct Record {
    type_name: String,
    size: u64,
}

fn load(path: &Path) -> HashMap<u64, Record> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["address"].as_u64().unwrap(),
                Record {
                    type_name: v["type"].as_str().unwrap().to_string(),
                    size: v["size"].as_u64().unwrap(),
                },
            )
        })
        .collect()
}

/// Dump the workload fixture with heapsnap, then compare with its ground truth.
fn compare(b: &Build, mode: &str) {
    let dir = tempfile_dir(b.name, mode);
    let truth = dir.join("truth.jsonl");
    let remote = dir.join("objects.jsonl");
    let mut target = Target::start(
        &b.python,
        &[
            common::fixture("workload.py").to_str().unwrap(),
            "--truth",
            truth.to_str().unwrap(),
            "--mode",
            mode,
        ],
    );
    let out = heapsnap()
        .args([
            "dump",
            &target.pid().to_string(),
            "--mode",
            mode,
            "--quiet",
            "--objects",
        ])
        .arg(&remote)
        .output()
        .unwrap();
    assert_succeeded(&out);
    assert_ne!(target.state(), 't', "target left stopped");
    target.send("go\n");
    let done = target.read_line();
    assert!(done.starts_with("done"), "fixture did not finish: {done:?}");

    let truth = load(&truth);
    let remote = load(&remote);
    let common: Vec<u64> = truth
        .keys()
        .filter(|a| remote.contains_key(a))
        .copied()
        .collect();
    let missing: Vec<&u64> = truth.keys().filter(|a| !remote.contains_key(a)).collect();
    let extra: Vec<&u64> = remote.keys().filter(|a| !truth.contains_key(a)).collect();
    let names_equal = common
        .iter()
        .filter(|a| truth[a].type_name == remote[a].type_name)
        .count();
    let sizes_equal = common
        .iter()
        .filter(|a| truth[a].size == remote[a].size)
        .count();
    let pct = |n: usize| 100.0 * n as f64 / common.len().max(1) as f64;
    println!(
        "FIGURES build={} mode={mode} truth={} heapsnap={} common={} missing={} extra={} ({:.3}%) names={:.2}% sizes_exact={:.2}%",
        b.name,
        truth.len(),
        remote.len(),
        common.len(),
        missing.len(),
        extra.len(),
        100.0 * extra.len() as f64 / truth.len() as f64,
        pct(names_equal),
        pct(sizes_equal),
    );
    let mut by_type: HashMap<String, (usize, Vec<String>)> = HashMap::new();
    for a in &common {
        let (t, r) = (&truth[a], &remote[a]);
        if t.type_name != r.type_name || t.size != r.size {
            let e = by_type.entry(t.type_name.clone()).or_default();
            e.0 += 1;
            if e.1.len() < 3 {
                e.1.push(format!(
                    "{a:#x}: truth {} {} / heapsnap {} {}",
                    t.type_name, t.size, r.type_name, r.size
                ));
            }
        }
    }
    let mut mism: Vec<_> = by_type.into_iter().collect();
    mism.sort_by_key(|(_, (n, _))| std::cmp::Reverse(*n));
    for (t, (n, ex)) in mism.iter().take(15) {
        println!("  mismatch {t}: {n}  e.g. {ex:?}");
    }
    for a in missing.iter().take(10) {
        println!(
            "  missing {a:#x} {} size {}",
            truth[a].type_name, truth[a].size
        );
    }
    let mut extra_types: HashMap<&str, usize> = HashMap::new();
    for a in &extra {
        *extra_types.entry(remote[a].type_name.as_str()).or_default() += 1;
    }
    println!("  extra by type: {extra_types:?}");

    assert!(
        missing.is_empty(),
        "{} ground-truth objects not found",
        missing.len()
    );
    assert!(
        extra.len() * 1000 <= truth.len(),
        "too many extra objects: {}",
        extra.len()
    );
    assert_eq!(names_equal, common.len(), "type names differ");
    assert!(
        pct(sizes_equal) >= 99.5,
        "only {:.2}% sizes exact",
        pct(sizes_equal)
    );
}

fn tempfile_dir(build: &str, mode: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("heapsnap-gt-{build}-{mode}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

macro_rules! ground_truth_tests {
    ($($test:ident => $build:expr),* $(,)?) => {$(
        #[test]
        fn $test() {
            if let Some(b) = build($build) {
                compare(&b, "gc");
            }
        }
    )*};
}

ground_truth_tests! {
    gc_mode_matches_ground_truth_2_7_18 => "2.7.18",
    gc_mode_matches_ground_truth_3_6_15 => "3.6.15",
    gc_mode_matches_ground_truth_3_7_16 => "3.7.16",
    gc_mode_matches_ground_truth_3_8_18 => "3.8.18",
    gc_mode_matches_ground_truth_3_9_18 => "3.9.18",
    gc_mode_matches_ground_truth_3_10_13 => "3.10.13",
    gc_mode_matches_ground_truth_3_11_7 => "3.11.7",
    gc_mode_matches_ground_truth_3_12_1 => "3.12.1",
    gc_mode_matches_ground_truth_3_13_0 => "3.13.0",
    gc_mode_matches_ground_truth_debian_3_11 => "debian-3.11",
    gc_mode_matches_ground_truth_sid_3_13 => "sid-3.13",
    gc_mode_matches_ground_truth_sid_3_14 => "sid-3.14",
    gc_mode_matches_ground_truth_sid_3_15 => "sid-3.15",
}
