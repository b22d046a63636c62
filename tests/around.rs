//! `heapsnap around`: snapshots around a request in one command, end to end on the matplotlib
//! service (fixtures/report_service.py), driven with curl; and what a failing command does.

mod common;

use std::path::{Path, PathBuf};

use common::{build, heapsnap, Target};
use serde_json::Value;

fn venv_python(python: &Path) -> Option<PathBuf> {
    common::cached_env("matplotlib-venv", python)
}

#[test]
fn around_a_leaky_request_names_the_figures_and_gcf() {
    let Some(b) = build("3.12.1") else { return };
    let Some(python) = venv_python(&b.python) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("heapsnap-around-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let service = common::fixture("report_service.py");
    let target = Target::start(&python, &[service.to_str().unwrap()]);
    let url = format!("http://127.0.0.1:{}/report", common::port_of(target.pid()));
    let run = |json: bool| {
        let mut command = heapsnap();
        command.args([
            "around",
            &target.pid().to_string(),
            "--repeat",
            "8",
            "--dir",
        ]);
        command.arg(&dir);
        if json {
            command.arg("--json");
        }
        command.args(["--", "curl", "-sf", "-o", "/dev/null", &url]);
        let out = command.output().unwrap();
        common::assert_succeeded(&out);
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (text, steps) = run(false);
    // The steps on stderr, the three snapshots kept.
    assert!(steps.contains("8 times"), "{steps}");
    for name in ["a.json", "b.json", "c.json"] {
        assert!(dir.join(name).is_file(), "{name} not kept");
    }
    // The comparison opens with the suspect: the 8 figures of the first runs, in Gcf.figs.
    let first: Vec<&str> = text.lines().take(4).collect();
    assert!(first[0].starts_with("Leak suspects"), "{text}");
    assert!(
        first[1].contains("Gcf.figs[*]") && first[1].contains("8 new"),
        "{text}"
    );
    assert!(first[2].contains("8 × matplotlib.figure.Figure"), "{text}");

    // The same as JSON: exactly 8 Figures new in B and alive in C (survivors).
    let (json, _) = run(true);
    let d: Value = serde_json::from_str(&json).unwrap();
    let figure = d["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "matplotlib.figure.Figure")
        .expect("a Figure row");
    assert_eq!(figure["new_objects"], 8, "{figure}");
    assert!(d["suspects"][0]["pattern"]
        .as_str()
        .unwrap()
        .contains("Gcf.figs"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn around_stops_at_a_failing_command_and_keeps_the_snapshots() {
    let Some(b) = build("3.12.1") else { return };
    let target = Target::idle(&b.python, "");
    let dir = std::env::temp_dir().join(format!("heapsnap-around-fail-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = heapsnap()
        .args([
            "around",
            &target.pid().to_string(),
            "--repeat",
            "3",
            "--dir",
        ])
        .arg(&dir)
        .args(["--", "sh", "-c", "echo no such page >&2; exit 22"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(10));
    let err = String::from_utf8(out.stderr).unwrap();
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with("heapsnap: error:")
            && last.contains("exit status: 22: no such page")
            && last.contains("run 1 of 3"),
        "{err}"
    );
    assert!(dir.join("a.json").is_file());
    assert!(!dir.join("b.json").exists());
    // A command that cannot start.
    let out = heapsnap()
        .args(["around", &target.pid().to_string(), "--dir"])
        .arg(&dir)
        .args(["--", "/nonexistent/command"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(10));
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not start"));
    let _ = std::fs::remove_dir_all(&dir);
}
