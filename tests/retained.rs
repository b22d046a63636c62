//! Retained sizes and dominators against objects whose retained sizes are known by
//! construction (fixtures/retained.py computes them in process with sys.getsizeof): an owner,
//! two holders sharing a list, a cycle, an object held from two roots. And snapshots of schema
//! 1 (no retained sizes) still read.

#[macro_use]
mod common;

use common::{build, fixture, heapsnap, Build, Target};

fn read_snapshot(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn retained_sizes_match(b: &Build) {
    let target = Target::start(&b.python, &[fixture("retained.py").to_str().unwrap()]);
    let expected: serde_json::Value = serde_json::from_str(&target.ready).unwrap();
    let path = std::env::temp_dir().join(format!(
        "heapsnap-retained-{}-{}.json",
        b.name,
        std::process::id()
    ));
    common::dump_to(target.pid(), &path);
    let snap = read_snapshot(&path);
    let _ = std::fs::remove_file(&path);
    assert_eq!(snap["schema_version"], 2);
    let objects = &snap["objects"];
    let mut at = 0u64;
    let addresses: Vec<u64> = objects["address_delta"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            at = at.wrapping_add(d.as_u64().unwrap());
            at
        })
        .collect();
    let index_of = |id: u64| addresses.binary_search(&id).ok();
    for (name, value) in expected.as_object().unwrap() {
        let id = value[0].as_u64().unwrap();
        let want = value[1].as_u64().unwrap();
        let i = index_of(id).unwrap_or_else(|| panic!("{}: {name} not in the snapshot", b.name));
        let got = objects["retained"][i].as_u64().unwrap();
        assert_eq!(got, want, "{}: retained size of {name}", b.name);
    }
    // Held by the module and by a running frame's local: no object dominates it.
    let twice = index_of(expected["TWICE"][0].as_u64().unwrap()).unwrap();
    assert_eq!(objects["idom"][twice], -1, "{}: TWICE's dominator", b.name);
    // The ring's second holder is dominated by the first.
    let ring = index_of(expected["RING"][0].as_u64().unwrap()).unwrap();
    let peer = index_of(expected["RING.peer"][0].as_u64().unwrap()).unwrap();
    assert_eq!(objects["idom"][peer], ring as u64, "{}", b.name);
    eprintln!(
        "{}: retained sizes of {} objects equal to the in-process figures",
        b.name,
        expected.as_object().unwrap().len()
    );
}

per_build! {
    retained_sizes_match:
    retained_2_7_18 => "2.7.18",
    retained_3_6_15 => "3.6.15",
    retained_3_8_18 => "3.8.18",
    retained_3_10_13 => "3.10.13",
    retained_3_11_7 => "3.11.7",
    retained_3_12_1 => "3.12.1",
    retained_3_13_0 => "3.13.0",
    retained_debian_3_11 => "debian-3.11",
    retained_sid_3_14 => "sid-3.14",
    retained_sid_3_15 => "sid-3.15",
}

/// A schema 1 snapshot (before retained sizes and garbage) still reads: diff it against a
/// schema 2 one.
#[test]
fn schema_1_snapshots_still_read() {
    let Some(b) = build("3.12.1") else { return };
    let target = Target::idle(&b.python, "x = [str(i) for i in range(1000)]");
    let dir = std::env::temp_dir().join(format!("heapsnap-schema1-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let new = dir.join("new.json");
    common::dump_to(target.pid(), &new);
    let mut old = read_snapshot(&new);
    old["schema_version"] = 1.into();
    for column in ["retained", "idom", "garbage"] {
        old["objects"].as_object_mut().unwrap().remove(column);
    }
    for field in ["stops", "garbage_objects", "garbage_bytes"] {
        old["meta"].as_object_mut().unwrap().remove(field);
    }
    let old_path = dir.join("old.json");
    std::fs::write(&old_path, serde_json::to_string(&old).unwrap()).unwrap();
    let out = heapsnap()
        .arg("diff")
        .args([&old_path, &new])
        .output()
        .unwrap();
    common::assert_succeeded(&out);
    let _ = std::fs::remove_dir_all(&dir);
}
