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
    /// Index in [`Heap::objects`] of the object through which the walk first reached this one
    /// (the walk is breadth first from the roots, so the parent is on a shortest path), or
    /// [`NO_PARENT`] for roots and unreached objects.
    pub parent: u32,
    /// Index in [`Heap::labels`]: how the parent holds it (`.attr`, `['key']`), or the root's
    /// name; 0 (empty) for objects no root reaches; from [`edges::INDEX_LABEL_BASE`] on, the
    /// item index `[i]` itself.
    pub label: u32,
}

pub const NO_PARENT: u32 = u32::MAX;

/// The result of a walk. Objects are in address order.
pub struct Heap {
    pub objects: Vec<HeapObject>,
    pub types: Vec<types::TypeInfo>,
    pub labels: Vec<String>,
    pub interpreters: usize,
    /// What a tolerant walk had to cut short (torn GC lists of a copy taken without stopping).
    pub warnings: Vec<String>,
}
