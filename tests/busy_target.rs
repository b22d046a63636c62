//! Dumps of busy targets never fail: a stop that lands while the collector collects, or while a
//! thread links a GC header, is retried; when no safe moment comes the census walks around the
//! collector's lists and says so. The unchanging part of the heap is counted exactly every time.

mod common;

use std::path::Path;

use common::{build, fixture, heapsnap, Build, Target};

/// What one dump said: its exit code, stderr, and from the snapshot the stops, whether it is
/// consistent, and how many `__main__.Stable` objects it counted.
struct Dumped {
    code: Option<i32>,
    stderr: String,
    stops: u64,
    consistent: bool,
    stable: u64,
}

fn dump(pid: i32, extra: &[&str], path: &Path) -> Dumped {
    let out = heapsnap()
        .args(["dump", &pid.to_string(), "--quiet", "-o"])
        .arg(path)
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut dumped = Dumped {
        code: out.status.code(),
        stderr,
        stops: 0,
        consistent: false,
        stable: 0,
    };
    if out.status.success() {
        let snap: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        dumped.stops = snap["meta"]["stops"].as_u64().unwrap();
        dumped.consistent = snap["meta"]["consistent"].as_bool().unwrap();
        dumped.stable = snap["types"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "__main__.Stable")
            .map_or(0, |t| t["count"].as_u64().unwrap());
    }
    dumped
}

fn snapshot_path(b: &Build, what: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "heapsnap-busy-{what}-{}-{}.json",
        b.name,
        std::process::id()
    ))
}

/// 30 dumps (and 10 non-blocking ones) of a target whose collector runs all the time: every
/// one succeeds and counts the 50,000 unchanging objects exactly.
fn churning(b: &Build) {
    let target = Target::start(&b.python, &[fixture("churn.py").to_str().unwrap()]);
    let path = snapshot_path(b, "churn");
    let mut stops = Vec::new();
    let mut inconsistent = 0;
    for (i, extra) in std::iter::repeat_n(&[][..], 30)
        .chain(std::iter::repeat_n(&["--nonblocking"][..], 10))
        .enumerate()
    {
        let d = dump(target.pid(), extra, &path);
        assert_eq!(
            d.code,
            Some(0),
            "{}: dump {i} {extra:?} failed: {}",
            b.name,
            d.stderr
        );
        assert_eq!(
            d.stable, 50_000,
            "{}: dump {i} {extra:?} counted {} Stable objects (stops {}, consistent {}): {}",
            b.name, d.stable, d.stops, d.consistent, d.stderr
        );
        if extra.is_empty() {
            assert!(d.stops >= 1);
            stops.push(d.stops);
            inconsistent += usize::from(!d.consistent);
        } else {
            assert_eq!((d.stops, d.consistent), (0, false));
        }
    }
    let _ = std::fs::remove_file(&path);
    stops.sort_unstable();
    eprintln!(
        "{}: 30 dumps + 10 non-blocking, none failed; stops per dump: median {}, max {}, total {}; \
         walked around the lists: {inconsistent}",
        b.name,
        stops[stops.len() / 2],
        stops[stops.len() - 1],
        stops.iter().sum::<u64>()
    );
}

/// A collection that lasts longer than heapsnap's patience (3 s): the dump still succeeds, says
/// it walked around the collector's lists, and counts the stable part exactly. One that ends
/// within it is waited for: the dump is consistent after more than one stop.
fn blocked_collection(b: &Build) {
    let mut target = Target::start(
        &b.python,
        &[fixture("blocked_collection.py").to_str().unwrap()],
    );
    let path = snapshot_path(b, "blocked");

    // Held until the dump is over.
    target.send("block\n");
    assert_eq!(target.read_line().trim(), "collecting");
    let d = dump(target.pid(), &[], &path);
    target.send("release\n");
    assert_eq!(target.read_line().trim(), "collected");
    assert_eq!(d.code, Some(0), "{}: {}", b.name, d.stderr);
    assert!(
        !d.consistent,
        "{}: a dump mid-collection said consistent",
        b.name
    );
    assert!(d.stops >= 2, "{}: {} stops", b.name, d.stops);
    assert_eq!(d.stable, 50_000, "{}", b.name);
    assert_eq!(d.stderr.lines().count(), 1, "{}: {}", b.name, d.stderr);
    assert!(
        d.stderr
            .starts_with("heapsnap: warning: the collector was collecting at each of"),
        "{}: {}",
        b.name,
        d.stderr
    );

    // Released 1 s after the dump starts: within its patience (20 stops span ~3 s), long
    // after its first stop.
    target.send("block\n");
    assert_eq!(target.read_line().trim(), "collecting");
    let pid = target.pid();
    let dumping = std::thread::spawn({
        let path = path.clone();
        move || dump(pid, &[], &path)
    });
    std::thread::sleep(std::time::Duration::from_secs(1));
    target.send("release\n");
    assert_eq!(target.read_line().trim(), "collected");
    let d = dumping.join().unwrap();
    assert_eq!(d.code, Some(0), "{}: {}", b.name, d.stderr);
    assert!(d.consistent, "{}: {}", b.name, d.stderr);
    assert!(d.stops >= 2, "{}: the collection was not seen", b.name);
    assert_eq!(d.stable, 50_000, "{}", b.name);
    let _ = std::fs::remove_file(&path);
    eprintln!(
        "{}: blocked collection: walked around after the patience ran out; one released after \
         1 s waited for ({} stops)",
        b.name, d.stops
    );
}

macro_rules! busy_tests {
    ($($churn:ident, $blocked:ident => $build:expr),* $(,)?) => {$(
        #[test]
        fn $churn() {
            if let Some(b) = build($build) {
                churning(&b);
            }
        }

        #[test]
        fn $blocked() {
            if let Some(b) = build($build) {
                blocked_collection(&b);
            }
        }
    )*};
}

busy_tests! {
    churning_2_7_18, blocked_collection_2_7_18 => "2.7.18",
    churning_3_6_15, blocked_collection_3_6_15 => "3.6.15",
    churning_3_7_16, blocked_collection_3_7_16 => "3.7.16",
    churning_3_8_18, blocked_collection_3_8_18 => "3.8.18",
    churning_3_10_13, blocked_collection_3_10_13 => "3.10.13",
    churning_3_11_7, blocked_collection_3_11_7 => "3.11.7",
    churning_3_12_1, blocked_collection_3_12_1 => "3.12.1",
    churning_3_13_0, blocked_collection_3_13_0 => "3.13.0",
    churning_debian_3_11, blocked_collection_debian_3_11 => "debian-3.11",
    churning_sid_3_13, blocked_collection_sid_3_13 => "sid-3.13",
    churning_sid_3_14, blocked_collection_sid_3_14 => "sid-3.14",
    churning_sid_3_15, blocked_collection_sid_3_15 => "sid-3.15",
}
