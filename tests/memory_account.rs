//! Where the target's RSS is (`meta.memory`): each part grows by what the fixture adds to it,
//! on every kind of build (pools of 4 KiB and 16 KiB, shared and static libpython, stripped).

#[macro_use]
mod common;

use common::{fixture, Build, Target};
use serde_json::Value;

const MB: i64 = 1 << 20;

/// The `memory` object of a fresh snapshot of `target`.
fn memory(target: &Target, name: &str, step: &str) -> Value {
    let path = std::env::temp_dir().join(format!(
        "heapsnap-memory-{}-{name}-{step}.json",
        std::process::id()
    ));
    common::dump_to(target.pid(), &path);
    let snap: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let _ = std::fs::remove_file(&path);
    snap["meta"]["memory"].clone()
}

fn grew(a: &Value, b: &Value, part: &str) -> i64 {
    b[part].as_i64().unwrap() - a[part].as_i64().unwrap()
}

fn parts_grow_by_what_is_added(b: &Build) {
    let name = b.name;
    let mut target = Target::start(&b.python, &[fixture("memory_parts.py").to_str().unwrap()]);
    let step = |target: &mut Target, command: &str| {
        target.send(&format!("{command}\n"));
        assert_eq!(target.read_line().trim(), "ok", "{name}: {command}");
    };
    let start = memory(&target, name, "start");
    let parts = ["files", "thread_stacks", "anonymous"];
    let sum: i64 = parts.iter().map(|p| start[p].as_i64().unwrap()).sum();
    assert_eq!(sum, start["rss"].as_i64().unwrap(), "{name}: {start}");
    assert!(
        start["allocator_pools"].as_i64().unwrap() > 0,
        "{name}: no pools found"
    );

    step(&mut target, "outside");
    let outside = memory(&target, name, "outside");
    let d = grew(&start, &outside, "outside_objects");
    assert!(
        (60 * MB..72 * MB).contains(&d),
        "{name}: outside grew {d}: {outside}"
    );
    let d = grew(&start, &outside, "objects");
    assert!(d.abs() < 2 * MB, "{name}: objects grew {d}");

    step(&mut target, "free");
    let freed = memory(&target, name, "free");
    let free = grew(&outside, &freed, "allocator_free");
    assert!(free > 8 * MB, "{name}: allocator free grew {free}: {freed}");
    let d = grew(&outside, &freed, "outside_objects");
    assert!(
        d.abs() < 4 * MB,
        "{name}: outside grew {d} when objects were freed"
    );

    step(&mut target, "objects");
    let more = memory(&target, name, "objects");
    let d = grew(&freed, &more, "objects");
    assert!(d > 8 * MB, "{name}: objects grew {d}");
    // New small objects reuse the free blocks first.
    let reused = grew(&freed, &more, "allocator_free");
    assert!(
        reused < 0,
        "{name}: allocator free grew {reused} with new objects"
    );
    eprintln!("{name}: start {start}\n  +outside {outside}\n  +free {freed}\n  +objects {more}");
}

per_build!(parts_grow_by_what_is_added:
    parts_2_7 => "2.7.18",
    parts_3_8 => "3.8.18",
    parts_debian_3_11 => "debian-3.11",
    parts_3_12 => "3.12.1",
    parts_3_13 => "3.13.0",
    parts_sid_3_14 => "sid-3.14",
    parts_sid_3_15 => "sid-3.15",
);
