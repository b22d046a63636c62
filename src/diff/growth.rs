//! The trend over a whole series (`heapsnap growth`): which types grew steadily from sample to
//! sample, and how fast — objgraph's `show_growth` over a day instead of between two calls.
//!
//! A type grew steadily when, over all the samples (a type absent from a sample counts 0
//! there):
//! - its count went up from the first sample to the last;
//! - at least [`STEADY_SHARE`] of the steps from one sample to the next did not lower its
//!   count (a cache that fills and empties, or a burst that is freed, goes down often);
//! - the least-squares slope of its bytes against time is positive.
//!
//! The rates are least-squares slopes per minute (count and bytes), so that one noisy sample
//! does not make the figure; types are ranked by bytes per minute.

use std::collections::HashMap;

use serde::Serialize;

use crate::snapshot::series::Sample;

/// The share of steps that must not lower a type's count for its growth to be steady.
pub const STEADY_SHARE: f64 = 0.8;

/// A type that grew steadily.
#[derive(Debug, Clone, Serialize)]
pub struct Trend {
    pub name: String,
    pub count_first: u64,
    pub count_last: u64,
    pub size_first: u64,
    pub size_last: u64,
    pub count_per_minute: f64,
    pub bytes_per_minute: f64,
    /// The share of steps that did not lower the count.
    pub steady_share: f64,
}

/// The trend of a series.
#[derive(Debug, Clone, Serialize)]
pub struct Growth {
    pub samples: usize,
    /// From the first sample to the last.
    pub minutes: f64,
    pub trends: Vec<Trend>,
}

/// Why no trend can be computed.
#[derive(Debug, thiserror::Error)]
pub enum GrowthError {
    #[error("a trend needs at least 3 samples spread over time; the series has {0}")]
    TooFewSamples(usize),
}

/// Count and bytes of one type in one sample.
type Cell = (u64, u64);

/// The steadily growing types of `samples`, fastest first (bytes per minute).
pub fn growth(samples: impl IntoIterator<Item = Sample>) -> Result<Growth, GrowthError> {
    let mut names: Vec<String> = Vec::new();
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut times: Vec<f64> = Vec::new();
    // Per sample, its types' cells: a compact table, 20 bytes per type and sample.
    let mut table: Vec<Vec<(u32, Cell)>> = Vec::new();
    for sample in samples {
        times.push(sample.meta.taken_at);
        table.push(
            sample
                .types
                .into_iter()
                .map(|row| {
                    let id = *ids.entry(row.name.clone()).or_insert_with(|| {
                        names.push(row.name);
                        names.len() as u32 - 1
                    });
                    (id, (row.count, row.size))
                })
                .collect(),
        );
    }
    let n = times.len();
    let minutes: Vec<f64> = times.iter().map(|t| (t - times[0]) / 60.0).collect();
    let span = minutes.last().copied().unwrap_or(0.0);
    if n < 3 || span <= 0.0 {
        return Err(GrowthError::TooFewSamples(n));
    }
    // Dense per-type columns, one type at a time would re-scan the table; one pass fills them.
    let mut columns: Vec<Vec<Cell>> = vec![vec![(0, 0); n]; names.len()];
    for (k, cells) in table.into_iter().enumerate() {
        for (id, cell) in cells {
            columns[id as usize][k] = cell;
        }
    }
    let mean_t = minutes.iter().sum::<f64>() / n as f64;
    let var_t: f64 = minutes.iter().map(|t| (t - mean_t).powi(2)).sum();
    let slope = |ys: &mut dyn Iterator<Item = f64>| -> f64 {
        let ys: Vec<f64> = ys.collect();
        let mean_y = ys.iter().sum::<f64>() / n as f64;
        let cov: f64 = minutes
            .iter()
            .zip(&ys)
            .map(|(t, y)| (t - mean_t) * (y - mean_y))
            .sum();
        cov / var_t
    };
    let mut trends: Vec<Trend> = names
        .into_iter()
        .zip(columns)
        .filter_map(|(name, cells)| {
            let (first, last) = (cells[0], cells[n - 1]);
            let kept_up = cells.windows(2).filter(|w| w[1].0 >= w[0].0).count();
            let steady_share = kept_up as f64 / (n - 1) as f64;
            let bytes_per_minute = slope(&mut cells.iter().map(|c| c.1 as f64));
            (last.0 > first.0 && steady_share >= STEADY_SHARE && bytes_per_minute > 0.0).then(
                || Trend {
                    name,
                    count_first: first.0,
                    count_last: last.0,
                    size_first: first.1,
                    size_last: last.1,
                    count_per_minute: slope(&mut cells.iter().map(|c| c.0 as f64)),
                    bytes_per_minute,
                    steady_share,
                },
            )
        })
        .collect();
    trends.sort_by(|a, b| {
        b.bytes_per_minute
            .total_cmp(&a.bytes_per_minute)
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(Growth {
        samples: n,
        minutes: span,
        trends,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::census::TypeRow;

    fn sample(minute: f64, rows: &[(&str, u64)]) -> Sample {
        let mut meta = crate::snapshot::test_meta(0);
        meta.taken_at = minute * 60.0;
        Sample {
            format: "heapsnap-series".into(),
            schema_version: 1,
            sample: 0,
            meta,
            types: rows
                .iter()
                .map(|&(name, count)| TypeRow {
                    name: name.into(),
                    count,
                    size: count * 10,
                    approximate: 0,
                    retained: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn steady_growth_is_found_and_bursts_are_not() {
        let series = vec![
            sample(0.0, &[("Leak", 0), ("Cache", 50), ("Flat", 7)]),
            sample(1.0, &[("Leak", 100), ("Cache", 90), ("Flat", 7)]),
            sample(2.0, &[("Leak", 200), ("Cache", 10), ("Flat", 7)]),
            sample(3.0, &[("Leak", 300), ("Cache", 95), ("Flat", 7)]),
            sample(4.0, &[("Leak", 400), ("Cache", 60)]),
        ];
        let g = growth(series).unwrap();
        assert_eq!(g.samples, 5);
        assert_eq!(g.minutes, 4.0);
        let names: Vec<&str> = g.trends.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["Leak"]);
        let leak = &g.trends[0];
        assert!((leak.count_per_minute - 100.0).abs() < 1e-9);
        assert!((leak.bytes_per_minute - 1000.0).abs() < 1e-9);
        assert_eq!((leak.count_first, leak.count_last), (0, 400));
        assert!(matches!(
            growth(vec![sample(0.0, &[]), sample(1.0, &[])]),
            Err(GrowthError::TooFewSamples(2))
        ));
    }
}
