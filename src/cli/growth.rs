//! `heapsnap growth series.jsonl`: the types that grew steadily over a recorded series.

use super::{exit, print_json_or, progress, Failure, GrowthArgs};
use crate::diff::growth::growth;
use crate::render::growth::growth_table;
use crate::snapshot::series::samples;

pub fn run(args: &GrowthArgs) -> Result<(), Failure> {
    let bad = |e: crate::snapshot::ReadError| Failure::new(exit::BAD_SNAPSHOT, e.to_string());
    // Streamed: one sample in memory at a time, whatever the series' length.
    let mut failed = None;
    let streamed = samples(&args.series).map_err(bad)?.map_while(|r| match r {
        Ok(sample) => Some(sample),
        Err(e) => {
            failed = Some(e);
            None
        }
    });
    let progress = progress::start(format!("reading {}", args.series.display()));
    let g = growth(streamed);
    drop(progress);
    if let Some(e) = failed {
        return Err(bad(e));
    }
    let g = g.map_err(|e| {
        Failure::new(
            exit::BAD_SNAPSHOT,
            format!("{}: {e}", args.series.display()),
        )
    })?;
    print_json_or(args.json, &g, || growth_table(&g, args.top))
}
