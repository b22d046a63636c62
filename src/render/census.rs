//! The census as guppy's `hp.heap()` prints it, under a header that says what was measured and
//! how long the target was stopped.

use std::fmt::Write;

use super::{count_of, group, human_bytes, more_rows};
use crate::census::Census;
use crate::snapshot::{MemoryAccount, Meta};

/// The header lines and the `top` largest rows.
pub fn census_table(meta: &Meta, census: &Census, top: usize) -> String {
    let mut s = String::new();
    let py = &meta.python;
    let build = if py.shared_library {
        "shared libpython"
    } else {
        "static"
    };
    let symbols = if py.symbols { "" } else { ", stripped" };
    let source = match &meta.core_file {
        Some(core) => format!("core {core} (pid {})", meta.pid),
        None => format!("pid {}", meta.pid),
    };
    let _ = writeln!(
        s,
        "heapsnap {} — {source} — Python {} ({}{symbols}) — mode {}",
        meta.heapsnap_version,
        py.version,
        build,
        match meta.mode {
            crate::heap::Mode::Gc => "gc",
            crate::heap::Mode::Full => "full",
        }
    );
    let pause = match (meta.stops, meta.consistent) {
        (0, false) => format!(
            "copied in {:.1} ms without stopping the target (may be inconsistent)",
            meta.pause_ms
        ),
        // Snapshots written before stops were counted say 0.
        (0 | 1, true) => format!("target paused {:.1} ms", meta.pause_ms),
        (n, true) => format!("target paused {:.1} ms (stopped {n} times)", meta.pause_ms),
        (n, false) => format!(
            "target paused {:.1} ms (stopped {}; GC lists walked around: may be inconsistent)",
            meta.pause_ms,
            count_of(u64::from(n), "time", "times")
        ),
    };
    let pause = match meta.memory_mode {
        _ if meta.core_file.is_some() => format!(
            "read from a core file{}",
            if meta.consistent {
                ""
            } else {
                " (GC lists walked around: may be inconsistent)"
            }
        ),
        crate::snapshot::MemoryMode::Copy => pause,
        crate::snapshot::MemoryMode::Low => format!("{pause} (low-memory mode: read in place)"),
    };
    let _ = writeln!(
        s,
        "{}, {} ({}) in {}; {pause}, walk {:.1} ms",
        count_of(census.objects, "object", "objects"),
        human_bytes(census.bytes),
        count_of(census.bytes, "byte", "bytes"),
        count_of(census.rows.len() as u64, "type", "types"),
        meta.walk_ms,
    );
    let _ = writeln!(
        s,
        "garbage awaiting collection: {}, {}",
        count_of(census.garbage_objects, "object", "objects"),
        human_bytes(census.garbage_bytes),
    );
    if let Some(m) = &meta.memory {
        let _ = writeln!(s, "{}", memory_line(m));
    }
    let _ = writeln!(
        s,
        "{:>6} {:>11} {:>4} {:>13} {:>4} {:>13} {:>4} {:>13}  Type",
        "Index", "Count", "%", "Size", "%", "Cumulative", "%", "Retained"
    );
    let total_count = census.objects.max(1) as f64;
    let total_size = census.bytes.max(1) as f64;
    let mut cumulative = 0u64;
    // Low-memory mode leaves the retained sizes out.
    let retained_known = !meta
        .left_out
        .iter()
        .any(|l| l == crate::snapshot::LEFT_OUT_RETAINED);
    for (i, r) in census.rows.iter().take(top).enumerate() {
        cumulative += r.size;
        let approx = if r.approximate > 0 {
            " (size approximate)"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "{:>6} {:>11} {:>4.0} {:>13} {:>4.0} {:>13} {:>4.0} {:>13}  {}{approx}",
            i,
            group(r.count),
            100.0 * r.count as f64 / total_count,
            group(r.size),
            100.0 * r.size as f64 / total_size,
            group(cumulative),
            100.0 * cumulative as f64 / total_size,
            if retained_known {
                group(r.retained)
            } else {
                "-".into()
            },
            r.name
        );
    }
    if census.rows.len() > top {
        let _ = writeln!(s, "{}", more_rows(census.rows.len() - top));
    }
    s
}

/// Where the target's resident memory is, in one line.
pub fn memory_line(m: &MemoryAccount) -> String {
    format!(
        "RSS {}: objects {}, allocator free {}, outside Python objects {}, thread stacks {}, \
         files and code {}",
        human_bytes(m.rss),
        human_bytes(m.objects),
        human_bytes(m.allocator_free),
        human_bytes(m.outside_objects),
        human_bytes(m.thread_stacks),
        human_bytes(m.files),
    )
}
