//! `heapsnap dump -v`: the discovery trail on stderr names the file holding the runtime, the
//! version, the layout table, what the debug offsets said, the stop and the GC lists; without
//! -v, nothing of it is printed.

mod common;

use std::process::Command;

use common::{assert_succeeded, build, heapsnap, Target};

/// `major.minor.micro` of an interpreter, as it reports it itself.
fn version_of(python: &std::path::Path) -> String {
    let out = Command::new(python)
        .args([
            "-c",
            "import sys; sys.stdout.write('%d.%d.%d' % sys.version_info[:3])",
        ])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// `dump -v` of an idle target of build `name`: its trail checked against the target itself.
fn trail_names_binary_version_and_table(name: &'static str, has_debug_offsets: bool) {
    let Some(b) = build(name) else { return };
    let version = version_of(&b.python);
    // Python 2 and 3 alike.
    let target = Target::start(
        &b.python,
        &[
            "-c",
            "import sys, time\nsys.stdout.write('ready\\n')\nsys.stdout.flush()\ntime.sleep(60)",
        ],
    );
    let pid = target.pid().to_string();
    let out_file = std::env::temp_dir().join(format!("heapsnap-verbose-{name}.json"));
    let out = heapsnap()
        .args(["dump", &pid, "-v", "-q", "-o"])
        .arg(&out_file)
        .output()
        .unwrap();
    assert_succeeded(&out);
    let trail = String::from_utf8(out.stderr).unwrap();
    assert!(
        trail.lines().all(|l| l.starts_with("heapsnap: ")),
        "{trail}"
    );

    // The file named as holding the runtime is one the target has mapped, and a Python one.
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let runtime_line = trail
        .lines()
        .find(|l| l.contains(": runtime at ") || l.contains(": no _PyRuntime; symbol"))
        .unwrap_or_else(|| panic!("no runtime line in {trail}"));
    let binary = runtime_line["heapsnap: ".len()..]
        .split(": ")
        .next()
        .unwrap();
    assert!(
        maps.lines().any(|l| l.ends_with(binary)),
        "{binary} not mapped"
    );
    let file_name = binary.rsplit('/').next().unwrap();
    assert!(
        file_name.starts_with("libpython") || file_name.starts_with("python"),
        "{binary}"
    );

    let (major_minor, _) = version.rsplit_once('.').unwrap();
    assert!(
        trail.contains(&format!("heapsnap: Python {version} (from ")),
        "{trail}"
    );
    assert!(
        trail.contains(&format!("heapsnap: layout table for {major_minor} (")),
        "{trail}"
    );
    let debug = if has_debug_offsets {
        "heapsnap: _Py_DebugOffsets: validated, equal to the table's"
    } else {
        "heapsnap: _Py_DebugOffsets: none (before 3.13)"
    };
    assert!(trail.contains(debug), "{trail}");
    assert!(
        trail.contains("heapsnap: stop 1: 1 thread(s) stopped (thread list read "),
        "{trail}"
    );
    assert!(
        trail.contains("heapsnap: GC lists (interpreter 0: "),
        "{trail}"
    );

    // Without -v: nothing on stderr.
    let quiet = heapsnap()
        .args(["dump", &pid, "-q", "-o"])
        .arg(&out_file)
        .output()
        .unwrap();
    assert_succeeded(&quiet);
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "");
    let _ = std::fs::remove_file(&out_file);
}

#[test]
fn verbose_trail_2_7_18() {
    trail_names_binary_version_and_table("2.7.18", false);
}

#[test]
fn verbose_trail_3_12_1() {
    trail_names_binary_version_and_table("3.12.1", false);
}

#[test]
fn verbose_trail_3_13_0() {
    trail_names_binary_version_and_table("3.13.0", true);
}

#[test]
fn verbose_trail_debian_3_11() {
    trail_names_binary_version_and_table("debian-3.11", false);
}

#[test]
fn verbose_trail_sid_3_13() {
    trail_names_binary_version_and_table("sid-3.13", true);
}

#[test]
fn verbose_trail_sid_3_14() {
    trail_names_binary_version_and_table("sid-3.14", true);
}

#[test]
fn verbose_trail_sid_3_15() {
    trail_names_binary_version_and_table("sid-3.15", true);
}

#[test]
fn verbose_trail_of_a_process_that_is_not_python() {
    let mut child = Command::new("sleep").arg("60").spawn().unwrap();
    // Until the loader has mapped libc, the executable's mappings are still being made (the
    // trail then says they do not match its segments).
    let maps = format!("/proc/{}/maps", child.id());
    let started = std::time::Instant::now();
    while !std::fs::read_to_string(&maps).is_ok_and(|m| m.contains("libc"))
        && started.elapsed() < std::time::Duration::from_secs(5)
    {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let out = heapsnap()
        .args(["dump", &child.id().to_string(), "-v"])
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(out.status.code(), Some(5));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.len() >= 3, "{stderr}");
    assert!(
        lines[0].contains("files that may hold the runtime: "),
        "{stderr}"
    );
    assert!(lines[1].contains(": no CPython runtime"), "{stderr}");
    assert!(
        lines.last().unwrap().contains("is not a Python process"),
        "{stderr}"
    );
}
