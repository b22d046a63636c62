//! Identity under address reuse: objects freed and replaced by new ones of the same type at
//! the same addresses are new for `diff`, because their GC age (the generation list they are
//! on) is younger than the old ones'; objects that only grew older are not new. Without the
//! ages (a snapshot without its `gc_age` column) the same diff takes most new items for old.

#[macro_use]
mod common;

use common::{diff_json, dump_to, fixture, Build, Target};

/// `new_objects` of the diff row named `name`.
fn new_of(diff: &serde_json::Value, name: &str) -> u64 {
    diff["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .map_or(0, |r| r["new_objects"].as_u64().unwrap())
}

fn reused_addresses_are_new(b: &Build) {
    let mut target = Target::start(&b.python, &[fixture("address_reuse.py").to_str().unwrap()]);
    let dir =
        std::env::temp_dir().join(format!("heapsnap-reuse-{}-{}", b.name, std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, after) = (dir.join("a.json"), dir.join("b.json"));
    dump_to(target.pid(), &a);
    target.send("churn\n");
    let truth: serde_json::Value = serde_json::from_str(&target.read_line()).unwrap();
    dump_to(target.pid(), &after);
    let (new, reused) = (
        truth["new"].as_u64().unwrap(),
        truth["reused"].as_u64().unwrap(),
    );
    assert!(
        reused * 4 > new,
        "{}: only {reused} of {new} new items took an old one's address: the fixture proves nothing",
        b.name
    );
    let diff = diff_json(&[&a, &after], &["--all"]);
    assert_eq!(new_of(&diff, "__main__.Item"), new, "{}: new items", b.name);
    assert_eq!(
        new_of(&diff, "__main__.Stay"),
        0,
        "{}: objects that grew older",
        b.name
    );

    // The same snapshots without their ages: the reused addresses look like old items.
    let mut without: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&after).unwrap()).unwrap();
    without["objects"]
        .as_object_mut()
        .unwrap()
        .remove("gc_age")
        .expect("the snapshot has a gc_age column");
    let stripped = dir.join("b-without-ages.json");
    std::fs::write(&stripped, serde_json::to_vec(&without).unwrap()).unwrap();
    let blind = new_of(&diff_json(&[&a, &stripped], &["--all"]), "__main__.Item");
    assert_eq!(
        blind,
        new - reused,
        "{}: new items seen by address and type only",
        b.name
    );
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "{}: {new} new items, {reused} at an old item's address: diff counts {new} (by \
         address and type only: {blind})",
        b.name
    );
}

per_build! {
    reused_addresses_are_new:
    reuse_2_7_18 => "2.7.18",
    reuse_3_8_18 => "3.8.18",
    reuse_3_12_1 => "3.12.1",
    reuse_3_13_0 => "3.13.0",
    reuse_sid_3_14 => "sid-3.14",
    reuse_sid_3_15 => "sid-3.15",
}
