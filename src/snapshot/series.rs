//! A series of censuses over time (`heapsnap record`): one JSON line per sample, appended as
//! the samples are taken, so that hours of recording never hold more than one sample in
//! memory and a file cut short by a crash loses at most its last line.
//!
//! Each line (documented in README.md, "Series format"):
//! ```text
//! { "format": "heapsnap-series", "schema_version": 1, "sample": 0,
//!   "meta": { ...the snapshot's meta: taken_at, pause_ms, memory.rss, python, pid... },
//!   "types": [ { name, count, size, approximate, retained } ... ] }
//! ```
//! A sample reads as a [`Snapshot`] without per-object columns (`FILE@N` in `diff`), so it
//! compares with another sample or a snapshot by type.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::output::FILE_MODE;
use super::{Meta, ObjectColumns, ReadError, Snapshot, FORMAT, SCHEMA_VERSION};
use crate::census::{Census, TypeRow};

pub const SERIES_FORMAT: &str = "heapsnap-series";
pub const SERIES_SCHEMA_VERSION: u32 = 1;

/// One line of a series.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sample {
    pub format: String,
    pub schema_version: u32,
    /// Its position in the series, from 0.
    pub sample: u64,
    pub meta: Meta,
    pub types: Vec<TypeRow>,
}

impl Sample {
    /// The sample as a snapshot without objects, for `diff`.
    pub fn into_snapshot(self) -> Snapshot {
        Snapshot {
            format: FORMAT.into(),
            schema_version: SCHEMA_VERSION,
            meta: self.meta,
            types: self.types,
            labels: Vec::new(),
            objects: ObjectColumns::default(),
        }
    }
}

/// A series being recorded: each sample is one whole line, written with one call and flushed.
pub struct SeriesWriter {
    file: File,
    next: u64,
}

impl SeriesWriter {
    /// Start a new series at `path` (an older file there is replaced; the new one is created
    /// with mode 0600).
    pub fn create(path: &Path) -> io::Result<SeriesWriter> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(path)?;
        Ok(SeriesWriter { file, next: 0 })
    }

    /// Append a sample; how many were written so far.
    pub fn append(&mut self, meta: &Meta, census: &Census) -> io::Result<u64> {
        let sample = Sample {
            format: SERIES_FORMAT.into(),
            schema_version: SERIES_SCHEMA_VERSION,
            sample: self.next,
            meta: meta.clone(),
            types: census.rows.clone(),
        };
        let mut line = serde_json::to_vec(&sample)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.flush()?;
        self.next += 1;
        Ok(self.next)
    }
}

/// Whether the file at `path` starts like a series (its first line names the series format).
pub fn is_series(path: &Path) -> bool {
    let mut head = Vec::new();
    File::open(path)
        .and_then(|file| file.take(40).read_to_end(&mut head))
        .is_ok()
        && head.starts_with(b"{\"format\":\"heapsnap-series\"")
}

/// The samples of a series, one at a time, in order. A last line without its newline (a
/// recording cut short) is skipped; any other line that is not a sample is an error.
pub fn samples(path: &Path) -> Result<impl Iterator<Item = Result<Sample, ReadError>>, ReadError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|error| ReadError::Io {
        path: name.clone(),
        error,
    })?;
    let mut lines = BufReader::new(file);
    let mut number = 0usize;
    Ok(std::iter::from_fn(move || {
        let mut line = Vec::new();
        match lines.read_until(b'\n', &mut line) {
            Err(error) => Some(Err(ReadError::Io {
                path: name.clone(),
                error,
            })),
            Ok(0) => None,
            Ok(_) if line.last() != Some(&b'\n') => None,
            Ok(_) => {
                number += 1;
                Some(parse_sample(&line, &name, number))
            }
        }
    }))
}

fn parse_sample(line: &[u8], name: &str, number: usize) -> Result<Sample, ReadError> {
    let sample: Sample = serde_json::from_slice(line).map_err(|e| ReadError::Malformed {
        path: name.to_string(),
        detail: format!("line {number} is not a sample: {e}"),
    })?;
    if sample.format != SERIES_FORMAT {
        return Err(ReadError::Foreign {
            path: name.to_string(),
        });
    }
    if sample.schema_version > SERIES_SCHEMA_VERSION {
        return Err(ReadError::NewerSchema {
            path: name.to_string(),
            found: sample.schema_version,
        });
    }
    Ok(sample)
}

/// Sample `n` of the series at `path` (from 0; a negative `n` counts from the end, -1 being
/// the last).
pub fn read_sample(path: &Path, n: i64) -> Result<Sample, ReadError> {
    let name = path.display().to_string();
    let index = if n >= 0 {
        n as u64
    } else {
        let total = samples(path)?.count() as i64;
        match total + n {
            k if k >= 0 => k as u64,
            _ => return Err(out_of_range(&name, n, total as u64)),
        }
    };
    let mut seen = 0u64;
    for sample in samples(path)? {
        if seen == index {
            return sample;
        }
        sample?;
        seen += 1;
    }
    Err(out_of_range(&name, n, seen))
}

fn out_of_range(name: &str, n: i64, total: u64) -> ReadError {
    ReadError::Malformed {
        path: name.to_string(),
        detail: format!(
            "no sample @{n}: the series holds {total} (@0 to @{}, or @-1 for the last)",
            total.saturating_sub(1)
        ),
    }
}
