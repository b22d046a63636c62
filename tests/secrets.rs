//! No secret a target holds in dict keys or string constants reaches a file heapsnap writes
//! (snapshot, `--objects`, report, series) or `diff`'s output, unless `--keys` asks for
//! literal keys.

#[macro_use]
mod common;

use common::{assert_succeeded, fixture, heapsnap, Build, Target};

const SECRETS: [&str; 5] = [
    "51f0c3ab9e",
    "a3f9c2e1b7d04e5f",
    "sk_live_51Hx9Q2e3R4tXyZ",
    "alice@example.com",
    "123456789",
];

fn secrets_stay_out(b: &Build) {
    let name = b.name;
    let target = Target::start(&b.python, &[fixture("secret_keys.py").to_str().unwrap()]);
    let dir = std::env::temp_dir().join(format!("heapsnap-secrets-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dump = |stem: &str, extra: &[&str]| {
        let (snapshot, objects) = (
            dir.join(format!("{stem}.json")),
            dir.join(format!("{stem}.jsonl")),
        );
        let out = heapsnap()
            .args(["dump", &target.pid().to_string(), "-q", "-o"])
            .arg(&snapshot)
            .arg("--objects")
            .arg(&objects)
            .args(extra)
            .output()
            .unwrap();
        assert_succeeded(&out);
        let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap();
        (snapshot.clone(), read(&snapshot) + &read(&objects))
    };
    let (a, masked) = dump("masked", &[]);
    let (b_, _) = dump("masked-b", &[]);
    let diff = heapsnap()
        .args(["diff", "--all", "--chains", "50"])
        .args([&a, &b_])
        .output()
        .unwrap();
    assert_succeeded(&diff);
    // The HTML report and a series (`record`) of the same target.
    let report = dir.join("report.html");
    let out = heapsnap()
        .arg("report")
        .args([&a, &b_])
        .arg("-o")
        .arg(&report)
        .output()
        .unwrap();
    assert_succeeded(&out);
    let series = dir.join("series.jsonl");
    let out = heapsnap()
        .args([
            "record",
            &target.pid().to_string(),
            "--interval",
            "0.1",
            "--duration",
            "0.3",
        ])
        .args(["-q", "-o"])
        .arg(&series)
        .output()
        .unwrap();
    assert_succeeded(&out);
    let shown = masked
        + &String::from_utf8_lossy(&diff.stdout)
        + &std::fs::read_to_string(&report).unwrap()
        + &std::fs::read_to_string(&series).unwrap();
    for secret in SECRETS {
        assert!(
            !shown.contains(secret),
            "{name}: {secret} in a file or diff's output"
        );
    }
    // Names stay, and masked keys say what they were.
    for kept in [
        "['timeout']",
        "['retry_policy']",
        "['<str len=20>']",
        "['<str len=17>']",
    ] {
        assert!(shown.contains(kept), "{name}: no {kept}");
    }
    let (_, literal) = dump("literal", &["--keys"]);
    for secret in ["alice@example.com", "a3f9c2e1b7d04e5f0001", "123456789"] {
        assert!(
            literal.contains(secret),
            "{name}: --keys should show {secret}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

per_build!(secrets_stay_out:
    secrets_2_7 => "2.7.18",
    secrets_3_8 => "3.8.18",
    secrets_3_12 => "3.12.1",
    secrets_sid_3_14 => "sid-3.14",
);
