//! The HTML leak report (`heapsnap report`): one self-contained file, opened with no network
//! access: the leak suspects, the resident memory and how it changed, an icicle of the retained
//! sizes of the new objects (click a node to zoom into it), the sortable table of types, and
//! where the new objects attach with their retainer chains.
//!
//! Everything the snapshots name (types, paths, keys) is escaped: a target chooses its class
//! names. The icicle's tree travels as JSON inside the page; the styles and the few lines of
//! script are inline; no URL is fetched.

use std::fmt::Write;

use super::diff::memory_delta_line;
use super::{group, human_bytes, signed, signed_bytes};
use crate::diff::tree::TreeNode;
use crate::diff::Diff;
use crate::snapshot::{MemoryAccount, Snapshot};

/// Text made safe inside HTML elements and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page's Content-Security-Policy: it may run its own inline script and style and load
/// nothing at all, whatever a name in it might say.
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'";

const STYLE: &str = r#"
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 16px 24px; color: #1d2430; }
h1 { font-size: 22px; margin: 4px 0 2px; } h2 { font-size: 17px; margin: 26px 0 8px; border-bottom: 1px solid #d8dde6; padding-bottom: 4px; }
.meta { color: #5b6472; } code, .path { font-family: ui-monospace, monospace; font-size: 12.5px; word-break: break-all; }
ol.suspects li { margin-bottom: 10px; } .big { font-weight: 600; }
.bar { display: flex; height: 22px; border-radius: 4px; overflow: hidden; margin: 4px 0 2px; background: #eef0f4; }
.bar div { height: 100%; } .legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; }
#icicle { position: relative; width: 100%; border: 1px solid #d8dde6; border-radius: 4px; overflow: hidden; }
#icicle div { position: absolute; height: 24px; box-sizing: border-box; border: 1px solid #fff; overflow: hidden; white-space: nowrap;
  font-size: 12px; line-height: 22px; padding: 0 4px; cursor: pointer; color: #111; }
#crumbs { margin: 4px 0 6px; } #crumbs a { cursor: pointer; color: #2457c5; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { padding: 3px 8px; border-bottom: 1px solid #eceff3; text-align: right; } th { cursor: pointer; background: #f4f6f9; position: sticky; top: 0; }
td.name, th.name { text-align: left; } .up { color: #b3261e; } .down { color: #1e7b34; }
.warn { color: #8a5a00; }
"#;

const SCRIPT: &str = r#"
(function () {
  var tree = JSON.parse(document.getElementById('tree-data').textContent);
  var box = document.getElementById('icicle'), crumbs = document.getElementById('crumbs');
  function human(n) { var u = ['B','kB','MB','GB','TB'], i = 0; while (n >= 1000 && i < 4) { n /= 1000; i++; } return i ? n.toFixed(1) + ' ' + u[i] : n + ' B'; }
  function hue(s) { var h = 0; for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) % 360; return h; }
  function show(path) {
    var root = path[path.length - 1], depthMax = 0;
    box.textContent = ''; crumbs.textContent = '';
    path.forEach(function (n, k) {
      var a = document.createElement('a'); a.textContent = n.name + ' (' + human(n.retained) + ')';
      a.onclick = function () { show(path.slice(0, k + 1)); };
      crumbs.appendChild(a); if (k < path.length - 1) crumbs.appendChild(document.createTextNode(' › '));
    });
    function lay(node, x, w, depth, trail) {
      if (depth > 14 || w < 0.05) return;
      depthMax = Math.max(depthMax, depth);
      var d = document.createElement('div');
      d.style.left = x + '%'; d.style.width = w + '%'; d.style.top = (depth * 24) + 'px';
      var type = node.name.replace(/^[0-9,]+ × /, '');
      d.style.background = node.name.indexOf('other (') === 0 ? '#d9dde3' : 'hsl(' + hue(type) + ',55%,' + (depth ? 78 : 70) + '%)';
      d.textContent = node.name + ' — ' + human(node.retained);
      d.title = node.name + '\n' + human(node.retained) + ' retained, ' + node.objects + ' objects';
      d.onclick = function (e) { e.stopPropagation(); if (node !== root) show(trail); };
      box.appendChild(d);
      var cx = x;
      (node.children || []).forEach(function (c) {
        var cw = node.retained ? w * c.retained / node.retained : 0;
        lay(c, cx, cw, depth + 1, trail.concat([c])); cx += cw;
      });
    }
    lay(root, 0, 100, 0, path);
    box.style.height = ((depthMax + 1) * 24) + 'px';
  }
  if (tree) show([tree]);
  document.querySelectorAll('table.sortable th').forEach(function (th, col) {
    th.onclick = function () {
      var body = th.closest('table').tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var down = th.dataset.dir !== 'down'; th.dataset.dir = down ? 'down' : 'up';
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
        var c = (x !== undefined && y !== undefined) ? (Number(x) - Number(y)) : a.cells[col].textContent.localeCompare(b.cells[col].textContent);
        return down ? -c : c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    };
  });
})();
"#;

/// The colours of the parts of the resident memory, in the order drawn.
const PARTS: [(&str, &str); 5] = [
    ("Python objects", "#4f7fdc"),
    ("allocator free", "#9bb7ec"),
    ("outside Python objects", "#e0894a"),
    ("thread stacks", "#a7b0bd"),
    ("files and code", "#cfd5de"),
];

fn memory_parts(m: &MemoryAccount) -> [u64; 5] {
    [
        m.objects.min(m.anonymous),
        m.allocator_free,
        m.outside_objects,
        m.thread_stacks,
        m.files,
    ]
}

/// The whole page for the comparison `d` of `snapshots` (read from `names`), with the tree of
/// the new objects' retained sizes when there is one.
pub fn report_html(
    snapshots: &[&Snapshot],
    names: &[String],
    d: &Diff,
    tree: Option<&TreeNode>,
) -> String {
    let mut s = String::new();
    let (first, last) = (snapshots[0], snapshots[snapshots.len() - 1]);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>heapsnap report — pid {}</title><style>{STYLE}</style></head><body>\n",
        last.meta.pid
    );
    let _ = writeln!(
        s,
        "<h1>heapsnap leak report</h1><div class=\"meta\">pid {} — Python {} — {} — heapsnap {}</div>",
        last.meta.pid,
        escape(&last.meta.python.version),
        names
            .iter()
            .zip(["A", "B", "C"])
            .map(|(n, k)| format!("{k}: <code>{}</code>", escape(n)))
            .collect::<Vec<_>>()
            .join(", "),
        escape(&last.meta.heapsnap_version)
    );
    let t = &d.total;
    let _ = writeln!(
        s,
        "<p>{} objects ({}) in the first snapshot, {} ({}) in the last: <span class=\"big\">{} objects, {}</span>; \
         {} {}.</p>",
        group(t.count_before),
        human_bytes(t.size_before),
        group(t.count_after),
        human_bytes(t.size_after),
        signed(t.count_delta()),
        signed_bytes(t.size_delta()),
        group(t.new_objects),
        if d.survivors {
            "objects new in B are still alive in C (survivors)"
        } else {
            "objects are new in B"
        }
    );
    suspects(&mut s, d);
    memory(&mut s, first, last, d);
    icicle(&mut s, tree);
    types_table(&mut s, d);
    attachments(&mut s, d);
    if !d.warnings.is_empty() {
        let _ = writeln!(s, "<h2>Warnings</h2><ul>");
        for w in &d.warnings {
            let _ = writeln!(s, "<li class=\"warn\">{}</li>", escape(w));
        }
        let _ = writeln!(s, "</ul>");
    }
    let data = tree
        .and_then(|t| serde_json::to_string(t).ok())
        .unwrap_or_else(|| "null".into())
        // Inside a script element nothing may read as a closing tag.
        .replace('<', "\\u003c");
    let _ = write!(
        s,
        "<script type=\"application/json\" id=\"tree-data\">{data}</script>\n<script>{SCRIPT}</script>\n</body></html>\n"
    );
    s
}

fn suspects(s: &mut String, d: &Diff) {
    let _ = writeln!(s, "<h2>Leak suspects</h2>");
    if d.suspects.is_empty() {
        let _ = writeln!(
            s,
            "<p>None: no group of new objects hangs from the old heap in a way that stands out.</p>"
        );
        return;
    }
    let _ = writeln!(
        s,
        "<p class=\"meta\">Where the new objects hang on the old heap, by the bytes they retain.</p><ol class=\"suspects\">"
    );
    for x in &d.suspects {
        let _ = write!(
            s,
            "<li><code class=\"big\">{}</code><br>{} new <code>{}</code> retaining <span class=\"big\">{}</span> ({} new objects)",
            escape(&x.pattern),
            group(x.attached),
            escape(&x.attached_type),
            human_bytes(x.retained),
            group(x.new_objects)
        );
        if let Some((count, name)) = &x.dominant {
            if *name != x.attached_type {
                let _ = write!(s, "<br>{} × <code>{}</code>", group(*count), escape(name));
            }
        }
        let _ = writeln!(
            s,
            "<br><span class=\"meta\">e.g.</span> <span class=\"path\">{}</span></li>",
            escape(&x.example)
        );
    }
    let _ = writeln!(s, "</ol>");
}

fn memory(s: &mut String, first: &Snapshot, last: &Snapshot, d: &Diff) {
    let _ = writeln!(s, "<h2>Resident memory</h2>");
    let (Some(a), Some(b)) = (first.meta.memory.as_ref(), last.meta.memory.as_ref()) else {
        let _ = writeln!(
            s,
            "<p>The snapshots do not say where the resident memory is.</p>"
        );
        return;
    };
    let widest = a.rss.max(b.rss).max(1);
    for (label, m) in [("first", a), ("last", b)] {
        let _ = write!(
            s,
            "<div>{label} snapshot: RSS <span class=\"big\">{}</span></div><div class=\"bar\" style=\"width:{:.1}%\">",
            human_bytes(m.rss),
            100.0 * m.rss as f64 / widest as f64
        );
        let parts = memory_parts(m);
        let sum: u64 = parts.iter().sum::<u64>().max(1);
        for ((name, colour), bytes) in PARTS.iter().zip(parts) {
            let _ = write!(
                s,
                "<div title=\"{name}: {}\" style=\"width:{:.2}%;background:{colour}\"></div>",
                human_bytes(bytes),
                100.0 * bytes as f64 / sum as f64
            );
        }
        let _ = writeln!(s, "</div>");
    }
    let _ = write!(s, "<div class=\"legend\">");
    for ((name, colour), bytes) in PARTS.iter().zip(memory_parts(b)) {
        let _ = write!(
            s,
            "<span><i style=\"background:{colour}\"></i>{name} {}</span>",
            human_bytes(bytes)
        );
    }
    let _ = writeln!(s, "</div>");
    if let Some(m) = &d.memory {
        let _ = writeln!(s, "<p>{}</p>", escape(&memory_delta_line(m)));
    }
}

fn icicle(s: &mut String, tree: Option<&TreeNode>) {
    let _ = writeln!(s, "<h2>What the new objects retain</h2>");
    match tree {
        Some(_) => {
            let _ = writeln!(
                s,
                "<p class=\"meta\">The dominator tree of the new objects, objects of one type at one place merged; \
                 width is retained bytes. Click a box to zoom in, the path above to zoom out.</p>\
                 <div id=\"crumbs\"></div><div id=\"icicle\"></div>"
            );
        }
        None => {
            let _ = writeln!(
                s,
                "<p>No retained sizes: no object is new, or the snapshots were taken with \
                 <code>--no-retained</code> or in low-memory mode.</p>\
                 <div id=\"crumbs\"></div><div id=\"icicle\"></div>"
            );
        }
    }
}

fn types_table(s: &mut String, d: &Diff) {
    let last = if d.survivors { "C" } else { "B" };
    let new = if d.survivors { "Survivors" } else { "New" };
    let _ = writeln!(
        s,
        "<h2>Types</h2><p class=\"meta\">Every type that changed; click a column to sort.</p>\
         <table class=\"sortable\"><thead><tr><th class=\"name\">Type</th><th>Count A</th><th>Count {last}</th>\
         <th>ΔCount</th><th>Size A</th><th>Size {last}</th><th>ΔSize</th><th>{new}</th></tr></thead><tbody>"
    );
    for r in &d.rows {
        let class = |n: i64| match n.cmp(&0) {
            std::cmp::Ordering::Greater => "up",
            std::cmp::Ordering::Less => "down",
            std::cmp::Ordering::Equal => "",
        };
        let _ = writeln!(
            s,
            "<tr><td class=\"name\"><code>{}</code></td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td>\
             <td data-v=\"{}\" class=\"{}\">{}</td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td>\
             <td data-v=\"{}\" class=\"{}\">{}</td><td data-v=\"{}\">{}</td></tr>",
            escape(&r.name),
            r.count_before,
            group(r.count_before),
            r.count_after,
            group(r.count_after),
            r.count_delta(),
            class(r.count_delta()),
            signed(r.count_delta()),
            r.size_before,
            human_bytes(r.size_before),
            r.size_after,
            human_bytes(r.size_after),
            r.size_delta(),
            class(r.size_delta()),
            signed_bytes(r.size_delta()),
            r.new_objects,
            group(r.new_objects)
        );
    }
    let _ = writeln!(s, "</tbody></table>");
}

fn attachments(s: &mut String, d: &Diff) {
    if !d.attachments.is_empty() {
        let _ = writeln!(s, "<h2>Where the new objects attach</h2><ul>");
        for a in &d.attachments {
            let _ = writeln!(
                s,
                "<li>{} new <code>{}</code> ({} new objects, {} in all below them), held by \
                 <span class=\"path\">{}</span><br><span class=\"meta\">e.g.</span> <span class=\"path\">{}</span></li>",
                group(a.attached),
                escape(&a.type_name),
                group(a.objects),
                human_bytes(a.size),
                escape(&a.holder),
                escape(&a.example)
            );
        }
        let _ = writeln!(s, "</ul>");
    }
    if !d.chains.is_empty() {
        let _ = writeln!(
            s,
            "<h2>Retainer chains</h2><p class=\"meta\">Who holds a few new objects: a shortest path from a root.</p><ul>"
        );
        for c in &d.chains {
            let _ = writeln!(
                s,
                "<li><code>{}</code> at {:#x} ({} bytes): <span class=\"path\">{}</span></li>",
                escape(&c.type_name),
                c.address,
                group(c.size),
                escape(&c.path)
            );
        }
        let _ = writeln!(s, "</ul>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_the_target_are_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
