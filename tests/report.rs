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

/// The demo's three snapshots (3.12.1, 20 requests between each) in a fresh folder `name`.
fn demo_snapshots(python: &Path, name: &str) -> (PathBuf, [PathBuf; 3]) {
    let dir = std::env::temp_dir().join(format!("heapsnap-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = heapsnap()
        .args(["demo", "--python"])
        .arg(python)
        .arg("--dir")
        .arg(&dir)
        .output()
        .unwrap();
    common::assert_succeeded(&out);
    let files = ["a.json", "b.json", "c.json"].map(|f| dir.join(f));
    (dir, files)
}

/// `heapsnap report <files> -o <page>`, which must succeed; the page.
fn report(files: &[&Path], page: &Path) -> String {
    let out = heapsnap()
        .arg("report")
        .args(files)
        .arg("-o")
        .arg(page)
        .output()
        .unwrap();
    common::assert_succeeded(&out);
    std::fs::read_to_string(page).unwrap()
}

/// The part of `html` from the element with `id` to the next section heading.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let rest = &html[start..];
    &rest[..rest.find("<h2").unwrap_or(rest.len())]
}

/// `html`'s text without its tags.
fn text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[test]
fn a_click_sorts_the_table_and_zooms_into_the_icicle() {
    let Some(b) = common::build("3.12.1") else {
        return;
    };
    let (dir, files) = demo_snapshots(&b.python, "clicks");
    let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let page = dir.join("report.html");
    let html = report(&files, &page);
    assert!(
        html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'"),
        "the page does not forbid loads"
    );
    let Some(chromium) = chromium() else { return };
    // The page, clicked by a script of the test's after its own ran: the Survivors header,
    // then the box of the leaked reports.
    let clicked = dir.join("clicked.html");
    std::fs::write(
        &clicked,
        format!(
            "{html}<script>\
             var heads = document.querySelectorAll('table.sortable th');\
             heads[heads.length - 1].click();\
             Array.prototype.slice.call(document.querySelectorAll('#icicle div'))\
             .filter(function (c) {{ return c.textContent.indexOf('20 × __main__.Report') === 0; }})[0]\
             .click();</script>"
        ),
    )
    .unwrap();
    let dom = String::from_utf8(headless(
        &chromium,
        &dir.join("profile"),
        &["--dump-dom"],
        &clicked,
    ))
    .unwrap();
    // Sorted by survivors, most first: the first row is the type `diff` counts most of.
    let diff = common::diff_json(&files, &[]);
    let most = diff["rows"]
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|r| r["new_objects"].as_u64().unwrap())
        .unwrap();
    let body = &dom[dom.find("<tbody>").unwrap()..];
    let first_row = text(&body[..body.find("</tr>").unwrap()]);
    assert!(
        first_row
            .trim_start()
            .starts_with(most["name"].as_str().unwrap()),
        "{first_row} / {most}"
    );
    // Zoomed: the path above names the root and the reports, and their box is the top one.
    let crumbs = section(&dom, "crumbs");
    assert_eq!(crumbs.matches("<a>").count(), 2, "{crumbs}");
    let icicle = section(&dom, "icicle");
    let top_box = &icicle[icicle.find("<div").unwrap()..];
    let top_text = text(&top_box[..top_box.find("</div>").unwrap() + 6]);
    assert!(top_text.starts_with("20 × __main__.Report —"), "{icicle}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn class_names_from_the_target_are_escaped() {
    let Some(b) = common::build("3.12.1") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("heapsnap-report-escape-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // A class whose name is markup, 50 instances of it made between the snapshots.
    let code = "import sys\n\
        Evil = type('<b id=\"evil\">x</b><script>document.title=1</script>', (), {})\n\
        held = []\n\
        print('ready', flush=True)\n\
        for line in sys.stdin:\n\
        \x20   held.extend(Evil() for _ in range(50))\n\
        \x20   print('ok', flush=True)\n";
    let mut target = common::Target::start(&b.python, &["-c", code]);
    let (a, c) = (dir.join("a.json"), dir.join("b.json"));
    common::dump_to(target.pid(), &a);
    target.send("leak\n");
    assert_eq!(target.read_line().trim(), "ok");
    common::dump_to(target.pid(), &c);
    let page = dir.join("report.html");
    let html = report(&[&a, &c], &page);
    assert!(!html.contains("<b id=\"evil\">"), "{html}");
    assert!(html.contains("&lt;b id=&quot;evil&quot;&gt;x&lt;/b&gt;&lt;script&gt;"));
    let data = section(&html, "tree-data");
    let data = &data[..data.find("</script>").unwrap()];
    assert!(
        data.contains("\\u003cb id=\\\"evil\\\">x") && !data.contains("<b id"),
        "{data}"
    );

    let Some(chromium) = chromium() else { return };
    let dom = String::from_utf8(headless(
        &chromium,
        &dir.join("profile"),
        &["--dump-dom"],
        &page,
    ))
    .unwrap();
    assert!(!dom.contains("<b id=\"evil\">"), "{dom}");
    assert!(
        dom.contains("<title>heapsnap report"),
        "the target's script ran"
    );
    // The page's script drew the name as text.
    assert!(
        section(&dom, "icicle").contains("50 × __main__.&lt;b id=\"evil\"&gt;x&lt;/b&gt;"),
        "{dom}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_snapshot_files_fail_as_diff_does() {
    let Some(b) = common::build("3.12.1") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("heapsnap-report-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let target = common::Target::idle(&b.python, "");
    let good = dir.join("good.json");
    common::dump_to(target.pid(), &good);
    let foreign = dir.join("foreign.json");
    std::fs::write(&foreign, r#"{"name": "not a snapshot"}"#).unwrap();
    let page = dir.join("report.html");
    for other in [dir.join("missing.json"), foreign] {
        let run = |command: &[&str]| {
            heapsnap()
                .args(command)
                .arg(&good)
                .arg(&other)
                .output()
                .unwrap()
        };
        let diff = run(&["diff"]);
        let report = run(&["report", "-o", page.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&report.stderr);
        assert_eq!(report.status.code(), Some(9), "{stderr}");
        assert_eq!(stderr, String::from_utf8_lossy(&diff.stderr));
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(!page.exists());
    }
    let out = heapsnap()
        .arg("report")
        .arg(&good)
        .arg(&good)
        .arg("-o")
        .arg(dir.join("no-such-folder/report.html"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
