//! Comparing snapshots: which types grew, which objects are new (same address and type means
//! the same object), which new objects survived a later snapshot too, and the retainer chain
//! that keeps each of a few of them alive — all from the snapshot files, no live process.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::snapshot::{Snapshot, NO_PARENT};

/// How rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// One row per type.
    Type,
    /// One row per top-level package of the type (`matplotlib` for matplotlib.figure.Figure).
    Module,
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
    pub fn count_delta(&self) -> i64 {
        (self.count_after as i64).saturating_sub(self.count_before as i64)
    }

    pub fn size_delta(&self) -> i64 {
        (self.size_after as i64).saturating_sub(self.size_before as i64)
    }

    fn changed(&self) -> bool {
        self.count_before != self.count_after
            || self.size_before != self.size_after
            || self.new_objects > 0
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
    pub rows: Vec<Row>,
    pub total: Row,
    pub chains: Vec<Chain>,
    /// Where the new objects hang off older ones: the leak's entry points, largest first.
    pub attachments: Vec<Attachment>,
    pub warnings: Vec<String>,
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
    /// For how many of the fastest-growing types to show chains.
    pub chain_types: usize,
    /// How many objects per type.
    pub chains_per_type: usize,
    /// Show chains for these types (or modules, with `--by module`) instead of the
    /// fastest-growing ones.
    pub chain_for: Vec<String>,
    /// How many attachment points to list.
    pub attachments: usize,
}

/// Group name of a type name for `--by module`.
fn module_of(type_name: &str) -> String {
    match type_name.split_once('.') {
        Some((module, _)) => module.to_string(),
        None => "builtins".to_string(),
    }
}

/// The row named `name`, created empty if needed.
fn row(rows: &mut HashMap<String, Row>, name: String) -> &mut Row {
    rows.entry(name.clone()).or_insert_with(|| Row {
        name,
        count_before: 0,
        count_after: 0,
        size_before: 0,
        size_after: 0,
        new_objects: 0,
        new_size: 0,
    })
}

/// (address, type name) of every object.
fn identities(s: &Snapshot) -> Vec<(u64, &str)> {
    s.addresses()
        .into_iter()
        .zip(&s.objects.type_index)
        .map(|(a, &t)| (a, s.types[t as usize].name.as_str()))
        .collect()
}

/// Compare `before` with `after`; with `later`, count the objects new in `after` that are
/// still in `later` (leak candidates that survived).
pub fn diff(before: &Snapshot, after: &Snapshot, later: Option<&Snapshot>, opts: &Options) -> Diff {
    let mut warnings = Vec::new();
    let mut snaps = vec![before, after];
    snaps.extend(later);
    for s in &snaps[1..] {
        let (a, b) = (&before.meta, &s.meta);
        let restarted = (a.start_time != 0 && b.start_time != 0 && a.start_time != b.start_time)
            || (!a.boot_id.is_empty() && !b.boot_id.is_empty() && a.boot_id != b.boot_id);
        if a.pid != b.pid || a.hostname != b.hostname || restarted {
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
    warnings.dedup();

    let group = |name: &str| match opts.group_by {
        GroupBy::Type => name.to_string(),
        GroupBy::Module => module_of(name),
    };
    let mut rows: HashMap<String, Row> = HashMap::new();
    for t in &before.types {
        let r = row(&mut rows, group(&t.name));
        r.count_before += t.count;
        r.size_before += t.size;
    }
    let last = later.unwrap_or(after);
    for t in &last.types {
        let r = row(&mut rows, group(&t.name));
        r.count_after += t.count;
        r.size_after += t.size;
    }

    // New objects: in `after` and not in `before`; with `later`, also still in `later`.
    let old: HashSet<(u64, &str)> = identities(before).into_iter().collect();
    let alive_later: Option<HashSet<(u64, &str)>> =
        later.map(|l| identities(l).into_iter().collect());
    let mut new_in_after: Vec<usize> = Vec::new();
    for (i, id) in identities(after).into_iter().enumerate() {
        if old.contains(&id) {
            continue;
        }
        if alive_later
            .as_ref()
            .is_some_and(|alive| !alive.contains(&id))
        {
            continue;
        }
        new_in_after.push(i);
        let r = row(&mut rows, group(id.1));
        r.new_objects += 1;
        r.new_size += after.objects.size[i];
    }

    let mut rows: Vec<Row> = rows
        .into_values()
        .filter(|r| opts.all_rows || r.changed())
        .collect();
    rows.sort_by(|a, b| {
        b.size_delta()
            .cmp(&a.size_delta())
            .then(b.new_size.cmp(&a.new_size))
            .then(a.name.cmp(&b.name))
    });
    let total = Row {
        name: "total".into(),
        count_before: before.meta.objects,
        count_after: last.meta.objects,
        size_before: before.meta.bytes,
        size_after: last.meta.bytes,
        new_objects: new_in_after.len() as u64,
        new_size: new_in_after.iter().map(|&i| after.objects.size[i]).sum(),
    };

    // Chains: for the requested types, or those with the most new bytes; a few objects each.
    let mut by_growth: Vec<&Row> = rows.iter().filter(|r| r.new_objects > 0).collect();
    by_growth.sort_by(|a, b| b.new_size.cmp(&a.new_size).then(a.name.cmp(&b.name)));
    let wanted: Vec<&str> = if opts.chain_for.is_empty() {
        by_growth
            .iter()
            .take(opts.chain_types)
            .map(|r| r.name.as_str())
            .collect()
    } else {
        opts.chain_for.iter().map(String::as_str).collect()
    };
    let addresses = after.addresses();
    let attachments = attachments(after, &addresses, &new_in_after, opts.attachments);
    let mut chains = Vec::new();
    for name in wanted {
        let picks = new_in_after
            .iter()
            .filter(|&&i| group(&after.types[after.objects.type_index[i] as usize].name) == name)
            .take(opts.chains_per_type);
        for &i in picks {
            let (path, reachable) = retainer_path(after, &addresses, i);
            chains.push(Chain {
                type_name: after.types[after.objects.type_index[i] as usize]
                    .name
                    .clone(),
                address: addresses[i],
                size: after.objects.size[i],
                path,
                reachable,
            });
        }
    }
    for name in &opts.chain_for {
        if !chains
            .iter()
            .any(|c| &c.type_name == name || group(&c.type_name) == *name)
        {
            warnings.push(format!(
                "no new object of type {name:?} to show a retainer chain for"
            ));
        }
    }
    Diff {
        group_by: opts.group_by,
        survivors: later.is_some(),
        rows,
        total,
        chains,
        attachments,
        warnings,
    }
}

/// Group the new objects by where they attach: follow each one's retainer chain up while the
/// holder is new too; the last new object is attached to an older holder (or a root).
fn attachments(s: &Snapshot, addresses: &[u64], new: &[usize], limit: usize) -> Vec<Attachment> {
    const UNKNOWN: u32 = u32::MAX;
    let n = s.objects.parent.len();
    let mut is_new = vec![false; n];
    for &i in new {
        is_new[i] = true;
    }
    // attach[i]: the attached ancestor of new object i (memoised).
    let mut attach = vec![UNKNOWN; n];
    let mut trail = Vec::new();
    for &i in new {
        let mut at = i;
        let top = loop {
            if attach[at] != UNKNOWN {
                break attach[at];
            }
            trail.push(at);
            let p = s.objects.parent[at];
            if p == NO_PARENT || !is_new[p as usize] || trail.len() > n {
                break at as u32;
            }
            at = p as usize;
        };
        for t in trail.drain(..) {
            attach[t] = top;
        }
    }
    // Group attached objects by (holder, type).
    // (holder, root label, type) → (attached, objects below, bytes, one attached object).
    type Group = (u64, u64, u64, usize);
    let mut groups: HashMap<(i64, i64, u32), Group> = HashMap::new();
    for &i in new {
        let top = attach[i] as usize;
        // Objects held directly by roots are grouped by root (label), the others by holder.
        let parent = s.objects.parent[top];
        let root = if parent == NO_PARENT {
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
        g.2 += s.objects.size[i];
    }
    let mut list: Vec<_> = groups.into_iter().collect();
    list.sort_by(|a, b| b.1 .2.cmp(&a.1 .2).then(a.0.cmp(&b.0)));
    list.into_iter()
        .take(limit)
        .map(|((holder, _, ty), (attached, objects, size, example))| {
            let holder = if holder == NO_PARENT {
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

/// The path from a root to object `i`, with `X.__dict__['name']` written `X.name`.
pub fn retainer_path(s: &Snapshot, addresses: &[u64], i: usize) -> (String, bool) {
    let o = &s.objects;
    let mut pieces: Vec<std::borrow::Cow<str>> = Vec::new();
    let mut at = i;
    let mut steps = 0;
    loop {
        let label = s.label(at);
        if o.parent[at] == NO_PARENT {
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
    fn module_grouping_uses_the_top_level_package() {
        assert_eq!(module_of("matplotlib.figure.Figure"), "matplotlib");
        assert_eq!(module_of("dict"), "builtins");
        assert_eq!(module_of("__main__.Report"), "__main__");
    }
}
