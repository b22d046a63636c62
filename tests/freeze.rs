//! Stopping the target: every thread seized is released on every path, also when a thread
//! does not reach its stop in time.

mod common;

use std::time::Duration;

use common::{build, Target};
use heapsnap::memory::freeze::{FreezeError, Frozen};

/// `TracerPid` and state letter of every task of `pid`.
fn tasks(pid: i32) -> Vec<(i32, i32, char)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let tid: i32 = entry
            .unwrap()
            .file_name()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
                .unwrap()
        };
        let tracer = field("TracerPid:").parse().unwrap();
        let state = field("State:").chars().next().unwrap();
        out.push((tid, tracer, state));
    }
    out
}

#[test]
fn every_thread_is_released_after_a_stop_timeout() {
    let Some(b) = build("3.12.1") else { return };
    // 64 threads waking every millisecond: each is likely still running when a zero timeout
    // expires.
    let target = Target::idle(
        &b.python,
        "import threading, time\n\
         def spin():\n    while True: time.sleep(0.001)\n\
         for _ in range(64): threading.Thread(target=spin, daemon=True).start()",
    );
    let pid = target.pid();
    assert_eq!(tasks(pid).len(), 65);
    let mut timeouts = 0;
    for _ in 0..20 {
        match Frozen::stop_within(pid, Duration::ZERO) {
            Err(FreezeError::Timeout { released, .. }) => {
                assert!(released, "the thread that timed out was not detached");
                timeouts += 1;
            }
            Ok(frozen) => drop(frozen),
            Err(e) => panic!("unexpected error: {e}"),
        }
        for (tid, tracer, state) in tasks(pid) {
            assert_eq!(tracer, 0, "thread {tid} of {pid} is still traced");
            assert_ne!(state, 't', "thread {tid} of {pid} is still stopped");
        }
    }
    assert!(timeouts > 0, "no stop timed out: the test did not test it");
    // The released target still runs: a normal stop still works.
    let frozen = Frozen::stop(pid).unwrap();
    assert_eq!(frozen.thread_count(), 65);
}
