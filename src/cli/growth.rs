//! `heapsnap growth series.jsonl`: the types that grew steadily over a recorded series.

use super::{exit, print_stdout, progress, Failure, GrowthArgs};
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
    if args.json {
        let text = serde_json::to_string_pretty(&g)
            .map_err(|e| Failure::new(exit::ERROR, format!("cannot encode JSON: {e}")))?;
        print_stdout(&format!("{text}\n"))
    } else {
        print_stdout(&growth_table(&g, args.top))
    }
}
