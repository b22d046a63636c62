//! heapsnap: an exact census of a live CPython heap, read from outside the process.
//!
//! The layers, each a folder: [`memory`] (where bytes come from), [`interpreter`] (which
//! CPython and its layouts), [`heap`] (walking the objects), [`census`] (grouping by type),
//! [`snapshot`] (the JSON format), [`diff`] (comparing snapshots), [`render`] (tables for
//! people), [`cli`] (commands); [`capture`] is the pipeline from a pid to a census, and
//! [`parallel`] runs work on two cores.

pub mod capture;
pub mod census;
pub mod cli;
pub mod diff;
pub mod heap;
pub mod interpreter;
pub mod memory;
pub mod parallel;
pub mod render;
pub mod snapshot;
