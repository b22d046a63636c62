//! The comparison of snapshots as a table (objgraph / tracemalloc `+N` conventions) and the
//! retainer chains of a few new objects.

use std::fmt::Write;

use super::{count_of, group, human_bytes, more_rows, signed, signed_bytes};
use crate::diff::{Diff, GroupBy, MemoryDelta};

pub fn diff_table(d: &Diff, top: usize) -> String {
    let mut s = String::new();
    if d.unchanged() {
        let t = &d.total;
        let _ = writeln!(
            s,
            "no change between the snapshots: was it the right process? ({}, {} in each)",
            count_of(t.count_after, "object", "objects"),
            human_bytes(t.size_after)
        );
        return s;
    }
    if !d.suspects.is_empty() {
        let _ = writeln!(
            s,
            "Leak suspects (where the new objects hang on the old heap, by the bytes they retain):"
        );
        for (k, x) in d.suspects.iter().enumerate() {
            let _ = writeln!(
                s,
                "  {}. {}: {} new {} retaining {} ({})",
                k + 1,
                x.pattern,
                group(x.attached),
                x.attached_type,
                human_bytes(x.retained),
                count_of(x.new_objects, "new object", "new objects"),
            );
            if let Some((count, name)) = &x.dominant {
                if *name != x.attached_type {
                    let through = x.attached_type.rsplit('.').next().unwrap_or_default();
                    let _ = writeln!(s, "     {} × {name}, through {through}", group(*count));
                }
            }
            let _ = writeln!(s, "     e.g. {}", x.example);
        }
        let _ = writeln!(s);
    }
    if let Some(m) = &d.memory {
        let _ = writeln!(s, "{}\n", memory_delta_line(m));
    }
    let what = match d.group_by {
        GroupBy::Type => "Type",
        GroupBy::Module => "Module (of the retainer path)",
        GroupBy::TypeModule => "Module (of the type)",
    };
    // With three snapshots the second columns are the last snapshot's (C).
    let (new_header, last) = match (d.survivors, d.per_object) {
        (_, false) => ("", if d.survivors { "C" } else { "B" }),
        (true, true) => ("Survivors", "C"),
        (false, true) => ("New", "B"),
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
            if d.per_object {
                group(r.new_objects)
            } else {
                String::new()
            },
            r.name
        );
    };
    for r in d.rows.iter().take(top) {
        line(&mut s, r);
    }
    if d.rows.len() > top {
        let _ = writeln!(s, "{}", more_rows(d.rows.len() - top));
    }
    line(&mut s, &d.total);
    if !d.per_object {
        let _ = writeln!(
            s,
            "(By type only: a sample of a series holds no objects, so none can be told new.)"
        );
    } else if d.survivors {
        let _ = writeln!(
            s,
            "(Survivors: objects new in the second snapshot and still alive in the third.)"
        );
    }
    if d.garbage_left_out.iter().any(|&(n, _)| n > 0) {
        let each: Vec<String> = d
            .garbage_left_out
            .iter()
            .zip(["A", "B", "C"])
            .map(|(&(n, bytes), name)| format!("{name} {} ({})", group(n), human_bytes(bytes)))
            .collect();
        let _ = writeln!(
            s,
            "(Garbage awaiting collection left out: {}; --include-garbage counts it.)",
            each.join(", ")
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
                "  {} new {} ({}, {} in all below {})\n    held by {}\n    e.g. {}",
                group(a.attached),
                a.type_name,
                count_of(a.objects, "new object", "new objects"),
                human_bytes(a.size),
                if a.attached == 1 { "it" } else { "them" },
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
            let _ = writeln!(
                s,
                "    {:#x} ({})  {}",
                c.address,
                count_of(c.size, "byte", "bytes"),
                c.path
            );
        }
    }
    s
}

/// "RSS +31 MB: objects +10.4 MB, allocator free +0.8 MB, outside Python objects +19.6 MB"
/// (thread stacks and files when they changed).
pub fn memory_delta_line(m: &MemoryDelta) -> String {
    let mut line = format!(
        "RSS {}: objects {}, allocator free {}, outside Python objects {}",
        signed_bytes(m.rss),
        signed_bytes(m.objects),
        signed_bytes(m.allocator_free),
        signed_bytes(m.outside_objects),
    );
    for (delta, what) in [
        (m.thread_stacks, "thread stacks"),
        (m.files, "files and code"),
    ] {
        if delta != 0 {
            let _ = write!(line, ", {what} {}", signed_bytes(delta));
        }
    }
    line
}
