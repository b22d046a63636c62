//! Core files: `heapsnap dump core.PID` gives the census of the live process, object by
//! object. A target is stopped (SIGSTOP), cored with gcore, dumped live (`--nonblocking`: it
//! stays stopped) and from the core; the two `--objects` files must be identical. On a
//! shared-libpython build, the static Debian build and a sid build started through the loader;
//! and with `--sysroot` (the mapped files read from a copy).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{build, heapsnap, process_state, Target};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const SETUP: &str = "class Item(object):\n    def __init__(self, i):\n        self.i = i\n\
                     items = [Item(i) for i in range(5000)]\nnames = {'k%d' % i: i for i in range(300)}";

/// A stopped target, continued and killed when dropped (even when the test fails).
struct Stopped {
    target: Target,
}

impl Stopped {
    fn new(python: &Path) -> Stopped {
        let target = Target::idle(python, SETUP);
        let stopped = Stopped { target };
        stopped.stop();
        stopped
    }

    fn pid(&self) -> i32 {
        self.target.pid()
    }

    /// SIGSTOP, and wait until the kernel says it is stopped.
    fn stop(&self) {
        kill(Pid::from_raw(self.pid()), Signal::SIGSTOP).unwrap();
        for _ in 0..200 {
            if process_state(self.pid()) == 'T' {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("the target did not stop");
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.pid()), Signal::SIGCONT);
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("heapsnap-core-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// gcore the stopped target into `dir`; the core's path. The target is stopped again if
/// gcore let it run.
fn gcore(target: &Stopped, dir: &Path) -> PathBuf {
    let out = Command::new("gcore")
        .arg("-o")
        .arg(dir.join("core"))
        .arg(target.pid().to_string())
        .output()
        .expect("gcore runs (gdb is installed)");
    assert!(
        out.status.success(),
        "gcore failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if process_state(target.pid()) != 'T' {
        target.stop();
    }
    dir.join(format!("core.{}", target.pid()))
}

/// `heapsnap dump WHAT --objects OUT` plus `extra`; the objects file's text.
fn objects(what: &str, out: &Path, extra: &[&str]) -> String {
    let result = heapsnap()
        .args(["dump", what, "-q", "--objects"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    common::assert_succeeded(&result);
    std::fs::read_to_string(out).unwrap()
}

fn core_equals_live(name: &'static str) {
    let Some(b) = build(name) else { return };
    let target = Stopped::new(&b.python);
    let dir = temp_dir(name);
    let core = gcore(&target, &dir);
    let live = objects(
        &target.pid().to_string(),
        &dir.join("live.jsonl"),
        &["--nonblocking"],
    );
    let from_core = objects(core.to_str().unwrap(), &dir.join("core.jsonl"), &[]);
    let lines = live.lines().count();
    assert!(lines > 10_000, "{name}: {lines} objects");
    assert!(
        live == from_core,
        "{name}: the core's objects differ from the live process's"
    );
    // The table names the core, and says nothing of a pause.
    let table = heapsnap()
        .args(["dump", core.to_str().unwrap()])
        .output()
        .unwrap();
    common::assert_succeeded(&table);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains(&format!("core {} (pid {})", core.display(), target.pid())),
        "{text}"
    );
    assert!(text.contains("read from a core file"), "{text}");
    eprintln!("CORE build={name}: {lines} objects, identical");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn core_of_a_shared_libpython_build() {
    core_equals_live("3.12.1");
}

#[test]
fn core_of_the_static_debian_build() {
    core_equals_live("debian-3.11");
}

#[test]
fn core_of_a_sid_build_started_through_the_loader() {
    core_equals_live("sid-3.14");
}

#[test]
fn core_read_under_a_sysroot() {
    let Some(b) = build("3.12.1") else { return };
    let target = Stopped::new(&b.python);
    let dir = temp_dir("sysroot");
    let core = gcore(&target, &dir);
    // A copy of every file the process maps, at its path under the sysroot.
    let sysroot = dir.join("root");
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", target.pid())).unwrap();
    let mut files: Vec<&str> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.starts_with('/'))
        .collect();
    files.sort();
    files.dedup();
    for file in &files {
        let copy = sysroot.join(file.trim_start_matches('/'));
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        std::fs::copy(file, &copy).unwrap();
    }
    let live = objects(
        &target.pid().to_string(),
        &dir.join("live.jsonl"),
        &["--nonblocking"],
    );
    let sysroot_arg = sysroot.to_str().unwrap();
    let from_core = objects(
        core.to_str().unwrap(),
        &dir.join("core.jsonl"),
        &["--sysroot", sysroot_arg],
    );
    assert!(live == from_core, "the core read under the sysroot differs");
    // The files do come from the sysroot: without libpython there, no runtime is found.
    let libpython = files.iter().find(|f| f.contains("libpython")).unwrap();
    std::fs::remove_file(sysroot.join(libpython.trim_start_matches('/'))).unwrap();
    let out = heapsnap()
        .args(["dump", core.to_str().unwrap(), "--sysroot", sysroot_arg])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn files_that_are_not_cores_are_one_line_and_exit_11() {
    let dir = temp_dir("bad");
    let text = dir.join("notes.txt");
    std::fs::write(&text, "not a core").unwrap();
    let elf = PathBuf::from(env!("CARGO_BIN_EXE_heapsnap"));
    let cut = dir.join("core.cut");
    let mut header = std::fs::read("/proc/self/exe").unwrap();
    header.truncate(64);
    header[16] = 4; // e_type ET_CORE, and nothing after the header
    std::fs::write(&cut, &header).unwrap();
    for (what, code) in [
        (text.to_str().unwrap(), 11),
        (elf.to_str().unwrap(), 11),
        ("/nonexistent/core.1", 11),
        (cut.to_str().unwrap(), 11),
    ] {
        let out = heapsnap().args(["dump", what]).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{what}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{what}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
