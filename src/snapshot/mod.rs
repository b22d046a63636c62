//! The snapshot file: a versioned JSON document with the census and, per object, its address,
//! type and size (so that `diff` can tell new objects from old ones of the same type).
//!
//! Schema version 1 (documented in README.md):
//! ```text
//! { "format": "heapsnap-snapshot", "schema_version": 1,
//!   "meta": { pid, hostname, taken_at, heapsnap_version, python{...}, mode, consistent,
//!             objects, bytes, pause_ms, walk_ms, copied_bytes, threads, interpreters },
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

use std::io::{BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::census::{Census, TypeRow};
use crate::heap::edges::INDEX_LABEL_BASE;
use crate::heap::{Heap, Mode};

pub const FORMAT: &str = "heapsnap-snapshot";
pub const SCHEMA_VERSION: u32 = 1;
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
    /// False when taken with `--nonblocking` (the target kept running during the copy).
    pub consistent: bool,
    pub objects: u64,
    pub bytes: u64,
    /// How long the target was stopped.
    pub pause_ms: f64,
    /// How long the walk of the copy took (target already running).
    pub walk_ms: f64,
    pub copied_bytes: u64,
    pub threads: usize,
    pub interpreters: usize,
}

/// Per-object columns.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ObjectColumns {
    pub address_delta: Vec<u64>,
    #[serde(rename = "type")]
    pub type_index: Vec<u32>,
    pub size: Vec<u64>,
    pub parent: Vec<i64>,
    pub label: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
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

/// The fields that identify a snapshot, read before the rest.
#[derive(Deserialize)]
struct Header {
    format: Option<String>,
    schema_version: Option<u32>,
}

impl Snapshot {
    /// Read and check a snapshot file.
    pub fn read(path: &Path) -> Result<Snapshot, ReadError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|error| ReadError::Io {
            path: name.clone(),
            error,
        })?;
        let classify = |e: serde_json::Error| match e.classify() {
            serde_json::error::Category::Eof => ReadError::Truncated { path: name.clone() },
            serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
                ReadError::NotJson {
                    path: name.clone(),
                    detail: e.to_string(),
                }
            }
            serde_json::error::Category::Data => ReadError::Foreign { path: name.clone() },
        };
        // One parse in the normal case; otherwise the header tells what the file is.
        let snap = match serde_json::from_slice::<Snapshot>(&bytes) {
            Ok(snap) if snap.format == FORMAT && snap.schema_version <= SCHEMA_VERSION => snap,
            parsed => {
                let header: Header = serde_json::from_slice(&bytes).map_err(classify)?;
                if header.format.as_deref() != Some(FORMAT) {
                    return Err(ReadError::Foreign { path: name });
                }
                match header.schema_version {
                    Some(v) if v > SCHEMA_VERSION => {
                        return Err(ReadError::NewerSchema {
                            path: name,
                            found: v,
                        })
                    }
                    Some(_) => {}
                    None => return Err(ReadError::Foreign { path: name }),
                }
                parsed.map_err(|e| ReadError::Malformed {
                    path: name.clone(),
                    detail: e.to_string(),
                })?
            }
        };
        snap.check()
            .map_err(|detail| ReadError::Malformed { path: name, detail })?;
        Ok(snap)
    }

    /// The per-object columns agree with each other and with the tables they index.
    fn check(&self) -> Result<(), String> {
        let o = &self.objects;
        let n = o.address_delta.len();
        if [
            o.type_index.len(),
            o.size.len(),
            o.parent.len(),
            o.label.len(),
        ]
        .iter()
        .any(|&l| l != n)
        {
            return Err("object columns have different lengths".into());
        }
        if o.type_index.iter().any(|&t| t as usize >= self.types.len()) {
            return Err("an object's type index is out of range".into());
        }
        if o.label
            .iter()
            .any(|&l| l >= self.labels.len() as i64 || l < -(1 << 40))
        {
            return Err("an object's label index is out of range".into());
        }
        if o.parent.iter().any(|&p| p < NO_PARENT || p >= n as i64) {
            return Err("an object's parent index is out of range".into());
        }
        Ok(())
    }

    /// The text of object `i`'s label (`.attr`, `['key']`, `[3]`, a root's name, or empty).
    pub fn label(&self, i: usize) -> std::borrow::Cow<'_, str> {
        let l = self.objects.label[i];
        if l < 0 {
            format!("[{}]", -l - 1).into()
        } else {
            self.labels[l as usize].as_str().into()
        }
    }

    /// Object addresses, decoded from the deltas.
    pub fn addresses(&self) -> Vec<u64> {
        let mut at = 0u64;
        self.objects
            .address_delta
            .iter()
            .map(|d| {
                at = at.wrapping_add(*d);
                at
            })
            .collect()
    }

    pub fn new(meta: Meta, census: &Census, heap: &Heap) -> Snapshot {
        let encoded = Encoded::new(census, heap);
        let mut cols = ObjectColumns::default();
        for o in encoded.objects() {
            cols.address_delta.push(o.address_delta);
            cols.type_index.push(o.type_index);
            cols.size.push(o.size);
            cols.parent.push(o.parent);
            cols.label.push(o.label);
        }
        Snapshot {
            format: FORMAT.into(),
            schema_version: SCHEMA_VERSION,
            meta,
            types: census.rows.clone(),
            labels: heap.labels.clone(),
            objects: cols,
        }
    }

    /// Write the snapshot of a walked heap straight to `path`, without building the object
    /// columns in memory first (for big heaps: less memory, less time).
    pub fn write_heap(
        path: &Path,
        meta: &Meta,
        census: &Census,
        heap: &Heap,
    ) -> std::io::Result<()> {
        /// The document, borrowing everything; the object columns are serialised from the
        /// encoding on the fly.
        #[derive(Serialize)]
        struct Document<'a> {
            format: &'a str,
            schema_version: u32,
            meta: &'a Meta,
            types: &'a [TypeRow],
            labels: &'a [String],
            objects: Columns<'a>,
        }
        struct Columns<'a>(&'a Encoded<'a>);
        impl Serialize for Columns<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let e = self.0;
                let mut map = s.serialize_map(Some(5))?;
                map.serialize_entry(
                    "address_delta",
                    &Seq(|| e.objects().map(|o| o.address_delta)),
                )?;
                map.serialize_entry("type", &Seq(|| e.objects().map(|o| o.type_index)))?;
                map.serialize_entry("size", &Seq(|| e.objects().map(|o| o.size)))?;
                map.serialize_entry("parent", &Seq(|| e.objects().map(|o| o.parent)))?;
                map.serialize_entry("label", &Seq(|| e.objects().map(|o| o.label)))?;
                map.end()
            }
        }
        /// A sequence serialised from an iterator made on demand.
        struct Seq<F>(F);
        impl<F, I> Serialize for Seq<F>
        where
            F: Fn() -> I,
            I: Iterator,
            I::Item: Serialize,
        {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq((self.0)())
            }
        }
        let encoded = Encoded::new(census, heap);
        let doc = Document {
            format: FORMAT,
            schema_version: SCHEMA_VERSION,
            meta,
            types: &census.rows,
            labels: &heap.labels,
            objects: Columns(&encoded),
        };
        write_atomically(path, |out| {
            serde_json::to_writer(out, &doc).map_err(Into::into)
        })
    }

    /// Write to `path` (atomically, see [`write_atomically`]).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        write_atomically(path, |out| {
            serde_json::to_writer(out, self).map_err(Into::into)
        })
    }
}

/// Write one JSON object per heap object (meliae style): address, type, size.
pub fn write_objects_jsonl(path: &Path, heap: &Heap) -> std::io::Result<()> {
    #[derive(Serialize)]
    struct Line<'a> {
        address: u64,
        #[serde(rename = "type")]
        type_name: &'a str,
        size: u64,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        approximate: bool,
    }
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    for o in &heap.objects {
        let line = Line {
            address: o.address,
            type_name: &heap.types[o.type_id as usize].name,
            size: o.size,
            approximate: !o.size_exact,
        };
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Write through a temporary file renamed into place, so that a failed write never leaves a
/// truncated snapshot (or destroys the previous one).
fn write_atomically(
    path: &Path,
    body: impl FnOnce(&mut BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    let written = (|| {
        let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&partial)?);
        body(&mut out)?;
        out.write_all(b"\n")?;
        out.flush()
    })();
    match written {
        Ok(()) => std::fs::rename(&partial, path),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// One object as the snapshot encodes it.
struct EncodedObject {
    address_delta: u64,
    type_index: u32,
    size: u64,
    parent: i64,
    label: i64,
}

/// A walked heap in snapshot order (by address), with parents as positions in that order:
/// the single definition of the object encoding, for [`Snapshot::new`] and
/// [`Snapshot::write_heap`].
struct Encoded<'a> {
    heap: &'a Heap,
    row_of_type: Vec<u32>,
    /// (address, walk index), sorted.
    order: Vec<(u64, u32)>,
    /// Walk index → position in `order`.
    position: Vec<u32>,
}

impl<'a> Encoded<'a> {
    fn new(census: &Census, heap: &'a Heap) -> Encoded<'a> {
        let index = census.index();
        let row_of_type = heap
            .types
            .iter()
            .map(|t| index.get(t.name.as_str()).copied().unwrap_or(0) as u32)
            .collect();
        let mut order: Vec<(u64, u32)> = heap
            .objects
            .iter()
            .enumerate()
            .map(|(i, o)| (o.address, i as u32))
            .collect();
        order.sort_unstable();
        let mut position = vec![0u32; heap.objects.len()];
        for (pos, &(_, i)) in order.iter().enumerate() {
            position[i as usize] = pos as u32;
        }
        Encoded {
            heap,
            row_of_type,
            order,
            position,
        }
    }

    fn objects(&self) -> impl Iterator<Item = EncodedObject> + '_ {
        let mut previous = 0u64;
        self.order.iter().map(move |&(address, i)| {
            let o = &self.heap.objects[i as usize];
            let delta = address - previous;
            previous = address;
            EncodedObject {
                address_delta: delta,
                type_index: self.row_of_type[o.type_id as usize],
                size: o.size,
                parent: if o.parent == crate::heap::NO_PARENT {
                    NO_PARENT
                } else {
                    i64::from(self.position[o.parent as usize])
                },
                label: if o.label >= INDEX_LABEL_BASE {
                    -(i64::from(o.label - INDEX_LABEL_BASE) + 1)
                } else {
                    i64::from(o.label)
                },
            }
        })
    }
}
