//! `heapsnap diff` and `heapsnap demo` against a real leaking process, and every kind of bad
//! snapshot file.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{assert_succeeded, build, diff_json, dump_to as dump, heapsnap, Target};
use serde_json::Value;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("heapsnap-difftest-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn row<'a>(d: &'a Value, name: &str) -> &'a Value {
    d["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no row {name}"))
}

/// Snapshots of the example service around 20 leaking requests: the diff counts exactly the
/// 20 reports, and their chains go through the registry.
fn leak_is_found(python_build: &'static str) {
    let Some(b) = build(python_build) else { return };
    let d = dir(python_build);
    let service = common::fixture("example_service.py");
    let mut target = Target::start(&b.python, &[service.to_str().unwrap(), "50"]);
    let (a, bb, c) = (d.join("a.json"), d.join("b.json"), d.join("c.json"));
    dump(target.pid(), &a);
    target.send("request 20\n");
    assert_eq!(target.read_line().trim(), "ok");
    dump(target.pid(), &bb);
    target.send("request 20\n");
    assert_eq!(target.read_line().trim(), "ok");
    dump(target.pid(), &c);

    let two = diff_json(&[&a, &bb], &[]);
    let report = row(&two, "__main__.Report");
    assert_eq!(report["count_before"], 50);
    assert_eq!(report["count_after"], 70);
    assert_eq!(report["new_objects"], 20);
    // Each report holds 50 row dicts: +1000 dicts.
    assert_eq!(row(&two, "dict")["new_objects"].as_u64().unwrap(), 1000);
    let chains = two["chains"].as_array().unwrap();
    let report_chain = chains.iter().find(|c| c["type_name"] == "__main__.Report");
    let dict_chain = chains.iter().find(|c| c["type_name"] == "dict").unwrap();
    let path = dict_chain["path"].as_str().unwrap();
    assert!(
        path.starts_with("sys.modules['__main__'].Registry.items[") && path.contains("].rows["),
        "unexpected chain {path}"
    );
    if let Some(c) = report_chain {
        assert!(c["path"]
            .as_str()
            .unwrap()
            .starts_with("sys.modules['__main__'].Registry.items["));
    }

    // Three snapshots: the reports new in B are still alive in C.
    let three = diff_json(&[&a, &bb, &c], &[]);
    assert_eq!(three["survivors"], true);
    assert_eq!(row(&three, "__main__.Report")["new_objects"], 20);
    assert_eq!(row(&three, "__main__.Report")["count_after"], 90);

    // Grouping by module puts the leak under __main__.
    let out = heapsnap()
        .arg("diff")
        .args([&a, &bb])
        .args(["--by", "module", "--json"])
        .output()
        .unwrap();
    let by_module: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(row(&by_module, "__main__")["new_objects"], 20);

    // The human table names the type with its +20.
    let out = heapsnap().arg("diff").args([&a, &bb]).output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    let line = table
        .lines()
        .find(|l| l.ends_with("__main__.Report"))
        .unwrap();
    assert!(line.contains("+20"), "{line}");
}

#[test]
fn diff_finds_the_leak_3_11_7() {
    leak_is_found("3.11.7");
}

#[test]
fn diff_finds_the_leak_3_12_1() {
    leak_is_found("3.12.1");
}

#[test]
fn diff_finds_the_leak_3_13_0() {
    leak_is_found("3.13.0");
}

#[test]
fn demo_tells_the_whole_story() {
    let Some(b) = build("3.12.1") else { return };
    let d = dir("demo");
    let out = heapsnap()
        .args(["demo", "--python"])
        .arg(&b.python)
        .arg("--dir")
        .arg(&d)
        .output()
        .unwrap();
    assert_succeeded(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("sys.modules['__main__'].Registry.items["),
        "{text}"
    );
    let report = text
        .lines()
        .find(|l| l.ends_with("__main__.Report"))
        .expect("Report row");
    assert!(
        report.contains("+40") && report.trim_end().ends_with("20  __main__.Report"),
        "{report}"
    );
    assert!(d.join("c.json").exists());
}

fn assert_bad(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(9), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in {stderr}");
}

#[test]
fn bad_snapshot_files_are_refused_in_one_line() {
    let Some(b) = build("3.12.1") else { return };
    let d = dir("bad");
    let target = Target::idle(&b.python, "");
    let good = d.join("good.json");
    dump(target.pid(), &good);
    let text = std::fs::read_to_string(&good).unwrap();

    let run = |other: &Path| {
        heapsnap()
            .arg("diff")
            .arg(&good)
            .arg(other)
            .output()
            .unwrap()
    };
    assert_bad(&run(&d.join("missing.json")), "No such file");

    // (file, its text, what the one-line error says)
    let cases = [
        ("truncated", text[..text.len() / 2].to_string(), "truncated"),
        (
            "foreign",
            r#"{"name": "not a snapshot", "items": [1, 2, 3]}"#.to_string(),
            "not a heapsnap snapshot",
        ),
        (
            "garbage",
            "this is not json at all".to_string(),
            "not valid JSON",
        ),
        (
            "newer",
            text.replacen(
                &format!("\"schema_version\":{}", heapsnap::snapshot::SCHEMA_VERSION),
                "\"schema_version\":99",
                1,
            ),
            "schema version 99 is newer",
        ),
        (
            "broken",
            text.replacen("\"parent\":[", "\"parent\":[999999999,", 1),
            "malformed snapshot",
        ),
    ];
    for (name, contents, error) in cases {
        let path = d.join(format!("{name}.json"));
        std::fs::write(&path, contents).unwrap();
        assert_bad(&run(&path), error);
    }
}

#[test]
fn snapshots_of_different_processes_warn() {
    let Some(b) = build("3.12.1") else { return };
    let d = dir("two");
    let (t1, t2) = (Target::idle(&b.python, ""), Target::idle(&b.python, ""));
    let (a, bb) = (d.join("a.json"), d.join("b.json"));
    dump(t1.pid(), &a);
    dump(t2.pid(), &bb);
    let out = heapsnap().arg("diff").args([&a, &bb]).output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: snapshots come from different processes"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
