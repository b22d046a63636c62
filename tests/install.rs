//! Installing like py-spy: `pip wheel .` builds a wheel holding the binary (maturin, "bin"
//! bindings); installed into a clean virtualenv, its `heapsnap` runs and takes a census. And
//! `pip install .` from the checkout does the same. The build goes to a cached target folder
//! (`$HEAPSNAP_CACHE/wheel-target`), so only the first run compiles everything.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{build, Target};

fn cache() -> PathBuf {
    std::env::var_os("HEAPSNAP_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&std::env::var("HOME").unwrap()).join(".cache/heapsnap"))
}

fn run(command: &mut Command) -> String {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn venv(python: &Path, dir: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(dir);
    run(Command::new(python).args(["-m", "venv"]).arg(dir));
    dir.join("bin")
}

/// The venv's heapsnap: its version, and a census of a live target.
fn check_installed(bin: &Path, python: &Path) {
    let heapsnap = bin.join("heapsnap");
    assert!(heapsnap.is_file(), "no {}", heapsnap.display());
    let version = run(Command::new(&heapsnap).arg("--version"));
    assert_eq!(
        version.trim(),
        format!("heapsnap {}", env!("CARGO_PKG_VERSION"))
    );
    let target = Target::idle(
        python,
        "class Marker(object): pass\nm = [Marker() for _ in range(123)]",
    );
    let table =
        run(Command::new(&heapsnap).args(["dump", &target.pid().to_string(), "--top", "1000"]));
    let marker = table
        .lines()
        .find(|l| l.ends_with(" __main__.Marker"))
        .unwrap_or_else(|| panic!("no Marker row:\n{table}"));
    assert_eq!(marker.split_whitespace().nth(1), Some("123"), "{marker}");
}

/// The names in a wheel (a zip) or a source distribution (a .tar.gz, its top folder left out),
/// listed by the venv's Python.
fn archive_entries(venv_bin: &Path, archive: &Path) -> Vec<String> {
    let list = "import sys, tarfile, zipfile\n\
        a = sys.argv[1]\n\
        if a.endswith('.whl'):\n    print('\\n'.join(zipfile.ZipFile(a).namelist()))\n\
        else:\n    print('\\n'.join(m.name.split('/', 1)[1] for m in tarfile.open(a) \
        if m.isfile()))";
    run(Command::new(venv_bin.join("python"))
        .args(["-c", list])
        .arg(archive))
    .lines()
    .map(str::to_string)
    .collect()
}

/// The build backend `pyproject.toml` requires (`maturin>=...`).
fn build_requirement() -> String {
    let pyproject =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("pyproject.toml"))
            .unwrap();
    let line = pyproject
        .lines()
        .find(|l| l.starts_with("requires = "))
        .expect("requires in pyproject.toml");
    line.split('"').nth(1).expect("a requirement").to_string()
}

/// A source distribution (what `python -m build` would build a wheel from) holds the crate's
/// sources and the files maturin adds, never a target folder, a virtualenv or the tests.
#[test]
fn the_source_distribution_holds_only_what_the_build_needs() {
    let Some(b) = build("3.12.1") else { return };
    let work = std::env::temp_dir().join(format!("heapsnap-sdist-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let builder = venv(&b.python, &work.join("venv"));
    run(Command::new(builder.join("pip"))
        .args(["install", "--quiet"])
        .arg(build_requirement()));
    let out = work.join("sdist");
    run(Command::new(builder.join("maturin"))
        .args(["sdist", "--manifest-path"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--out")
        .arg(&out));
    let sdist = out.join(format!("heapsnap-{}.tar.gz", env!("CARGO_PKG_VERSION")));
    let entries = archive_entries(&builder, &sdist);
    let top = [
        "PKG-INFO",
        "pyproject.toml",
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "README.md",
        "fixtures/example_service.py",
    ];
    for needed in top.iter().chain(&["src/main.rs", "src/lib.rs"]) {
        assert!(
            entries.iter().any(|e| e == needed),
            "no {needed}: {entries:?}"
        );
    }
    for entry in &entries {
        assert!(
            top.contains(&entry.as_str()) || entry.starts_with("src/"),
            "{entry} in the source distribution"
        );
    }
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn pip_wheel_and_pip_install_give_a_working_heapsnap() {
    let Some(b) = build("3.12.1") else { return };
    let work = std::env::temp_dir().join(format!("heapsnap-install-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let repo = env!("CARGO_MANIFEST_DIR");
    let target_dir = cache().join("wheel-target");
    let builder = venv(&b.python, &work.join("build-venv"));
    let wheels = work.join("wheels");
    run(Command::new(builder.join("pip"))
        .args(["wheel", "--quiet", "--no-deps", repo, "-w"])
        .arg(&wheels)
        .env("CARGO_TARGET_DIR", &target_dir));
    let wheel = std::fs::read_dir(&wheels)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .expect("a wheel");
    let name = wheel.file_name().unwrap().to_string_lossy().into_owned();
    let version = env!("CARGO_PKG_VERSION");
    assert!(name.starts_with(&format!("heapsnap-{version}-")), "{name}");
    // The binary and the metadata, nothing else.
    let binary = format!("heapsnap-{version}.data/scripts/heapsnap");
    let metadata = format!("heapsnap-{version}.dist-info/");
    let entries = archive_entries(&builder, &wheel);
    assert!(entries.contains(&binary), "{entries:?}");
    for entry in &entries {
        assert!(
            *entry == binary || entry.starts_with(&metadata),
            "{entry} in the wheel"
        );
    }
    // A clean venv, the wheel only (no index).
    let clean = venv(&b.python, &work.join("clean-venv"));
    run(Command::new(clean.join("pip"))
        .args(["install", "--quiet", "--no-index"])
        .arg(&wheel));
    check_installed(&clean, &b.python);
    // `pip install .` from the checkout.
    let direct = venv(&b.python, &work.join("direct-venv"));
    run(Command::new(direct.join("pip"))
        .args(["install", "--quiet", repo])
        .env("CARGO_TARGET_DIR", &target_dir));
    check_installed(&direct, &b.python);
    let _ = std::fs::remove_dir_all(&work);
}
