//! `heapsnap demo`: the whole story in one command. Starts the bundled example service (a
//! stdlib-only Python program whose requests leak into a registry), snapshots it, drives
//! requests, snapshots again twice, and prints the comparison with retainer chains.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::dump::{snapshot_to, write_failure};
use super::{exit, DemoArgs, Failure};
use crate::diff::{diff, Diff, GroupBy, Options};
use crate::heap::Mode;
use crate::interpreter::tables;
use crate::render::diff::diff_table;
use crate::render::{count_of, group, human_bytes};
use crate::snapshot::write_atomically;

/// The example service, compiled in so that the demo works from any directory.
const SERVICE: &str = include_str!("../../fixtures/example_service.py");

/// Interpreters looked up on `PATH` when `--python` is not given, first one that runs wins.
const CANDIDATES: &[&str] = &["python3", "python"];

/// `(major, minor)` of an interpreter, if it runs (the probe is valid Python 2 and 3).
fn python_version(python: &str) -> Option<(u8, u8)> {
    let out = Command::new(python)
        .args([
            "-c",
            "import sys; sys.stdout.write('%d %d\\n' % sys.version_info[:2])",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut it = text.split_whitespace().map(|w| w.parse().ok());
    Some((it.next()??, it.next()??))
}

/// The interpreter to run the example service with, and its version: `requested`, or the
/// first of [`CANDIDATES`] that runs; any version heapsnap has a layout table for.
fn pick_python(requested: Option<&str>) -> Result<(String, (u8, u8)), Failure> {
    let (python, version) = match requested {
        Some(p) => (
            p.to_string(),
            python_version(p)
                .ok_or_else(|| Failure::new(exit::ERROR, format!("cannot run {p}")))?,
        ),
        None => CANDIDATES
            .iter()
            .find_map(|p| Some((p.to_string(), python_version(p)?)))
            .ok_or_else(|| {
                Failure::new(
                    exit::ERROR,
                    format!(
                        "no Python found on PATH (tried {}); pass --python PATH",
                        CANDIDATES.join(", ")
                    ),
                )
            })?,
    };
    match tables::layout_for(version.0, version.1) {
        Some(_) => Ok((python, version)),
        None => Err(Failure::new(
            exit::UNSUPPORTED,
            format!(
                "{python} is Python {}.{}; heapsnap supports {} (pass --python PATH)",
                version.0,
                version.1,
                tables::supported()
            ),
        )),
    }
}

/// What the demo's diff shows, in one sentence drawn from it: how many objects the requests
/// left alive, and where the largest part of them hangs.
fn conclusion(d: &Diff) -> String {
    let new = &d.total;
    if new.new_objects == 0 {
        return "No object created by the requests between the first two snapshots is still \
                alive in the third: nothing leaked in this run."
            .into();
    }
    let mut text = format!(
        "{} objects ({}) created by the requests between the first two snapshots are still \
         alive in the third: that is the leak.",
        group(new.new_objects),
        human_bytes(new.new_size)
    );
    if let Some(top) = d.attachments.first() {
        text.push_str(&format!(
            " {} of them hang off {}, which holds {} new {}{}.",
            group(top.objects),
            top.holder,
            group(top.attached),
            top.type_name,
            if d.attachments.len() > 1 {
                format!(
                    " (the largest of {} attachment points)",
                    d.attachments.len()
                )
            } else {
                String::new()
            }
        ));
    }
    text
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
    let (python, (major, minor)) = pick_python(args.python.as_deref())?;
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("heapsnap-demo-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).map_err(|e| write_failure(&dir, e))?;
    let script = dir.join("example_service.py");
    write_atomically(&script, |out| out.write_all(SERVICE.as_bytes()))
        .map_err(|e| write_failure(&script, e))?;

    let mut service = Service::start(&python, &script)?;
    let pid = service.child.id() as i32;
    println!(
        "Started the example service with {python} (Python {major}.{minor}, pid {pid}): every \
         request leaks a report into a registry.\n"
    );
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
        let path = dir.join(format!("{name}.json"));
        let options = crate::capture::Options::blocking(Mode::Full);
        // Only B's objects are explained: A and C need only what identifies their objects.
        let snap = snapshot_to(pid, &options, &path, *name == "b")?;
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
    println!("\n{}", conclusion(&d));
    Ok(())
}
