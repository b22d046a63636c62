//! `heapsnap top` in a real pseudo-terminal (tmux: keys sent with send-keys, the screen read
//! with capture-pane), and as plain blocks when its output is not a terminal.

mod common;

use std::time::Duration;

use common::{build, fixture, heapsnap, Target, Tmux};

/// `heapsnap top` on `pid`, then the exit code and a long sleep (so the screen stays to read).
fn top_in_tmux(pid: i32) -> Tmux {
    Tmux::run(&format!(
        "{} top {pid} --interval 0.3; echo EXITED $?; sleep 600",
        env!("CARGO_BIN_EXE_heapsnap")
    ))
}

/// The sample number in the title line (none before the first sample).
fn sample_number(screen: &str) -> Option<u64> {
    let title = screen.lines().next().unwrap_or("");
    title
        .split("sample ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// After heapsnap ended: the shell's screen is back, with nothing of the view left on it, and
/// the cursor is shown.
fn assert_terminal_clean(tmux: &Tmux, screen: &str) {
    assert!(
        !screen.contains("heapsnap top —") && !screen.contains("q quit"),
        "the view was left on the screen:\n{screen}"
    );
    assert_eq!(tmux.tmux(&["display", "-p", "#{cursor_flag}"]).trim(), "1");
}

#[test]
fn top_shows_growth_and_answers_keys() {
    let Some(b) = build("3.12.1") else { return };
    let target = Target::start(&b.python, &[fixture("growing.py").to_str().unwrap()]);
    let tmux = top_in_tmux(target.pid());
    let screen = tmux.wait_for("three samples", |s| {
        sample_number(s).is_some_and(|n| n >= 3)
    });
    let lines: Vec<&str> = screen.lines().collect();
    assert!(
        lines[0].contains(&format!("pid {}", target.pid())),
        "{screen}"
    );
    assert!(
        lines[1].contains("paused") && lines[1].contains("RSS"),
        "{screen}"
    );
    assert!(
        lines[2].contains("▼ΔSize"),
        "sorted by growth at first:\n{screen}"
    );
    assert!(lines.iter().all(|l| l.chars().count() <= 80));
    // The growing class is among the first rows, with a positive change; the steady one shows
    // no change.
    let leaky = lines[3..6]
        .iter()
        .find(|l| l.starts_with("__main__.Leaky"))
        .unwrap_or_else(|| panic!("Leaky is not in the first rows:\n{screen}"));
    let change = leaky.split_whitespace().nth(4).unwrap(); // name, count, size (2 words)
    assert!(change.starts_with('+'), "{leaky}");
    // `s` cycles the order: since the last sample, size, count, and back.
    for (presses, column) in [
        (1, "▼ΔSize last"),
        (1, "▼Size"),
        (1, "▼Count"),
        (1, "▼ΔSize "),
    ] {
        for _ in 0..presses {
            tmux.keys("s");
        }
        tmux.wait_for(column, |s| {
            s.lines().nth(2).is_some_and(|l| l.contains(column))
        });
    }
    // `p` pauses sampling: the sample number stays.
    tmux.keys("p");
    let paused = tmux.wait_for("the pause", |s| s.contains("PAUSED"));
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(sample_number(&tmux.screen()), sample_number(&paused));
    tmux.keys("p");
    tmux.wait_for("sampling again", |s| {
        sample_number(s) > sample_number(&paused)
    });
    assert!(sample_number(&paused).is_some());
    tmux.keys("q");
    let screen = tmux.wait_for("the exit", |s| s.contains("EXITED"));
    assert!(screen.contains("EXITED 0"), "{screen}");
    assert_terminal_clean(&tmux, &screen);
    assert_ne!(target.state(), 'T', "target left stopped");
}

#[test]
fn top_leaves_the_terminal_clean_on_ctrl_c_and_when_the_target_exits() {
    let Some(b) = build("3.12.1") else { return };
    let target = Target::start(&b.python, &[fixture("growing.py").to_str().unwrap()]);
    let tmux = top_in_tmux(target.pid());
    tmux.wait_for("a sample", |s| sample_number(s).is_some());
    tmux.keys("C-c");
    let screen = tmux.wait_for("the exit", |s| s.contains("EXITED"));
    assert!(screen.contains("EXITED 0"), "{screen}");
    assert_terminal_clean(&tmux, &screen);

    let mut target = target;
    let pid = target.pid();
    let tmux = top_in_tmux(pid);
    tmux.wait_for("a sample", |s| sample_number(s).is_some());
    target.child.kill().unwrap();
    target.child.wait().unwrap();
    let screen = tmux.wait_for("the exit", |s| s.contains("EXITED"));
    assert!(
        screen.contains(&format!("process {pid} exited")),
        "{screen}"
    );
    assert!(screen.contains("EXITED 0"), "{screen}");
    assert_terminal_clean(&tmux, &screen);
}

#[test]
fn top_prints_plain_blocks_when_not_on_a_terminal() {
    for name in ["2.7.18", "3.12.1"] {
        let Some(b) = build(name) else { continue };
        let target = Target::start(&b.python, &[fixture("growing.py").to_str().unwrap()]);
        let out = heapsnap()
            .args([
                "top",
                &target.pid().to_string(),
                "--interval",
                "0.4",
                "--samples",
                "3",
            ])
            .output()
            .unwrap();
        common::assert_succeeded(&out);
        let text = String::from_utf8(out.stdout).unwrap();
        let blocks: Vec<&str> = text.split("\n\n").filter(|b| !b.is_empty()).collect();
        assert_eq!(blocks.len(), 3, "{name}: {text}");
        assert!(
            !text.contains('\x1b'),
            "{name}: escape codes in plain output"
        );
        for (i, block) in blocks.iter().enumerate() {
            assert!(
                block.contains(&format!("sample {}", i + 1)),
                "{name}: {block}"
            );
        }
        let leaky = blocks[2]
            .lines()
            .find(|l| l.starts_with("__main__.Leaky"))
            .unwrap_or_else(|| panic!("{name}: no Leaky row: {}", blocks[2]));
        let fields: Vec<&str> = leaky.split_whitespace().collect();
        let gained: i64 = fields[4]
            .trim_start_matches('+')
            .replace(',', "")
            .parse()
            .unwrap();
        // 1,000 per 0.2 s for two intervals of 0.4 s: about 4,000, give or take a batch.
        assert!((2000..=7000).contains(&gained), "{name}: {leaky}");
        let steady = blocks[2]
            .lines()
            .find(|l| l.starts_with("__main__.Steady"))
            .unwrap();
        assert_eq!(
            steady.split_whitespace().nth(4),
            Some("0"),
            "{name}: {steady}"
        );
    }
}

#[test]
fn top_of_no_process_is_one_line_and_exit_3() {
    let out = heapsnap()
        .args(["top", "999999999", "--samples", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
}
