//! End to end on the real thing: a stdlib HTTP service that draws charts with matplotlib and
//! never closes the figures (fixtures/report_service.py). Dump, 20 requests, dump, diff: the
//! figures, their companions and the chain through pyplot's registry; the fixed endpoint
//! leaks no Figure; three snapshots isolate the same objects.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};

use common::{build, diff_json, dump_to as dump, Target};
use serde_json::Value;

/// The matplotlib virtualenv for a build (created and cached by scripts/matplotlib-venv).
fn venv_python(python: &Path) -> Option<PathBuf> {
    common::cached_env("matplotlib-venv", python)
}

fn get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut body = Vec::new();
    s.read_to_end(&mut body).unwrap();
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.starts_with("HTTP/1.0 200"),
        "{path}: {}",
        text.lines().next().unwrap_or("")
    );
    text.split("\r\n\r\n").nth(1).unwrap_or("").to_string()
}

fn row<'a>(d: &'a Value, name: &str) -> Option<&'a Value> {
    d["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
}

fn new_objects(d: &Value, name: &str) -> u64 {
    row(d, name)
        .map(|r| r["new_objects"].as_u64().unwrap())
        .unwrap_or(0)
}

fn leak(build_name: &'static str) {
    let Some(b) = build(build_name) else { return };
    let Some(python) = venv_python(&b.python) else {
        return;
    };
    let dir =
        std::env::temp_dir().join(format!("heapsnap-mpl-{build_name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let service = common::fixture("report_service.py");
    let target = Target::start(&python, &[service.to_str().unwrap()]);
    // Target::start consumed "ready <port>": ask the kernel which port the service owns.
    let port = common::port_of(target.pid());
    let [a, bb, c] = ["a", "b", "c"].map(|n| dir.join(format!("{n}.json")));

    assert_eq!(get(port, "/count").trim(), "0");
    // Fixed requests first: their closed figures are cycles the collector may not have freed
    // yet when A is taken; left out of the rows, they do not hide part of the leak.
    for _ in 0..3 {
        get(port, "/report-fixed");
    }
    dump(target.pid(), &a);
    for _ in 0..20 {
        get(port, "/report");
    }
    assert_eq!(get(port, "/count").trim(), "20");
    dump(target.pid(), &bb);
    for _ in 0..20 {
        get(port, "/report-fixed");
    }
    assert_eq!(get(port, "/count").trim(), "20");
    dump(target.pid(), &c);

    // Leaky run: exactly +20 figures, with their companions.
    let leaky = diff_json(&[&a, &bb], &["--type", "matplotlib.figure.Figure"]);
    let figure = row(&leaky, "matplotlib.figure.Figure").expect("a Figure row");
    assert_eq!(
        figure["count_after"].as_i64().unwrap() - figure["count_before"].as_i64().unwrap(),
        20
    );
    assert_eq!(figure["new_objects"], 20);
    assert_eq!(new_objects(&leaky, "matplotlib.axes._axes.Axes"), 20);
    assert_eq!(
        new_objects(&leaky, "matplotlib.backends.backend_agg.FigureCanvasAgg"),
        20
    );
    assert!(new_objects(&leaky, "matplotlib.lines.Line2D") >= 20 * 50);
    assert!(new_objects(&leaky, "matplotlib.text.Text") >= 20 * 40);
    let chains = leaky["chains"].as_array().unwrap();
    let figure_chain = chains
        .iter()
        .find(|c| c["type_name"] == "matplotlib.figure.Figure")
        .expect("a chain for a new Figure");
    let path = figure_chain["path"].as_str().unwrap();
    assert!(
        path.starts_with("sys.modules['matplotlib._pylab_helpers'].Gcf.figs["),
        "{path}"
    );
    assert!(path.ends_with(".canvas.figure"), "{path}");
    // The answer first: one suspect, pyplot's registry, holding 20 figures.
    let suspect = &leaky["suspects"][0];
    assert_eq!(
        suspect["pattern"], "sys.modules['matplotlib._pylab_helpers'].Gcf.figs[*]",
        "{suspect}"
    );
    assert_eq!(suspect["attached"], 20, "{suspect}");
    assert_eq!(
        suspect["dominant"],
        serde_json::json!([20, "matplotlib.figure.Figure"]),
        "{suspect}"
    );
    let text = common::heapsnap()
        .arg("diff")
        .args([&a, &bb])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    let opening: String = text.lines().take(3).collect::<Vec<_>>().join("\n");
    // Where the process's RSS went over the leaking requests (printed for the log).
    let rss_line = text
        .lines()
        .find(|l| l.starts_with("RSS "))
        .unwrap_or_else(|| panic!("no RSS line in:\n{text}"));
    eprintln!("{build_name}: {rss_line}");
    let memory = &leaky["memory"];
    assert!(
        memory["rss"].as_i64().unwrap() > 0 && memory["objects"].as_i64().unwrap() > 0,
        "{memory}"
    );
    for needle in ["Gcf.figs[*]", "20 × matplotlib.figure.Figure"] {
        assert!(opening.contains(needle), "{needle} not in:\n{opening}");
    }
    let garbage_figures_in_a = {
        let snap: Value = serde_json::from_str(&std::fs::read_to_string(&a).unwrap()).unwrap();
        let figure_type = snap["types"]
            .as_array()
            .unwrap()
            .iter()
            .position(|t| t["name"] == "matplotlib.figure.Figure");
        snap["objects"]["garbage"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|&g| {
                let i = g.as_u64().unwrap() as usize;
                figure_type.is_some_and(|t| snap["objects"]["type"][i] == t as u64)
            })
            .count()
    };
    // The leak's entry point: 20 figure managers in pyplot's registry hold everything new.
    let first = &leaky["attachments"][0];
    assert_eq!(
        first["type_name"], "matplotlib.backend_bases.FigureManagerBase",
        "{first}"
    );
    assert_eq!(first["attached"], 20);
    assert_eq!(
        first["holder"],
        "sys.modules['matplotlib._pylab_helpers'].Gcf.figs"
    );

    // Fixed run: no Figure is added (bounded caches may still grow).
    let fixed = diff_json(&[&bb, &c], &["--type", "matplotlib.figure.Figure"]);
    if let Some(f) = row(&fixed, "matplotlib.figure.Figure") {
        assert_eq!(f["count_after"], f["count_before"], "{f}");
        assert_eq!(f["new_objects"], 0);
    }

    // Three snapshots: what the leaky requests created and is still alive after the fixed ones.
    let three = diff_json(&[&a, &bb, &c], &["--type", "matplotlib.figure.Figure"]);
    assert_eq!(new_objects(&three, "matplotlib.figure.Figure"), 20);
    assert_eq!(new_objects(&three, "matplotlib.axes._axes.Axes"), 20);
    println!(
        "FIGURES build={build_name} figure_chain={path} garbage_figures_in_a={garbage_figures_in_a}\n{opening}"
    );
}

#[test]
fn matplotlib_figures_leak_3_12_1() {
    leak("3.12.1");
}

#[test]
fn matplotlib_figures_leak_3_13_0() {
    leak("3.13.0");
}

#[test]
fn matplotlib_figures_leak_3_11_7() {
    leak("3.11.7");
}
