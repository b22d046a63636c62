//! What `-o` writes, and how: the same text serde writes for the snapshot; to a regular file
//! (or a path that does not exist yet) through a temporary file renamed into place, to a
//! device or a pipe directly (a rename would replace the device node), and through a symbolic
//! link, which stays a link.

mod common;

use std::os::unix::fs::FileTypeExt;
use std::process::Command;

use common::{build, dump_to, Target};

#[test]
fn devices_pipes_and_links_are_written_through() {
    let Some(b) = build("3.12.1") else { return };
    let target = Target::idle(&b.python, "");
    let dir = std::env::temp_dir().join(format!("heapsnap-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

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

/// `dump -o` writes the snapshot by hand (columns formatted by two threads); it must be
/// byte for byte what serde writes for the same [`Snapshot`], which `demo` and the reader use.
#[test]
fn the_streamed_snapshot_is_the_serde_snapshot() {
    use heapsnap::snapshot::Snapshot;
    let Some(b) = build("3.12.1") else { return };
    let target = Target::idle(
        &b.python,
        "x = [{'i': i, 's': 'v%d' % i} for i in range(30000)]",
    );
    let options = heapsnap::capture::Options::blocking(heapsnap::heap::Mode::Full);
    let taken =
        heapsnap::capture::capture(target.pid(), &options).unwrap_or_else(|e| panic!("{e}"));
    let path = std::env::temp_dir().join(format!("heapsnap-serde-{}.json", std::process::id()));
    Snapshot::write_heap(&path, &taken.meta, &taken.census, &taken.heap).unwrap();
    let streamed = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let built = Snapshot::new(taken.meta.clone(), &taken.census, &taken.heap);
    let serde_text = serde_json::to_string(&built).unwrap();
    assert!(taken.heap.len() > 90_000, "{} objects", taken.heap.len());
    assert_eq!(streamed.trim_end(), serde_text, "the two encodings differ");
}
