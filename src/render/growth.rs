//! The trend of a series as a table: the types that grew steadily, fastest first, with their
//! rates per minute.

use std::fmt::Write;

use super::{group, human_bytes, more_rows};
use crate::diff::growth::{Growth, STEADY_SHARE};

pub fn growth_table(g: &Growth, top: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} samples over {}; types that grew steadily (count up, and at least {:.0}% of the \
         steps not down), fastest first:",
        g.samples,
        span(g.minutes),
        STEADY_SHARE * 100.0
    );
    if g.trends.is_empty() {
        let _ = writeln!(s, "  none: no type grew steadily over the series");
        return s;
    }
    let _ = writeln!(
        s,
        "{:>11} {:>11} {:>11} {:>12} {:>6}  Type",
        "Count first", "Count last", "Objects/min", "Bytes/min", "Steady"
    );
    for t in g.trends.iter().take(top) {
        let _ = writeln!(
            s,
            "{:>11} {:>11} {:>11} {:>12} {:>5.0}%  {}",
            group(t.count_first),
            group(t.count_last),
            rate(t.count_per_minute),
            format!("+{}", human_bytes(t.bytes_per_minute.round() as u64)),
            t.steady_share * 100.0,
            t.name
        );
    }
    if g.trends.len() > top {
        let _ = writeln!(s, "{}", more_rows(g.trends.len() - top));
    }
    s
}

/// `12.5 s`, `3.2 minutes`, `2.5 hours`.
fn span(minutes: f64) -> String {
    if minutes < 1.0 {
        format!("{:.1} s", minutes * 60.0)
    } else if minutes < 120.0 {
        format!("{minutes:.1} minutes")
    } else {
        format!("{:.1} hours", minutes / 60.0)
    }
}

/// `+0.4`, `+12.5`, `+1,234`: a rate, with a decimal only where it matters.
fn rate(per_minute: f64) -> String {
    if per_minute < 100.0 {
        format!("+{per_minute:.1}")
    } else {
        format!("+{}", group(per_minute.round() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_rates() {
        assert_eq!(span(0.5), "30.0 s");
        assert_eq!(span(90.0), "90.0 minutes");
        assert_eq!(span(600.0), "10.0 hours");
        assert_eq!(rate(2.25), "+2.2");
        assert_eq!(rate(289752.2), "+289,752");
    }
}
