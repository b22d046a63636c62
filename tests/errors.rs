//! Every failure is one clear line on stderr with its documented exit code, no panic, no
//! hang, and the target is never left stopped.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{assert_succeeded, build, heapsnap, limited_cgroup, process_state, Target};

fn dump(pid: i32) -> Output {
    heapsnap()
        .args(["dump", &pid.to_string()])
        .output()
        .unwrap()
}

/// One line on stderr, starting with `heapsnap: error:`, and the expected exit code.
fn assert_failure(out: &Output, code: i32, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "expected one line, got: {stderr}"
    );
    assert!(stderr.starts_with("heapsnap: error: "), "{stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in {stderr:?}");
}

#[test]
fn no_such_process() {
    // Pids above pid_max never exist.
    assert_failure(&dump(i32::MAX - 1), 3, "no process with pid");
}

#[test]
fn not_a_python_process() {
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let out = dump(sleeper.id() as i32);
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    assert_failure(&out, 5, "is not a Python process");
}

#[test]
fn permission_denied_without_ptrace_rights() {
    let Some(b) = build("3.12.1") else { return };
    let target = Target::idle(&b.python, "");
    // Drop to an unprivileged user: no root, no CAP_SYS_PTRACE over a root-owned process.
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(env!("CARGO_BIN_EXE_heapsnap"))
        .args(["dump", &target.pid().to_string()])
        .output()
        .expect("setpriv (util-linux) is needed for this test");
    assert_failure(&out, 4, "CAP_SYS_PTRACE");
    assert_ne!(target.state(), 't');
}

/// Build fixtures/fake_python.c (a process exporting `_PyRuntime` and `Py_Version` like an
/// interpreter) for a given version and free-threading flag.
fn fake_python(version_hex: &str, free_threaded: u8) -> std::path::PathBuf {
    let out = std::env::temp_dir().join(format!(
        "heapsnap-fake-python-{version_hex}-{free_threaded}-{}",
        std::process::id()
    ));
    let status = Command::new("gcc")
        .arg(common::fixture("fake_python.c"))
        .arg(format!("-DVERSION_HEX={version_hex}"))
        .arg(format!("-DFREE_THREADED={free_threaded}"))
        .arg("-o")
        .arg(&out)
        .status()
        .expect("gcc");
    assert!(status.success());
    out
}

#[test]
fn unsupported_versions_are_refused_by_name() {
    // A future 3.16 that heapsnap has no layout for.
    let target = Target::start(&fake_python("0x031000f0", 0), &[]);
    assert_failure(
        &dump(target.pid()),
        6,
        "Python 3.16.0 is not supported (supported: 2.7 and 3.6 to 3.15)",
    );
    // A free-threaded 3.14 build.
    let target = Target::start(&fake_python("0x030e0af0", 1), &[]);
    assert_failure(
        &dump(target.pid()),
        6,
        "Python 3.14.10 is a free-threaded build",
    );
}

#[test]
fn target_keeps_running_after_a_dump() {
    let Some(b) = build("3.12.1") else { return };
    // The target prints a tick every 5 ms; after the dump it must go on ticking.
    let mut target = Target::start(
        &b.python,
        &["-c", "import time\nprint('ready', flush=True)\ni = 0\nwhile True:\n    i += 1\n    print(i, flush=True)\n    time.sleep(0.005)"],
    );
    let before: u64 = target.read_line().trim().parse().unwrap();
    let out = dump(target.pid());
    assert_succeeded(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Python 3.12.1"), "{stdout}");
    assert!(stdout.contains(" int"), "census table lists int: {stdout}");
    std::thread::sleep(Duration::from_millis(100));
    let mut last = 0;
    for _ in 0..10 {
        last = target.read_line().trim().parse().unwrap();
    }
    assert!(
        last > before + 5,
        "target stopped ticking ({before} -> {last})"
    );
    assert_ne!(target.state(), 't');
}

#[test]
fn targets_exiting_during_the_read_give_a_clean_error() {
    let Some(b) = build("3.12.1") else { return };
    // Targets that exit on their own within a few milliseconds of heapsnap starting: every
    // run must end with success or a one-line error (no such process / exited / not Python),
    // never a panic or a hang.
    for delay_ms in [0u64, 1, 2, 3, 5, 8, 12, 20] {
        let mut child = Command::new(&b.python)
            .args([
                "-c",
                &format!("import time; time.sleep(0.3); time.sleep({delay_ms} / 1000)"),
            ])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let out = heapsnap()
            .args(["dump", &child.id().to_string()])
            .output()
            .unwrap();
        child.wait().unwrap();
        let code = out.status.code();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(code, Some(0 | 3 | 5 | 7 | 8)),
            "exit {code:?}: {stderr}"
        );
        if code != Some(0) {
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
        }
    }
}

#[test]
fn sigterm_during_a_dump_leaves_the_target_running() {
    let Some(b) = build("3.12.1") else { return };
    let target = Target::idle(&b.python, "x = [str(i) * 3 for i in range(2_000_000)]");
    for wait_ms in [1u64, 5, 20, 60] {
        let mut run = heapsnap()
            .args(["dump", &target.pid().to_string()])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(wait_ms));
        unsafe { libc_kill(run.id() as i32, 15) };
        run.wait().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let state = process_state(target.pid());
        assert!(
            matches!(state, 'S' | 'R'),
            "target in state {state} after heapsnap was terminated"
        );
    }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[test]
fn a_target_already_traced_is_named() {
    let Some(b) = build("3.12.1") else { return };
    if Command::new("gdb").arg("--version").output().is_err() {
        eprintln!("\n*** SKIPPED: gdb is not installed ***\n");
        return;
    }
    let target = Target::idle(&b.python, "");
    // gdb attaches and holds the target for a few seconds.
    let mut gdb = Command::new("gdb")
        .args([
            "-q",
            "-batch",
            "-p",
            &target.pid().to_string(),
            "-ex",
            "shell sleep 4",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(format!("/proc/{}/status", target.pid()))
        .unwrap()
        .lines()
        .any(|l| l.starts_with("TracerPid:") && l.trim() != "TracerPid:\t0")
    {
        assert!(std::time::Instant::now() < deadline, "gdb did not attach");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_failure(&dump(target.pid()), 4, "is already traced by process");
    gdb.wait().unwrap();
}

#[test]
fn a_process_that_may_start_no_thread_still_takes_a_census() {
    let Some(b) = build("3.12.1") else { return };
    let Some(cgroup) = limited_cgroup("pids") else {
        return;
    };
    // Levels big enough for the walk to want a second thread.
    let target = Target::idle(&b.python, "x = [{'i': i} for i in range(50000)]");
    // heapsnap itself is the only task allowed: every thread it tries to start fails.
    cgroup.limit(1);
    let snapshot = std::env::temp_dir().join(format!("heapsnap-pids-{}.json", std::process::id()));
    let out = cgroup.dump(target.pid(), &format!("-o {}", snapshot.display()));
    let written = std::fs::read(&snapshot);
    let _ = std::fs::remove_file(&snapshot);
    assert_succeeded(&out);
    let failed = std::fs::read_to_string(cgroup.dir.join("pids.events")).unwrap_or_default();
    assert!(
        !failed.contains("max 0"),
        "no thread creation was refused ({failed}): the test proves nothing"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("dict"));
    let doc: serde_json::Value = serde_json::from_slice(&written.unwrap()).unwrap();
    assert!(doc["meta"]["objects"].as_u64().unwrap() > 100_000);
    assert_ne!(target.state(), 't');
}

#[test]
fn a_container_memory_limit_too_small_for_the_copy_is_refused_without_stopping() {
    let Some(b) = build("3.12.1") else { return };
    let Some(cgroup) = limited_cgroup("memory") else {
        return;
    };
    // About 170 MB of live objects.
    let target = Target::idle(&b.python, "x = [bytearray(4000) for _ in range(40000)]");
    cgroup.limit(96 << 20);
    // --nonblocking cannot fall back to reading in place (that needs the target stopped).
    let out = cgroup.dump(target.pid(), "--nonblocking");
    assert_failure(&out, 1, "under the memory limit of cgroup");
    assert_ne!(target.state(), 't');
    // The same cgroup with room enough: the census is taken.
    cgroup.limit(1 << 30);
    let out = cgroup.dump(target.pid(), "--nonblocking");
    assert_succeeded(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("bytearray"));
}
