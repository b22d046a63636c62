//! Shared test support: the interpreters under test, starting fixture processes, running the
//! heapsnap binary.
#![allow(dead_code, unused_macros)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};

/// A CPython build to test against.
pub struct Build {
    pub name: &'static str,
    pub python: PathBuf,
}

/// The interpreter for a build name, or `None` (after saying so loudly) if it is not installed.
/// Names: a pyenv version (`3.12.1`), `debian-3.11` (the system's packaged build), or
/// `sid-3.X` (Debian sid's build, installed into a cache by `scripts/sid-python`, started
/// through its own loader).
pub fn build(name: &'static str) -> Option<Build> {
    let python = match name {
        "debian-3.11" => PathBuf::from("/usr/bin/python3.11"),
        v if v.starts_with("sid-") => match sid_python(&v[4..]) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("\n*** SKIPPED: build {name}: scripts/sid-python failed: {e} ***\n");
                return None;
            }
        },
        v => PathBuf::from(format!("/root/.pyenv/versions/{v}/bin/python")),
    };
    if python.exists() {
        Some(Build { name, python })
    } else {
        eprintln!(
            "\n*** SKIPPED: build {name} is not installed ({} missing) ***\n",
            python.display()
        );
        None
    }
}

/// Install (or find in the cache) Debian sid's interpreter; the path of its wrapper.
fn sid_python(version: &str) -> Result<PathBuf, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/sid-python");
    // One install at a time (the script also locks; this keeps test output readable).
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new(script)
        .arg(version)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    Ok(PathBuf::from(
        stdout.lines().last().unwrap_or_default().trim(),
    ))
}

pub fn heapsnap() -> Command {
    Command::new(env!("CARGO_BIN_EXE_heapsnap"))
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// A running fixture that has printed its `ready` line.
pub struct Target {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    pub stdout: BufReader<ChildStdout>,
    /// What followed `ready` on its line (e.g. a port).
    pub ready: String,
}

impl Target {
    /// Start `python args...` and wait for a line starting with `ready`.
    pub fn start(python: &Path, args: &[&str]) -> Target {
        Target::start_with_env(python, args, None)
    }

    /// `start`, with `pythonpath` (if any) as the target's `PYTHONPATH`.
    pub fn start_with_env(python: &Path, args: &[&str], pythonpath: Option<&Path>) -> Target {
        let mut command = Command::new(python);
        if let Some(dir) = pythonpath {
            command.env("PYTHONPATH", dir);
        }
        let mut child = command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start fixture");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read ready line");
        assert!(
            line.starts_with("ready"),
            "fixture did not get ready: {line:?}"
        );
        Target {
            child,
            stdin,
            stdout,
            ready: line["ready".len()..].trim().to_string(),
        }
    }

    /// Run the Python statements `setup` (may be empty), then report ready and sleep for a
    /// minute: a target whose heap stays still.
    pub fn idle(python: &Path, setup: &str) -> Target {
        let code = format!("{setup}\nprint('ready', flush=True)\nimport time\ntime.sleep(60)");
        Target::start(python, &["-c", &code])
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    pub fn read_line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line
    }

    /// The process state letter from /proc (R, S, t, T, Z, ...).
    pub fn state(&self) -> char {
        process_state(self.pid())
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn process_state(pid: i32) -> char {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("State:"))
        .and_then(|s| s.trim().chars().next())
        .unwrap_or('?')
}

/// Fail the test with the command's stderr unless it exited with 0.
pub fn assert_succeeded(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `heapsnap dump <pid> --quiet -o <path>`, which must succeed.
pub fn dump_to(pid: i32, path: &Path) {
    let out = heapsnap()
        .args(["dump", &pid.to_string(), "--quiet", "-o"])
        .arg(path)
        .output()
        .unwrap();
    assert_succeeded(&out);
}

/// `heapsnap diff <files> --json <extra>`, which must succeed, parsed.
pub fn diff_json(files: &[&Path], extra: &[&str]) -> serde_json::Value {
    let out = heapsnap()
        .arg("diff")
        .args(files)
        .arg("--json")
        .args(extra)
        .output()
        .unwrap();
    assert_succeeded(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The interpreter of live process `pid`, and a copy of its memory taken as `heapsnap dump`
/// takes it (stopped only for the copy), for tests that walk the library directly.
pub fn copy_of(
    pid: i32,
) -> (
    heapsnap::interpreter::Interpreter,
    heapsnap::memory::image::Image,
) {
    let interp = heapsnap::capture::locate(pid).unwrap();
    let image = heapsnap::capture::copy_once(pid).unwrap().image;
    (interp, image)
}

/// One test per build: `per_build!(check: test_name => "3.12.1", ...)` runs `check(&build)` in
/// each, skipping (loudly) the builds that are absent. Use with `#[macro_use] mod common;`.
macro_rules! per_build {
    ($check:ident: $($test:ident => $build:expr),* $(,)?) => {$(
        #[test]
        fn $test() {
            if let Some(b) = common::build($build) {
                $check(&b);
            }
        }
    )*};
}

/// A cgroup of its own for one controller (`memory` or `pids`; v1 hierarchy of that
/// controller, or v2), under this test's cgroup; removed when dropped.
pub struct LimitedCgroup {
    pub dir: std::path::PathBuf,
    limit_file: &'static str,
}

impl LimitedCgroup {
    pub fn create(controller: &str) -> Result<LimitedCgroup, String> {
        let own = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| e.to_string())?;
        let (v1_limit, v2_limit) = match controller {
            "memory" => ("memory.limit_in_bytes", "memory.max"),
            _ => ("pids.max", "pids.max"),
        };
        let mut place = None;
        for line in own.lines() {
            let fields: Vec<&str> = line.splitn(3, ':').collect();
            if fields.len() != 3 {
                continue;
            }
            let path = fields[2].trim_start_matches('/');
            if fields[1].split(',').any(|c| c == controller) {
                place = Some((
                    std::path::Path::new("/sys/fs/cgroup")
                        .join(controller)
                        .join(path),
                    v1_limit,
                ));
            } else if fields[0] == "0" && fields[1].is_empty() && place.is_none() {
                let base = std::path::Path::new("/sys/fs/cgroup").join(path);
                // v2 controls a child only if the parent delegates the controller.
                let _ = std::fs::write(
                    base.join("cgroup.subtree_control"),
                    format!("+{controller}"),
                );
                place = Some((base, v2_limit));
            }
        }
        let (base, limit_file) =
            place.ok_or(format!("no {controller} cgroup in /proc/self/cgroup"))?;
        let dir = base.join(format!("heapsnap-test-{controller}-{}", std::process::id()));
        std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let cgroup = LimitedCgroup { dir, limit_file };
        if !cgroup.dir.join(limit_file).exists() {
            return Err(format!("{} has no {limit_file}", cgroup.dir.display()));
        }
        Ok(cgroup)
    }

    pub fn limit(&self, value: u64) {
        std::fs::write(self.dir.join(self.limit_file), value.to_string()).unwrap();
    }

    /// `heapsnap dump <pid> args...`, run inside this cgroup.
    pub fn dump(&self, pid: i32, args: &str) -> Output {
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "echo $$ > {}/cgroup.procs && exec {} dump {pid} {args}",
                self.dir.display(),
                env!("CARGO_BIN_EXE_heapsnap")
            ))
            .output()
            .unwrap()
    }
}

impl Drop for LimitedCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A cgroup of its own for `controller`, or `None` after saying loudly why there is none.
pub fn limited_cgroup(controller: &str) -> Option<LimitedCgroup> {
    match LimitedCgroup::create(controller) {
        Ok(c) => Some(c),
        Err(why) => {
            eprintln!("SKIPPED: cannot make a {controller} cgroup here ({why})");
            None
        }
    }
}

/// A target's set-up for [`Target::idle`]: 60,000 instances, each with a str and a dict holding
/// a list (breadth-first levels of 60,000+ candidates).
pub const ITEMS_60K: &str = "class Item:\n    def __init__(self, i):\n        \
    self.name = 'item-%d' % i\n        self.data = {'i': i, 'l': [i]}\n\
    items = [Item(i) for i in range(60000)]";

/// Run `scripts/<script> <python>`, which installs (or finds in the cache) an environment for
/// that interpreter and prints its path last; `None`, after saying so loudly, if it fails.
pub fn cached_env(script: &str, python: &Path) -> Option<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(script);
    let out = Command::new(&script).arg(python).output().unwrap();
    if !out.status.success() {
        eprintln!(
            "\n*** SKIPPED: {} failed for {}: {} ***\n",
            script.display(),
            python.display(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return None;
    }
    Some(PathBuf::from(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or("")
            .trim(),
    ))
}

/// xorshift64*: reproducible pseudo-random numbers without a dependency (the same sequence on
/// every run for a seed).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (0 for `n` 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The TCP port process `pid` listens on (from /proc/<pid>/net/tcp and its socket inodes).
pub fn port_of(pid: i32) -> u16 {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            l.to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')
                .map(String::from)
        })
        .collect();
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap();
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        // State 0A = LISTEN.
        if f[3] == "0A" && inodes.iter().any(|i| i == f[9]) {
            let port = f[1].rsplit(':').next().unwrap();
            return u16::from_str_radix(port, 16).unwrap();
        }
    }
    panic!("process {pid} listens on no TCP port");
}

/// A tmux server of its own (a real pseudo-terminal) running one command in an 80×24 window;
/// killed when dropped.
pub struct Tmux {
    socket: String,
}

/// tmux's path, installed by `scripts/tmux` when the machine has none.
fn tmux_binary() -> &'static Path {
    static TMUX: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    TMUX.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tmux");
        let out = Command::new(&script).output().expect("run scripts/tmux");
        assert!(
            out.status.success(),
            "scripts/tmux: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        PathBuf::from(stdout.lines().last().unwrap_or_default().trim())
    })
}

impl Tmux {
    pub fn run(command: &str) -> Tmux {
        let socket = format!("heapsnap-test-{}-{}", std::process::id(), rand_suffix());
        let status = std::process::Command::new(tmux_binary())
            .args([
                "-L",
                &socket,
                "new-session",
                "-d",
                "-x",
                "80",
                "-y",
                "24",
                command,
            ])
            .status()
            .expect("tmux runs");
        assert!(status.success(), "tmux new-session failed");
        Tmux { socket }
    }

    pub fn tmux(&self, args: &[&str]) -> String {
        let out = std::process::Command::new(tmux_binary())
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p"])
    }

    pub fn keys(&self, keys: &str) {
        self.tmux(&["send-keys", keys]);
    }

    /// Wait (at most 20 s) until the screen satisfies `ready`; the screen then.
    pub fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        self.wait_within(std::time::Duration::from_secs(20), what, ready)
    }

    /// Wait (at most `limit`) until the screen satisfies `ready`; the screen then.
    pub fn wait_within(
        &self,
        limit: std::time::Duration,
        what: &str,
        ready: impl Fn(&str) -> bool,
    ) -> String {
        let start = std::time::Instant::now();
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < limit,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}
