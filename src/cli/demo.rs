//! `heapsnap demo`: the whole story in one command. Starts the bundled example service (a
//! stdlib-only Python program whose requests leak into a registry), snapshots it, drives
//! requests, snapshots again twice, and prints the comparison with retainer chains.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::dump::{capture_failure, write_failure};
use super::{exit, DemoArgs, Failure};
use crate::diff::{diff, GroupBy, Options};
use crate::heap::Mode;
use crate::render::diff::diff_table;
use crate::render::{count_of, human_bytes};
use crate::snapshot::{write_atomically, Snapshot};

/// The example service, compiled in so that the demo works from any directory.
const SERVICE: &str = include_str!("../../fixtures/example_service.py");

/// Interpreters tried when `--python` is not given, first supported one wins.
const CANDIDATES: &[&str] = &[
    "python3",
    "python3.13",
    "python3.12",
    "python3.11",
    "/root/.pyenv/versions/3.12.1/bin/python",
    "/root/.pyenv/versions/3.13.0/bin/python",
    "/root/.pyenv/versions/3.11.7/bin/python",
];

/// `(major, minor)` of an interpreter, if it runs.
fn python_version(python: &str) -> Option<(u32, u32)> {
    let out = Command::new(python)
        .args([
            "-c",
            "import sys; print(sys.version_info[0], sys.version_info[1])",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut it = text.split_whitespace().map(|w| w.parse().ok());
    Some((it.next()??, it.next()??))
}

fn pick_python(requested: Option<&str>) -> Result<String, Failure> {
    let supported = |v: (u32, u32)| v.0 == 3 && (11..=13).contains(&v.1);
    if let Some(p) = requested {
        return match python_version(p) {
            Some(v) if supported(v) => Ok(p.to_string()),
            Some((a, b)) => Err(Failure::new(
                exit::UNSUPPORTED,
                format!("{p} is Python {a}.{b}; the demo needs 3.11–3.13"),
            )),
            None => Err(Failure::new(exit::ERROR, format!("cannot run {p}"))),
        };
    }
    CANDIDATES
        .iter()
        .find(|p| python_version(p).is_some_and(supported))
        .map(|p| p.to_string())
        .ok_or_else(|| {
            Failure::new(
                exit::ERROR,
                "no Python 3.11–3.13 found for the demo; pass --python PATH",
            )
        })
}

/// The running service, killed when dropped.
struct Service {
    child: Child,
    output: BufReader<std::process::ChildStdout>,
}

impl Service {
    fn start(python: &str, script: &Path) -> Result<Service, Failure> {
        let mut child = Command::new(python)
            .arg(script)
            .arg("50")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| Failure::new(exit::ERROR, format!("cannot start {python}: {e}")))?;
        let output = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut service = Service { child, output };
        service.expect("ready")?;
        Ok(service)
    }

    fn expect(&mut self, word: &str) -> Result<(), Failure> {
        let mut line = String::new();
        self.output
            .read_line(&mut line)
            .map_err(|e| Failure::new(exit::ERROR, e.to_string()))?;
        if line.trim() == word {
            Ok(())
        } else {
            Err(Failure::new(
                exit::ERROR,
                format!("example service said {line:?}, expected {word:?}"),
            ))
        }
    }

    fn requests(&mut self, n: u32) -> Result<(), Failure> {
        let stdin = self.child.stdin.as_mut().expect("piped stdin");
        writeln!(stdin, "request {n}")
            .and_then(|_| stdin.flush())
            .map_err(|e| Failure::new(exit::ERROR, e.to_string()))?;
        self.expect("ok")
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn run(args: &DemoArgs) -> Result<(), Failure> {
    let python = pick_python(args.python.as_deref())?;
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("heapsnap-demo-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).map_err(|e| write_failure(&dir, e))?;
    let script = dir.join("example_service.py");
    write_atomically(&script, |out| out.write_all(SERVICE.as_bytes()))
        .map_err(|e| write_failure(&script, e))?;

    let mut service = Service::start(&python, &script)?;
    let pid = service.child.id() as i32;
    println!("Started the example service with {python} (pid {pid}): every request leaks a report into a registry.\n");
    let mut files: Vec<PathBuf> = Vec::new();
    let mut snaps = Vec::new();
    for (step, name) in ["a", "b", "c"].iter().enumerate() {
        if step > 0 {
            service.requests(args.requests)?;
            println!(
                "  ... {} handled",
                count_of(args.requests.into(), "request", "requests")
            );
        }
        let t = crate::capture::capture(pid, &crate::capture::Options::blocking(Mode::Full))
            .map_err(capture_failure)?;
        let path = dir.join(format!("{name}.json"));
        let snap = Snapshot::new(t.meta, &t.census, &t.heap);
        snap.write(&path).map_err(|e| write_failure(&path, e))?;
        println!(
            "  heapsnap dump {pid} -o {}   # {}, {}, target paused {:.1} ms",
            path.display(),
            count_of(snap.meta.objects, "object", "objects"),
            human_bytes(snap.meta.bytes),
            snap.meta.pause_ms
        );
        files.push(path);
        snaps.push(snap);
    }
    drop(service);
    let opts = Options {
        group_by: GroupBy::Type,
        all_rows: false,
        chain_types: 0,
        chains_per_type: 2,
        chain_for: vec!["__main__.Report".into()],
        attachments: 3,
        suspects: 3,
        include_garbage: false,
    };
    let d = diff(&snaps[0], &snaps[1], Some(&snaps[2]), &opts);
    println!(
        "\n  heapsnap diff {} {} {}\n",
        files[0].display(),
        files[1].display(),
        files[2].display()
    );
    print!("{}", diff_table(&d, 10));
    println!(
        "\nThe objects created by the requests between the first two snapshots and still alive in \
         the third are the leak; they all hang off one list, the class attribute Registry.items."
    );
    Ok(())
}
