//! `heapsnap report`: one self-contained HTML page of the demo's leak, opened in headless
//! Chromium (Debian's package, installed by scripts/chromium when missing): the rendered page
//! (after its script ran) names the leak, and a screenshot of it is not blank.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::heapsnap;

/// Headless Chromium, installed if need be; None (with a loud line) if it cannot be had.
fn chromium() -> Option<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/chromium");
    let out = Command::new(script).output().unwrap();
    if !out.status.success() {
        eprintln!(
            "\n*** SKIPPED: no Chromium: {} ***\n",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return None;
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    Some(PathBuf::from(stdout.lines().last()?.trim()))
}

fn headless(chromium: &Path, profile: &Path, args: &[&str], page: &Path) -> Vec<u8> {
    let out = Command::new("timeout")
        .arg("120")
        .arg(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn the_report_names_the_demo_leak_in_a_browser() {
    let python = match common::build("3.12.1") {
        Some(b) => b.python,
        None => return,
    };
    let dir = std::env::temp_dir().join(format!("heapsnap-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = heapsnap()
        .args(["demo", "--python"])
        .arg(&python)
        .arg("--dir")
        .arg(&dir)
        .output()
        .unwrap();
    common::assert_succeeded(&out);
    let page = dir.join("report.html");
    let out = heapsnap()
        .arg("report")
        .args(["a.json", "b.json", "c.json"].map(|f| dir.join(f)))
        .arg("-o")
        .arg(&page)
        .output()
        .unwrap();
    common::assert_succeeded(&out);
    let mode = std::fs::metadata(&page).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing is fetched when it is opened.
    for reference in ["src=", "href=", "http://", "https://", "@import", "url("] {
        assert!(!html.contains(reference), "the page refers to {reference}");
    }
    assert!(html.contains("Leak suspects"));

    let Some(chromium) = chromium() else { return };
    let profile = dir.join("profile");
    let dom = String::from_utf8(headless(&chromium, &profile, &["--dump-dom"], &page)).unwrap();
    assert!(
        dom.contains("__main__.Report"),
        "the rendered page does not name the leaked type"
    );
    assert!(
        dom.contains("Registry.items"),
        "the rendered page does not name the holder"
    );
    // The icicle is drawn by the page's script: its boxes are in the rendered DOM.
    assert!(
        dom.contains("20 × __main__.Report —"),
        "the icicle was not drawn: {}",
        &dom[dom.find("id=\"icicle\"").unwrap_or(0)..][..300.min(dom.len())]
    );
    let shot = dir.join("shot.png");
    headless(
        &chromium,
        &profile,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,1600",
        ],
        &page,
    );
    let decoder = png::Decoder::new(std::fs::File::open(&shot).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let channels = info.color_type.samples();
    let mut colours: Vec<&[u8]> = pixels[..info.buffer_size()].chunks(channels).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        colours.len() > 50,
        "the screenshot is nearly blank: {} colours",
        colours.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
