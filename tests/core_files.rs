//! Core files: `heapsnap dump core.PID` gives the census of the live process, object by
//! object. A target is stopped (SIGSTOP), cored with gcore, dumped live (`--nonblocking`: it
//! stays stopped) and from the core; the two `--objects` files must be identical. On a
//! shared-libpython build, the static Debian build and a sid build started through the loader;
//! kernel core dumps (SIGABRT); and with `--sysroot` (the mapped files read from a copy).

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
        Stopped::from(Target::idle(python, SETUP))
    }

    fn from(target: Target) -> Stopped {
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
    // Snapshots of the live process and of its core compare as one process, unchanged.
    let (live_json, core_json) = (dir.join("live.json"), dir.join("core.json"));
    for (what, path, extra) in [
        (target.pid().to_string(), &live_json, Some("--nonblocking")),
        (core.display().to_string(), &core_json, None),
    ] {
        let out = heapsnap()
            .args(["dump", &what, "-q", "-o"])
            .arg(path)
            .args(extra)
            .output()
            .unwrap();
        common::assert_succeeded(&out);
    }
    let out = heapsnap()
        .arg("diff")
        .arg(&live_json)
        .arg(&core_json)
        .output()
        .unwrap();
    common::assert_succeeded(&out);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("no change between the snapshots"),
        "{name}: {said}"
    );
    let warned = String::from_utf8_lossy(&out.stderr);
    assert!(!warned.contains("different processes"), "{name}: {warned}");
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

/// The name of the core file the kernel writes for process `pid` in its folder; None (said
/// loudly) when core dumps go elsewhere (a pipe to systemd-coredump or apport, another folder).
fn kernel_core_name(pid: i32) -> Option<String> {
    let read =
        |name| std::fs::read_to_string(format!("/proc/sys/kernel/{name}")).unwrap_or_default();
    let pattern = read("core_pattern").trim().replace("%p", &pid.to_string());
    if pattern.is_empty() || pattern.contains(['|', '/', '%']) {
        eprintln!(
            "\n*** SKIPPED: kernel core dumps are not written as a plain file in the process's \
             folder here (core_pattern {pattern:?}) ***\n"
        );
        return None;
    }
    let uses_pid = read("core_uses_pid").trim() == "1" && !read("core_pattern").contains("%p");
    Some(if uses_pid {
        format!("{pattern}.{pid}")
    } else {
        pattern
    })
}

/// A kernel core dump (not gcore's): the stopped target is dumped live, then killed with
/// SIGABRT, delivered before it runs again, so its core holds the memory the live dump read.
/// Kernel cores write unmodified file mappings as segments without bytes (read from the files).
fn kernel_core_equals_live(name: &'static str) {
    let Some(b) = build(name) else { return };
    let dir = temp_dir(&format!("kernel-{name}"));
    let code = format!("{SETUP}\nprint('ready', flush=True)\nimport time\ntime.sleep(60)");
    // The shell sets the core size limit and the folder, then becomes the interpreter.
    let target = Target::start(
        Path::new("/bin/sh"),
        &[
            "-c",
            "cd \"$2\" && ulimit -c unlimited && exec \"$0\" -c \"$1\"",
            b.python.to_str().unwrap(),
            &code,
            dir.to_str().unwrap(),
        ],
    );
    let mut target = Stopped::from(target);
    let pid = target.pid();
    let Some(core_name) = kernel_core_name(pid) else {
        return;
    };
    let live = objects(
        &pid.to_string(),
        &dir.join("live.jsonl"),
        &["--nonblocking"],
    );
    kill(Pid::from_raw(pid), Signal::SIGABRT).unwrap();
    kill(Pid::from_raw(pid), Signal::SIGCONT).unwrap();
    let status = target.target.child.wait().unwrap();
    assert!(
        std::os::unix::process::ExitStatusExt::core_dumped(&status),
        "{name}: {status:?}"
    );
    let core = dir.join(core_name);
    let from_core = objects(core.to_str().unwrap(), &dir.join("core.jsonl"), &[]);
    assert!(
        live == from_core,
        "{name}: the kernel core's objects differ from the live process's"
    );
    eprintln!(
        "KERNEL CORE build={name}: {} objects, identical",
        live.lines().count()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kernel_core_of_a_shared_libpython_build() {
    kernel_core_equals_live("3.12.1");
}

#[test]
fn kernel_core_of_the_static_debian_build() {
    kernel_core_equals_live("debian-3.11");
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
