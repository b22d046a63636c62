//! A census followed over time, as `heapsnap top` shows it: per type, the count and size now,
//! the change since the first sample and the change since the previous one.
//!
//! Only the per-type totals of three samples are kept (the first, the previous, the latest),
//! so watching for hours takes no more memory than watching for a minute.

use std::collections::HashMap;

use super::Census;

/// How the rows are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    /// Bytes gained since the first sample, most first.
    #[default]
    Growth,
    /// Bytes gained since the previous sample, most first.
    Recent,
    /// Bytes now, most first.
    Size,
    /// Objects now, most first.
    Count,
}

impl SortBy {
    /// The next order, for a key that cycles through them.
    pub fn next(self) -> SortBy {
        match self {
            SortBy::Growth => SortBy::Recent,
            SortBy::Recent => SortBy::Size,
            SortBy::Size => SortBy::Count,
            SortBy::Count => SortBy::Growth,
        }
    }

    /// The column of `heapsnap top` the rows are sorted by (see `render::top::HEADERS`).
    pub fn column(self) -> usize {
        match self {
            SortBy::Growth => 4,
            SortBy::Recent => 5,
            SortBy::Size => 2,
            SortBy::Count => 1,
        }
    }

    /// How the order is named on screen.
    pub fn describe(self) -> &'static str {
        match self {
            SortBy::Growth => "growth since start",
            SortBy::Recent => "growth since last sample",
            SortBy::Size => "size",
            SortBy::Count => "count",
        }
    }
}

/// One type's line: now, and its changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchRow {
    pub name: String,
    pub count: u64,
    pub size: u64,
    pub count_since_start: i64,
    pub size_since_start: i64,
    pub count_since_last: i64,
    pub size_since_last: i64,
}

/// Count and bytes per type name.
type Totals = HashMap<String, (u64, u64)>;

/// The samples seen so far, reduced to what the view needs.
#[derive(Debug, Default)]
pub struct Watch {
    first: Totals,
    previous: Totals,
    latest: Totals,
    samples: usize,
}

fn totals(census: &Census) -> Totals {
    census
        .rows
        .iter()
        .map(|r| (r.name.clone(), (r.count, r.size)))
        .collect()
}

fn delta(now: (u64, u64), then: Option<&(u64, u64)>) -> (i64, i64) {
    let (count, size) = then.copied().unwrap_or((0, 0));
    (now.0 as i64 - count as i64, now.1 as i64 - size as i64)
}

impl Watch {
    pub fn new() -> Watch {
        Watch::default()
    }

    /// Take in a new sample.
    pub fn add(&mut self, census: &Census) {
        let now = totals(census);
        if self.samples == 0 {
            self.first = now.clone();
            self.previous = now.clone();
        } else {
            self.previous = std::mem::take(&mut self.latest);
        }
        self.latest = now;
        self.samples += 1;
    }

    /// How many samples were taken in.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// Every type seen now or in the first sample (a type that has gone shows with count 0),
    /// in the given order; ties by name.
    pub fn rows(&self, sort: SortBy) -> Vec<WatchRow> {
        let gone = self
            .first
            .keys()
            .filter(|name| !self.latest.contains_key(*name));
        let mut rows: Vec<WatchRow> = self
            .latest
            .keys()
            .chain(gone)
            .map(|name| {
                let now = self.latest.get(name).copied().unwrap_or((0, 0));
                let (count_since_start, size_since_start) = delta(now, self.first.get(name));
                let (count_since_last, size_since_last) = delta(now, self.previous.get(name));
                WatchRow {
                    name: name.clone(),
                    count: now.0,
                    size: now.1,
                    count_since_start,
                    size_since_start,
                    count_since_last,
                    size_since_last,
                }
            })
            .collect();
        rows.sort_by(|a, b| {
            // Ties (no growth yet) go by size, biggest first.
            let key = |r: &WatchRow| match sort {
                SortBy::Growth => (r.size_since_start, r.count_since_start, r.size),
                SortBy::Recent => (r.size_since_last, r.count_since_last, r.size),
                SortBy::Size => (r.size as i64, r.count as i64, 0),
                SortBy::Count => (r.count as i64, r.size as i64, 0),
            };
            key(b).cmp(&key(a)).then_with(|| a.name.cmp(&b.name))
        });
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::census::TypeRow;

    fn census(rows: &[(&str, u64, u64)]) -> Census {
        Census {
            rows: rows
                .iter()
                .map(|&(name, count, size)| TypeRow {
                    name: name.into(),
                    count,
                    size,
                    approximate: 0,
                    retained: 0,
                })
                .collect(),
            objects: rows.iter().map(|r| r.1).sum(),
            bytes: rows.iter().map(|r| r.2).sum(),
            garbage_objects: 0,
            garbage_bytes: 0,
        }
    }

    #[test]
    fn changes_since_start_and_since_last() {
        let mut w = Watch::new();
        w.add(&census(&[("dict", 10, 1000), ("Old", 5, 500)]));
        w.add(&census(&[("dict", 12, 1200), ("Leak", 3, 300)]));
        w.add(&census(&[("dict", 12, 1200), ("Leak", 9, 900)]));
        assert_eq!(w.samples(), 3);
        let rows = w.rows(SortBy::Growth);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["Leak", "dict", "Old"]);
        // Before any growth, the biggest types come first.
        let mut once = Watch::new();
        once.add(&census(&[("a", 1, 10), ("b", 1, 20)]));
        assert_eq!(once.rows(SortBy::Growth)[0].name, "b");
        assert_eq!(
            rows[0],
            WatchRow {
                name: "Leak".into(),
                count: 9,
                size: 900,
                count_since_start: 9,
                size_since_start: 900,
                count_since_last: 6,
                size_since_last: 600,
            }
        );
        assert_eq!(
            (rows[1].size_since_start, rows[1].size_since_last),
            (200, 0)
        );
        // A type gone since the first sample stays, at 0, with its loss.
        assert_eq!((rows[2].count, rows[2].count_since_start), (0, -5));
        let by_size: Vec<String> = w.rows(SortBy::Size).into_iter().map(|r| r.name).collect();
        assert_eq!(by_size, ["dict", "Leak", "Old"]);
        assert_eq!(SortBy::Count.next(), SortBy::Growth);
    }
}
