//! Command-line interface: argument parsing, the commands, and how failures become one line on
//! stderr and a documented exit code.

pub mod dump;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::heap::Mode;

#[derive(Parser)]
#[command(
    name = "heapsnap",
    version,
    about = "Census of every live object of a running CPython process, read from outside"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Count every live object of a Python process by type and size.
    Dump(DumpArgs),
}

#[derive(clap::Args)]
pub struct DumpArgs {
    /// Process id of the Python process.
    pub pid: i32,
    /// Write the snapshot (census and per-object data) as JSON to this file.
    #[arg(short, long, value_name = "FILE.json")]
    pub output: Option<PathBuf>,
    /// Write one JSON line per object (address, type, size) to this file.
    #[arg(long, value_name = "FILE.jsonl")]
    pub objects: Option<PathBuf>,
    /// `gc`: exactly gc.get_objects() and its referents; `full`: everything reachable.
    #[arg(long, value_enum, default_value_t = Mode::Full)]
    pub mode: Mode,
    /// How many rows of the table to print.
    #[arg(long, default_value_t = 30)]
    pub top: usize,
    /// Do not stop the target while copying its memory (the census may be inconsistent).
    #[arg(long)]
    pub nonblocking: bool,
    /// Print nothing on stdout (with -o or --objects).
    #[arg(short, long)]
    pub quiet: bool,
}

/// A failure: its message and exit code (see README "Exit codes").
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

pub mod exit {
    /// Internal error, or an output file could not be written.
    pub const ERROR: i32 = 1;
    /// Bad command line (clap's own code).
    pub const USAGE: i32 = 2;
    pub const NO_SUCH_PROCESS: i32 = 3;
    pub const PERMISSION: i32 = 4;
    pub const NOT_PYTHON: i32 = 5;
    pub const UNSUPPORTED: i32 = 6;
    /// The target exited, or could not be stopped, during the read.
    pub const TARGET_LOST: i32 = 7;
    /// The target's memory did not hold together (corrupt, or changing under --nonblocking).
    pub const INCONSISTENT: i32 = 8;
}

impl Failure {
    pub fn new(code: i32, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

/// Parse the command line and run; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Dump(args) => dump::run(&args),
    };
    match result {
        Ok(()) => 0,
        Err(f) => {
            eprintln!("heapsnap: error: {}", f.message);
            f.code
        }
    }
}
