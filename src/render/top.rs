//! What `heapsnap top` shows: a title, a status line (the sample's pause, the target's RSS)
//! and the watched types, as cells for the terminal view and as one plain block per sample
//! when the output is not a terminal.

use std::fmt::Write;
use std::time::Duration;

use super::{group, human_bytes, signed, signed_bytes};
use crate::census::watch::{SortBy, Watch, WatchRow};
use crate::census::Census;
use crate::snapshot::Meta;

/// The column titles, in the order of [`cells`].
pub const HEADERS: [&str; 6] = ["Type", "Count", "Size", "ΔCount", "ΔSize", "ΔSize last"];

/// How wide the numeric columns are (the type name takes the rest of the line).
pub const NUMBER_WIDTHS: [usize; 5] = [10, 9, 9, 9, 11];

/// One row's cells, under [`HEADERS`]: Δ columns count from the first sample, except the
/// last, which counts from the previous one.
pub fn cells(row: &WatchRow) -> [String; 6] {
    [
        row.name.clone(),
        group(row.count),
        human_bytes(row.size),
        signed(row.count_since_start),
        change(row.size_since_start),
        change(row.size_since_last),
    ]
}

/// `+1.2 MB`, `-300 B`, and `0` for no change (a column of zeros reads better bare).
fn change(n: i64) -> String {
    if n == 0 {
        "0".into()
    } else {
        signed_bytes(n)
    }
}

/// `1:02:03` for an hour, two minutes and three seconds.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The first line: which process, and which sample.
pub fn title(meta: &Meta, samples: usize, elapsed: Duration) -> String {
    format!(
        "heapsnap top — pid {} — Python {} — sample {} at {}",
        meta.pid,
        meta.python.version,
        samples,
        clock(elapsed),
    )
}

/// The column titles, the one the rows are sorted by marked with `▼`.
pub fn headers(sort: SortBy) -> [String; 6] {
    let mut headers = HEADERS.map(String::from);
    headers[sort.column()].insert(0, '▼');
    headers
}

/// The second line: the heap now, how long the sample stopped the target, and its RSS.
pub fn status(meta: &Meta, census: &Census) -> String {
    let rss = meta
        .memory
        .map(|m| format!("; RSS {}", human_bytes(m.rss)))
        .unwrap_or_default();
    format!(
        "{} objects, {}; paused {:.1} ms{rss}",
        group(census.objects),
        human_bytes(census.bytes),
        meta.pause_ms,
    )
}

/// One sample as plain text, for output that is not a terminal: title, status, and the
/// first `top` rows in `width` columns.
pub fn plain_block(
    meta: &Meta,
    census: &Census,
    watch: &Watch,
    sort: SortBy,
    elapsed: Duration,
    top: usize,
) -> String {
    let numbers: usize = NUMBER_WIDTHS.iter().map(|w| w + 1).sum();
    let name_width = 79usize.saturating_sub(numbers).max(12);
    let mut s = String::new();
    let _ = writeln!(s, "{}", title(meta, watch.samples(), elapsed));
    let _ = writeln!(s, "{}", status(meta, census));
    let line = |s: &mut String, cells: &[String]| {
        let _ = write!(s, "{:<name_width$}", cut(&cells[0], name_width));
        for (cell, width) in cells[1..].iter().zip(NUMBER_WIDTHS) {
            let _ = write!(s, " {cell:>width$}");
        }
        s.push('\n');
    };
    line(&mut s, &headers(sort));
    for row in watch.rows(sort).iter().take(top) {
        line(&mut s, &cells(row));
    }
    s.push('\n');
    s
}

/// `name`, cut to `width` characters with a `…` at the end when longer.
pub fn cut(name: &str, width: usize) -> String {
    if name.chars().count() <= width {
        name.to_string()
    } else {
        let mut out: String = name.chars().take(width.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_and_cut() {
        assert_eq!(clock(Duration::from_secs(3723)), "1:02:03");
        assert_eq!(cut("matplotlib.figure.Figure", 10), "matplotli…");
        assert_eq!(cut("dict", 10), "dict");
        assert_eq!(change(-300), "-300 B");
        assert_eq!(change(0), "0");
        assert_eq!(change(1_200_000), "+1.2 MB");
    }
}
