//! `heapsnap record` on a target that grows (fixtures/growing.py), `diff FILE@N` between two of
//! its samples, and `heapsnap growth` over the series; Ctrl-C and the target's exit end a
//! recording with a complete file.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{build, fixture, heapsnap, process_state, Target};
use serde_json::Value;

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("heapsnap-record-{}-{name}", std::process::id()))
}

/// The lines of a series, parsed; every one must be a whole sample.
fn samples(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.ends_with('\n'), "the series ends mid-line");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

/// Count of type `name` in a sample (0 if absent).
fn count(sample: &Value, name: &str) -> u64 {
    sample["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .map(|t| t["count"].as_u64().unwrap())
        .unwrap_or(0)
}

fn growing_target(python: &Path) -> Target {
    Target::start(python, &[fixture("growing.py").to_str().unwrap()])
}

#[test]
fn record_then_diff_two_samples_and_the_trend() {
    for name in ["3.12.1", "2.7.18"] {
        let Some(b) = build(name) else { continue };
        let target = growing_target(&b.python);
        let series = temp(&format!("{name}.jsonl"));
        let out = heapsnap()
            .args(["record", &target.pid().to_string()])
            .args(["--interval", "0.25", "--duration", "2.5", "-o"])
            .arg(&series)
            .output()
            .unwrap();
        common::assert_succeeded(&out);
        let mode = std::fs::metadata(&series).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
        let lines = samples(&series);
        // 2.5 s at 0.25 s: 10 samples, give or take one at the edges.
        assert!(
            (9..=11).contains(&lines.len()),
            "{name}: {} samples",
            lines.len()
        );
        for (i, s) in lines.iter().enumerate() {
            assert_eq!(s["format"], "heapsnap-series");
            assert_eq!(s["sample"], i as u64);
            assert!(s["meta"]["pause_ms"].as_f64().unwrap() > 0.0);
            assert!(s["meta"]["memory"]["rss"].as_u64().unwrap() > 0);
        }
        let leaky: Vec<u64> = lines.iter().map(|s| count(s, "__main__.Leaky")).collect();
        assert!(leaky.windows(2).all(|w| w[0] <= w[1]), "{name}: {leaky:?}");
        assert!(
            leaky[leaky.len() - 1] >= leaky[0] + 5000,
            "{name}: {leaky:?}"
        );
        let steady: Vec<u64> = lines.iter().map(|s| count(s, "__main__.Steady")).collect();
        assert!(steady.iter().all(|&c| c == 500), "{name}: {steady:?}");

        // diff FILE@0 FILE@-1: the Leaky row's delta is the two lines' own difference.
        let at = |n: &str| format!("{}@{n}", series.display());
        let out = heapsnap()
            .args(["diff", &at("0"), &at("-1"), "--json"])
            .output()
            .unwrap();
        common::assert_succeeded(&out);
        let d: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(d["per_object"], false);
        let row = d["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "__main__.Leaky")
            .expect("a Leaky row");
        assert_eq!(row["count_before"], leaky[0]);
        assert_eq!(row["count_after"], leaky[leaky.len() - 1]);
        assert!(!d["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "__main__.Steady"));
        // @1 and @-2 name samples too; text output says the comparison is by type.
        let out = heapsnap()
            .args(["diff", &at("1"), &at("-2")])
            .output()
            .unwrap();
        common::assert_succeeded(&out);
        assert!(String::from_utf8_lossy(&out.stdout).contains("By type only"));

        // Bad sample numbers: one line, exit 9.
        for bad in ["99", "-99", "x"] {
            let out = heapsnap()
                .args(["diff", &at("0"), &at(bad)])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(9), "@{bad}");
            let err = String::from_utf8(out.stderr).unwrap();
            assert_eq!(err.lines().count(), 1, "@{bad}: {err}");
        }

        // The trend: Leaky first, at about 5,000 a second; Steady not listed.
        let out = heapsnap()
            .args(["growth", "--json"])
            .arg(&series)
            .output()
            .unwrap();
        common::assert_succeeded(&out);
        let g: Value = serde_json::from_slice(&out.stdout).unwrap();
        let trends = g["trends"].as_array().unwrap();
        let names: Vec<&str> = trends.iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"__main__.Leaky"), "{name}: {names:?}");
        assert!(!names.contains(&"__main__.Steady"), "{name}: {names:?}");
        let leak = trends
            .iter()
            .find(|t| t["name"] == "__main__.Leaky")
            .unwrap();
        let per_minute = leak["count_per_minute"].as_f64().unwrap();
        assert!(
            (150_000.0..=450_000.0).contains(&per_minute),
            "{name}: {per_minute} Leaky a minute (the fixture makes 300,000)"
        );
        let out = heapsnap().arg("growth").arg(&series).output().unwrap();
        common::assert_succeeded(&out);
        assert!(String::from_utf8_lossy(&out.stdout).contains("__main__.Leaky"));
        let _ = std::fs::remove_file(&series);
    }
}

#[test]
fn record_ends_cleanly_on_sigint_and_when_the_target_exits() {
    let Some(b) = build("3.12.1") else { return };
    let target = growing_target(&b.python);
    let series = temp("sigint.jsonl");
    let child = Command::new(env!("CARGO_BIN_EXE_heapsnap"))
        .args([
            "record",
            &target.pid().to_string(),
            "--interval",
            "0.2",
            "-o",
        ])
        .arg(&series)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.lines().last().unwrap().contains("interrupted"), "{err}");
    let n = samples(&series).len();
    assert!(n >= 3, "{n} samples");
    assert_ne!(process_state(target.pid()), 'T', "target left stopped");

    // The target exits during the recording: the file is complete, and the exit says so.
    let mut target = target;
    let pid = target.pid();
    let child = Command::new(env!("CARGO_BIN_EXE_heapsnap"))
        .args(["record", &pid.to_string(), "--interval", "0.2", "-o"])
        .arg(&series)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    target.child.kill().unwrap();
    target.child.wait().unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(&format!("process {pid} exited")), "{err}");
    assert!(!samples(&series).is_empty());
    let _ = std::fs::remove_file(&series);
}

#[test]
fn a_series_cut_mid_line_reads_without_its_last_line() {
    let Some(b) = build("3.12.1") else { return };
    let target = growing_target(&b.python);
    let series = temp("cut.jsonl");
    let out = heapsnap()
        .args(["record", &target.pid().to_string()])
        .args(["--interval", "0.2", "--duration", "1", "-q", "-o"])
        .arg(&series)
        .output()
        .unwrap();
    common::assert_succeeded(&out);
    assert!(out.stderr.len() < 200, "-q prints only the last line");
    let whole = samples(&series).len();
    let mut text = std::fs::read(&series).unwrap();
    text.extend_from_slice(b"{\"format\":\"heapsnap-series\",\"sam");
    std::fs::write(&series, &text).unwrap();
    let out = heapsnap()
        .args(["diff", &format!("{}@0", series.display())])
        .arg(format!("{}@-1", series.display()))
        .args(["--json"])
        .output()
        .unwrap();
    common::assert_succeeded(&out);
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["total"]["count_after"], samples_total(&series, whole - 1));
    let _ = std::fs::remove_file(&series);
}

/// The object count of sample `i` (of the whole lines).
fn samples_total(path: &Path, i: usize) -> u64 {
    let text = std::fs::read_to_string(path).unwrap();
    let line = text.lines().nth(i).unwrap();
    let v: Value = serde_json::from_str(line).unwrap();
    v["meta"]["objects"].as_u64().unwrap()
}
