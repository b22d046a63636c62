//! Garbage awaiting collection, checked against the collector itself: after the dump, the
//! target runs `gc.collect()` under `gc.DEBUG_SAVEALL`, and `gc.garbage` must be exactly the
//! objects heapsnap called cyclic garbage, address by address; objects only that garbage holds
//! are marked as held by it; a cycle only C code holds (an lru_cache entry) is not garbage.

#[macro_use]
mod common;

use std::collections::{HashMap, HashSet};

use common::{assert_succeeded, fixture, heapsnap, Build, Target};

fn garbage_matches_the_collector(b: &Build) {
    let mut target = Target::start(&b.python, &[fixture("garbage.py").to_str().unwrap()]);
    let ready: serde_json::Value = serde_json::from_str(&target.ready).unwrap();
    let objects = std::env::temp_dir().join(format!(
        "heapsnap-garbage-{}-{}.jsonl",
        b.name,
        std::process::id()
    ));
    let out = heapsnap()
        .args(["dump", &target.pid().to_string(), "--objects"])
        .arg(&objects)
        .output()
        .unwrap();
    assert_succeeded(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let flagged: HashMap<u64, String> = std::fs::read_to_string(&objects)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let kind = v["garbage"].as_str()?.to_string();
            Some((v["address"].as_u64().unwrap(), kind))
        })
        .collect();
    let _ = std::fs::remove_file(&objects);

    target.send("collect\n");
    let truth: HashSet<u64> = serde_json::from_str::<Vec<u64>>(&target.read_line())
        .unwrap()
        .into_iter()
        .collect();
    let cyclic: HashSet<u64> = flagged
        .iter()
        .filter(|(_, k)| k.as_str() == "cyclic")
        .map(|(&a, _)| a)
        .collect();
    let missed: Vec<_> = truth.difference(&cyclic).collect();
    let extra: Vec<_> = cyclic.difference(&truth).collect();
    assert!(
        missed.is_empty() && extra.is_empty(),
        "{}: gc.garbage has {} objects, heapsnap's cyclic garbage {}: {} missed (e.g. {:x?}), \
         {} extra (e.g. {:x?})",
        b.name,
        truth.len(),
        cyclic.len(),
        missed.len(),
        missed.iter().take(5).collect::<Vec<_>>(),
        extra.len(),
        extra.iter().take(5).collect::<Vec<_>>()
    );
    let held = ready["held"].as_array().unwrap();
    let not_flagged: Vec<_> = held
        .iter()
        .map(|id| id.as_u64().unwrap())
        .filter(|id| !flagged.contains_key(id))
        .collect();
    assert!(
        not_flagged.is_empty(),
        "{}: {} of {} objects only garbage holds are not marked garbage (e.g. {:x?})",
        b.name,
        not_flagged.len(),
        held.len(),
        &not_flagged[..not_flagged.len().min(5)]
    );
    if let Some(cached) = ready["cached"].as_u64() {
        assert!(
            !flagged.contains_key(&cached),
            "{}: a cycle held by an lru_cache entry was called garbage",
            b.name
        );
    }
    let held_count = flagged.len() - cyclic.len();
    assert!(
        stdout.contains(&format!(
            "garbage awaiting collection: {} objects",
            heapsnap::render::group(flagged.len() as u64)
        )),
        "{}: {stdout}",
        b.name
    );
    eprintln!(
        "{}: gc.garbage = heapsnap's cyclic garbage, {} objects; {held_count} more held only by \
         it",
        b.name,
        truth.len()
    );
}

per_build! {
    garbage_matches_the_collector:
    garbage_2_7_18 => "2.7.18",
    garbage_3_6_15 => "3.6.15",
    garbage_3_7_16 => "3.7.16",
    garbage_3_8_18 => "3.8.18",
    garbage_3_9_18 => "3.9.18",
    garbage_3_10_13 => "3.10.13",
    garbage_3_11_7 => "3.11.7",
    garbage_3_12_1 => "3.12.1",
    garbage_3_13_0 => "3.13.0",
    garbage_debian_3_11 => "debian-3.11",
    garbage_sid_3_13 => "sid-3.13",
    garbage_sid_3_14 => "sid-3.14",
    garbage_sid_3_15 => "sid-3.15",
}
