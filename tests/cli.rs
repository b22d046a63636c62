//! The command line as people meet it: the README's usage block says what `--help` says, both
//! tables print one default number of rows with thousands separators, and the crate's own
//! rules hold (it builds only for x86-64 Linux; clap stays in src/cli).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::{build, heapsnap, Target};

fn help(command: &str) -> String {
    let out = heapsnap().args([command, "--help"]).output().unwrap();
    common::assert_succeeded(&out);
    String::from_utf8(out.stdout).unwrap()
}

/// Each `--option` of a text, with the values it lists (`--by type|module` → type, module;
/// `--top 25` → 25), from the README's `heapsnap COMMAND ...` usage lines.
fn readme_usage(command: &str) -> BTreeSet<(String, String)> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let usage = readme
        .split("## Usage")
        .nth(1)
        .and_then(|rest| rest.split("```").nth(1))
        .expect("a ``` block under ## Usage");
    let text: String = usage
        .lines()
        .skip_while(|l| !l.starts_with(&format!("heapsnap {command} ")))
        .enumerate()
        .take_while(|(k, l)| *k == 0 || l.starts_with(' '))
        .map(|(_, l)| format!("{l} "))
        .collect();
    let mut options = BTreeSet::new();
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == '[' || c == ']')
        .filter(|w| !w.is_empty())
        .collect();
    for (k, word) in words.iter().enumerate() {
        for flag in word.split('|').filter(|f| f.starts_with("--")) {
            let value = words.get(k + 1).filter(|v| !v.starts_with('-'));
            options.insert((
                flag.to_string(),
                value.map_or(String::new(), |v| v.to_string()),
            ));
        }
    }
    options
}

/// Each `--option` of `heapsnap COMMAND --help`, with its possible values joined by `|` (or
/// its default, or its value name for options without either).
fn help_options(command: &str) -> BTreeSet<(String, String)> {
    let text = help(command);
    let mut options = BTreeSet::new();
    let mut current: Option<(String, String)> = None;
    let mut values: Vec<String> = Vec::new();
    let mut finish = |current: &mut Option<(String, String)>, values: &mut Vec<String>| {
        if let Some((flag, value)) = current.take() {
            let value = if values.is_empty() {
                value
            } else {
                values.join("|")
            };
            options.insert((flag, value));
        }
        values.clear();
    };
    for line in text.lines() {
        let trimmed = line.trim_start();
        // `-o, --output <FILE.json>` or `--json`; not a possible value (`- gc: ...`).
        let option = trimmed.starts_with("--")
            || (trimmed.starts_with('-') && trimmed.as_bytes()[1].is_ascii_alphabetic());
        if option {
            finish(&mut current, &mut values);
            let long = trimmed
                .split([',', ' '])
                .find(|w| w.starts_with("--"))
                .unwrap()
                .to_string();
            // `<NAME>` unless a default says more.
            let value = trimmed
                .split_whitespace()
                .nth(if trimmed.starts_with("--") { 1 } else { 2 })
                .filter(|v| v.starts_with('<'))
                .unwrap_or("")
                .to_string();
            current = Some((long, value));
        }
        if let Some(value) = trimmed.strip_prefix("- ") {
            values.push(value.split(':').next().unwrap().trim().to_string());
        } else if let Some(default) = trimmed.split("[default: ").nth(1) {
            if let Some((_, value)) = current.as_mut() {
                if values.is_empty() {
                    *value = default.split(']').next().unwrap().to_string();
                }
            }
        }
    }
    finish(&mut current, &mut values);
    options.remove(&("--help".to_string(), String::new()));
    options
}

#[test]
fn the_readme_usage_says_what_help_says() {
    for command in ["dump", "diff", "demo"] {
        // Options with a value name (`<FILE.json>`, `<NAME>`) are written in the README with
        // a placeholder of its own; the others must agree on their values or default.
        let normalise = |set: BTreeSet<(String, String)>| -> BTreeSet<(String, String)> {
            set.into_iter()
                .map(|(flag, value)| {
                    let placeholder = value.starts_with('<')
                        || value
                            .chars()
                            .all(|c| c.is_ascii_uppercase() || c == '.' || c == '_')
                        || value.ends_with("...")
                        || value.contains(".json");
                    let mut values: Vec<&str> = value.split('|').collect();
                    values.sort();
                    (
                        flag,
                        if placeholder {
                            "…".into()
                        } else {
                            values.join("|")
                        },
                    )
                })
                .collect()
        };
        let (readme, help) = (
            normalise(readme_usage(command)),
            normalise(help_options(command)),
        );
        assert_eq!(
            readme, help,
            "README usage of `heapsnap {command}` and its --help differ"
        );
    }
}

#[test]
fn dump_and_diff_print_the_same_number_of_rows_by_default() {
    let default_top = |command: &str| {
        help_options(command)
            .into_iter()
            .find(|(flag, _)| flag == "--top")
            .map(|(_, value)| value)
            .unwrap()
    };
    assert_eq!(default_top("dump"), default_top("diff"));
    assert_eq!(default_top("dump"), heapsnap::cli::DEFAULT_TOP.to_string());
}

/// The dump table's numbers, with thousands separators, are the snapshot's; it shows
/// `DEFAULT_TOP` rows and says how many more there are.
#[test]
fn the_dump_table_groups_thousands() {
    let Some(b) = build("3.12.1") else { return };
    let target = Target::idle(&b.python, "x = [str(i) for i in range(12345)]");
    let path = std::env::temp_dir().join(format!("heapsnap-table-{}.json", std::process::id()));
    let out = heapsnap()
        .args(["dump", &target.pid().to_string(), "-o"])
        .arg(&path)
        .output()
        .unwrap();
    common::assert_succeeded(&out);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    std::fs::remove_file(&path).unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    // `1234567` → `1,234,567`: groups of three digits counted from the right.
    let group = |n: u64| {
        let digits: Vec<char> = n.to_string().chars().rev().collect();
        let groups: Vec<String> = digits
            .chunks(3)
            .rev()
            .map(|g| g.iter().rev().collect())
            .collect();
        groups.join(",")
    };
    let types = doc["types"].as_array().unwrap();
    assert!(
        types.len() > heapsnap::cli::DEFAULT_TOP,
        "{} types",
        types.len()
    );
    // The rows follow the header line (after the lines saying what was measured).
    let rows: Vec<&str> = table
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("Index"))
        .skip(1)
        .collect();
    assert_eq!(rows.len(), heapsnap::cli::DEFAULT_TOP + 1, "{table}");
    let mut cumulative = 0;
    for (line, t) in rows[..heapsnap::cli::DEFAULT_TOP].iter().zip(types) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        cumulative += t["size"].as_u64().unwrap();
        assert_eq!(cells[1], group(t["count"].as_u64().unwrap()), "{line}");
        assert_eq!(cells[3], group(t["size"].as_u64().unwrap()), "{line}");
        assert_eq!(cells[5], group(cumulative), "{line}");
        assert_eq!(cells[7], group(t["retained"].as_u64().unwrap()), "{line}");
    }
    // The separators were exercised: the strs number over 12,345.
    assert!(
        rows.iter()
            .any(|l| l.split_whitespace().nth(1).unwrap().contains(',')),
        "{table}"
    );
    let hidden = types.len() - heapsnap::cli::DEFAULT_TOP;
    assert_eq!(
        rows.last().unwrap(),
        &format!(
            "<{hidden} more row{}; --top N shows more>",
            if hidden == 1 { "" } else { "s" }
        )
    );
}

/// build.rs, compiled and run as cargo runs it: it passes x86-64 Linux and stops every other
/// target with a message naming it.
#[test]
fn the_build_refuses_every_target_but_x86_64_linux() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("build.rs");
    let binary = std::env::temp_dir().join(format!("heapsnap-build-script-{}", std::process::id()));
    let compiled = Command::new(std::env::var("RUSTC").unwrap_or("rustc".into()))
        .args(["--edition", "2021", "-o"])
        .arg(&binary)
        .arg(&script)
        .output()
        .unwrap();
    common::assert_succeeded(&compiled);
    let run = |arch: &str, os: &str| {
        Command::new(&binary)
            .env("CARGO_CFG_TARGET_ARCH", arch)
            .env("CARGO_CFG_TARGET_OS", os)
            .output()
            .unwrap()
    };
    assert!(run("x86_64", "linux").status.success());
    for (arch, os) in [("aarch64", "linux"), ("x86_64", "macos"), ("x86", "linux")] {
        let out = run(arch, os);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{arch} {os} was accepted");
        assert!(
            stderr.contains("heapsnap builds only for x86-64 Linux")
                && stderr.contains(&format!("{arch} {os}")),
            "{stderr}"
        );
    }
    std::fs::remove_file(&binary).unwrap();
}

/// The library does not depend on the command-line parser: no file outside src/cli names clap.
#[test]
fn clap_stays_in_the_cli() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    let mut folders = vec![src.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path != src.join("cli") {
                    folders.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs")
                && std::fs::read_to_string(&path).unwrap().contains("clap")
            {
                offenders.push(path);
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "clap used outside src/cli: {offenders:?}"
    );
}

#[test]
fn completions_name_every_command_and_option_and_bash_loads_them() {
    for shell in ["bash", "zsh", "fish"] {
        let out = heapsnap().args(["completions", shell]).output().unwrap();
        common::assert_succeeded(&out);
        let script = String::from_utf8(out.stdout).unwrap();
        // fish writes long options without their dashes (`-l low-memory`).
        for word in [
            "dump",
            "diff",
            "demo",
            "low-memory",
            "include-garbage",
            "keys",
        ] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
        if shell == "bash" {
            let path = std::env::temp_dir().join(format!("heapsnap-{}.bash", std::process::id()));
            std::fs::write(&path, &script).unwrap();
            let check = Command::new("bash")
                .arg("-c")
                .arg(format!("source {} && complete -p heapsnap", path.display()))
                .output()
                .unwrap();
            let _ = std::fs::remove_file(&path);
            assert!(
                check.status.success(),
                "{}",
                String::from_utf8_lossy(&check.stderr)
            );
        }
    }
}
