//! The snapshot file: a versioned JSON document with the census and, per object, its address,
//! type and size (so that `diff` can tell new objects from old ones of the same type).
//!
//! Schema version 1 (documented in README.md):
//! ```text
//! { "format": "heapsnap-snapshot", "schema_version": 1,
//!   "meta": { pid, hostname, taken_at, heapsnap_version, python{...}, mode, consistent,
//!             objects, bytes, pause_ms, walk_ms, copied_bytes, threads, interpreters,
//!             memory_mode, read_bytes, left_out },
//!   "types": [ { name, count, size, approximate } ... ],          // largest size first
//!   "labels": [ "", "sys.modules", ".__dict__", "['x']", "[3]", ... ],
//!   "objects": { "address_delta": [...], "type": [...], "size": [...],
//!                "parent": [...], "label": [...] } }
//! ```
//! Objects are sorted by address; `address_delta[i]` is the distance from the previous address
//! (the first is absolute); `type[i]` indexes `types`; `parent[i]` is the index of the object
//! through which a shortest path from a root reaches object i (-1 for roots and for objects no
//! root reaches), and `label[i]` indexes `labels`: how the parent holds it, or the root's name
//! (the empty label 0 marks objects no root reaches); a negative `label[i]` is an item index:
//! -1 is `[0]`, -2 is `[1]`, ...
//!
//! Schema version 2 adds `types[].retained` and, per object, `retained` (bytes freed if it
//! went) and `idom` (its immediate dominator, -1: the root above all roots), `garbage` (the
//! positions of the garbage awaiting collection) and, since 2026-12-03, `gc_age` (the age
//! of the GC generation list it is on, youngest 1, oldest 3; 0: on none), which `diff` uses
//! to tell an object from a younger one at the same address. Readers take what is there.

use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::census::{Census, TypeRow};
use crate::heap::dominators::Dominators;
use crate::heap::edges::INDEX_LABEL_BASE;
use crate::heap::garbage::GarbageKind;
use crate::heap::{Heap, Mode};
use crate::interpreter::layout::GC_AGE_OLDEST;

pub mod output;
pub mod reader;
pub mod series;

pub use reader::{Detail, ObjectColumns, Sizes, LABEL_INDEX_TOO_BIG, NO_INDEX};

pub use output::write_atomically;

pub const FORMAT: &str = "heapsnap-snapshot";
pub const SCHEMA_VERSION: u32 = 2;
/// `parent` of roots and unreached objects.
pub const NO_PARENT: i64 = -1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PythonInfo {
    pub version: String,
    /// The file holding the runtime, as the target sees it.
    pub binary: String,
    pub shared_library: bool,
    /// False when the binary's `.symtab` is stripped (distribution builds).
    pub symbols: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub pid: i32,
    /// The core file the census was read from (`heapsnap dump core.1234`); absent for a live
    /// process. A core's census has no pause, no RSS and no host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core_file: Option<String>,
    pub hostname: String,
    /// When the process started (clock ticks after boot, /proc/<pid>/stat field 22) and which
    /// boot: with the pid, they tell one process from a later one that reuses its pid.
    #[serde(default)]
    pub start_time: u64,
    #[serde(default)]
    pub boot_id: String,
    /// Seconds since the Unix epoch.
    pub taken_at: f64,
    pub heapsnap_version: String,
    pub python: PythonInfo,
    pub mode: Mode,
    /// False when taken with `--nonblocking` (the target kept running during the copy), or
    /// when no stop found the collector's lists whole and the walk went around them.
    pub consistent: bool,
    /// How many times the target was stopped: more than one when a stop landed in the middle
    /// of a collection or of a list update (0 with `--nonblocking`).
    #[serde(default)]
    pub stops: u32,
    pub objects: u64,
    pub bytes: u64,
    /// Garbage awaiting collection: what the cyclic collector would free now, and what only
    /// that keeps alive (counted in `objects` and `bytes` too).
    #[serde(default)]
    pub garbage_objects: u64,
    #[serde(default)]
    pub garbage_bytes: u64,
    /// How long the target was stopped.
    pub pause_ms: f64,
    /// How long the walk of the copy took (target already running).
    pub walk_ms: f64,
    pub copied_bytes: u64,
    pub threads: usize,
    pub interpreters: usize,
    /// How the target's memory was read (older snapshots: copied).
    #[serde(default)]
    pub memory_mode: MemoryMode,
    /// Bytes read from the target: the copy, or in low-memory mode what the cache fetched (a
    /// piece as often as it was fetched).
    #[serde(default)]
    pub read_bytes: u64,
    /// What the dump left out to stay within its memory bound (low-memory mode: `retained`,
    /// the retained sizes and dominators, whose columns then hold 0 and -1); empty when
    /// nothing was.
    #[serde(default)]
    pub left_out: Vec<String>,
    /// What the dump warned about (the walk cut at a cap, GC lists walked around, a copy taken
    /// without stopping), one line each, as printed.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Where the target's resident memory is (absent in older snapshots, or where
    /// `/proc/<pid>/smaps` could not be read).
    #[serde(default)]
    pub memory: Option<MemoryAccount>,
}

/// Where the target's resident memory is, in bytes: the census, the object allocator's pools
/// (read from the target's memory), and `/proc/<pid>/smaps` read just after the walk. The
/// parts are approximate: they come from different moments and views (a static object in a
/// library's data counts both as an object and as a file's page).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryAccount {
    /// The target's resident set: `files + thread_stacks + anonymous`.
    pub rss: u64,
    /// Mapped files: executables and libraries (code and data), and any file or shared
    /// memory the process maps.
    pub files: u64,
    pub thread_stacks: u64,
    /// The rest: the heap and private anonymous mappings.
    pub anonymous: u64,
    /// Python objects: the census's bytes (`sys.getsizeof`, so buffers objects own count).
    pub objects: u64,
    /// The object allocator's (pymalloc's) pools, and the part of them not allocated (free
    /// blocks, empty pools the arenas keep).
    pub allocator_pools: u64,
    pub allocator_free: u64,
    /// Anonymous memory that neither objects nor the allocator's free space explain:
    /// `anonymous - objects - allocator_free` (0 at least). Buffers that C code allocated
    /// outside any object (extension modules, the interpreter's own tables) and malloc's own
    /// free space: where a leak the census cannot see shows.
    pub outside_objects: u64,
}

/// In [`Meta::left_out`]: the dominators and retained sizes, which the low-memory mode leaves
/// out (about 40 bytes per object and 12 per edge while they are computed).
pub const LEFT_OUT_RETAINED: &str = "retained";

/// How a dump read the target's memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemoryMode {
    /// Copied while the target was stopped; walked after it was resumed.
    #[default]
    Copy,
    /// Read in place through a bounded cache (nothing copied), the target stopped for the
    /// whole walk: `heapsnap dump --low-memory`, or when the copy would not fit.
    Low,
}

/// A snapshot as read ([`reader`]): the document's parts, and the object columns.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub format: String,
    pub schema_version: u32,
    pub meta: Meta,
    pub types: Vec<TypeRow>,
    pub labels: Vec<String>,
    pub objects: ObjectColumns,
}

/// Why a snapshot file cannot be used.
#[derive(Debug, Error)]
pub enum ReadError {
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{path}: truncated JSON (the file ends early; was the dump interrupted?)")]
    Truncated { path: String },
    #[error("{path}: not valid JSON ({detail})")]
    NotJson { path: String, detail: String },
    #[error("{path}: not a heapsnap snapshot (no \"format\": \"heapsnap-snapshot\")")]
    Foreign { path: String },
    #[error(
        "{path}: snapshot schema version {found} is newer than this heapsnap understands ({SCHEMA_VERSION}); upgrade heapsnap"
    )]
    NewerSchema { path: String, found: u32 },
    #[error("{path}: malformed snapshot ({detail})")]
    Malformed { path: String, detail: String },
}

impl Snapshot {
    /// Read and check a snapshot file, every column.
    pub fn read(path: &Path) -> Result<Snapshot, ReadError> {
        Snapshot::read_detail(path, Detail::Full)
    }

    /// Read and check a snapshot file, keeping only what identifies its objects (address,
    /// type, size) and its garbage: what `diff` needs of a snapshot whose objects it does not
    /// explain.
    pub fn read_lean(path: &Path) -> Result<Snapshot, ReadError> {
        Snapshot::read_detail(path, Detail::Lean)
    }

    /// Read and check a snapshot file, keeping `detail` of its columns.
    pub fn read_detail(path: &Path, detail: Detail) -> Result<Snapshot, ReadError> {
        let snap = reader::read(path, detail)?;
        snap.check().map_err(|detail| ReadError::Malformed {
            path: path.display().to_string(),
            detail,
        })?;
        Ok(snap)
    }

    /// The per-object columns agree with each other and with the tables they index.
    fn check(&self) -> Result<(), String> {
        let o = &self.objects;
        let n = o.len();
        if n >= i32::MAX as usize {
            return Err("more objects than heapsnap can compare".into());
        }
        if [o.type_index.len(), o.size.len()].iter().any(|&l| l != n)
            || [
                o.parent.len(),
                o.label.len(),
                o.retained.len(),
                o.idom.len(),
            ]
            .iter()
            .any(|&l| l != n && l != 0)
        {
            return Err("object columns have different lengths".into());
        }
        if o.type_index.iter().any(|&t| t as usize >= self.types.len()) {
            return Err("an object's type index is out of range".into());
        }
        if o.label
            .iter()
            .any(|&l| l >= 0 && l as usize >= self.labels.len())
        {
            return Err("an object's label index is out of range".into());
        }
        if o.parent
            .iter()
            .any(|&p| p < NO_INDEX || p as i64 >= n as i64)
        {
            return Err("an object's parent index is out of range".into());
        }
        if o.idom.iter().any(|&d| d < NO_INDEX || d as i64 >= n as i64) {
            return Err("an object's dominator index is out of range".into());
        }
        if o.gc_age.len() != n && !o.gc_age.is_empty() {
            return Err("object columns have different lengths".into());
        }
        if o.gc_age.iter().any(|&a| a > GC_AGE_OLDEST) {
            return Err("an object's GC age is out of range".into());
        }
        if o.garbage.iter().any(|&g| g as usize >= n) {
            return Err("a garbage index is out of range".into());
        }
        Ok(())
    }

    /// The text of object `i`'s label (`.attr`, `['key']`, `[3]`, a root's name, or empty).
    pub fn label(&self, i: usize) -> std::borrow::Cow<'_, str> {
        let l = self.objects.label[i];
        if l == LABEL_INDEX_TOO_BIG {
            "[…]".into()
        } else if l < 0 {
            format!("[{}]", -i64::from(l) - 1).into()
        } else {
            self.labels[l as usize].as_str().into()
        }
    }

    /// Whether the snapshot holds its objects one by one (a sample of a series holds counts by
    /// type only).
    pub fn has_objects(&self) -> bool {
        self.meta.objects == 0 || !self.objects.size.is_empty()
    }

    /// Object addresses, ascending.
    pub fn addresses(&self) -> &[u64] {
        &self.objects.address
    }

    /// Write the snapshot of a walked heap straight to `path`, without building the object
    /// columns as numbers first: threads format them into text, and the document around them
    /// is serialised as [`Snapshot`] would be (same fields; `types` last). In low-memory mode
    /// the text is not built whole (26 MB for 1.2 M objects): each column is formatted and
    /// written a piece at a time, by one thread.
    ///
    /// When the heap's dominators are wanted and not computed yet ([`crate::capture::Capture`]
    /// from a `_deferred` capture), one thread computes them while this one formats and writes
    /// the columns that do not need them; then the `retained` and `idom` columns and the
    /// types, whose Retained column the dominators fill in. The heap keeps them.
    pub fn write_heap(
        path: &Path,
        meta: &Meta,
        census: &mut Census,
        heap: &mut Heap,
    ) -> std::io::Result<()> {
        let mut edges = heap
            .dominators_pending()
            .then(|| heap.take_dominator_edges());
        let shared: &Heap = heap;
        let (mut solved, mut grouped) = (None, None);
        let written = write_atomically(path, |out| {
            out.write_all(b"{\"format\":")?;
            serde_json::to_writer(&mut *out, FORMAT)?;
            write!(out, ",\"schema_version\":{SCHEMA_VERSION},\"meta\":")?;
            serde_json::to_writer(&mut *out, meta)?;
            out.write_all(b",\"labels\":")?;
            serde_json::to_writer(&mut *out, &shared.labels)?;
            out.write_all(b",\"objects\":{")?;
            let mut first = true;
            let mut write_column = |k: usize, pieces: &mut dyn Iterator<Item = Vec<u8>>| {
                if !first {
                    out.write_all(b",")?;
                }
                first = false;
                write!(out, "\"{}\":[", COLUMN_NAMES[k])?;
                let mut empty = true;
                for text in pieces.filter(|t| !t.is_empty()) {
                    if !empty {
                        out.write_all(b",")?;
                    }
                    out.write_all(&text)?;
                    empty = false;
                }
                out.write_all(b"]")
            };
            let n = shared.len();
            match (meta.memory_mode, edges.take()) {
                (MemoryMode::Copy, Some(edges)) => {
                    // The dominators on the helper thread, while this one formats and writes
                    // the columns that need none.
                    let (dominators, early) = crate::parallel::join(
                        || shared.solve_dominators(edges),
                        || {
                            let encoded = Encoded::new(census, shared, None);
                            let mut early = encoded.format_rows::<EARLY_COLUMNS>(0..n);
                            drop(encoded);
                            let columns =
                                (0..COLUMN_NAMES.len()).filter(|&k| EARLY_COLUMNS & (1 << k) != 0);
                            for k in columns {
                                let text = std::mem::take(&mut early[k]);
                                write_column(k, &mut std::iter::once(text))?;
                            }
                            Ok::<_, std::io::Error>(())
                        },
                    );
                    let dominators = solved.insert(dominators);
                    early?;
                    // Then the retained bytes per type there, while this one formats and
                    // writes the retained and idom columns.
                    let (by_group, late) = crate::parallel::join(
                        || shared.retained_by_type_group_of(dominators),
                        || {
                            let [retained, idom] = format_dominance(shared, dominators);
                            write_column(RETAINED_COLUMN, &mut std::iter::once(retained))?;
                            write_column(IDOM_COLUMN, &mut std::iter::once(idom))
                        },
                    );
                    grouped = Some(by_group);
                    late?;
                }
                (MemoryMode::Copy, None) => {
                    let encoded = Encoded::new(census, shared, shared.dominators());
                    let mut columns = encoded.format_columns::<ALL_COLUMNS>();
                    for (k, column) in columns.iter_mut().enumerate() {
                        let [head, tail] = std::mem::take(column);
                        write_column(k, &mut [head, tail].into_iter())?;
                    }
                }
                (MemoryMode::Low, _) => {
                    let encoded = Encoded::new(census, shared, shared.dominators());
                    for k in 0..COLUMN_NAMES.len() {
                        let mut pieces = (0..n).step_by(STREAMED_ROWS).map(|start| {
                            encoded.format_column(k, start..(start + STREAMED_ROWS).min(n))
                        });
                        write_column(k, &mut pieces)?;
                    }
                }
            }
            out.write_all(b",\"garbage\":")?;
            serde_json::to_writer(&mut *out, &shared.garbage_positions())?;
            // The types last: their Retained column needs the dominators.
            if let Some(by_group) = &grouped {
                census.add_retained(shared, by_group);
            }
            out.write_all(b"},\"types\":")?;
            serde_json::to_writer(&mut *out, &census.rows)?;
            out.write_all(b"}\n")
        });
        // The heap keeps the dominators, computed here if the write failed before they were.
        if let Some(edges) = edges {
            solved = Some(heap.solve_dominators(edges));
        }
        if let Some(dominators) = solved {
            let by_group = grouped.unwrap_or_else(|| heap.retained_by_type_group_of(&dominators));
            census.add_retained(heap, &by_group);
            heap.set_dominators(dominators, by_group);
        }
        written
    }
}

/// The text of the `retained` and `idom` columns (without brackets), from `dominators`.
fn format_dominance(heap: &Heap, dominators: &Dominators) -> [Vec<u8>; 2] {
    let n = heap.len();
    let (mut retained, mut idom) = (Vec::with_capacity(n * 4), Vec::with_capacity(n * 8));
    let mut digits = itoa::Buffer::new();
    for (bytes, dominator) in heap.dominance_in(0..n, dominators) {
        retained.extend_from_slice(digits.format(bytes).as_bytes());
        retained.push(b',');
        let dominator = match dominator {
            crate::heap::NO_PARENT => NO_PARENT,
            d => i64::from(d),
        };
        idom.extend_from_slice(digits.format(dominator).as_bytes());
        idom.push(b',');
    }
    retained.pop();
    idom.pop();
    [retained, idom]
}

/// A meta with the required fields and nothing measured, for unit tests that build
/// snapshots by hand.
#[cfg(test)]
pub(crate) fn test_meta(objects: u64) -> Meta {
    serde_json::from_value(serde_json::json!({
        "pid": 1, "hostname": "", "taken_at": 0.0, "heapsnap_version": "0",
        "python": {"version": "3.12.1", "binary": "", "shared_library": false, "symbols": true},
        "mode": "full", "consistent": true, "objects": objects, "bytes": 0, "pause_ms": 0.0,
        "walk_ms": 0.0, "copied_bytes": 0, "threads": 1, "interpreters": 1
    }))
    .expect("a valid meta")
}

/// Write one JSON object per heap object (meliae style): address, type, size (atomically, see
/// [`write_atomically`]).
pub fn write_objects_jsonl(path: &Path, heap: &Heap) -> std::io::Result<()> {
    #[derive(Serialize)]
    struct Line<'a> {
        address: u64,
        #[serde(rename = "type")]
        type_name: &'a str,
        size: u64,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        approximate: bool,
        /// The bytes freed if it went: its size and that of all it dominates (not in
        /// low-memory mode).
        #[serde(skip_serializing_if = "Option::is_none")]
        retained: Option<u64>,
        /// `cyclic` (the collector would free it now) or `held` (only garbage holds it).
        #[serde(skip_serializing_if = "Option::is_none")]
        garbage: Option<&'static str>,
    }
    write_atomically(path, |out| {
        for o in heap.objects() {
            let line = Line {
                address: o.address,
                type_name: &heap.types[o.type_id as usize].name,
                size: o.size,
                approximate: !o.size_exact,
                retained: heap.has_dominators().then_some(o.retained),
                garbage: o.garbage.map(|g| match g {
                    GarbageKind::Cyclic => "cyclic",
                    GarbageKind::HeldByGarbage => "held",
                }),
            };
            serde_json::to_writer(&mut *out, &line)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })
}

/// The object columns, in the order [`ObjectColumns`] serialises them.
const COLUMN_NAMES: [&str; 8] = [
    "address_delta",
    "type",
    "size",
    "parent",
    "label",
    "retained",
    "idom",
    "gc_age",
];

/// The columns of [`COLUMN_NAMES`] as bits (see [`Encoded::format_rows`]): all of them, those
/// that need the dominators, and the others.
const ALL_COLUMNS: u8 = 0b1111_1111;
const DOMINANCE_COLUMNS: u8 = 1 << RETAINED_COLUMN | 1 << IDOM_COLUMN;
const RETAINED_COLUMN: usize = 5;
const IDOM_COLUMN: usize = 6;
const EARLY_COLUMNS: u8 = ALL_COLUMNS & !DOMINANCE_COLUMNS;

/// Rows of one column formatted at a time when a snapshot is streamed (about 0.5 MB of text).
const STREAMED_ROWS: usize = 1 << 17;

/// One object as the snapshot encodes it.
struct EncodedObject {
    address_delta: u64,
    type_index: u32,
    size: u64,
    parent: i64,
    label: i64,
    retained: u64,
    idom: i64,
    gc_age: u8,
}

/// A walked heap as the snapshot encodes it (objects in address order, as [`Heap::objects`]
/// gives them; types as census rows): the single definition of the object encoding, for
/// [`Snapshot::write_heap`].
struct Encoded<'a> {
    heap: &'a Heap,
    row_of_type: Vec<u32>,
    /// The dominators the `retained` and `idom` columns come from.
    dominance: Option<&'a Dominators>,
}

impl<'a> Encoded<'a> {
    fn new(census: &Census, heap: &'a Heap, dominance: Option<&'a Dominators>) -> Encoded<'a> {
        let index = census.index();
        let row_of_type = heap
            .types
            .iter()
            .map(|t| index.get(t.name.as_str()).copied().unwrap_or(0) as u32)
            .collect();
        Encoded {
            heap,
            row_of_type,
            dominance,
        }
    }

    /// The text of the columns of [`COLUMN_NAMES`] (without brackets) for objects `rows`, in
    /// one pass; only those whose bit is set in `COLUMNS` (bit `k`: column `k`; a constant,
    /// so that formatting them all pays for no test), the others are left empty.
    fn format_rows<const COLUMNS: u8>(&self, rows: std::ops::Range<usize>) -> [Vec<u8>; 8] {
        let wanted = |column: usize| COLUMNS & (1 << column) != 0;
        // Typical widths: a 3-digit delta, type and size, a 7-digit parent, a 4-digit label.
        // Not faulted in beforehand with `populate_spare`: while the other thread starts (and
        // maps its stack), that made the formatting slower (22 ms instead of 18 ms for 1.2M
        // objects here).
        let mut text: [Vec<u8>; 8] = std::array::from_fn(|column| {
            let width = [4, 3, 4, 8, 5, 4, 8, 2][column];
            Vec::with_capacity(if wanted(column) {
                rows.len() * width
            } else {
                0
            })
        });
        let mut digits = itoa::Buffer::new();
        let mut put = |column: usize, number: &str| {
            let t = &mut text[column];
            t.extend_from_slice(number.as_bytes());
            t.push(b',');
        };
        for o in self.objects_in(rows) {
            // Every value fits an i64 (addresses are below 2^48).
            let values = [
                o.address_delta as i64,
                i64::from(o.type_index),
                o.size as i64,
                o.parent,
                o.label,
                o.retained as i64,
                o.idom,
                i64::from(o.gc_age),
            ];
            for (column, value) in values.into_iter().enumerate() {
                if wanted(column) {
                    put(column, digits.format(value));
                }
            }
        }
        for t in &mut text {
            t.pop();
        }
        text
    }

    /// The text of column `column` for objects `rows` (see [`Encoded::format_rows`]).
    fn format_column(&self, column: usize, rows: std::ops::Range<usize>) -> Vec<u8> {
        let mut text = match column {
            0 => self.format_rows::<0b0000_0001>(rows),
            1 => self.format_rows::<0b0000_0010>(rows),
            2 => self.format_rows::<0b0000_0100>(rows),
            3 => self.format_rows::<0b0000_1000>(rows),
            4 => self.format_rows::<0b0001_0000>(rows),
            5 => self.format_rows::<0b0010_0000>(rows),
            6 => self.format_rows::<0b0100_0000>(rows),
            _ => self.format_rows::<0b1000_0000>(rows),
        };
        std::mem::take(&mut text[column.min(7)])
    }

    /// The text of the columns whose bit is set in `COLUMNS` (see [`Encoded::format_rows`]),
    /// formatted by two threads (each half of the rows).
    fn format_columns<const COLUMNS: u8>(&self) -> [[Vec<u8>; 2]; 8] {
        let n = self.heap.len();
        let (tail, head) = crate::parallel::join(
            || self.format_rows::<COLUMNS>(n / 2..n),
            || self.format_rows::<COLUMNS>(0..n / 2),
        );
        let mut tail = tail.into_iter();
        head.map(|h| [h, tail.next().unwrap_or_default()])
    }

    fn objects_in(&self, rows: std::ops::Range<usize>) -> impl Iterator<Item = EncodedObject> + '_ {
        let mut previous = match rows.start {
            0 => 0,
            start => self
                .heap
                .objects_in(start - 1..start)
                .next()
                .map_or(0, |o| o.address),
        };
        self.heap
            .objects_in_with(rows, self.dominance)
            .map(move |o| {
                let delta = o.address - previous;
                previous = o.address;
                EncodedObject {
                    address_delta: delta,
                    type_index: self.row_of_type[o.type_id as usize],
                    size: o.size,
                    parent: if o.parent == crate::heap::NO_PARENT {
                        NO_PARENT
                    } else {
                        i64::from(o.parent)
                    },
                    label: if o.label >= INDEX_LABEL_BASE {
                        -(i64::from(o.label - INDEX_LABEL_BASE) + 1)
                    } else {
                        i64::from(o.label)
                    },
                    retained: o.retained,
                    idom: if o.idom == crate::heap::NO_PARENT {
                        NO_PARENT
                    } else {
                        i64::from(o.idom)
                    },
                    gc_age: o.gc_age,
                }
            })
    }
}
