//! The progress indicator: on a terminal (tmux), a long diff shows a spinner naming its phase
//! on stderr, and the screen holds no trace of it afterwards; off a terminal, stderr stays
//! empty.

mod common;

use std::time::Duration;

use common::{build, heapsnap, Target, Tmux};

#[test]
fn a_long_diff_shows_a_spinner_on_a_terminal_and_nothing_elsewhere() {
    let Some(b) = build("3.12.1") else { return };
    // About 3 million objects: a diff of two snapshots takes well over a second.
    let target = Target::idle(&b.python, "x = [[i] for i in range(1500000)]");
    let dir = std::env::temp_dir().join(format!("heapsnap-progress-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, bb) = (dir.join("a.json"), dir.join("b.json"));
    for path in [&a, &bb] {
        let out = heapsnap()
            .args([
                "dump",
                &target.pid().to_string(),
                "-q",
                "--no-retained",
                "-o",
            ])
            .arg(path)
            .output()
            .unwrap();
        common::assert_succeeded(&out);
        assert!(out.stderr.is_empty(), "stderr of a dump off a terminal");
    }
    // Off a terminal: nothing on stderr.
    let out = heapsnap().arg("diff").arg(&a).arg(&bb).output().unwrap();
    common::assert_succeeded(&out);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // On a terminal: everything written to it is logged (pipe-pane), the screen read at the end.
    let log = dir.join("terminal.log");
    let tmux = Tmux::run(&format!(
        "sleep 1; {} diff {} {} > /dev/null; echo DIFF-DONE; sleep 600",
        env!("CARGO_BIN_EXE_heapsnap"),
        a.display(),
        bb.display()
    ));
    tmux.tmux(&["pipe-pane", "-o", &format!("cat >> {}", log.display())]);
    let screen = tmux.wait_for("the diff", |s| s.contains("DIFF-DONE"));
    std::thread::sleep(Duration::from_millis(200));
    let written = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    assert!(
        written.contains("heapsnap: reading") || written.contains("heapsnap: comparing"),
        "no spinner was drawn: {written:?}"
    );
    assert!(
        !screen.contains("heapsnap:"),
        "the spinner was left on the screen:\n{screen}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
