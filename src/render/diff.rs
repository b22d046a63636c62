//! The comparison of snapshots as a table (objgraph / tracemalloc `+N` conventions) and the
//! retainer chains of a few new objects.

use std::fmt::Write;

use super::{group, signed};
use crate::diff::{Diff, GroupBy};

pub fn diff_table(d: &Diff, top: usize) -> String {
    let mut s = String::new();
    let what = match d.group_by {
        GroupBy::Type => "Type",
        GroupBy::Module => "Module",
    };
    // With three snapshots the second columns are the last snapshot's (C).
    let (new_header, last) = if d.survivors {
        ("Survivors", "C")
    } else {
        ("New", "B")
    };
    let _ = writeln!(
        s,
        "{:>10} {:>10} {:>9} {:>13} {:>13} {:>12} {:>9}  {what}",
        "Count A",
        format!("Count {last}"),
        "ΔCount",
        "Size A",
        format!("Size {last}"),
        "ΔSize",
        new_header
    );
    let line = |s: &mut String, r: &crate::diff::Row| {
        let _ = writeln!(
            s,
            "{:>10} {:>10} {:>9} {:>13} {:>13} {:>12} {:>9}  {}",
            group(r.count_before),
            group(r.count_after),
            signed(r.count_delta()),
            group(r.size_before),
            group(r.size_after),
            signed(r.size_delta()),
            group(r.new_objects),
            r.name
        );
    };
    for r in d.rows.iter().take(top) {
        line(&mut s, r);
    }
    if d.rows.len() > top {
        let _ = writeln!(s, "<{} more rows; --top N shows more>", d.rows.len() - top);
    }
    line(&mut s, &d.total);
    if d.survivors {
        let _ = writeln!(
            s,
            "(Survivors: objects new in the second snapshot and still alive in the third.)"
        );
    }
    if !d.attachments.is_empty() {
        let _ = writeln!(
            s,
            "\nWhere the new objects attach (held by older objects or roots), largest first:"
        );
        for a in &d.attachments {
            let _ = writeln!(
                s,
                "  {} new {} ({} new objects, {} in all below them)\n    held by {}\n    e.g. {}",
                group(a.attached),
                a.type_name,
                group(a.objects),
                super::human_bytes(a.size),
                a.holder,
                a.example
            );
        }
    }
    if !d.chains.is_empty() {
        let _ = writeln!(
            s,
            "\nWho holds the new objects (shortest path from a root):"
        );
        let mut last = "";
        for c in &d.chains {
            if c.type_name != last {
                let _ = writeln!(s, "  {}:", c.type_name);
                last = &c.type_name;
            }
            let _ = writeln!(s, "    {:#x} ({} bytes)  {}", c.address, c.size, c.path);
        }
    }
    s
}
