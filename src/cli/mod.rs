//! Command-line interface: argument parsing, the commands, and how failures become one line on
//! stderr and a documented exit code.

pub mod around;
pub mod completions;
pub mod demo;
pub mod diff;
pub mod dump;
pub mod growth;
pub mod progress;
pub mod record;
pub mod report;
pub mod top;

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::snapshot::{Detail, Snapshot};

/// How many rows `dump` and `diff` print unless told (`--top`).
pub const DEFAULT_TOP: usize = 25;

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
    /// Count every live object of a Python process (or of a core file) by type and size.
    Dump(DumpArgs),
    /// Compare snapshots: what grew, which objects are new, and who holds them.
    Diff(DiffArgs),
    /// Watch a Python process's heap live: a census every few seconds, types sorted by growth.
    Top(TopArgs),
    /// Write the comparison of snapshots as one self-contained HTML page.
    ///
    /// The page holds the leak suspects, the resident memory, an icicle of what the new
    /// objects retain, the types and the retainer chains; it fetches nothing when opened.
    Report(ReportArgs),
    /// Record a census by type every interval into a series (one JSON line per sample).
    Record(RecordArgs),
    /// The types that grew steadily over a recorded series, with their rates per minute.
    Growth(GrowthArgs),
    /// Snapshots around a request: dump, run CMD, dump, run it again, dump, and compare.
    ///
    /// CMD runs --repeat times between snapshots; the comparison shows what the first runs
    /// left that the second runs did not free, leak suspects first.
    Around(AroundArgs),
    /// Run the whole story on a bundled leaky example service: dump, requests, dump, diff.
    Demo(DemoArgs),
    /// Print a shell completion script (e.g. `heapsnap completions bash >
    /// /etc/bash_completion.d/heapsnap`).
    Completions(CompletionsArgs),
}

#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(clap::Args)]
pub struct ReportArgs {
    /// Two snapshots (A and B), or three (A, B, C: the objects new in B still alive in C).
    #[arg(num_args = 2..=3, required = true, value_name = "SNAPSHOT")]
    pub snapshots: Vec<PathBuf>,
    /// The HTML file to write.
    #[arg(short, long, value_name = "FILE.html")]
    pub output: PathBuf,
    /// Count garbage awaiting collection among the new objects (left out by default).
    #[arg(long)]
    pub include_garbage: bool,
}

#[derive(clap::Args)]
pub struct RecordArgs {
    /// Process id of the Python process.
    pub pid: i32,
    /// Seconds between samples (from the start of one to the start of the next).
    #[arg(long, default_value_t = 60.0)]
    pub interval: f64,
    /// Stop after this many seconds (default: until Ctrl-C, SIGTERM, or the target exits).
    #[arg(long)]
    pub duration: Option<f64>,
    /// The series to write (replaced if it exists), one JSON line per sample.
    #[arg(short, long, value_name = "FILE.jsonl")]
    pub output: PathBuf,
    /// Which objects to count.
    #[arg(long, value_enum, default_value_t = ModeArg::Full)]
    pub mode: ModeArg,
    /// Read the target in place instead of copying it (see `dump --low-memory`).
    #[arg(long)]
    pub low_memory: bool,
    /// Print nothing per sample on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(clap::Args)]
pub struct GrowthArgs {
    /// A series written by `heapsnap record`.
    pub series: PathBuf,
    /// How many types to list.
    #[arg(long, default_value_t = DEFAULT_TOP)]
    pub top: usize,
    /// Print the trend as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct AroundArgs {
    /// Process id of the Python process.
    pub pid: i32,
    /// How many times to run the command between two snapshots.
    #[arg(long, default_value_t = 20)]
    pub repeat: u32,
    /// Where to keep the three snapshots, a.json, b.json and c.json (default: a new folder in
    /// the temporary directory, named on stderr).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Which objects to count.
    #[arg(long, value_enum, default_value_t = ModeArg::Full)]
    pub mode: ModeArg,
    /// Leave out the dominator tree and retained sizes (see `dump --no-retained`).
    #[arg(long)]
    pub no_retained: bool,
    /// How many rows of the comparison to print.
    #[arg(long, default_value_t = DEFAULT_TOP)]
    pub top: usize,
    /// Print the comparison as JSON.
    #[arg(long)]
    pub json: bool,
    /// The command that makes one request, e.g. `curl -s localhost:8000/report`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(clap::Args)]
pub struct TopArgs {
    /// Process id of the Python process.
    pub pid: i32,
    /// Seconds between samples (from the start of one to the start of the next).
    #[arg(long, default_value_t = 2.0)]
    pub interval: f64,
    /// How the rows are ordered at first (the `s` key cycles through the orders).
    #[arg(long, value_enum, default_value_t = SortArg::Growth)]
    pub sort: SortArg,
    /// Rows per sample when the output is not a terminal (one plain block per sample).
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Stop after this many samples (default: until `q`, Ctrl-C, or the target exits).
    #[arg(long)]
    pub samples: Option<usize>,
    /// Which objects to count.
    #[arg(long, value_enum, default_value_t = ModeArg::Full)]
    pub mode: ModeArg,
    /// Read the target in place instead of copying it (see `dump --low-memory`).
    #[arg(long)]
    pub low_memory: bool,
}

/// `top --sort`: the library's [`crate::census::watch::SortBy`], parsed.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum SortArg {
    /// Bytes gained since the first sample.
    Growth,
    /// Bytes gained since the previous sample.
    Recent,
    /// Bytes now.
    Size,
    /// Objects now.
    Count,
}

impl From<SortArg> for crate::census::watch::SortBy {
    fn from(sort: SortArg) -> Self {
        use crate::census::watch::SortBy;
        match sort {
            SortArg::Growth => SortBy::Growth,
            SortArg::Recent => SortBy::Recent,
            SortArg::Size => SortBy::Size,
            SortArg::Count => SortBy::Count,
        }
    }
}

#[derive(clap::Args)]
pub struct DemoArgs {
    /// The Python interpreter to run the example service with (any supported version; default:
    /// python3 on PATH).
    #[arg(long)]
    pub python: Option<String>,
    /// Requests between snapshots.
    #[arg(long, default_value_t = 20)]
    pub requests: u32,
    /// Where to write the service script and the snapshots (default: a temporary folder).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct DiffArgs {
    /// The earlier snapshot, or a sample of a series: `series.jsonl@N` (N from 0; -1 is the
    /// last).
    pub before: PathBuf,
    /// The later snapshot.
    pub after: PathBuf,
    /// A third snapshot: report objects new in AFTER that are still alive in LATER.
    pub later: Option<PathBuf>,
    /// Show every row, not only the ones that changed.
    #[arg(long)]
    pub all: bool,
    /// Print the comparison as JSON.
    #[arg(long)]
    pub json: bool,
    /// How to group the rows.
    #[arg(long, value_enum, default_value_t = GroupByArg::Type)]
    pub by: GroupByArg,
    /// How many rows to print.
    #[arg(long, default_value_t = DEFAULT_TOP)]
    pub top: usize,
    /// For how many of the fastest-growing rows to show retainer chains (0: none).
    #[arg(long, default_value_t = 5)]
    pub chains: usize,
    /// How many new objects per row (or per --type) to show chains for.
    #[arg(long, default_value_t = 2)]
    pub per_type: usize,
    /// Show retainer chains for this type (repeatable) instead of the fastest-growing rows:
    /// its full name (myapp.audit.AuditEntry) or any unambiguous dotted suffix (AuditEntry,
    /// audit.AuditEntry). The table is not filtered: it lists every changed row.
    #[arg(long = "type", value_name = "NAME")]
    pub types: Vec<String>,
    /// How many attachment points (where new objects hang off older ones) to list.
    #[arg(long, default_value_t = 5)]
    pub attachments: usize,
    /// At most how many leak suspects to name first (0: none).
    #[arg(long, default_value_t = 5)]
    pub suspects: usize,
    /// Count garbage awaiting collection (what the collector would free now) in the rows and
    /// among the new objects; left out by default.
    #[arg(long)]
    pub include_garbage: bool,
}

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("written").args(["output", "objects"]).multiple(true))]
pub struct DumpArgs {
    /// Process id of the Python process, or a core file of one (from gcore or the kernel).
    #[arg(value_name = "PID|CORE")]
    pub target: String,
    /// For a core file read on another host: the folder holding a copy of the files the
    /// process mapped (its executable and libraries), at their paths.
    #[arg(long, value_name = "DIR")]
    pub sysroot: Option<PathBuf>,
    /// Write the snapshot (census and per-object data) as JSON to this file.
    #[arg(short, long, value_name = "FILE.json")]
    pub output: Option<PathBuf>,
    /// Write one JSON line per object (address, type, size) to this file.
    #[arg(long, value_name = "FILE.jsonl")]
    pub objects: Option<PathBuf>,
    /// Which objects to count.
    #[arg(long, value_enum, default_value_t = ModeArg::Full)]
    pub mode: ModeArg,
    /// How many rows of the table to print.
    #[arg(long, default_value_t = DEFAULT_TOP)]
    pub top: usize,
    /// Do not stop the target while copying its memory (the census may be inconsistent).
    #[arg(long)]
    pub nonblocking: bool,
    /// Do not copy the target's memory: read it in place through a bounded cache, keeping it
    /// stopped for the whole walk (a longer pause; no retained sizes). Chosen by itself when
    /// the copy does not fit.
    #[arg(long, conflicts_with = "nonblocking")]
    pub low_memory: bool,
    /// Leave out the dominator tree and retained sizes (less memory and time; the Retained
    /// column, the snapshot's retained and idom, and diff's ranking of suspects by retained
    /// bytes go without them).
    #[arg(long)]
    pub no_retained: bool,
    /// Show every dict key in retainer labels as it is (cut at 80 characters). By default a
    /// key is shown only when it reads like a name (an identifier of at most 40 characters,
    /// a dotted module name), and any other is masked with its type and length
    /// (['<str len=32>']): a snapshot then holds no secret a key holds.
    #[arg(long)]
    pub keys: bool,
    /// Print nothing on stdout (with -o or --objects).
    #[arg(short, long, requires = "written")]
    pub quiet: bool,
    /// Print on stderr how the target was read: the files, runtime, version, layout table and
    /// debug offsets found, what happened at each stop, and the GC lists (also on failure).
    #[arg(short, long)]
    pub verbose: bool,
}

/// `dump --mode`: the library's [`crate::heap::Mode`], parsed.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ModeArg {
    /// Exactly gc.get_objects() and its gc.get_referents closure.
    Gc,
    /// Everything reachable: also code contents, all dict keys, types, interned strings,
    /// frames.
    Full,
}

impl From<ModeArg> for crate::heap::Mode {
    fn from(mode: ModeArg) -> Self {
        match mode {
            ModeArg::Gc => crate::heap::Mode::Gc,
            ModeArg::Full => crate::heap::Mode::Full,
        }
    }
}

/// `diff --by`: the library's [`crate::diff::GroupBy`], parsed.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum GroupByArg {
    /// One row per type.
    Type,
    /// One row per top-level package under which each object's retainer path starts
    /// (sys.modules['myapp.audit']... counts for myapp).
    Module,
    /// One row per top-level package of each object's type (builtins for dict).
    TypeModule,
}

impl From<GroupByArg> for crate::diff::GroupBy {
    fn from(by: GroupByArg) -> Self {
        match by {
            GroupByArg::Type => crate::diff::GroupBy::Type,
            GroupByArg::Module => crate::diff::GroupBy::Module,
            GroupByArg::TypeModule => crate::diff::GroupBy::TypeModule,
        }
    }
}

/// Print `text` on stdout. A reader that went away (`heapsnap diff ... | head`) is no
/// failure: what it wanted has been written.
pub fn print_stdout(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::new(
            exit::ERROR,
            format!("cannot write the standard output: {e}"),
        )),
        _ => Ok(()),
    }
}

/// Read a snapshot for a comparison: every column of the one whose new objects are explained
/// (B), only what identifies its objects of the others (see [`Snapshot::read_lean`]).
pub fn read_snapshot(path: &std::path::Path, explained: bool) -> Result<Snapshot, Failure> {
    let detail = if explained {
        Detail::Full
    } else {
        Detail::Lean
    };
    Snapshot::read_detail(path, detail).map_err(|e| Failure::new(exit::BAD_SNAPSHOT, e.to_string()))
}

/// Print `value` as pretty JSON, or else the `table` made for people.
pub fn print_json_or(
    json: bool,
    value: &impl serde::Serialize,
    table: impl FnOnce() -> String,
) -> Result<(), Failure> {
    if json {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| Failure::new(exit::ERROR, format!("cannot encode JSON: {e}")))?;
        print_stdout(&format!("{text}\n"))
    } else {
        print_stdout(&table())
    }
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
    /// A snapshot file is missing, truncated, not a heapsnap snapshot, or of a newer schema.
    pub const BAD_SNAPSHOT: i32 = 9;
    /// The command `heapsnap around` runs could not start, or failed.
    pub const COMMAND_FAILED: i32 = 10;
    /// `dump` of a file that is not a readable core (not an ELF core, damaged, cut short).
    pub const BAD_CORE: i32 = 11;
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
    crate::memory::limits::return_freed_memory();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Dump(args) => dump::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Top(args) => top::run(&args),
        Command::Around(args) => around::run(&args),
        Command::Record(args) => record::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Growth(args) => growth::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Completions(args) => completions::run(&args),
    };
    match result {
        Ok(()) => 0,
        Err(f) => {
            eprintln!("heapsnap: error: {}", f.message);
            f.code
        }
    }
}
