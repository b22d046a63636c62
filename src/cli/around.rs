//! `heapsnap around <pid> -- CMD...`: snapshots taken around a request, in one command. Dump;
//! run CMD N times; dump; run it N times again; dump; then the three-way comparison (the
//! objects the first runs left that the second runs did not free, leak suspects first).
//!
//! The steps go to stderr, the comparison to stdout; the snapshots stay in `--dir` for
//! `heapsnap diff` and `heapsnap report`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::dump::{snapshot_to, write_failure};
use super::{exit, print_json_or, progress, AroundArgs, Failure};
use crate::capture::{Options, Patience};
use crate::diff::{diff, GroupBy};
use crate::heap::edges::KeyLabels;
use crate::render::diff::diff_table;
use crate::render::{count_of, human_bytes};

pub fn run(args: &AroundArgs) -> Result<(), Failure> {
    let dir = args.dir.clone().unwrap_or_else(|| default_dir(args.pid));
    create_private_dir(&dir)?;
    let options = Options {
        mode: args.mode.into(),
        nonblocking: false,
        low_memory: false,
        retained: !args.no_retained,
        objects: true,
        keys: KeyLabels::Masked,
        patience: Patience::default(),
        on_phase: progress::phase_observer(),
    };
    let mut snapshots = Vec::new();
    for (step, name) in ["a", "b", "c"].into_iter().enumerate() {
        if step > 0 {
            run_command(&args.command, args.repeat, &dir)?;
        }
        let progress = progress::start(format!("census {name} of process {}", args.pid));
        let path = dir.join(format!("{name}.json"));
        // Only B's objects are explained: A and C need only what identifies their objects.
        let snap = snapshot_to(args.pid, &options, &path, name == "b")?;
        drop(progress);
        for w in &snap.meta.warnings {
            eprintln!("heapsnap: warning: {w}");
        }
        eprintln!(
            "heapsnap: {} written: {}, {}; target paused {:.1} ms",
            path.display(),
            count_of(snap.meta.objects, "object", "objects"),
            human_bytes(snap.meta.bytes),
            snap.meta.pause_ms
        );
        snapshots.push(snap);
    }
    let opts = crate::diff::Options {
        group_by: GroupBy::Type,
        all_rows: false,
        chain_types: 5,
        chains_per_type: 2,
        chain_for: Vec::new(),
        attachments: 5,
        suspects: 5,
        include_garbage: false,
    };
    let d = diff(&snapshots[0], &snapshots[1], Some(&snapshots[2]), &opts);
    for w in &d.warnings {
        eprintln!("heapsnap: warning: {w}");
    }
    eprintln!(
        "heapsnap: the comparison below is `heapsnap diff {0}/a.json {0}/b.json {0}/c.json`",
        dir.display()
    );
    print_json_or(args.json, &d, || diff_table(&d, args.top))
}

/// `$TMPDIR/heapsnap-around-<pid>-<seconds since the epoch>`.
fn default_dir(pid: i32) -> PathBuf {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("heapsnap-around-{pid}-{now}"))
}

/// The folder for the snapshots, readable by its owner only when heapsnap makes it.
fn create_private_dir(dir: &Path) -> Result<(), Failure> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| write_failure(dir, e))
}

/// Run `command` `times` times, one after the other. Its output is not shown; a run that
/// cannot start or exits with a failure stops everything, with the end of its stderr.
fn run_command(command: &[String], times: u32, dir: &Path) -> Result<(), Failure> {
    let shown = command.join(" ");
    let start = Instant::now();
    for run in 1..=times {
        let failed = |why: String| {
            Failure::new(
                exit::COMMAND_FAILED,
                format!(
                    "`{shown}` {why} (run {run} of {times}); the snapshots taken so far are in {}",
                    dir.display()
                ),
            )
        };
        let out = Command::new(&command[0])
            .args(&command[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| failed(format!("could not start: {e}")))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
            return Err(failed(format!(
                "failed with {}{}",
                out.status,
                last.map(|l| format!(": {}", l.trim())).unwrap_or_default()
            )));
        }
    }
    eprintln!(
        "heapsnap: ran `{shown}` {} in {:.1} s",
        count_of(times.into(), "time", "times"),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
