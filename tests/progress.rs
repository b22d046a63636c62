//! The progress indicator. Off a terminal, stderr stays as it is without one (empty here) for a
//! dump and a diff. On a terminal (tmux; everything written to it logged with pipe-pane, the
//! screen read at the end): a dump and a diff that last over a second (timed by the shell: in a
//! debug build both do; a release build may be too quick, and then says so) draw a spinner
//! naming their phase, never before a second has passed, and the final screen holds no trace of
//! it; `dump --quiet` draws nothing at all.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{assert_succeeded, build, heapsnap, Target, Tmux};

/// The part of `log` between the lines `from` and `to` (markers the shell echoed).
fn between<'a>(log: &'a str, from: &str, to: &str) -> &'a str {
    let start = log
        .find(from)
        .unwrap_or_else(|| panic!("no {from} in the terminal's log: {log:?}"));
    let rest = &log[start + from.len()..];
    let end = rest
        .find(to)
        .unwrap_or_else(|| panic!("no {to} after {from} in the terminal's log: {log:?}"));
    &rest[..end]
}

#[test]
fn a_spinner_shows_on_a_terminal_after_a_second_and_nowhere_else() {
    let Some(b) = build("3.12.1") else { return };
    // About 3 million objects: a dump or a diff takes well over a second.
    let target = Target::idle(&b.python, "x = [[i] for i in range(1500000)]");
    let pid = target.pid().to_string();
    let dir = std::env::temp_dir().join(format!("heapsnap-progress-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, bb) = (dir.join("a.json"), dir.join("b.json"));

    // Off a terminal: a dump printing its table, a quiet dump, a diff; nothing on stderr.
    let table = heapsnap()
        .args(["dump", &pid, "--no-retained"])
        .output()
        .unwrap();
    assert_succeeded(&table);
    assert!(
        String::from_utf8_lossy(&table.stdout).contains(" list\n"),
        "no list row"
    );
    let quiet = heapsnap()
        .args(["dump", &pid, "-q", "--no-retained", "-o"])
        .arg(&a)
        .output()
        .unwrap();
    assert_succeeded(&quiet);
    for out in [&table, &quiet] {
        assert!(
            out.stderr.is_empty(),
            "stderr of a dump off a terminal: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // On a terminal: a quiet dump (writing B); a dump printing its table, whose warning
    // (--nonblocking's) comes while its spinner is drawn; a diff.
    let log = dir.join("terminal.log");
    let bin = env!("CARGO_BIN_EXE_heapsnap");
    let path = |p: &Path| p.display().to_string();
    let tmux = Tmux::run(&format!(
        "sleep 1; echo START; \
         {bin} dump {pid} -q --no-retained -o {bb}; echo QUIET-DONE; \
         t0=$(date +%s%N); {bin} dump {pid} --no-retained --nonblocking > /dev/null; \
         echo DUMP-DONE; echo DUMP-MS $(( ($(date +%s%N) - t0) / 1000000 )); \
         t0=$(date +%s%N); {bin} diff {a} {bb} > /dev/null; \
         echo DIFF-DONE; echo DIFF-MS $(( ($(date +%s%N) - t0) / 1000000 )); sleep 600",
        a = path(&a),
        bb = path(&bb),
    ));
    tmux.tmux(&["pipe-pane", "-o", &format!("cat >> {}", log.display())]);
    tmux.wait_within(Duration::from_secs(240), "the commands", |s| {
        s.contains("DIFF-DONE")
    });
    std::thread::sleep(Duration::from_millis(200));
    // START in the log: the log began before the first command did.
    let written = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    let quiet = between(&written, "START", "QUIET-DONE");
    assert!(
        !quiet.contains("heapsnap"),
        "dump --quiet drew on the terminal: {quiet:?}"
    );
    let dump = between(&written, "QUIET-DONE", "DUMP-DONE");
    // A release build may take this dump in under a second: no spinner is due then.
    let dump_ms: u64 = between(&written, "DUMP-MS ", "\r")
        .trim()
        .parse()
        .expect("the dump's time");
    if dump_ms > 1300 {
        assert!(
            ["copying", "walking", "counting by type"]
                .iter()
                .any(|phase| dump.contains(&format!("heapsnap: {phase} ("))),
            "no spinner naming a phase of the capture during a {dump_ms} ms dump: {dump:?}"
        );
    } else {
        eprintln!("the dump took {dump_ms} ms: too short for its spinner, which is not checked");
    }
    let diff = between(&written, "DUMP-DONE", "DIFF-DONE");
    let diff_ms: u64 = between(&written, "DIFF-MS ", "\r")
        .trim()
        .parse()
        .expect("the diff's time");
    if diff_ms > 1300 {
        assert!(
            diff.contains("heapsnap: reading ") || diff.contains("heapsnap: comparing ("),
            "no spinner during a {diff_ms} ms diff: {diff:?}"
        );
    } else {
        eprintln!("the diff took {diff_ms} ms: too short for its spinner, which is not checked");
    }
    // Each spinner is first drawn when its work has lasted a second.
    assert!(
        !written.contains("(0s)"),
        "a spinner was drawn before a second had passed: {written:?}"
    );
    // The screen (wrapped lines joined) holds the markers and the warning, whole on its own
    // line, and nothing else: every spinner line was cleared, and the warning went above it.
    let screen = tmux.tmux(&["capture-pane", "-p", "-J"]);
    let lines: Vec<&str> = screen
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    let warning = format!(
        "heapsnap: warning: --nonblocking: process {pid} kept running during the copy; the \
         census may be inconsistent"
    );
    let timing = format!("DUMP-MS {dump_ms}");
    assert_eq!(
        lines,
        [
            "START",
            "QUIET-DONE",
            &warning,
            "DUMP-DONE",
            &timing,
            "DIFF-DONE",
            &format!("DIFF-MS {diff_ms}")
        ],
        "the screen:\n{screen}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
