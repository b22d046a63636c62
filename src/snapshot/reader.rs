//! Reading a snapshot file (plain, or compressed with gzip or zstd: told by its first bytes)
//! in one pass through a small buffer: neither the file nor a JSON value tree is ever held
//! whole. The document's small parts (`meta`, `types`, `labels`) are
//! parsed with serde from their own text; the object columns are parsed number by number
//! straight into narrow columns ([`ObjectColumns`]), sized from `meta.objects` up front.
//!
//! A lean read ([`Detail::Lean`]) keeps only what identifies an object (address, type, size)
//! and the garbage list, and skips the columns that say how it is held: what `diff` needs of
//! every snapshot but the one whose new objects it explains.
//!
//! Any malformed input (truncated, not JSON, hostile nesting, numbers out of range) is one
//! [`ReadError`], never a panic; memory stays bounded by the columns the file really holds.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::output::Compression;
use super::{Meta, ReadError, Snapshot, FORMAT, SCHEMA_VERSION};
use crate::census::TypeRow;

/// How much of a snapshot to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Every column.
    Full,
    /// Address, type, size and the garbage list (not parent, label, retained, idom).
    Lean,
}

/// The index columns' "none" (no parent, the root above all roots).
pub const NO_INDEX: i32 = -1;

/// A label that is an item index beyond 2^31 (shown as `[…]`; only a list of more than two
/// billion items has one).
pub const LABEL_INDEX_TOO_BIG: i32 = i32::MIN;

/// Sizes in 4 bytes each; the rare size of 4 GiB or more is kept aside, exactly.
#[derive(Debug, Clone, Default)]
pub struct Sizes {
    narrow: Vec<u32>,
    wide: HashMap<u32, u64>,
}

impl Sizes {
    const WIDE: u32 = u32::MAX;

    pub fn with_capacity(n: usize) -> Sizes {
        Sizes {
            narrow: Vec::with_capacity(n),
            wide: HashMap::new(),
        }
    }

    pub fn push(&mut self, value: u64) {
        match u32::try_from(value) {
            Ok(v) if v != Self::WIDE => self.narrow.push(v),
            _ => {
                self.wide.insert(self.narrow.len() as u32, value);
                self.narrow.push(Self::WIDE);
            }
        }
    }

    pub fn get(&self, i: usize) -> u64 {
        match self.narrow[i] {
            Self::WIDE => self.wide[&(i as u32)],
            v => u64::from(v),
        }
    }

    pub fn len(&self) -> usize {
        self.narrow.len()
    }

    pub fn is_empty(&self) -> bool {
        self.narrow.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// Per-object columns, as read: absolute addresses (ascending), narrow integers elsewhere.
/// A lean read leaves `parent`, `label`, `retained` and `idom` empty; so do schema 1 files
/// for `retained` and `idom`.
#[derive(Debug, Clone, Default)]
pub struct ObjectColumns {
    pub address: Vec<u64>,
    pub type_index: Vec<u32>,
    pub size: Sizes,
    /// The object through which a shortest path from a root reaches it ([`NO_INDEX`]: none).
    pub parent: Vec<i32>,
    /// ≥ 0 indexes the labels; < 0 is an item index (-1 is `[0]`), or
    /// [`LABEL_INDEX_TOO_BIG`].
    pub label: Vec<i32>,
    pub retained: Sizes,
    /// The immediate dominator ([`NO_INDEX`]: the root above all roots).
    pub idom: Vec<i32>,
    /// Positions of the objects that are garbage awaiting collection, ascending.
    pub garbage: Vec<u32>,
    /// Each object's GC age (empty in snapshots without it).
    pub gc_age: Vec<u8>,
}

impl ObjectColumns {
    pub fn len(&self) -> usize {
        self.address.len()
    }

    pub fn is_empty(&self) -> bool {
        self.address.is_empty()
    }
}

/// The most nesting a value may have (the JSON heapsnap writes has 3 levels).
const MAX_DEPTH: usize = 128;
/// How much of the file is read at a time.
const CHUNK: usize = 1 << 20;

/// Why the scan stopped: the file ended, the text is not JSON, or it is JSON of the wrong shape.
enum Bad {
    Eof,
    Syntax(String),
    Shape(String),
    Io(std::io::Error),
}

type Scan<T> = Result<T, Bad>;

/// A JSON scanner over a reader, a chunk at a time.
struct Scanner<R> {
    reader: R,
    buf: Vec<u8>,
    at: usize,
    end: usize,
}

impl<R: Read> Scanner<R> {
    fn new(reader: R) -> Scanner<R> {
        Scanner {
            reader,
            buf: vec![0; CHUNK],
            at: 0,
            end: 0,
        }
    }

    /// The next byte without taking it (None at the end of the file).
    fn peek(&mut self) -> Scan<Option<u8>> {
        if self.at == self.end {
            self.end = loop {
                match self.reader.read(&mut self.buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(Bad::Io(e)),
                }
            };
            self.at = 0;
            if self.end == 0 {
                return Ok(None);
            }
        }
        Ok(Some(self.buf[self.at]))
    }

    fn next(&mut self) -> Scan<u8> {
        let b = self.peek()?.ok_or(Bad::Eof)?;
        self.at += 1;
        Ok(b)
    }

    /// The next byte that is not white space.
    fn token(&mut self) -> Scan<u8> {
        loop {
            match self.peek()?.ok_or(Bad::Eof)? {
                b' ' | b'\n' | b'\r' | b'\t' => self.at += 1,
                b => return Ok(b),
            }
        }
    }

    fn expect(&mut self, wanted: u8) -> Scan<()> {
        match self.token()? {
            b if b == wanted => {
                self.at += 1;
                Ok(())
            }
            b => Err(Bad::Syntax(format!(
                "expected '{}', found '{}'",
                wanted as char,
                b.escape_ascii()
            ))),
        }
    }

    /// One whole value's text, appended to `out` (or only checked, with `out` None).
    fn value(&mut self, mut out: Option<&mut Vec<u8>>) -> Scan<()> {
        let mut depth = 0usize;
        let mut started = false;
        loop {
            let b = if started {
                self.next()?
            } else {
                self.token().and_then(|_| self.next())?
            };
            started = true;
            if let Some(out) = out.as_deref_mut() {
                out.push(b);
            }
            match b {
                b'{' | b'[' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(Bad::Syntax("nesting too deep".into()));
                    }
                }
                b'}' | b']' => {
                    depth = depth
                        .checked_sub(1)
                        .ok_or_else(|| Bad::Syntax(format!("unexpected '{}'", b as char)))?;
                }
                b'"' => self.string_rest(out.as_deref_mut())?,
                _ => {}
            }
            // A value ends at depth 0 after a closing bracket or quote, or before a
            // delimiter for a scalar.
            if depth == 0 {
                if matches!(b, b'}' | b']' | b'"') {
                    return Ok(());
                }
                match self.peek()? {
                    Some(b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') | None => return Ok(()),
                    _ => {}
                }
            }
        }
    }

    /// The rest of a string after its opening quote (escapes kept as they are).
    fn string_rest(&mut self, mut out: Option<&mut Vec<u8>>) -> Scan<()> {
        loop {
            let b = self.next()?;
            if let Some(out) = out.as_deref_mut() {
                out.push(b);
            }
            match b {
                b'"' => return Ok(()),
                b'\\' => {
                    let escaped = self.next()?;
                    if let Some(out) = out.as_deref_mut() {
                        out.push(escaped);
                    }
                }
                _ => {}
            }
        }
    }

    /// A key and its colon.
    fn key(&mut self) -> Scan<String> {
        let mut text = Vec::new();
        if self.token()? != b'"' {
            return Err(Bad::Syntax("expected a key".into()));
        }
        self.value(Some(&mut text))?;
        self.expect(b':')?;
        serde_json::from_slice(&text).map_err(|e| Bad::Syntax(e.to_string()))
    }

    /// Whether the object or array goes on (a comma was taken) or ends (`close` was taken).
    fn more(&mut self, close: u8) -> Scan<bool> {
        match self.token()? {
            b',' => {
                self.at += 1;
                Ok(true)
            }
            b if b == close => {
                self.at += 1;
                Ok(false)
            }
            b => Err(Bad::Syntax(format!("unexpected '{}'", b.escape_ascii()))),
        }
    }

    /// An array of integers, each given to `push`.
    fn integers(&mut self, name: &str, mut push: impl FnMut(i128) -> Scan<()>) -> Scan<()> {
        self.expect(b'[')?;
        if self.token()? == b']' {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.token()?;
            let negative = self.peek()? == Some(b'-');
            if negative {
                self.at += 1;
            }
            let mut value: i128 = 0;
            let mut digits = 0;
            while let Some(b @ b'0'..=b'9') = self.peek()? {
                self.at += 1;
                digits += 1;
                if digits > 20 {
                    return Err(Bad::Shape(format!("a number in {name} is out of range")));
                }
                value = value * 10 + i128::from(b - b'0');
            }
            if digits == 0 {
                return Err(Bad::Shape(format!(
                    "{name} holds something other than integers"
                )));
            }
            if matches!(self.peek()?, Some(b'.' | b'e' | b'E')) {
                return Err(Bad::Shape(format!(
                    "{name} holds a number that is not an integer"
                )));
            }
            push(if negative { -value } else { value })?;
            if !self.more(b']')? {
                return Ok(());
            }
        }
    }
}

/// Read the snapshot at `path`, keeping `detail` of its columns.
pub fn read(path: &Path, detail: Detail) -> Result<Snapshot, ReadError> {
    let name = path.display().to_string();
    let io = |error| ReadError::Io {
        path: name.clone(),
        error,
    };
    let file = File::open(path).map_err(io)?;
    let mut head = [0u8; 4];
    let head_len = file.read_at(&mut head, 0).unwrap_or(0);
    let compression = Compression::of_bytes(&head[..head_len]);
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    // What the columns can hold at most: 2 bytes a number ("0,"), once decompressed (gzip
    // expands at most ~1,032 times; zstd's bound is taken as the same order).
    let plain_size = match compression {
        Compression::None => size,
        _ => size.saturating_mul(1100),
    };
    let mut scanner = Scanner::new(compression.reader(file).map_err(io)?);
    let parts = document(&mut scanner, detail, plain_size).map_err(|bad| match bad {
        Bad::Eof => ReadError::Truncated { path: name.clone() },
        Bad::Syntax(detail) => ReadError::NotJson {
            path: name.clone(),
            detail,
        },
        Bad::Shape(detail) => ReadError::Malformed {
            path: name.clone(),
            detail,
        },
        Bad::Io(error) => ReadError::Io {
            path: name.clone(),
            error,
        },
    })?;
    if parts.format.as_deref() != Some(FORMAT) {
        return Err(ReadError::Foreign { path: name });
    }
    let schema_version = match parts.schema_version {
        Some(v) if v > SCHEMA_VERSION => {
            return Err(ReadError::NewerSchema {
                path: name,
                found: v,
            })
        }
        Some(v) => v,
        None => return Err(ReadError::Foreign { path: name }),
    };
    let missing = |what: &str| ReadError::Malformed {
        path: name.clone(),
        detail: format!("no {what}"),
    };
    let snapshot = Snapshot {
        format: FORMAT.into(),
        schema_version,
        meta: parts.meta.ok_or_else(|| missing("meta"))?,
        types: parts.types.ok_or_else(|| missing("types"))?,
        labels: parts.labels.ok_or_else(|| missing("labels"))?,
        objects: parts.objects.ok_or_else(|| missing("objects"))?,
    };
    Ok(snapshot)
}

/// The parts of the document found so far.
#[derive(Default)]
struct Parts {
    format: Option<String>,
    schema_version: Option<u32>,
    meta: Option<Meta>,
    types: Option<Vec<TypeRow>>,
    labels: Option<Vec<String>>,
    objects: Option<ObjectColumns>,
}

/// A small part, parsed with serde from its own text.
fn part<T: serde::de::DeserializeOwned, R: Read>(scanner: &mut Scanner<R>, name: &str) -> Scan<T> {
    let mut text = Vec::new();
    scanner.value(Some(&mut text))?;
    serde_json::from_slice(&text).map_err(|e| Bad::Shape(format!("{name}: {e}")))
}

fn document<R: Read>(scanner: &mut Scanner<R>, detail: Detail, file_size: u64) -> Scan<Parts> {
    let mut parts = Parts::default();
    if scanner.token()? != b'{' {
        return Err(Bad::Syntax("not a JSON object".into()));
    }
    scanner.at += 1;
    if scanner.token()? == b'}' {
        scanner.at += 1;
    } else {
        loop {
            let key = scanner.key()?;
            match key.as_str() {
                "format" => {
                    parts.format = part::<serde_json::Value, R>(scanner, "format")?
                        .as_str()
                        .map(String::from)
                }
                "schema_version" => {
                    parts.schema_version = part::<serde_json::Value, R>(scanner, "schema_version")?
                        .as_u64()
                        .and_then(|v| u32::try_from(v).ok())
                }
                // Nothing past these two is worth reading in a file that is not a snapshot.
                _ if parts.format.as_deref().is_some_and(|f| f != FORMAT) => scanner.value(None)?,
                "meta" => parts.meta = Some(part(scanner, "meta")?),
                "types" => parts.types = Some(part(scanner, "types")?),
                "labels" => parts.labels = Some(part(scanner, "labels")?),
                "objects" => {
                    // Each number takes 2 bytes at least ("0,"): no more can be in the file.
                    let expected = parts
                        .meta
                        .as_ref()
                        .map_or(0, |m| m.objects)
                        .min(file_size / 2) as usize;
                    parts.objects = Some(columns(scanner, detail, expected)?);
                }
                _ => scanner.value(None)?,
            }
            if !scanner.more(b'}')? {
                break;
            }
        }
    }
    match scanner.token() {
        Err(Bad::Eof) => Ok(parts),
        Ok(b) => Err(Bad::Syntax(format!(
            "trailing characters after the document ('{}')",
            b.escape_ascii()
        ))),
        Err(e) => Err(e),
    }
}

/// The `objects` member: its columns, each checked as it is read.
fn columns<R: Read>(
    scanner: &mut Scanner<R>,
    detail: Detail,
    expected: usize,
) -> Scan<ObjectColumns> {
    let mut o = ObjectColumns::default();
    let full = detail == Detail::Full;
    scanner.expect(b'{')?;
    if scanner.token()? == b'}' {
        scanner.at += 1;
        return Ok(o);
    }
    let range = |name: &str| Bad::Shape(format!("a value in {name} is out of range"));
    loop {
        let key = scanner.key()?;
        match key.as_str() {
            "address_delta" => {
                o.address.reserve_exact(expected);
                let mut at = 0u64;
                scanner.integers(&key, |v| {
                    let delta = u64::try_from(v).map_err(|_| range("address_delta"))?;
                    if !o.address.is_empty() && delta == 0 {
                        return Err(Bad::Shape("objects are not in address order".into()));
                    }
                    at = at
                        .checked_add(delta)
                        .ok_or_else(|| Bad::Shape("objects are not in address order".into()))?;
                    o.address.push(at);
                    Ok(())
                })?;
            }
            "type" => {
                o.type_index.reserve_exact(expected);
                scanner.integers(&key, |v| {
                    o.type_index
                        .push(u32::try_from(v).map_err(|_| range("type"))?);
                    Ok(())
                })?;
            }
            "size" => {
                o.size = Sizes::with_capacity(expected);
                scanner.integers(&key, |v| {
                    o.size.push(u64::try_from(v).map_err(|_| range("size"))?);
                    Ok(())
                })?;
            }
            "retained" if full => {
                o.retained = Sizes::with_capacity(expected);
                scanner.integers(&key, |v| {
                    o.retained
                        .push(u64::try_from(v).map_err(|_| range("retained"))?);
                    Ok(())
                })?;
            }
            name @ ("parent" | "idom") if full => {
                let column = if name == "parent" {
                    &mut o.parent
                } else {
                    &mut o.idom
                };
                column.reserve_exact(expected);
                scanner.integers(name, |v| {
                    column.push(i32::try_from(v).map_err(|_| range(name))?);
                    Ok(())
                })?;
            }
            "label" if full => {
                o.label.reserve_exact(expected);
                scanner.integers(&key, |v| {
                    let label = match i32::try_from(v) {
                        Ok(label) if label != LABEL_INDEX_TOO_BIG => label,
                        _ if (-(1i128 << 40)..0).contains(&v) => LABEL_INDEX_TOO_BIG,
                        _ => return Err(range("label")),
                    };
                    o.label.push(label);
                    Ok(())
                })?;
            }
            "gc_age" => {
                o.gc_age.reserve_exact(expected);
                scanner.integers(&key, |v| {
                    o.gc_age.push(u8::try_from(v).map_err(|_| range("gc_age"))?);
                    Ok(())
                })?;
            }
            "garbage" => {
                scanner.integers(&key, |v| {
                    o.garbage
                        .push(u32::try_from(v).map_err(|_| range("garbage"))?);
                    Ok(())
                })?;
            }
            _ => scanner.value(None)?,
        }
        if !scanner.more(b'}')? {
            return Ok(o);
        }
    }
}
