//! `heapsnap demo` on every kind of interpreter: found on PATH or given with --python, Python 2
//! as well as 3, and a closing sentence drawn from the diff it printed.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_succeeded, build, heapsnap};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("heapsnap-demotest-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Run the demo with `requests` requests, `python` given or (None) found on `path`; its stdout.
fn demo(python: Option<&Path>, path: Option<&Path>, requests: u32, out_dir: &Path) -> String {
    let mut cmd = heapsnap();
    cmd.args(["demo", "--requests", &requests.to_string(), "--dir"])
        .arg(out_dir);
    if let Some(p) = python {
        cmd.arg("--python").arg(p);
    }
    if let Some(p) = path {
        cmd.env("PATH", p);
    }
    let out = cmd.output().unwrap();
    assert_succeeded(&out);
    String::from_utf8(out.stdout).unwrap()
}

/// The demo ran on `version`, and its last line states what its diff table shows: the total
/// of survivors, and the largest attachment point with its count of new reports.
fn check_story(text: &str, version: &str, requests: u32) {
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains(&format!("(Python {version}, pid")),
        "{text}"
    );
    let number = |s: &str| s.replace(',', "").parse::<u64>().unwrap();
    let total = text
        .lines()
        .find(|l| l.trim_end().ends_with("  total"))
        .expect("total row");
    let columns: Vec<&str> = total.split_whitespace().collect();
    let survivors = number(columns[columns.len() - 2]);
    let conclusion = text.lines().last().unwrap();
    assert!(
        conclusion.starts_with(&format!("{} objects (", columns[columns.len() - 2])),
        "{conclusion} / {total}"
    );
    assert!(survivors >= requests as u64, "{total}");
    // The diff opens with the answer: one suspect, the registry, holding the reports.
    let suspects = text
        .lines()
        .skip_while(|l| !l.starts_with("Leak suspects"))
        .nth(1)
        .expect("a leak suspects section");
    assert!(
        suspects.contains(&format!(
            "1. sys.modules['__main__'].Registry.items[*]: {requests} new __main__.Report retaining"
        )),
        "{suspects}"
    );
    assert!(
        conclusion.contains(&format!(
            "hang off sys.modules['__main__'].Registry.items, which holds {requests} new \
             __main__.Report"
        )),
        "{conclusion}"
    );
}

#[test]
fn demo_runs_on_python_2() {
    let Some(b) = build("2.7.18") else { return };
    let text = demo(Some(&b.python), None, 20, &dir("py2"));
    check_story(&text, "2.7", 20);
}

#[test]
fn demo_finds_python3_on_path_and_concludes_from_its_diff() {
    let Some(b) = build("3.13.0") else { return };
    // A PATH holding nothing but a `python3`: the demo must find it there.
    let bin = dir("bin");
    let link = bin.join("python3");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&b.python, &link).unwrap();
    let text = demo(None, Some(&bin), 7, &dir("path"));
    assert!(
        text.starts_with("Started the example service with python3 "),
        "{text}"
    );
    check_story(&text, "3.13", 7);
}

#[test]
fn demo_without_any_python_says_so() {
    let empty = dir("empty");
    let out = heapsnap()
        .args(["demo", "--dir"])
        .arg(&empty)
        .env("PATH", &empty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no Python found on PATH"), "{stderr}");
}
