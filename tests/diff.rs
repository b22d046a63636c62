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

    // Grouped by the module of the retainer path, all that the reports hold counts for
    // __main__: each report, its rows list, its 50 row dicts with their labels, and its title
    // (103 new objects per report); grouped by the module of the type, only the reports.
    let by_module = diff_json(&[&a, &bb], &["--by", "module"]);
    assert_eq!(row(&by_module, "__main__")["new_objects"], 20 * 103);
    let by_type_module = diff_json(&[&a, &bb], &["--by", "type-module"]);
    assert_eq!(row(&by_type_module, "__main__")["new_objects"], 20);

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

/// `heapsnap diff ARGS`, with its exit code, stdout and stderr.
fn run_diff(files: &[&Path], extra: &[&str]) -> (Option<i32>, String, String) {
    let out = heapsnap()
        .arg("diff")
        .args(files)
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// fixtures/audit_app (myapp.audit.AuditEntry, legacy.AuditEntry, myapp.billing.Receipt)
/// before and after 200 audit entries and one receipt.
#[test]
fn type_names_resolve_and_module_rows_follow_the_retainer_path() {
    let Some(b) = build("3.12.1") else { return };
    let d = dir("audit");
    let app = common::fixture("audit_app/serve.py");
    let mut target = Target::start(&b.python, &[app.to_str().unwrap()]);
    let (a, bb) = (d.join("a.json"), d.join("b.json"));
    dump(target.pid(), &a);
    for command in ["audit 200\n", "receipt\n"] {
        target.send(command);
        assert_eq!(target.read_line().trim(), "ok");
    }
    dump(target.pid(), &bb);

    // A dotted suffix, and an unqualified name, each naming one type.
    for (given, full, path) in [
        (
            "audit.AuditEntry",
            "myapp.audit.AuditEntry",
            "sys.modules['myapp.audit'].entries[",
        ),
        (
            "Receipt",
            "myapp.billing.Receipt",
            "sys.modules['myapp.billing'].receipts[",
        ),
    ] {
        let diffed = diff_json(&[&a, &bb], &["--type", given]);
        let chains = diffed["chains"].as_array().unwrap();
        assert!(!chains.is_empty(), "--type {given}: no chain");
        for c in chains {
            assert_eq!(c["type_name"], full, "--type {given}");
            assert!(c["path"].as_str().unwrap().starts_with(path), "{c}");
        }
    }
    // Two types end with `.AuditEntry`: both are named.
    let (code, _, stderr) = run_diff(&[&a, &bb], &["--type", "AuditEntry"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("ambiguous")
            && stderr.contains("legacy.AuditEntry")
            && stderr.contains("myapp.audit.AuditEntry"),
        "{stderr}"
    );
    // A misspelt name: close names are suggested.
    let (code, _, stderr) = run_diff(&[&a, &bb], &["--type", "AuditEntri"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("did you mean") && stderr.contains("myapp.audit.AuditEntry"),
        "{stderr}"
    );

    // By the package of the type, only the 201 instances of myapp's classes count for myapp;
    // by the retainer path, their notes (builtin str) do too.
    let by_type_module = diff_json(&[&a, &bb], &["--by", "type-module"]);
    assert_eq!(row(&by_type_module, "myapp")["new_objects"], 201);
    assert!(
        row(&by_type_module, "builtins")["new_objects"]
            .as_u64()
            .unwrap()
            >= 200
    );
    let by_module = diff_json(&[&a, &bb], &["--by", "module"]);
    assert_eq!(by_module["group_by"], "module");
    let myapp = row(&by_module, "myapp")["new_objects"].as_u64().unwrap();
    assert!(myapp >= 401, "{myapp} new objects under myapp");
    let rows = by_module["rows"].as_array().unwrap();
    let counted: u64 = rows
        .iter()
        .map(|r| r["new_objects"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, by_module["total"]["new_objects"].as_u64().unwrap());

    // One new receipt is "1 new object", never "1 new objects".
    let (code, table, _) = run_diff(&[&a, &bb], &["--attachments", "50"]);
    assert_eq!(code, Some(0));
    assert!(
        table.contains("1 new myapp.billing.Receipt (1 new object, "),
        "{table}"
    );
    assert!(!table.contains(" 1 new objects"), "{table}");
}

/// Warnings that the comparison may not mean what it seems, each once; and a diff of a
/// snapshot with itself says there is no change.
#[test]
fn order_and_provenance_warnings_and_no_change() {
    let Some(b) = build("3.12.1") else { return };
    let d = dir("warnings");
    let (t1, t2) = (Target::idle(&b.python, ""), Target::idle(&b.python, ""));
    let (gc, a, other) = (d.join("gc.json"), d.join("a.json"), d.join("other.json"));
    let out = heapsnap()
        .args(["dump", &t1.pid().to_string(), "-q", "--mode", "gc", "-o"])
        .arg(&gc)
        .output()
        .unwrap();
    assert_succeeded(&out);
    dump(t1.pid(), &a);
    dump(t2.pid(), &other);

    // In order, the same process: no warning.
    let (code, _, stderr) = run_diff(&[&gc, &a], &[]);
    assert_eq!((code, stderr.lines().count()), (Some(0), 1), "{stderr}");
    assert!(stderr.contains("different modes"), "{stderr}");
    // Swapped: one line says so.
    let (code, _, stderr) = run_diff(&[&other, &a], &[]);
    assert_eq!(code, Some(0));
    let swapped: Vec<&str> = stderr.lines().filter(|l| l.contains("was taken")).collect();
    assert_eq!(swapped.len(), 1, "{stderr}");
    assert!(
        swapped[0].starts_with("heapsnap: warning: snapshot A was taken")
            && swapped[0].contains("after snapshot B"),
        "{stderr}"
    );
    // A (gc) against B (full, same process) and C (full, another process): the mode warning
    // is due twice, with the process warning between; it is printed once.
    let (code, _, stderr) = run_diff(&[&gc, &a, &other], &[]);
    assert_eq!(code, Some(0));
    assert_eq!(stderr.matches("different modes").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("different processes").count(), 1, "{stderr}");

    let (code, table, stderr) = run_diff(&[&a, &a], &[]);
    assert_eq!((code, stderr.as_str()), (Some(0), ""));
    assert!(
        table.starts_with("no change between the snapshots: was it the right process?"),
        "{table}"
    );
    let (_, table, _) = run_diff(&[&gc, &a], &[]);
    assert!(!table.contains("no change"), "{table}");
}
