//! The walk follows at most 4096 threads per interpreter and 100,000 frames per thread for the
//! roots of full mode: a target beyond either is still dumped, and the cut is reported on
//! stderr, not silent.

mod common;

use common::{build, heapsnap, Target};

/// `dump --mode full` of `setup`'s target: the warnings on stderr (it must succeed), which the
/// snapshot's meta must carry too.
fn warnings_of(setup: &str) -> Vec<String> {
    let Some(b) = build("3.12.1") else {
        return vec!["SKIPPED".into()];
    };
    let target = Target::start(&b.python, &["-c", setup]);
    let out_file = std::env::temp_dir().join(format!("heapsnap-caps-{}.json", target.pid()));
    let out = heapsnap()
        .args(["dump", &target.pid().to_string(), "-q", "-o"])
        .arg(&out_file)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    let snap: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    let _ = std::fs::remove_file(&out_file);
    let in_meta: Vec<String> = snap["meta"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| format!("heapsnap: warning: {}", w.as_str().unwrap()))
        .collect();
    let printed: Vec<String> = stderr.lines().map(str::to_string).collect();
    assert_eq!(in_meta, printed, "meta.warnings against stderr");
    printed
}

#[test]
fn frames_beyond_the_depth_cap_are_reported() {
    let warnings = warnings_of(
        "import sys, time\n\
         sys.setrecursionlimit(200000)\n\
         def down(n):\n    if n: return down(n - 1)\n    print('ready', flush=True)\n    time.sleep(60)\n\
         down(100050)",
    );
    if warnings == ["SKIPPED"] {
        return;
    }
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("heapsnap: warning: <thread ")
            && warnings[0].contains("more than 100000 frames"),
        "{warnings:?}"
    );
}

#[test]
fn threads_beyond_the_thread_cap_are_reported() {
    let warnings = warnings_of(
        "import threading\n\
         threading.stack_size(256 * 1024)\n\
         done = threading.Event()\n\
         for _ in range(4100): threading.Thread(target=done.wait, daemon=True).start()\n\
         print('ready', flush=True)\n\
         done.wait(60)",
    );
    if warnings == ["SKIPPED"] {
        return;
    }
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("heapsnap: warning: more than 4096 threads"),
        "{warnings:?}"
    );
}
