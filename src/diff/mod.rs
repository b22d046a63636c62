//! Comparing snapshots: which types (or packages) grew, which objects are new (same address
//! and type means the same object), which new objects survived a later snapshot too, where
//! they attach to the older heap, and the retainer chain that keeps a few of them alive — all
//! from the snapshot files, no live process. The trend over a whole series of samples is
//! [`growth`].

pub mod growth;
pub mod tree;

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;
use thiserror::Error;

use crate::snapshot::{MemoryAccount, Snapshot, NO_INDEX};

/// How rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupBy {
    /// One row per type.
    Type,
    /// One row per top-level package under which an object's retainer path starts:
    /// `sys.modules['myapp.audit']...` counts for `myapp`; objects reached from another root
    /// count for it (`sys`, `builtins`, `<interned strings>`, `<running frames>`, `<no root>`).
    Module,
    /// One row per top-level package of the object's type (`matplotlib` for
    /// matplotlib.figure.Figure, `builtins` for dict).
    TypeModule,
}

/// One row of the comparison.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Row {
    pub name: String,
    pub count_before: u64,
    pub count_after: u64,
    pub size_before: u64,
    pub size_after: u64,
    /// Objects in the later snapshot that were not in the first (or, with three snapshots,
    /// that are new in the second and still alive in the third).
    pub new_objects: u64,
    pub new_size: u64,
}

impl Row {
    fn empty(name: String) -> Row {
        Row {
            name,
            count_before: 0,
            count_after: 0,
            size_before: 0,
            size_after: 0,
            new_objects: 0,
            new_size: 0,
        }
    }

    pub fn count_delta(&self) -> i64 {
        (self.count_after as i64).saturating_sub(self.count_before as i64)
    }

    pub fn size_delta(&self) -> i64 {
        (self.size_after as i64).saturating_sub(self.size_before as i64)
    }

    pub fn changed(&self) -> bool {
        self.count_before != self.count_after
            || self.size_before != self.size_after
            || self.new_objects > 0
    }

    /// Take one object of `size` bytes out of the earlier (`later` false) or the later
    /// snapshot.
    fn remove(&mut self, later: bool, size: u64) {
        if later {
            self.count_after = self.count_after.saturating_sub(1);
            self.size_after = self.size_after.saturating_sub(size);
        } else {
            self.count_before = self.count_before.saturating_sub(1);
            self.size_before = self.size_before.saturating_sub(size);
        }
    }

    /// Count `count` objects of `size` bytes in the earlier (`later` false) or the later
    /// snapshot.
    fn add(&mut self, later: bool, count: u64, size: u64) {
        if later {
            self.count_after += count;
            self.size_after += size;
        } else {
            self.count_before += count;
            self.size_before += size;
        }
    }
}

/// A retainer chain of one new object.
#[derive(Debug, Clone, Serialize)]
pub struct Chain {
    pub type_name: String,
    pub address: u64,
    pub size: u64,
    /// A Python path from a root (`sys.modules['x'].Registry.items[3]`), or a description of
    /// why none exists.
    pub path: String,
    pub reachable: bool,
}

/// The result of `heapsnap diff`.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub group_by: GroupBy,
    /// True when three snapshots were given: `new_objects` counts survivors.
    pub survivors: bool,
    /// False when a snapshot holds counts by type only (a sample of a series): the rows then
    /// compare counts and sizes, and no object is new.
    pub per_object: bool,
    pub rows: Vec<Row>,
    pub total: Row,
    pub chains: Vec<Chain>,
    /// The answer first: where the new objects hang on the old heap, by the bytes they retain.
    pub suspects: Vec<Suspect>,
    /// Where the new objects hang off older ones: the leak's entry points, largest first.
    pub attachments: Vec<Attachment>,
    /// Garbage awaiting collection left out of the rows and the new objects, per snapshot
    /// (objects, bytes); empty with `include_garbage`.
    pub garbage_left_out: Vec<(u64, u64)>,
    /// Each once, in the order found.
    pub warnings: Vec<String>,
    /// How the target's resident memory changed from the first snapshot to the last, where
    /// both say ([`crate::snapshot::MemoryAccount`]).
    pub memory: Option<MemoryDelta>,
}

/// Changes of the parts of the resident memory (bytes, signed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MemoryDelta {
    pub rss: i64,
    pub objects: i64,
    pub allocator_free: i64,
    pub outside_objects: i64,
    pub thread_stacks: i64,
    pub files: i64,
}

impl MemoryDelta {
    fn between(a: &MemoryAccount, b: &MemoryAccount) -> MemoryDelta {
        let d = |x: u64, y: u64| y as i64 - x as i64;
        MemoryDelta {
            rss: d(a.rss, b.rss),
            objects: d(a.objects, b.objects),
            allocator_free: d(a.allocator_free, b.allocator_free),
            outside_objects: d(a.outside_objects, b.outside_objects),
            thread_stacks: d(a.thread_stacks, b.thread_stacks),
            files: d(a.files, b.files),
        }
    }
}

impl Diff {
    /// Nothing differs between the snapshots: no row changed and no object is new.
    pub fn unchanged(&self) -> bool {
        !self.total.changed() && !self.rows.iter().any(Row::changed)
    }
}

/// A leak suspect: new objects that hang from the old heap at one place (the holder's path with
/// item indices and keys masked), with what they retain.
#[derive(Debug, Clone, Serialize)]
pub struct Suspect {
    /// `sys.modules['matplotlib._pylab_helpers'].Gcf.figs[*]`
    pub pattern: String,
    /// How many new objects hang there directly, and their commonest type.
    pub attached: u64,
    pub attached_type: String,
    /// The bytes they retain (their retained sizes; the new objects below them in a schema 1
    /// snapshot), and the new objects below them.
    pub retained: u64,
    pub new_objects: u64,
    /// The class that holds most of those bytes: the last class of a module on each attached
    /// object's heavy path down the dominator tree ([`HeavyPath`]), the commonest, and how many
    /// attached objects it is for: "25 × matplotlib.figure.Figure".
    pub dominant: Option<(u64, String)>,
    /// One attached object's path.
    pub example: String,
}

/// New objects whose holder is older (or a root): where a leak attaches to the live heap.
#[derive(Debug, Clone, Serialize)]
pub struct Attachment {
    /// The path of the older object (or root) that holds them.
    pub holder: String,
    /// Type of the attached new objects.
    pub type_name: String,
    /// How many new objects of that type it holds directly.
    pub attached: u64,
    /// New objects reachable only through them (the attached ones included), and their bytes.
    pub objects: u64,
    pub size: u64,
    /// The path of one attached object.
    pub example: String,
}

pub struct Options {
    pub group_by: GroupBy,
    pub all_rows: bool,
    /// For how many of the fastest-growing rows to show chains.
    pub chain_types: usize,
    /// How many objects per row (or type).
    pub chains_per_type: usize,
    /// Show chains for these types (full names, see [`resolve_type_names`]) instead of the
    /// fastest-growing rows.
    pub chain_for: Vec<String>,
    /// How many attachment points to list.
    pub attachments: usize,
    /// At most how many leak suspects to name.
    pub suspects: usize,
    /// Count garbage awaiting collection in the rows and among the new objects (left out by
    /// default: it is gone at the next collection).
    pub include_garbage: bool,
}

/// Compare `before` with `after`; with `later`, count the objects new in `after` that are
/// still in `later` (leak candidates that survived).
pub fn diff(before: &Snapshot, after: &Snapshot, later: Option<&Snapshot>, opts: &Options) -> Diff {
    diff_and_new(before, after, later, opts).0
}

/// [`diff`], and the positions in `after` of the objects it counted as new (ascending), for a
/// caller that goes on with them (the report's tree of what they retain).
pub fn diff_and_new(
    before: &Snapshot,
    after: &Snapshot,
    later: Option<&Snapshot>,
    opts: &Options,
) -> (Diff, Vec<usize>) {
    let snapshots: Vec<&Snapshot> = [before, after].into_iter().chain(later).collect();
    let mut warnings = provenance_warnings(&snapshots);
    let left_out = left_out(&snapshots, opts.include_garbage);
    // A sample of a series holds counts by type only: no object is new or old then.
    let per_object = snapshots.iter().all(|s| s.has_objects());
    let new = if per_object {
        new_objects(before, after, later, &left_out)
    } else {
        Vec::new()
    };
    let (rows, total, rows_of_after) = rows(&snapshots, &left_out, &new, opts.group_by);
    let addresses = after.addresses();
    let wanted: Vec<Wanted> = if opts.chain_for.is_empty() {
        fastest_growing(&rows)
            .take(opts.chain_types)
            .map(Wanted::Row)
            .collect()
    } else {
        opts.chain_for.iter().map(|t| Wanted::Type(t)).collect()
    };
    let mut chains = Vec::new();
    for want in wanted {
        let found = chains_of(after, addresses, &new, &rows_of_after, &want)
            .take(opts.chains_per_type)
            .collect::<Vec<_>>();
        if let (Wanted::Type(name), true) = (&want, found.is_empty()) {
            warnings.push(format!(
                "no new object of type {name} to show a retainer chain for"
            ));
        }
        chains.extend(found);
    }
    let tops = attachment_tops(after, &new);
    let attachments = attachments(after, addresses, &new, &tops, opts.attachments);
    let suspects = suspects(after, addresses, &new, &tops, opts.suspects);
    let mut seen = HashSet::new();
    warnings.retain(|w| seen.insert(w.clone()));
    let rows = rows
        .into_iter()
        .filter(|r| opts.all_rows || r.changed())
        .collect();
    let d = Diff {
        group_by: opts.group_by,
        survivors: later.is_some(),
        per_object,
        rows: sorted_by_growth(rows),
        total,
        chains,
        suspects,
        attachments,
        garbage_left_out: if opts.include_garbage {
            Vec::new()
        } else {
            snapshots
                .iter()
                .zip(&left_out)
                .map(|(s, g)| {
                    (
                        g.len() as u64,
                        g.iter().map(|&i| s.objects.size.get(i)).sum(),
                    )
                })
                .collect()
        },
        warnings,
        memory: match (
            &snapshots[0].meta.memory,
            &snapshots[snapshots.len() - 1].meta.memory,
        ) {
            (Some(a), Some(b)) => Some(MemoryDelta::between(a, b)),
            _ => None,
        },
    };
    (d, new)
}

/// Per snapshot, the objects left out of the comparison: its garbage awaiting collection,
/// unless it is included.
fn left_out(snapshots: &[&Snapshot], include_garbage: bool) -> Vec<Vec<usize>> {
    snapshots
        .iter()
        .map(|s| {
            if include_garbage {
                Vec::new()
            } else {
                s.objects.garbage.iter().map(|&g| g as usize).collect()
            }
        })
        .collect()
}

/// What tells the reader the comparison may not mean what it seems: snapshots of different
/// processes, Python versions or modes (each against the first), or given out of order.
fn provenance_warnings(snapshots: &[&Snapshot]) -> Vec<String> {
    let mut warnings = Vec::new();
    let a = &snapshots[0].meta;
    for s in &snapshots[1..] {
        let b = &s.meta;
        let restarted = (a.start_time != 0 && b.start_time != 0 && a.start_time != b.start_time)
            || (!a.boot_id.is_empty() && !b.boot_id.is_empty() && a.boot_id != b.boot_id);
        // A snapshot of a core file names no host: compared only when both do.
        let other_host =
            !a.hostname.is_empty() && !b.hostname.is_empty() && a.hostname != b.hostname;
        if a.pid != b.pid || other_host || restarted {
            warnings.push(format!(
                "snapshots come from different processes (pid {} on {:?} and pid {} on {:?}): new/old objects cannot be told apart",
                a.pid, a.hostname, b.pid, b.hostname
            ));
        }
        if a.python.version != b.python.version {
            warnings.push(format!(
                "different Python versions: {} and {}",
                a.python.version, b.python.version
            ));
        }
        if a.mode != b.mode {
            warnings.push(
                "snapshots were taken in different modes (gc / full); counts differ by design"
                    .into(),
            );
        }
    }
    const NAMES: [char; 3] = ['A', 'B', 'C'];
    for (k, pair) in snapshots.windows(2).enumerate() {
        let (earlier, later) = (pair[0].meta.taken_at, pair[1].meta.taken_at);
        if earlier > later {
            warnings.push(format!(
                "snapshot {} was taken {:.1} s after snapshot {}: the deltas run backwards (files in the wrong order?)",
                NAMES[k],
                earlier - later,
                NAMES[k + 1]
            ));
        }
    }
    warnings
}

/// For each object of `a`, whether `b` holds the same object: the same address and a type of
/// the same name, and not younger than it could be (see [`gc_ages_allow`]; `b_is_earlier`
/// says which was taken first); objects of `b` at the positions `skip` do not count. Both
/// snapshots are in address order, so this is one merge of the two address columns.
fn present_in(a: &Snapshot, b: &Snapshot, b_is_earlier: bool, skip: &[usize]) -> Vec<bool> {
    let names: HashMap<&str, u32> = b
        .types
        .iter()
        .enumerate()
        .map(|(t, row)| (row.name.as_str(), t as u32))
        .collect();
    let type_in_b: Vec<u32> = a
        .types
        .iter()
        .map(|row| names.get(row.name.as_str()).copied().unwrap_or(u32::MAX))
        .collect();
    // Dicts leave the GC lists when they hold only atoms and come back young when they
    // do not: their age says nothing.
    let aged: Vec<bool> = a.types.iter().map(|row| row.name != "dict").collect();
    let mut skipped = vec![false; b.objects.len()];
    for &k in skip {
        skipped[k] = true;
    }
    let age = |s: &Snapshot, i: usize| s.objects.gc_age.get(i).copied().unwrap_or(0);
    let (ab, bb) = (a.addresses(), b.addresses());
    let mut j = 0;
    ab.iter()
        .zip(&a.objects.type_index)
        .enumerate()
        .map(|(i, (&address, &t))| {
            while j < bb.len() && bb[j] < address {
                j += 1;
            }
            let (earlier, later) = match b_is_earlier {
                true => (age(b, j), age(a, i)),
                false => (age(a, i), age(b, j)),
            };
            j < bb.len()
                && bb[j] == address
                && !skipped[j]
                && b.objects.type_index[j] == type_in_b[t as usize]
                && (!aged[t as usize] || gc_ages_allow(earlier, later))
        })
        .collect()
}

/// Whether an object of GC age `earlier` can be the same as one of age `later` at the same
/// address in a later snapshot: an object only moves to older generation lists, so a younger
/// one is another object that took the address (0: not known).
fn gc_ages_allow(earlier: u8, later: u8) -> bool {
    earlier == 0 || later == 0 || later >= earlier
}

/// The objects of `after` (indices) that are not in `before` (same address and type); with
/// `later`, only those still alive there. Objects of `left_out[k]` (indices into snapshot k:
/// garbage awaiting collection) count neither as new nor as alive.
fn new_objects(
    before: &Snapshot,
    after: &Snapshot,
    later: Option<&Snapshot>,
    left_out: &[Vec<usize>],
) -> Vec<usize> {
    let old = present_in(after, before, true, &[]);
    let alive_later = later.map(|l| present_in(after, l, false, &left_out[2]));
    let mut gone = vec![false; after.objects.len()];
    for &g in &left_out[1] {
        gone[g] = true;
    }
    (0..after.objects.len())
        .filter(|&i| !gone[i] && !old[i] && alive_later.as_ref().is_none_or(|alive| alive[i]))
        .collect()
}

/// The rows (every group, in no order; changed or not), the total, and the row of each object
/// of the second snapshot. Counts and sizes compare the first snapshot with the last, less
/// the objects of `left_out` (per snapshot).
fn rows(
    snapshots: &[&Snapshot],
    left_out: &[Vec<usize>],
    new: &[usize],
    by: GroupBy,
) -> (Vec<Row>, Row, ObjectRows) {
    let (before, after) = (snapshots[0], snapshots[1]);
    let last = snapshots.len() - 1;
    let mut names = RowNames::default();
    let mut of: Vec<ObjectRows> = snapshots
        .iter()
        .map(|s| ObjectRows::new(s, by, &mut names))
        .collect();
    let mut rows: Vec<Row> = names.names.into_iter().map(Row::empty).collect();
    let mut total = Row::empty("total".into());
    for (k, later) in [(0, false), (last, true)] {
        let s = snapshots[k];
        of[k].add_census(&mut rows, s, later);
        total.add(later, s.meta.objects, s.meta.bytes);
        for &g in &left_out[k] {
            let size = s.objects.size.get(g);
            rows[of[k].row(s, g)].remove(later, size);
            total.remove(later, size);
        }
    }
    let of_after = of.swap_remove(1);
    for &i in new {
        let r = &mut rows[of_after.row(after, i)];
        r.new_objects += 1;
        r.new_size += after.objects.size.get(i);
    }
    total.new_objects = new.len() as u64;
    total.new_size = new.iter().map(|&i| after.objects.size.get(i)).sum();
    let _ = before;
    (rows, total, of_after)
}

/// Largest size delta first (then most new bytes, then by name).
fn sorted_by_growth(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort_by(|a, b| {
        b.size_delta()
            .cmp(&a.size_delta())
            .then(b.new_size.cmp(&a.new_size))
            .then(a.name.cmp(&b.name))
    });
    rows
}

/// Indices of the rows with new objects, most new bytes first.
fn fastest_growing(rows: &[Row]) -> impl Iterator<Item = usize> {
    let mut growing: Vec<usize> = (0..rows.len())
        .filter(|&r| rows[r].new_objects > 0)
        .collect();
    growing.sort_by(|&a, &b| {
        let (a, b) = (&rows[a], &rows[b]);
        b.new_size.cmp(&a.new_size).then(a.name.cmp(&b.name))
    });
    growing.into_iter()
}

/// Which new objects to show chains for: those of a row, or of a type (full name).
enum Wanted<'a> {
    Row(usize),
    Type(&'a str),
}

/// The retainer chains of the new objects `want` selects, in address order.
fn chains_of<'a>(
    after: &'a Snapshot,
    addresses: &'a [u64],
    new: &'a [usize],
    rows_of_after: &'a ObjectRows,
    want: &'a Wanted,
) -> impl Iterator<Item = Chain> + 'a {
    let type_name = move |i: usize| &after.types[after.objects.type_index[i] as usize].name;
    new.iter()
        .copied()
        .filter(move |&i| match want {
            Wanted::Row(r) => rows_of_after.row(after, i) == *r,
            Wanted::Type(name) => type_name(i) == name,
        })
        .map(move |i| {
            let (path, reachable) = retainer_path(after, addresses, i);
            Chain {
                type_name: type_name(i).clone(),
                address: addresses[i],
                size: after.objects.size.get(i),
                path,
                reachable,
            }
        })
}

/// Row names, each with its index.
#[derive(Default)]
struct RowNames {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl RowNames {
    fn id(&mut self, name: Cow<str>) -> usize {
        if let Some(&id) = self.index.get(name.as_ref()) {
            return id;
        }
        let id = self.names.len();
        self.names.push(name.clone().into_owned());
        self.index.insert(name.into_owned(), id);
        id
    }
}

/// Which row each object of one snapshot counts in.
enum ObjectRows {
    /// Decided by the object's type: the row of each type (index into the snapshot's types).
    ByType(Vec<usize>),
    /// Decided per object (`--by module`): the row of each object.
    ByObject(Vec<usize>),
}

impl ObjectRows {
    fn new(s: &Snapshot, by: GroupBy, names: &mut RowNames) -> ObjectRows {
        match by {
            GroupBy::Type => ObjectRows::ByType(
                s.types
                    .iter()
                    .map(|t| names.id(Cow::Borrowed(&t.name)))
                    .collect(),
            ),
            GroupBy::TypeModule => ObjectRows::ByType(
                s.types
                    .iter()
                    .map(|t| names.id(Cow::Borrowed(package_of_type(&t.name))))
                    .collect(),
            ),
            GroupBy::Module => ObjectRows::ByObject(root_packages(s, names)),
        }
    }

    fn row(&self, s: &Snapshot, i: usize) -> usize {
        match self {
            ObjectRows::ByType(of_type) => of_type[s.objects.type_index[i] as usize],
            ObjectRows::ByObject(of_object) => of_object[i],
        }
    }

    /// Add the census of `s` to `rows`, as the earlier or the `later` snapshot.
    fn add_census(&self, rows: &mut [Row], s: &Snapshot, later: bool) {
        match self {
            ObjectRows::ByType(of_type) => {
                for (t, &r) in s.types.iter().zip(of_type) {
                    rows[r].add(later, t.count, t.size);
                }
            }
            ObjectRows::ByObject(of_object) => {
                for (&r, size) in of_object.iter().zip(s.objects.size.iter()) {
                    rows[r].add(later, 1, size);
                }
            }
        }
    }
}

/// `--by type-module`: the top-level package of a type's name (`builtins` for a builtin type).
fn package_of_type(type_name: &str) -> &str {
    match type_name.split_once('.') {
        Some((package, _)) => package,
        None => "builtins",
    }
}

/// A root's name without the `<interpreter N> ` prefix of subinterpreters' roots.
fn root_name(label: &str) -> &str {
    match label.strip_prefix("<interpreter ") {
        Some(rest) => rest.split_once("> ").map_or(label, |(_, name)| name),
        None => label,
    }
}

/// `--by module` for objects a root holds directly: the root's row.
fn root_row(label: &str) -> &str {
    let name = root_name(label);
    if name.is_empty() {
        "<no root>"
    } else if name.starts_with("sys.") {
        "sys"
    } else if name.starts_with("builtins.") {
        "builtins"
    } else if name.starts_with("<thread ") {
        "<running frames>"
    } else {
        name
    }
}

/// `--by module` for an object `sys.modules` holds (label `['myapp.audit']`): the module's
/// top-level package.
fn module_row(label: &str) -> &str {
    match label.strip_prefix("['").and_then(|l| l.strip_suffix("']")) {
        Some(module) => module.split('.').next().unwrap_or(module),
        None => "sys",
    }
}

/// `--by module`: the row of each object of `s`, from the first steps of its retainer path:
/// the top-level package of the module the path goes through (`sys.modules['myapp.audit']`
/// → `myapp`), or the root it starts from ([`root_row`]).
fn root_packages(s: &Snapshot, names: &mut RowNames) -> Vec<usize> {
    const UNKNOWN: usize = usize::MAX;
    let o = &s.objects;
    let n = o.parent.len();
    // Label ids of the `sys.modules` roots (one per interpreter).
    let modules_labels: HashSet<i32> = (0..s.labels.len())
        .filter(|&l| root_name(&s.labels[l]) == "sys.modules")
        .map(|l| l as i32)
        .collect();
    let holds_modules = |p: usize| o.parent[p] == NO_INDEX && modules_labels.contains(&o.label[p]);
    let mut row = vec![UNKNOWN; n];
    let mut trail = Vec::new();
    for i in 0..n {
        let mut at = i;
        let found = loop {
            if row[at] != UNKNOWN {
                break row[at];
            }
            trail.push(at);
            let parent = o.parent[at];
            if parent == NO_INDEX {
                break names.id(Cow::Borrowed(root_row(&s.label(at))));
            }
            if holds_modules(parent as usize) {
                break names.id(Cow::Borrowed(module_row(&s.label(at))));
            }
            if trail.len() > n {
                break names.id(Cow::Borrowed("<no root>"));
            }
            at = parent as usize;
        };
        for t in trail.drain(..) {
            row[t] = found;
        }
    }
    row
}

/// Why a type name given to `diff` names no single type of the snapshots.
#[derive(Debug, Error)]
pub enum TypeNameError {
    #[error("{name:?} is ambiguous: it names {}; give more of the name", .candidates.join(", "))]
    Ambiguous {
        name: String,
        candidates: Vec<String>,
    },
    #[error("no type {name:?} in the snapshots{}", close_names(.close))]
    Unknown { name: String, close: Vec<String> },
}

fn close_names(close: &[String]) -> String {
    if close.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", close.join(", "))
    }
}

/// The full type name each of `names` means in `snapshots`: the type of exactly that name, or
/// else the one type whose name ends with `.NAME` (`AuditEntry` or `audit.AuditEntry` for
/// `myapp.audit.AuditEntry`). Fails when several types end so (listing them) or none does
/// (suggesting close names).
pub fn resolve_type_names(
    snapshots: &[&Snapshot],
    names: &[String],
) -> Result<Vec<String>, TypeNameError> {
    let known: BTreeSet<&str> = snapshots
        .iter()
        .flat_map(|s| s.types.iter().map(|t| t.name.as_str()))
        .collect();
    names
        .iter()
        .map(|name| {
            if known.contains(name.as_str()) {
                return Ok(name.clone());
            }
            let dotted = format!(".{name}");
            let matching: Vec<String> = known
                .iter()
                .filter(|k| k.ends_with(&dotted))
                .map(|k| k.to_string())
                .collect();
            match matching.len() {
                1 => Ok(matching[0].clone()),
                0 => Err(TypeNameError::Unknown {
                    name: name.clone(),
                    close: close_to(name, &known),
                }),
                _ => Err(TypeNameError::Ambiguous {
                    name: name.clone(),
                    candidates: matching,
                }),
            }
        })
        .collect()
}

/// Up to three type names close to `name` (letter case aside): by edit distance of the whole
/// name or of its last part, within a third of the name's length (at least 2).
fn close_to(name: &str, known: &BTreeSet<&str>) -> Vec<String> {
    let wanted = name.to_lowercase();
    let limit = (wanted.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = known
        .iter()
        .filter_map(|&k| {
            let lower = k.to_lowercase();
            let last = lower.rsplit('.').next().unwrap_or(&lower);
            let distance = edit_distance(&wanted, &lower).min(edit_distance(&wanted, last));
            (distance <= limit).then_some((distance, k))
        })
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(3)
        .map(|(_, k)| k.to_string())
        .collect()
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// For each object of `s` (by index), the new object it attaches through: follow each new
/// object's retainer chain up while the holder is new too; the last new object is attached to
/// an older holder (or a root). [`u32::MAX`] for objects that are not new.
fn attachment_tops(s: &Snapshot, new: &[usize]) -> Vec<u32> {
    const UNKNOWN: u32 = u32::MAX;
    // Indexed by position in `new` (ascending), so that the cost follows the new objects,
    // not the heap.
    let mut attach = vec![UNKNOWN; new.len()];
    let mut trail: Vec<usize> = Vec::new();
    for (k, &i) in new.iter().enumerate() {
        let (mut at, mut at_k) = (i, k);
        let top = loop {
            if attach[at_k] != UNKNOWN {
                break attach[at_k];
            }
            trail.push(at_k);
            let p = s.objects.parent[at];
            let parent_k = (p != NO_INDEX)
                .then(|| new.binary_search(&(p as usize)).ok())
                .flatten();
            match parent_k {
                Some(pk) if trail.len() <= new.len() => (at, at_k) = (p as usize, pk),
                _ => break at as u32,
            }
        };
        for t in trail.drain(..) {
            attach[t] = top;
        }
    }
    attach
}

/// Group the new objects by where they attach ([`attachment_tops`], by position in `new`): by
/// holder and type.
fn attachments(
    s: &Snapshot,
    addresses: &[u64],
    new: &[usize],
    attach: &[u32],
    limit: usize,
) -> Vec<Attachment> {
    // Group attached objects by (holder, type).
    // (holder, root label, type) → (attached, objects below, bytes, one attached object).
    type Group = (u64, u64, u64, usize);
    let mut groups: HashMap<(i32, i32, u32), Group> = HashMap::new();
    for (&i, &top) in new.iter().zip(attach) {
        let top = top as usize;
        // Objects held directly by roots are grouped by root (label), the others by holder.
        let parent = s.objects.parent[top];
        let root = if parent == NO_INDEX {
            s.objects.label[top]
        } else {
            0
        };
        let key = (parent, root, s.objects.type_index[top]);
        let g = groups.entry(key).or_insert((0, 0, 0, top));
        if top == i {
            g.0 += 1;
        }
        g.1 += 1;
        g.2 += s.objects.size.get(i);
    }
    let mut list: Vec<_> = groups.into_iter().collect();
    list.sort_by(|a, b| b.1 .2.cmp(&a.1 .2).then(a.0.cmp(&b.0)));
    list.into_iter()
        .take(limit)
        .map(|((holder, _, ty), (attached, objects, size, example))| {
            let holder = if holder == NO_INDEX {
                let label = s.label(example);
                if label.is_empty() {
                    "<no root: garbage awaiting collection, or held only by C code>".to_string()
                } else {
                    label.into_owned()
                }
            } else {
                retainer_path(s, addresses, holder as usize).0
            };
            Attachment {
                holder,
                type_name: s.types[ty as usize].name.clone(),
                attached,
                objects,
                size,
                example: retainer_path(s, addresses, example).0,
            }
        })
        .collect()
}

/// A suspect must add at least this share of the bytes all new objects retain.
const SUSPECT_SHARE: f64 = 0.02;

/// The leak suspects: the new objects grouped by the pattern of the path they hang from
/// ([`mask_items`] of the attached object's path), ranked by the bytes they retain; only groups
/// holding at least [`SUSPECT_SHARE`] of the total, `limit` at most.
fn suspects(
    s: &Snapshot,
    addresses: &[u64],
    new: &[usize],
    attach: &[u32],
    limit: usize,
) -> Vec<Suspect> {
    let o = &s.objects;
    let has_retained = o.retained.len() == o.size.len();
    // The attached objects, each with the bytes it retains.
    let mut tops: Vec<usize> = new
        .iter()
        .zip(attach)
        .filter(|&(&i, &top)| top as usize == i)
        .map(|(&i, _)| i)
        .collect();
    tops.sort_unstable();
    let retained_by = |top: usize| if has_retained { o.retained.get(top) } else { 0 };
    #[derive(Default)]
    struct Group {
        tops: Vec<usize>,
        retained: u64,
        new_objects: u64,
    }
    let mut groups: HashMap<String, Group> = HashMap::new();
    let mut group_of_top: HashMap<usize, String> = HashMap::new();
    for &top in &tops {
        let pattern = mask_items(&retainer_path(s, addresses, top).0);
        let g = groups.entry(pattern.clone()).or_default();
        g.tops.push(top);
        g.retained += retained_by(top);
        group_of_top.insert(top, pattern);
    }
    for (&i, &top) in new.iter().zip(attach) {
        let Some(g) = groups.get_mut(&group_of_top[&(top as usize)]) else {
            continue;
        };
        g.new_objects += 1;
        if !has_retained {
            g.retained += o.size.get(i);
        }
    }
    let heavy = has_retained.then(|| HeavyPath::new(s, new));
    let total: u64 = groups.values().map(|g| g.retained).sum();
    let mut list: Vec<(String, Group)> = groups.into_iter().collect();
    list.sort_by(|a, b| b.1.retained.cmp(&a.1.retained).then(a.0.cmp(&b.0)));
    list.into_iter()
        .filter(|(_, g)| g.retained as f64 >= SUSPECT_SHARE * total as f64 && g.retained > 0)
        .take(limit)
        .map(|(pattern, g)| {
            let type_name = |t: u32| s.types[t as usize].name.clone();
            let mut attached_types: HashMap<u32, u64> = HashMap::new();
            for &t in &g.tops {
                *attached_types.entry(o.type_index[t]).or_default() += 1;
            }
            let attached_type = attached_types
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .map(|(t, _)| type_name(t))
                .unwrap_or_default();
            let dominant = heavy.as_ref().and_then(|h| h.dominant(&g.tops));
            Suspect {
                pattern,
                attached: g.tops.len() as u64,
                attached_type,
                retained: g.retained,
                new_objects: g.new_objects,
                dominant,
                example: retainer_path(s, addresses, g.tops[0]).0,
            }
        })
        .collect()
}

/// Where the bytes of a new object go: down its dominator tree, step by step to the child that
/// retains nearly all of them ([`HeavyPath::SHARE`]), while one does.
struct HeavyPath<'a> {
    s: &'a Snapshot,
    /// The new objects (ascending), and their children in the dominator tree:
    /// `children[start[k]..start[k + 1]]` are those of `new[k]`. Only new objects' children
    /// are listed: the path stops at the first old object.
    new: &'a [usize],
    start: Vec<u32>,
    children: Vec<u32>,
}

impl<'a> HeavyPath<'a> {
    /// A child that retains at least this share of its dominator's bytes carries the path on.
    const SHARE: f64 = 0.98;

    fn new(s: &'a Snapshot, new: &'a [usize]) -> HeavyPath<'a> {
        let position = |i: usize| new.binary_search(&i).ok();
        // The dominator of each new object, as a position in `new`.
        let dominator: Vec<Option<usize>> = new
            .iter()
            .map(|&i| match s.objects.idom[i] {
                NO_INDEX => None,
                d => position(d as usize),
            })
            .collect();
        let mut start = vec![0u32; new.len() + 2];
        for d in dominator.iter().flatten() {
            start[d + 2] += 1;
        }
        for k in 0..=new.len() {
            start[k + 1] += start[k];
        }
        let mut children = vec![0u32; start[new.len() + 1] as usize];
        for (&child, d) in new.iter().zip(&dominator) {
            if let Some(d) = d {
                let at = &mut start[d + 1];
                children[*at as usize] = child as u32;
                *at += 1;
            }
        }
        HeavyPath {
            s,
            new,
            start,
            children,
        }
    }

    /// The last class of a module (a dotted type name, other than the object's own type) on
    /// the heavy path below `top`.
    fn class_below(&self, top: usize) -> Option<u32> {
        let o = &self.s.objects;
        let own = o.type_index[top];
        let mut found = None;
        let mut at = top;
        for _ in 0..10_000 {
            let t = o.type_index[at];
            if t != own && self.s.types[t as usize].name.contains('.') {
                found = Some(t);
            }
            let Ok(k) = self.new.binary_search(&at) else {
                break;
            };
            let kids = &self.children[self.start[k] as usize..self.start[k + 1] as usize];
            match kids.iter().max_by_key(|&&c| o.retained.get(c as usize)) {
                Some(&c)
                    if o.retained.get(c as usize) as f64
                        >= Self::SHARE * o.retained.get(at) as f64 =>
                {
                    at = c as usize
                }
                _ => break,
            }
        }
        found
    }

    /// The class most of `tops` carry their bytes through, and how many do: "25 ×
    /// matplotlib.figure.Figure".
    fn dominant(&self, tops: &[usize]) -> Option<(u64, String)> {
        let mut count: HashMap<u32, u64> = HashMap::new();
        for &top in tops {
            if let Some(t) = self.class_below(top) {
                *count.entry(t).or_default() += 1;
            }
        }
        count
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(t, n)| (n, self.s.types[t as usize].name.clone()))
    }
}

/// A path with its item indices and keys masked, so that the paths of items of one container
/// read the same: `Gcf.figs[18]` → `Gcf.figs[*]`. The module keys of `sys.modules[...]` stay.
fn mask_items(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(open) = rest.find('[') {
        let (head, tail) = rest.split_at(open);
        out.push_str(head);
        // A quoted key ends at its closing quote and bracket; an index at the bracket.
        let end = if let Some(quoted) = tail.strip_prefix("['") {
            quoted.find("']").map(|e| e + 4)
        } else {
            tail.find(']').map(|e| e + 1)
        };
        let Some(end) = end else {
            out.push_str(tail);
            return out;
        };
        if out.ends_with("sys.modules") {
            out.push_str(&tail[..end]);
        } else {
            out.push_str("[*]");
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// The path from a root to object `i`, with `X.__dict__['name']` written `X.name`.
pub fn retainer_path(s: &Snapshot, addresses: &[u64], i: usize) -> (String, bool) {
    let o = &s.objects;
    let mut pieces: Vec<std::borrow::Cow<str>> = Vec::new();
    let mut at = i;
    let mut steps = 0;
    loop {
        let label = s.label(at);
        if o.parent[at] == NO_INDEX {
            if label.is_empty() {
                // The topmost object is not reachable from any root.
                let ty = &s.types[o.type_index[at] as usize].name;
                let top = format!("<{ty} at {:#x}, reachable from no root: garbage awaiting collection, or held only by C code>", addresses[at]);
                return (join(&top, &pieces), false);
            }
            return (join(&label, &pieces), true);
        }
        pieces.push(label);
        at = o.parent[at] as usize;
        steps += 1;
        if steps > 10_000 {
            return ("<retainer chain too long>".into(), false);
        }
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// Join a root and labels (innermost last in `pieces`, reversed), folding `.__dict__['x']`.
fn join<S: AsRef<str>>(root: &str, pieces: &[S]) -> String {
    let mut out = root.to_string();
    for piece in pieces.iter().rev() {
        let piece = piece.as_ref();
        if let Some(key) = piece.strip_prefix("['").and_then(|k| k.strip_suffix("']")) {
            if is_identifier(key) {
                if let Some(stem) = out.strip_suffix(".__dict__") {
                    out = format!("{stem}.{key}");
                    continue;
                }
            }
        }
        out.push_str(piece);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_instance_and_module_dicts_into_attributes() {
        assert_eq!(
            join(
                "sys.modules",
                &[
                    "[3]",
                    "['items']",
                    ".__dict__",
                    "['Registry']",
                    ".__dict__",
                    "['app']"
                ]
            ),
            "sys.modules['app'].Registry.items[3]"
        );
        assert_eq!(join("sys.__dict__", &["['path']"]), "sys.path");
        assert_eq!(
            join("d", &["['not an ident']", ".__dict__"]),
            "d.__dict__['not an ident']"
        );
    }

    #[test]
    fn type_module_grouping_uses_the_top_level_package() {
        assert_eq!(package_of_type("matplotlib.figure.Figure"), "matplotlib");
        assert_eq!(package_of_type("dict"), "builtins");
        assert_eq!(package_of_type("__main__.Report"), "__main__");
    }

    #[test]
    fn module_grouping_names_the_package_a_path_starts_under() {
        assert_eq!(module_row("['myapp.audit']"), "myapp");
        assert_eq!(module_row("['__main__']"), "__main__");
        assert_eq!(root_row("<interpreter 1> sys.modules"), "sys");
        assert_eq!(root_row("builtins.__dict__"), "builtins");
        assert_eq!(
            root_row("<thread 12> frame main() local 'x'"),
            "<running frames>"
        );
        assert_eq!(root_row(""), "<no root>");
    }

    #[test]
    fn masks_item_indices_and_keys_but_not_module_names() {
        assert_eq!(
            mask_items("sys.modules['matplotlib._pylab_helpers'].Gcf.figs[18]"),
            "sys.modules['matplotlib._pylab_helpers'].Gcf.figs[*]"
        );
        assert_eq!(
            mask_items("sys.modules['app'].cache['user-1]x'].rows[3][0].name"),
            "sys.modules['app'].cache[*].rows[*][*].name"
        );
        assert_eq!(
            mask_items("<thread 7> frame f() local 'x'"),
            "<thread 7> frame f() local 'x'"
        );
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("auditentry", "auditentry"), 0);
        assert_eq!(edit_distance("auditentri", "auditentry"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
