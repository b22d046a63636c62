//! A multi-threaded service answering a request loop is dumped 30 times in a row: no request
//! fails and no dump fails. Prints what the dumps added to request latency.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{build, fixture, heapsnap, Target};

#[test]
fn threaded_service_dumped_30_times_under_load() {
    let Some(b) = build("3.12.1") else { return };
    let service = Target::start(&b.python, &[fixture("load_service.py").to_str().unwrap()]);
    let port = service.ready.clone();
    let mut client = Command::new(&b.python)
        .arg(fixture("load_client.py"))
        .args([&port, "4"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut client_out = BufReader::new(client.stdout.take().unwrap());
    let mut line = String::new();
    client_out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    let mut client_in = client.stdin.take().unwrap();
    std::thread::sleep(Duration::from_secs(3));

    writeln!(client_in, "during").unwrap();
    let path = std::env::temp_dir().join(format!("heapsnap-load-{}.json", std::process::id()));
    let mut stops = 0;
    for i in 0..30 {
        let out = heapsnap()
            .args(["dump", &service.pid().to_string(), "--quiet", "-o"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "dump {i} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let snap: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        stops += snap["meta"]["stops"].as_u64().unwrap();
    }
    let _ = std::fs::remove_file(&path);
    writeln!(client_in, "after").unwrap();
    std::thread::sleep(Duration::from_secs(1));
    writeln!(client_in, "stop").unwrap();
    line.clear();
    client_out.read_line(&mut line).unwrap();
    client.wait().unwrap();
    let summary: serde_json::Value = serde_json::from_str(&line).unwrap();
    for phase in ["before", "during"] {
        let p = &summary[phase];
        assert!(p["requests"].as_u64().unwrap() > 100, "{phase}: {p}");
        assert_eq!(p["failed"], 0, "{phase}: failed requests: {p}");
    }
    eprintln!(
        "under load (3.12.1, 4 client threads): 30 dumps, none failed, {stops} stops; requests \
         before: {}; during: {}",
        summary["before"], summary["during"]
    );
}
