//! Walking the heap: from the GC lists (and, in full mode, the interpreter's roots) through
//! every referent, on a memory image. Produces every object with its type and size.
//!
//! - [`edges`] — how a parent holds a child: retainer-chain labels;
//! - [`gc_lists`] — interpreters and their generation lists;
//! - [`types`] — validated type objects and what each needs;
//! - [`referents`] — per-type `tp_traverse` emulation;
//! - [`sizes`] — `sys.getsizeof`;
//! - [`hashing`] — fast hash tables for addresses;
//! - [`objects`] — decoding str, tuple and dict contents;
//! - [`walk`] — the traversal itself.

pub mod edges;
pub mod gc_lists;
pub mod hashing;
pub mod objects;
pub mod referents;
pub mod sizes;
pub mod types;
pub mod walk;

use thiserror::Error;

/// Which objects the census counts.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Exactly `gc.get_objects()` plus the `gc.get_referents` closure.
    Gc,
    /// Also what that misses: code contents, all dict keys, types, interned strings, frames.
    Full,
}

#[derive(Debug, Error)]
pub enum WalkError {
    #[error("the target's memory is inconsistent: {0}")]
    Corrupt(String),
}

/// One live object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeapObject {
    pub address: u64,
    /// Index into [`Heap::types`].
    pub type_id: u32,
    /// `sys.getsizeof`.
    pub size: u64,
    /// False when the type has a `__sizeof__` heapsnap cannot reproduce.
    pub size_exact: bool,
    /// Index in [`Heap::objects`] (address order) of the object through which the walk first
    /// reached this one (the walk is breadth first from the roots, so the parent is on a
    /// shortest path), or [`NO_PARENT`] for roots and unreached objects.
    pub parent: u32,
    /// Index in [`Heap::labels`]: how the parent holds it (`.attr`, `['key']`), or the root's
    /// name; 0 (empty) for objects no root reaches; from [`edges::INDEX_LABEL_BASE`] on, the
    /// item index `[i]` itself.
    pub label: u32,
}

pub const NO_PARENT: u32 = u32::MAX;

impl Heap {
    /// Number of objects.
    pub fn len(&self) -> usize {
        self.by_address.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_address.is_empty()
    }

    /// The objects in address order, each `parent` an index in that order.
    pub fn objects(&self) -> impl Iterator<Item = HeapObject> + '_ {
        self.objects_in(0..self.len())
    }

    /// Objects `range` (in address order) of [`Heap::objects`].
    pub fn objects_in(
        &self,
        range: std::ops::Range<usize>,
    ) -> impl Iterator<Item = HeapObject> + '_ {
        self.by_address[range].iter().map(|&record| {
            let mut o = self.records[record as usize];
            if o.parent != NO_PARENT {
                o.parent = self.position[o.parent as usize];
            }
            o
        })
    }

    /// The objects in no particular order (faster when the order does not matter).
    pub fn objects_unordered(&self) -> impl Iterator<Item = &HeapObject> + '_ {
        self.records
            .iter()
            .zip(&self.position)
            .filter(|(_, &p)| p != walk::NOT_PLACED)
            .map(|(o, _)| o)
    }
}

/// The result of a walk: its objects in address order (see [`Heap::objects`]), their types and
/// edge labels.
pub struct Heap {
    /// The walk's records, in the order the walk found them: objects, and candidates that were
    /// not objects (their position is [`walk::NOT_PLACED`]). Their `parent` is a record index.
    records: Vec<HeapObject>,
    /// Record index → index in address order.
    position: Vec<u32>,
    /// Index in address order → record index.
    by_address: Vec<u32>,
    pub types: Vec<types::TypeInfo>,
    pub labels: Vec<String>,
    pub interpreters: usize,
    /// What a tolerant walk had to cut short (torn GC lists of a copy taken without stopping).
    pub warnings: Vec<String>,
}
