//! Interpreters launched the way users run them are all found: a pyenv build with a shared
//! libpython, Debian's plain static executable, and a sid build started through an explicit
//! loader (`ld-linux-x86-64.so.2 --library-path ... python3.X`, whose /proc/<pid>/exe is the
//! loader).

mod common;

use common::{build, dump_to, Target};
use serde_json::Value;

/// Dump a sleeping interpreter of `build_name`; returns the snapshot's meta and the target's
/// /proc/<pid>/exe.
fn meta_of(build_name: &'static str) -> Option<(Value, String)> {
    let b = build(build_name)?;
    let target = Target::start(
        &b.python,
        &[
            "-c",
            "import sys, time; sys.stdout.write('ready\\n'); sys.stdout.flush(); time.sleep(60)",
        ],
    );
    let out = std::env::temp_dir().join(format!(
        "heapsnap-launch-{build_name}-{}.json",
        std::process::id()
    ));
    dump_to(target.pid(), &out);
    let exe = std::fs::read_link(format!("/proc/{}/exe", target.pid()))
        .unwrap()
        .display()
        .to_string();
    let snap: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert!(snap["meta"]["objects"].as_u64().unwrap() > 1000);
    Some((snap["meta"].clone(), exe))
}

#[test]
fn shared_libpython() {
    let Some((meta, _)) = meta_of("3.12.1") else {
        return;
    };
    assert_eq!(meta["python"]["shared_library"], true);
    assert!(meta["python"]["binary"]
        .as_str()
        .unwrap()
        .ends_with("/libpython3.12.so.1.0"));
    assert_eq!(meta["python"]["symbols"], true);
}

#[test]
fn plain_static_executable() {
    let Some((meta, exe)) = meta_of("debian-3.11") else {
        return;
    };
    assert_eq!(exe, "/usr/bin/python3.11");
    assert_eq!(meta["python"]["shared_library"], false);
    assert_eq!(meta["python"]["binary"], "/usr/bin/python3.11");
    assert_eq!(
        meta["python"]["symbols"], false,
        "Debian's binary is stripped"
    );
}

#[test]
fn explicit_loader() {
    let Some((meta, exe)) = meta_of("sid-3.14") else {
        return;
    };
    assert!(exe.ends_with("/ld-linux-x86-64.so.2"), "{exe}");
    assert_eq!(meta["python"]["shared_library"], false);
    assert!(meta["python"]["binary"]
        .as_str()
        .unwrap()
        .ends_with("/usr/bin/python3.14"));
    assert!(meta["python"]["version"]
        .as_str()
        .unwrap()
        .starts_with("3.14."));
}
