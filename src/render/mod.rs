//! Tables for people: the census ([`census`]), the comparison of snapshots ([`diff`]), the live
//! view of `heapsnap top` ([`top`]), the trend of a series ([`growth`]) and the HTML leak
//! report ([`report`]).

pub mod census;
pub mod diff;
pub mod growth;
pub mod report;
pub mod top;

/// `1234567` → `1.2 MB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `1234567` → `1,234,567`.
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1 object`, `2,345 objects`: a count with its noun in the singular or the plural.
pub fn count_of(n: u64, singular: &str, plural: &str) -> String {
    format!("{} {}", group(n), if n == 1 { singular } else { plural })
}

/// The line under a table cut at `--top`.
pub fn more_rows(hidden: usize) -> String {
    format!(
        "<{}; --top N shows more>",
        count_of(hidden as u64, "more row", "more rows")
    )
}

/// A change of size: `+10.4 MB`, `-640 kB`, `0 B`.
pub fn signed_bytes(n: i64) -> String {
    let sign = match n {
        0 => "",
        n if n > 0 => "+",
        _ => "-",
    };
    format!("{sign}{}", human_bytes(n.unsigned_abs()))
}

/// `+1,234` / `-56` / `0`.
pub fn signed(n: i64) -> String {
    match n.cmp(&0) {
        std::cmp::Ordering::Greater => format!("+{}", group(n as u64)),
        std::cmp::Ordering::Less => format!("-{}", group(n.unsigned_abs())),
        std::cmp::Ordering::Equal => "0".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers() {
        assert_eq!(group(1234567), "1,234,567");
        assert_eq!(group(12), "12");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_250_000), "1.2 MB");
        assert_eq!(signed(-1200), "-1,200");
        assert_eq!(signed(20), "+20");
        assert_eq!(count_of(1, "new object", "new objects"), "1 new object");
        assert_eq!(count_of(0, "type", "types"), "0 types");
        assert_eq!(count_of(1200, "type", "types"), "1,200 types");
        assert_eq!(more_rows(1), "<1 more row; --top N shows more>");
    }
}
