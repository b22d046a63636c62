//! The low-memory mode (the target read in place through a bounded cache, nothing copied)
//! finds what copy mode finds, object by object, and takes a census of a target bigger than
//! the memory heapsnap may use, choosing the mode by itself.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_succeeded, build, copy_of, heapsnap, limited_cgroup, Target};
use heapsnap::heap::edges::KeyLabels;
use heapsnap::heap::walk::{walk, walk_with_threads, Keep};
use heapsnap::heap::{Heap, Mode};
use heapsnap::memory::{freeze::Frozen, image::Image, maps::read_maps, process::ProcessMemory};

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("heapsnap-low-{}-{name}", std::process::id()))
}

/// `heapsnap dump <pid> --quiet --objects <objects> -o <snapshot> args...`, which must succeed.
fn dump(pid: i32, objects: &Path, snapshot: &Path, args: &[&str]) -> String {
    let out = heapsnap()
        .args(["dump", &pid.to_string(), "--quiet", "--objects"])
        .arg(objects)
        .arg("-o")
        .arg(snapshot)
        .args(args)
        .output()
        .unwrap();
    assert_succeeded(&out);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn low_memory_mode_finds_the_objects_copy_mode_finds() {
    // A still heap with objects spread over many cache chunks, a list whose items are read in
    // pieces (20,000 > 8,192 per piece), dicts, sets, str keys and tuples, and garbage cycles
    // (the collector disabled) with the strings only they hold.
    let setup = "class Item(object):\n    def __init__(self, i):\n        \
                 self.name = 'item-%d' % i\n        self.data = {'i': i, 't': (i, str(i))}\n\
                 items = [Item(i) for i in range(20000)]\n\
                 groups = dict(('g%d' % k, set(range(k, k + 40))) for k in range(500))\n\
                 import gc\ngc.disable()\nfor k in range(300):\n    \
                 c = {'k': 'cycle-%d' % k}\n    c['self'] = c\ndel c";
    let mut compared = 0;
    for name in ["2.7.18", "3.8.18", "3.12.1", "sid-3.14"] {
        let Some(b) = build(name) else { continue };
        // Target::idle's `print(..., flush=True)` is not 2.7.
        let code = format!(
            "{setup}\nimport sys, time\nsys.stdout.write('ready\\n')\nsys.stdout.flush()\n\
             time.sleep(60)"
        );
        let target = Target::start(&b.python, &["-c", &code]);
        let files = ["copy.jsonl", "copy.json", "low.jsonl", "low.json"].map(temp);
        let [copy_objects, copy_snapshot, low_objects, low_snapshot] = &files;
        dump(target.pid(), copy_objects, copy_snapshot, &[]);
        let warnings = dump(target.pid(), low_objects, low_snapshot, &["--low-memory"]);
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        let (copy, low) = (read(copy_objects), read(low_objects));
        let (copy_meta, low_meta) = (json(copy_snapshot), json(low_snapshot));
        for f in &files {
            let _ = std::fs::remove_file(f);
        }
        assert!(warnings.is_empty(), "{name}: {warnings}");
        assert!(copy.lines().count() > 80_000, "{name}: a heap too small");
        // Object by object: address, type, size and garbage (one JSON line each, in address
        // order); low-memory mode leaves the retained sizes out.
        for (i, (c, l)) in copy.lines().zip(low.lines()).enumerate() {
            let mut c: serde_json::Value = serde_json::from_str(c).unwrap();
            let l: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(
                c["retained"].is_u64() && l.get("retained").is_none(),
                "{name}: {i}"
            );
            c.as_object_mut().unwrap().remove("retained");
            assert_eq!(c, l, "{name}: object {i} differs");
        }
        assert_eq!(copy.lines().count(), low.lines().count(), "{name}");
        // The census rows too, but for their retained bytes (left out: 0).
        let rows = |doc: &serde_json::Value| {
            let mut rows = doc["types"].as_array().unwrap().clone();
            for row in &mut rows {
                row.as_object_mut().unwrap().remove("retained");
            }
            rows
        };
        assert_eq!(rows(&copy_meta), rows(&low_meta), "{name}");
        assert!(low_meta["types"]
            .as_array()
            .unwrap()
            .iter()
            .all(|row| row["retained"] == 0));
        let (cm, lm) = (&copy_meta["meta"], &low_meta["meta"]);
        assert_eq!(
            (cm["memory_mode"].as_str(), lm["memory_mode"].as_str()),
            (Some("copy"), Some("low"))
        );
        assert_eq!(
            lm["copied_bytes"], 0,
            "{name}: low-memory mode copies nothing"
        );
        assert!(lm["read_bytes"].as_u64().unwrap() > 0, "{name}");
        assert_eq!(lm["left_out"], serde_json::json!(["retained"]), "{name}");
        assert!(
            cm["garbage_objects"].as_u64().unwrap() >= 600,
            "{name}: {cm}"
        );
        assert_eq!(cm["garbage_objects"], lm["garbage_objects"], "{name}");
        assert_eq!(cm["left_out"], serde_json::json!([]), "{name}");
        // The snapshot's own columns agree too (parents may differ: copy mode walks big
        // levels on two threads).
        for column in ["address_delta", "type", "size"] {
            assert_eq!(
                copy_meta["objects"][column], low_meta["objects"][column],
                "{name}: column {column}"
            );
        }
        // A table-only dump folds its records into counts as it walks: the same rows, and
        // the same garbage line.
        let out = heapsnap()
            .args([
                "dump",
                &target.pid().to_string(),
                "--low-memory",
                "--top",
                "100000",
            ])
            .output()
            .unwrap();
        assert_succeeded(&out);
        let table = String::from_utf8_lossy(&out.stdout);
        let mut counted: Vec<(String, u64, u64)> = table
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("Index"))
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let n = |s: &str| s.replace(',', "").parse::<u64>().unwrap();
                (f[f.len() - 1].to_string(), n(f[1]), n(f[3]))
            })
            .collect();
        let mut expected: Vec<(String, u64, u64)> = copy_meta["types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let n = |k: &str| r[k].as_u64().unwrap();
                (
                    r["name"].as_str().unwrap().to_string(),
                    n("count"),
                    n("size"),
                )
            })
            .collect();
        counted.sort();
        expected.sort();
        assert_eq!(counted, expected, "{name}: table-only rows");
        let garbage = format!(
            "garbage awaiting collection: {} objects",
            cm["garbage_objects"].as_u64().unwrap()
        );
        assert!(table.contains(&garbage), "{name}: {table}");
        assert_ne!(target.state(), 't', "{name}: the target is left running");
        compared += 1;
    }
    assert!(compared > 0, "no build to compare on");
}

/// Every object with its type's name and its parent's address and label text.
fn described(heap: &Heap) -> Vec<(u64, String, u64, bool, Option<u64>, String)> {
    let objects: Vec<_> = heap.objects().collect();
    objects
        .iter()
        .map(|o| {
            let parent = objects.get(o.parent as usize).map(|p| p.address);
            let label = match heap.labels.get(o.label as usize) {
                Some(text) => text.clone(),
                None => format!("[{}]", o.label),
            };
            let name = heap.types[o.type_id as usize].name.clone();
            (o.address, name, o.size, o.size_exact, parent, label)
        })
        .collect()
}

#[test]
fn a_live_image_walks_like_its_copy_parents_and_labels_included() {
    let Some(b) = build("3.12.1") else { return };
    let target = Target::idle(&b.python, common::ITEMS_60K);
    let pid = target.pid();
    // One thread on both: the walk order, and so each parent, is then deterministic.
    let (interp, copy) = copy_of(pid);
    let from_copy = walk_with_threads(
        &copy,
        &interp,
        Mode::Full,
        false,
        Keep::Objects,
        KeyLabels::Masked,
        1,
    )
    .unwrap()
    .into_ordered_heap();
    drop(copy);
    let frozen = Frozen::stop(pid).unwrap();
    // A small cache (256 KiB): chunks are evicted and fetched again many times over.
    let live = Image::live_cached(pid, &read_maps(pid).unwrap(), 256 << 10)
        .with_fallback(Box::new(ProcessMemory::new(pid)));
    let walked = walk(
        &live,
        &interp,
        Mode::Full,
        false,
        Keep::Objects,
        KeyLabels::Masked,
    )
    .unwrap();
    assert!(
        live.stats().read_bytes > live.stats().bytes,
        "the cache was too big to test"
    );
    drop(live);
    frozen.resume();
    let from_live = walked.into_heap_in_place();
    let (a, b) = (described(&from_copy), described(&from_live));
    assert!(a.len() > 240_000, "a heap too small: {}", a.len());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x, y, "object {i}");
    }
    assert_eq!(a.len(), b.len());
}

#[test]
fn a_450_mb_target_is_dumped_inside_a_200_mb_memory_cgroup() {
    let Some(b) = build("3.12.1") else { return };
    let Some(cgroup) = limited_cgroup("memory") else {
        return;
    };
    // About 450 MB resident: 800,000 dicts, each with a distinct 250-byte str and an int.
    let target = Target::idle(
        &b.python,
        "x = [{'i': i, 's': ('%07d-' % i) * 31} for i in range(800000)]",
    );
    let rss_kb: u64 = std::fs::read_to_string(format!("/proc/{}/status", target.pid()))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    assert!(rss_kb > 420_000, "the target holds only {rss_kb} kB");
    cgroup.limit(200 << 20);
    let snapshot = temp("cgroup.json");
    // No --low-memory: the copy does not fit, so heapsnap reads in place by itself.
    let out = cgroup.dump(target.pid(), &format!("-o {}", snapshot.display()));
    let written = std::fs::read(&snapshot);
    let _ = std::fs::remove_file(&snapshot);
    assert_succeeded(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one warning line: {stderr}");
    assert!(
        stderr.starts_with("heapsnap: warning: ")
            && stderr.contains("low-memory mode")
            && stderr.contains("longer pause"),
        "{stderr}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&written.unwrap()).unwrap();
    assert_eq!(doc["meta"]["memory_mode"], "low");
    assert!(doc["meta"]["objects"].as_u64().unwrap() > 2_400_000);
    assert!(String::from_utf8_lossy(&out.stdout).contains("dict"));
    assert_ne!(target.state(), 't');
}
