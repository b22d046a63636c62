//! What `-o` and `--objects` write, and how: the same text serde writes for the snapshot; to
//! a regular file (or a path that does not exist yet) through a temporary file renamed into
//! place, with mode 0600; to a device, a pipe or heapsnap's own standard output directly (a
//! rename would replace the device node); through a symbolic link, which stays a link; and
//! every output path checked before the target is touched.

mod common;

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{build, dump_to, heapsnap, Target};

/// A fresh folder of this test run's own under the temporary directory.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("heapsnap-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn devices_pipes_and_links_are_written_through() {
    let Some(b) = build("3.12.1") else { return };
    let target = Target::idle(&b.python, "");
    let dir = scratch("out");

    // A character device of our own (the null device's numbers), so that a failure here
    // cannot break the machine's /dev/null.
    let device = dir.join("null");
    let made = Command::new("mknod")
        .arg(&device)
        .args(["c", "1", "3"])
        .status()
        .is_ok_and(|s| s.success());
    if made {
        dump_to(target.pid(), &device);
        let kind = std::fs::symlink_metadata(&device).unwrap().file_type();
        assert!(
            kind.is_char_device(),
            "the device node was replaced: {kind:?}"
        );
    } else {
        eprintln!("SKIPPED (device part): mknod needs root");
    }

    // A pipe: the snapshot arrives whole at the reader.
    let fifo = dir.join("pipe");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let reader = std::thread::spawn({
        let fifo = fifo.clone();
        move || std::fs::read(fifo).unwrap()
    });
    dump_to(target.pid(), &fifo);
    let bytes = reader.join().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc["format"], "heapsnap-snapshot");
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());

    // A symbolic link, dangling at first: the file it names is created, then replaced.
    let link = dir.join("latest.json");
    std::os::unix::fs::symlink("real.json", &link).unwrap();
    for _ in 0..2 {
        dump_to(target.pid(), &link);
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("real.json")).unwrap()).unwrap();
        assert_eq!(doc["format"], "heapsnap-snapshot");
    }
    assert!(!dir.join("real.json.partial").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `dump -o` writes the snapshot by hand (columns formatted by two threads, or in low-memory
/// mode a piece of one column at a time), and `diff` reads it with its own scanner: what is
/// read back is the heap that was written, object by object, and the file is valid JSON.
#[test]
fn the_written_snapshot_reads_back_as_the_heap() {
    use heapsnap::snapshot::{Snapshot, NO_INDEX};
    let Some(b) = build("3.12.1") else { return };
    // More objects than a low-memory snapshot formats at a time (131,072).
    let target = Target::idle(
        &b.python,
        "x = [{'i': i, 's': 'v%d' % i} for i in range(50000)]",
    );
    // Deferred: the dominators are computed while the other columns are written.
    for (low_memory, deferred) in [(false, true), (false, false), (true, false)] {
        let options = heapsnap::capture::Options {
            low_memory,
            ..heapsnap::capture::Options::blocking(heapsnap::heap::Mode::Full)
        };
        let capture = match deferred {
            true => heapsnap::capture::capture_deferred,
            false => heapsnap::capture::capture,
        };
        let mut taken = capture(target.pid(), &options).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(taken.heap.dominators_pending(), deferred);
        let path =
            std::env::temp_dir().join(format!("heapsnap-read-back-{}.json", std::process::id()));
        Snapshot::write_heap(&path, &taken.meta, &mut taken.census, &mut taken.heap).unwrap();
        assert!(!taken.heap.dominators_pending());
        if !low_memory {
            let retained = taken.census.rows.iter().map(|r| r.retained).sum::<u64>();
            assert!(retained > 0, "the types' Retained column is filled in");
        }
        let text = std::fs::read_to_string(&path).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).expect("the snapshot is valid JSON");
        let full = Snapshot::read(&path).unwrap();
        let lean = Snapshot::read_lean(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let heap = &taken.heap;
        assert!(heap.len() > 150_000, "{} objects", heap.len());
        assert_eq!(full.objects.len(), heap.len());
        assert_eq!(full.types, taken.census.rows);
        assert_eq!(full.labels, heap.labels);
        for (i, o) in heap.objects().enumerate() {
            let name = |s: &Snapshot| s.types[s.objects.type_index[i] as usize].name.clone();
            for s in [&full, &lean] {
                assert_eq!(s.addresses()[i], o.address);
                assert_eq!(name(s), heap.types[o.type_id as usize].name);
                assert_eq!(s.objects.size.get(i), o.size);
                assert_eq!(s.objects.gc_age[i], o.gc_age);
            }
            let index = |v: u32| {
                if v == heapsnap::heap::NO_PARENT {
                    NO_INDEX
                } else {
                    v as i32
                }
            };
            assert_eq!(
                full.objects.parent[i],
                index(o.parent),
                "low memory: {low_memory}"
            );
            if !low_memory {
                assert_eq!(full.objects.idom[i], index(o.idom));
                assert_eq!(full.objects.retained.get(i), o.retained);
            }
        }
        // Both modes know every GC list's objects (their age), and only those.
        let on_lists = heap.objects().filter(|o| o.gc_age > 0).count();
        assert!(on_lists > 1_000, "{on_lists} objects on GC lists");
        // The lean read leaves out how objects are held.
        assert!(lean.objects.parent.is_empty() && lean.objects.retained.is_empty());
    }
}

/// `-o /dev/stdout` (and its other spellings) when heapsnap's standard output is a pipe or a
/// socket: the snapshot arrives whole. `/proc/self/fd/1` reads as `pipe:[N]` or `socket:[N]`,
/// which is no path, and a socket cannot be opened through /proc at all.
#[test]
fn the_standard_output_is_written_whatever_its_spelling() {
    let Some(b) = build("3.12.1") else { return };
    let target = Target::idle(&b.python, "");
    let dump = |spelling: &str| {
        let mut command = heapsnap();
        command.args(["dump", &target.pid().to_string(), "-q", "-o", spelling]);
        command
    };
    let check = |bytes: &[u8], what: &str| {
        let doc: serde_json::Value = serde_json::from_slice(bytes)
            .unwrap_or_else(|e| panic!("{what}: not a snapshot ({e}): {} bytes", bytes.len()));
        assert_eq!(doc["format"], "heapsnap-snapshot", "{what}");
        assert_eq!(doc["meta"]["pid"], target.pid(), "{what}");
    };
    for spelling in ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"] {
        // Into a pipe.
        let out = dump(spelling).output().unwrap();
        common::assert_succeeded(&out);
        check(&out.stdout, &format!("{spelling} into a pipe"));
        // Into a socket.
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut child = dump(spelling)
            .stdout(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let reader = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            (&ours).read_to_end(&mut bytes).unwrap();
            bytes
        });
        let status = child.wait().unwrap();
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(status.success(), "{spelling} into a socket: {stderr}");
        check(
            &reader.join().unwrap(),
            &format!("{spelling} into a socket"),
        );
    }
}

/// Every file heapsnap writes is created with mode 0600 and replaced, not overwritten in place:
/// a hard link to the previous file keeps the previous contents, so a reader never sees a
/// half-written file.
#[test]
fn snapshots_and_object_lists_are_replaced_whole_and_private() {
    let Some(b) = build("3.12.1") else { return };
    let target = Target::idle(&b.python, "x = [str(i) for i in range(5000)]");
    let dir = scratch("private");
    let (snapshot, objects) = (dir.join("a.json"), dir.join("a.jsonl"));
    let previous_of = |file: &std::path::Path| {
        let mut name = file.as_os_str().to_owned();
        name.push(".previous");
        std::path::PathBuf::from(name)
    };
    for (file, previous) in [(&snapshot, "old snapshot"), (&objects, "old objects")] {
        std::fs::write(file, previous).unwrap();
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::hard_link(file, previous_of(file)).unwrap();
    }
    let out = heapsnap()
        .args(["dump", &target.pid().to_string(), "-q", "-o"])
        .arg(&snapshot)
        .arg("--objects")
        .arg(&objects)
        .output()
        .unwrap();
    common::assert_succeeded(&out);
    for (file, previous) in [(&snapshot, "old snapshot"), (&objects, "old objects")] {
        let kept = std::fs::read_to_string(previous_of(file)).unwrap();
        assert_eq!(
            kept,
            previous,
            "{} was overwritten in place",
            file.display()
        );
        let mode = std::fs::metadata(file).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", file.display());
    }
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&snapshot).unwrap()).unwrap();
    let lines = std::fs::read_to_string(&objects).unwrap();
    // One JSON object per line, one line per object of the snapshot.
    let parsed: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        parsed.len() as u64,
        doc["meta"]["objects"].as_u64().unwrap()
    );
    assert!(parsed
        .iter()
        .all(|o| o["address"].is_u64() && o["type"].is_string()));
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A bad output path fails at once, before heapsnap looks at the target: shown with a target
/// that is not a Python process, which the first look at it would report (exit 5) instead.
#[test]
fn a_bad_output_path_fails_before_the_target_is_touched() {
    /// A process that is no Python interpreter, killed when the test ends, however it ends.
    struct Sleeper(std::process::Child);
    impl Drop for Sleeper {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let sleeper = Sleeper(Command::new("sleep").arg("30").spawn().unwrap());
    let pid = sleeper.0.id().to_string();
    let dump = |args: &[&str]| {
        let started = Instant::now();
        let out = heapsnap().args(["dump", &pid]).args(args).output().unwrap();
        (out, started.elapsed())
    };
    let one_line = |out: &Output, code: i32, needle: &str| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "expected {needle:?} in {stderr}");
    };
    // Without an output path, the target is looked at: it is no Python process.
    let (out, _) = dump(&[]);
    one_line(&out, 5, "is not a Python process");
    let (out, took) = dump(&["-o", "missing-dir/a.json"]);
    one_line(
        &out,
        1,
        "cannot write missing-dir/a.json: folder missing-dir does not exist",
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    let (out, _) = dump(&["-o", "a.json", "--objects", "missing-dir/a.jsonl"]);
    one_line(&out, 1, "cannot write missing-dir/a.jsonl");
    let (out, _) = dump(&["-o", "/"]);
    one_line(&out, 1, "cannot write /: Is a directory");
    // The table and the snapshot would both go to the standard output.
    let (out, _) = dump(&["-o", "/dev/stdout"]);
    one_line(&out, 2, "add --quiet");
    let same = std::env::temp_dir().join(format!("heapsnap-same-{}.json", std::process::id()));
    let same = same.to_str().unwrap();
    let (out, _) = dump(&["-q", "-o", same, "--objects", same]);
    one_line(&out, 2, "both name");
    drop(sleeper);
    assert!(!std::path::Path::new("a.json").exists());
}

/// `-o NAME.gz` and `-o NAME.zst` write compressed snapshots (gzip, zstd: chosen by the name);
/// every reader takes them as they are (told by their first bytes), and they compare like the
/// plain file of the same heap.
#[test]
fn compressed_snapshots_are_written_by_name_and_read_as_they_are() {
    let Some(b) = build("3.12.1") else { return };
    let target = Target::idle(&b.python, "x = [{'i': i} for i in range(30000)]");
    let dir = std::env::temp_dir().join(format!("heapsnap-compressed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let [plain, gz, zst] = ["a.json", "a.json.gz", "a.json.zst"].map(|n| dir.join(n));
    for path in [&plain, &gz, &zst] {
        dump_to(target.pid(), path);
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    }
    let head = |p: &std::path::Path| std::fs::read(p).unwrap()[..4].to_vec();
    assert_eq!(&head(&gz)[..2], &[0x1f, 0x8b], "gzip magic");
    assert_eq!(head(&zst), [0x28, 0xb5, 0x2f, 0xfd], "zstd magic");
    let size = |p: &std::path::Path| std::fs::metadata(p).unwrap().len();
    assert!(
        size(&zst) * 5 < size(&plain),
        "zstd: {} of {}",
        size(&zst),
        size(&plain)
    );
    assert!(
        size(&gz) * 3 < size(&plain),
        "gzip: {} of {}",
        size(&gz),
        size(&plain)
    );
    // The gzip file is the plain format inside.
    let out = Command::new("gzip").arg("-dc").arg(&gz).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["format"], "heapsnap-snapshot");
    // A still target: each compressed snapshot compares to the plain one as the same heap.
    for other in [&gz, &zst] {
        let d = common::diff_json(&[&plain, other], &[]);
        assert_eq!(d["total"]["new_objects"], 0, "{}", other.display());
        assert_eq!(d["total"]["count_before"], d["total"]["count_after"]);
    }
    let d = common::diff_json(&[&gz, &zst], &[]);
    assert_eq!(d["total"]["new_objects"], 0);
    let _ = std::fs::remove_dir_all(&dir);
}
