//! Which interpreter runs in the target, and the layouts of its structures.
//!
//! [`Interpreter::find`] locates the image holding the runtime (a mapped `libpython*` or the
//! executable itself, opened through `/proc/<pid>/root` so containers work), reads its symbols,
//! computes the load bias, detects the version (`_Py_DebugOffsets` on 3.13+, `Py_Version` on
//! 3.11+, else the version string in the binary) and refuses free-threaded builds and versions
//! without a [`layout`] table.

pub mod elf;
pub mod layout;
pub mod tables;
pub mod version;

use std::collections::HashMap;
use std::path::Path;

use thiserror::Error;

use crate::memory::maps::{FileRoot, Mapping};
use crate::memory::Memory;
use elf::{ElfImage, FileBytes};
use layout::Layout;
use version::Version;

#[derive(Debug, Error)]
pub enum FindError {
    #[error("process {pid} is not a Python process (no CPython runtime in {exe})")]
    NotPython { pid: i32, exe: String },
    #[error("Python {version} is not supported (supported: {supported})")]
    Unsupported { version: String, supported: String },
    #[error(
        "Python {0} is a free-threaded build (no GIL); heapsnap supports only default builds for now"
    )]
    FreeThreaded(String),
    #[error(
        "Python {0} is stripped: 2.7 and 3.6 are read through the C static `interp_head`, which only \
         `.symtab` has (use an unstripped build, or install its debug symbols)"
    )]
    NeedsSymbols(String),
    #[error("cannot read the interpreter's memory: {0}")]
    Memory(#[from] crate::memory::MemoryError),
}

/// Is `name` that of a static type object (`PyDict_Type`, `_PyWeakref_RefType`, ...; exported
/// in `.dynsym` of every build, stripped or not)? Which of them heapsnap knows, and how it
/// handles each, is the heap walk's table (`heap::types`); a few functions match too, and are
/// never asked for.
fn is_static_type_symbol(name: &str) -> bool {
    (name.starts_with("Py") || name.starts_with("_Py")) && name.ends_with("Type")
}

/// Other symbols heapsnap reads (exported, or in `.symtab` when not stripped).
const OTHER_SYMBOLS: &[&str] = &[
    "_PyRuntime",
    "Py_Version",
    "_PyGC_generation0",
    "subtype_traverse",
    "interned",
    "lookdict",
    "interp_head",
    "collecting",
];

/// A located interpreter.
pub struct Interpreter {
    pub version: Version,
    /// The layout table, with fields covered by `_Py_DebugOffsets` taken from the live process
    /// where they are valid and differ from it.
    pub layout: Layout,
    /// What the 3.13+ `_Py_DebugOffsets` said.
    pub debug_offsets: DebugOffsets,
    /// Address of `_PyRuntime` (0 for 2.7/3.6, which have none).
    pub runtime: u64,
    /// The file that holds the runtime, as the target sees it.
    pub binary: String,
    /// True when the runtime is in a shared `libpython`, false when in the executable.
    pub shared_library: bool,
    /// False for distribution builds with `.symtab` stripped.
    pub has_symtab: bool,
    /// Static type objects by symbol name.
    pub static_types: HashMap<String, u64>,
    /// `subtype_traverse`, the traverse function of Python classes, when `.symtab` has it.
    pub subtype_traverse: Option<u64>,
    /// Address of the C static `interned` (≤3.11) holding the interned-strings dict.
    pub interned_static: Option<u64>,
    /// `lookdict`, the general dict lookup (3.6–3.10), when `.symtab` has it.
    pub lookdict: Option<u64>,
    /// 2.7/3.6: the C static `interp_head` (`.symtab`) and the exported `_PyGC_generation0`.
    pub interp_head_static: Option<u64>,
    pub gc_generation0: Option<u64>,
    /// 2.7/3.6: the C static `collecting` of gcmodule.c (`.symtab`).
    pub gc_collecting_static: Option<u64>,
}

/// The process whose interpreter is looked for: its pid, its executable, and where the files
/// it maps are opened from (a live process, or a core file).
pub struct Target {
    pub pid: i32,
    /// The executable's path as the process sees it (empty if unknown).
    pub executable: String,
    pub files: FileRoot,
}

impl Target {
    /// A live process (its executable read from `/proc/<pid>/exe`).
    pub fn process(pid: i32) -> Target {
        Target {
            pid,
            executable: std::fs::read_link(format!("/proc/{pid}/exe"))
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            files: FileRoot::Process(pid),
        }
    }
}

impl Interpreter {
    /// Find the interpreter of live process `pid`, reading its memory through `mem`.
    pub fn find(pid: i32, maps: &[Mapping], mem: &dyn Memory) -> Result<Interpreter, FindError> {
        let target = Target::process(pid);
        Interpreter::find_noting(&target, maps, mem, &mut Vec::new())
    }

    /// [`Interpreter::find`], adding to `trail` one line per step of the search (the files
    /// examined, where the runtime is, the version and how it was found, the table, what the
    /// debug offsets said): what `heapsnap -v` shows, also when the search fails.
    pub fn find_noting(
        target: &Target,
        maps: &[Mapping],
        mem: &dyn Memory,
        trail: &mut Vec<String>,
    ) -> Result<Interpreter, FindError> {
        let (pid, exe) = (target.pid, target.executable.clone());
        let candidates = candidate_files(maps, &exe);
        trail.push(format!(
            "process {pid}: executable {exe}; files that may hold the runtime: {}",
            candidates.join(", ")
        ));
        // A candidate whose memory cannot be read is skipped; its error is reported only if no
        // other candidate is an interpreter.
        let mut unreadable = None;
        for path in candidates {
            match examine(&target.files, maps, mem, path, trail) {
                Ok(Some(interp)) => return Ok(interp),
                Ok(None) => {}
                Err(FindError::Memory(e)) => unreadable = Some(e),
                Err(e) => return Err(e),
            }
        }
        if let Some(e) = unreadable {
            return Err(FindError::Memory(e));
        }
        Err(FindError::NotPython { pid, exe })
    }

    pub fn static_type(&self, name: &str) -> Option<u64> {
        self.static_types.get(name).copied()
    }
}

/// Is the ELF file at `path` (as the target sees it) the one holding the runtime? If so, the
/// located interpreter. Each step is noted in `trail`.
fn examine(
    files: &FileRoot,
    maps: &[Mapping],
    mem: &dyn Memory,
    path: String,
    trail: &mut Vec<String>,
) -> Result<Option<Interpreter>, FindError> {
    let file = files.locate(&path);
    let Ok(Some(image)) = ElfImage::open(&file, |name| {
        is_static_type_symbol(name) || OTHER_SYMBOLS.contains(&name)
    }) else {
        trail.push(format!("{path}: not a readable ELF file"));
        return Ok(None);
    };
    let mappings: Vec<&Mapping> = maps.iter().filter(|m| m.path == path).collect();
    let Some(bias) = image.load_bias(&mappings) else {
        trail.push(format!("{path}: its mappings do not match its segments"));
        return Ok(None);
    };
    let (runtime, runtime_source) = match image.symbol("_PyRuntime") {
        Some(at) => (Some(at), "symbol _PyRuntime"),
        None => (image.py_runtime_section, "section .PyRuntime"),
    };
    let (version, version_source) = match runtime.map(|a| a.wrapping_add(bias)) {
        Some(runtime) => {
            trail.push(format!(
                "{path}: runtime at {runtime:#x} ({runtime_source}, load bias {bias:#x})"
            ));
            detect_version(mem, runtime, &image, bias, &file, &path)?
        }
        // 2.7 / 3.6: no `_PyRuntime`; the GC lists are reached through a static.
        None if image.symbol("_PyGC_generation0").is_some() => {
            trail.push(format!(
                "{path}: no _PyRuntime; symbol _PyGC_generation0 (2.7 / 3.6), load bias {bias:#x}"
            ));
            let version = scan_version(&file, &path).ok_or_else(|| unsupported(None))?;
            (version, VERSION_STRING)
        }
        None => {
            trail.push(format!(
                "{path}: no CPython runtime (no _PyRuntime, .PyRuntime or _PyGC_generation0)"
            ));
            return Ok(None);
        }
    };
    trail.push(format!(
        "Python {version} (from {version_source}); {}, {}",
        if is_libpython(&path) {
            "shared libpython"
        } else {
            "runtime in the executable"
        },
        if image.has_symtab {
            "with .symtab"
        } else {
            "stripped (no .symtab)"
        }
    ));
    let runtime = runtime.map(|a| a.wrapping_add(bias)).unwrap_or(0);
    if version.major == 3 && version.minor >= 13 {
        let free_threaded = mem.read_u64(runtime + 16)?;
        if free_threaded != 0 {
            return Err(FindError::FreeThreaded(version.to_string()));
        }
    }
    let Some(table) = tables::layout_for(version.major, version.minor) else {
        return Err(unsupported(Some(version)));
    };
    if table.runtime.interpreters == layout::InterpretersHead::Static
        && image.symbol("interp_head").is_none()
    {
        return Err(FindError::NeedsSymbols(version.to_string()));
    }
    trail.push(format!(
        "layout table for {}.{} (supported: {})",
        version.major,
        version.minor,
        tables::supported()
    ));
    let mut layout = *table;
    let debug_offsets = apply_debug_offsets(&mut layout, mem, runtime)?;
    trail.push(format!("_Py_DebugOffsets: {debug_offsets}"));
    layout.dict_first = layout
        .dict_first_since_micro
        .is_some_and(|m| version.micro >= m);
    let static_types = image
        .symbols()
        .filter(|(name, _)| is_static_type_symbol(name))
        .map(|(name, value)| (name.to_string(), value.wrapping_add(bias)))
        .collect();
    Ok(Some(Interpreter {
        version,
        layout,
        debug_offsets,
        runtime,
        shared_library: is_libpython(&path),
        binary: path,
        has_symtab: image.has_symtab,
        static_types,
        subtype_traverse: image
            .symbol("subtype_traverse")
            .map(|a| a.wrapping_add(bias)),
        interned_static: image.symbol("interned").map(|a| a.wrapping_add(bias)),
        lookdict: image.symbol("lookdict").map(|a| a.wrapping_add(bias)),
        interp_head_static: image.symbol("interp_head").map(|a| a.wrapping_add(bias)),
        gc_generation0: image
            .symbol("_PyGC_generation0")
            .map(|a| a.wrapping_add(bias)),
        gc_collecting_static: image.symbol("collecting").map(|a| a.wrapping_add(bias)),
    }))
}

fn unsupported(version: Option<Version>) -> FindError {
    FindError::Unsupported {
        version: version
            .map(|v| v.to_string())
            .unwrap_or_else(|| "(unknown version)".into()),
        supported: tables::supported(),
    }
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn is_libpython(path: &str) -> bool {
    basename(path).starts_with("libpython")
}

/// Files that may hold the runtime, most likely first: a mapped libpython, a mapped `python*`
/// executable (also when started through an explicit loader), the process's executable.
fn candidate_files(maps: &[Mapping], exe: &str) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    let mut add = |p: &str| {
        if !p.is_empty() && p.starts_with('/') && !files.iter().any(|f| f == p) {
            files.push(p.to_string());
        }
    };
    for m in maps.iter().filter(|m| m.offset == 0) {
        if is_libpython(&m.path) {
            add(&m.path);
        }
    }
    for m in maps.iter().filter(|m| m.offset == 0) {
        if basename(&m.path).starts_with("python") {
            add(&m.path);
        }
    }
    add(exe.trim_end_matches(" (deleted)"));
    files
}

/// major.minor from a file name like `libpython3.11.so.1.0` or `python3.8`.
fn version_hint(path: &str) -> Option<(u8, u8)> {
    let name = basename(path);
    let at = name.find("python")? + "python".len();
    let rest = &name[at..];
    let mut it = rest.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

fn scan_version(file: &Path, path: &str) -> Option<Version> {
    let bytes = FileBytes::open(file).ok()?;
    Version::scan(bytes.bytes(), version_hint(path))
}

/// Where the version came from, when it is the text in the binary.
const VERSION_STRING: &str = "the version string in the file";

/// The version, and where it was found.
fn detect_version(
    mem: &dyn Memory,
    runtime: u64,
    image: &ElfImage,
    bias: u64,
    file: &Path,
    path: &str,
) -> Result<(Version, &'static str), FindError> {
    let mut cookie = [0u8; 8];
    mem.read(runtime, &mut cookie)?;
    if &cookie == b"xdebugpy" {
        if let Some(v) = Version::from_hex(mem.read_u64(runtime + 8)?) {
            return Ok((v, "_Py_DebugOffsets"));
        }
    }
    if let Some(addr) = image.symbol("Py_Version") {
        if let Some(v) = Version::from_hex(mem.read_u32(addr.wrapping_add(bias))? as u64) {
            return Ok((v, "Py_Version"));
        }
    }
    let version = scan_version(file, path).ok_or_else(|| unsupported(None))?;
    Ok((version, VERSION_STRING))
}

/// What became of the 3.13+ `_Py_DebugOffsets` for the runtime fields they cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DebugOffsets {
    /// The version has none (before 3.13).
    Absent,
    /// Valid, and equal to the table's values.
    AgreeWithTable,
    /// Valid, and taken instead of the table's values for these fields, which differ.
    Differ(Vec<&'static str>),
    /// Not plausible (why): the table's values are used.
    Rejected(String),
}

impl std::fmt::Display for DebugOffsets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DebugOffsets::Absent => write!(f, "none (before 3.13): the table's offsets"),
            DebugOffsets::AgreeWithTable => write!(f, "validated, equal to the table's"),
            DebugOffsets::Differ(fields) => write!(
                f,
                "validated, used: they differ from the table's for {}",
                fields.join(", ")
            ),
            DebugOffsets::Rejected(why) => write!(f, "not valid ({why}): the table's offsets"),
        }
    }
}

/// The runtime fields `_Py_DebugOffsets` covers, in the order of [`debug_fields`] and
/// [`set_debug_fields`]; the first is in `_PyRuntimeState`, the others in
/// `PyInterpreterState`.
const DEBUG_FIELDS: [&str; 7] = [
    "interpreters_head",
    "interp_next",
    "interp_threads_head",
    "interp_gc",
    "interp_modules",
    "interp_sysdict",
    "interp_builtins",
];

/// No runtime structure is bigger than this (pystack's bound too).
const MAX_DEBUG_STRUCT: u64 = 1 << 20;

/// The values of [`DEBUG_FIELDS`] in a runtime layout (`u64::MAX` where the layout has no such
/// offset, which no valid debug offset equals).
fn debug_fields(rt: &layout::RuntimeLayout) -> [u64; 7] {
    let interpreters = match rt.interpreters {
        layout::InterpretersHead::Runtime(off) => off,
        layout::InterpretersHead::Static => u64::MAX,
    };
    let gc = match rt.gc_state {
        layout::GcState::Interpreter(off) => off,
        _ => u64::MAX,
    };
    [
        interpreters,
        rt.interp_next,
        rt.interp_threads_head,
        gc,
        rt.interp_modules,
        rt.interp_sysdict,
        rt.interp_builtins,
    ]
}

fn set_debug_fields(rt: &mut layout::RuntimeLayout, values: [u64; 7]) {
    let [interpreters, next, threads, gc, modules, sysdict, builtins] = values;
    rt.interpreters = layout::InterpretersHead::Runtime(interpreters);
    rt.interp_next = next;
    rt.interp_threads_head = threads;
    rt.gc_state = layout::GcState::Interpreter(gc);
    rt.interp_modules = modules;
    rt.interp_sysdict = sysdict;
    rt.interp_builtins = builtins;
}

/// Plain sanity of the offsets read (as pystack's `validateDebugOffsets`): both structure sizes
/// plausible, every field 8-aligned and inside its structure, no two interpreter fields at the
/// same place.
fn check_debug_fields(
    runtime_size: u64,
    interp_size: u64,
    values: &[u64; 7],
) -> Result<(), String> {
    for (name, size) in [
        ("_PyRuntimeState", runtime_size),
        ("PyInterpreterState", interp_size),
    ] {
        if size == 0 || size > MAX_DEBUG_STRUCT {
            return Err(format!("sizeof({name}) = {size}"));
        }
    }
    for (k, (&name, &value)) in DEBUG_FIELDS.iter().zip(values).enumerate() {
        let size = if k == 0 { runtime_size } else { interp_size };
        if value % 8 != 0 || value.saturating_add(8) > size {
            return Err(format!("{name} = {value} in a structure of {size} bytes"));
        }
        if k > 0 && values[1..k].contains(&value) {
            return Err(format!("{name} = {value} is another field's offset"));
        }
    }
    Ok(())
}

/// 3.13+: read the runtime offsets `_Py_DebugOffsets` gives, check them, and take them instead
/// of the table's where they differ (they come from the running build itself). Offsets that
/// are not plausible are not used: the table's values stay.
fn apply_debug_offsets(
    layout: &mut Layout,
    mem: &dyn Memory,
    runtime: u64,
) -> Result<DebugOffsets, FindError> {
    let Some(ix) = layout.debug_offsets else {
        return Ok(DebugOffsets::Absent);
    };
    let word = |index: u64| mem.read_u64(runtime + 8 * index);
    let indices = ix.fields();
    let mut values = [0u64; 7];
    for (value, index) in values.iter_mut().zip(indices) {
        *value = word(index)?;
    }
    if let Err(why) = check_debug_fields(word(ix.runtime_size)?, word(ix.interp_size)?, &values) {
        return Ok(DebugOffsets::Rejected(why));
    }
    let table = debug_fields(&layout.runtime);
    let differing: Vec<&'static str> = DEBUG_FIELDS
        .iter()
        .zip(table.iter().zip(&values))
        .filter(|(_, (t, v))| t != v)
        .map(|(&name, _)| name)
        .collect();
    if differing.is_empty() {
        return Ok(DebugOffsets::AgreeWithTable);
    }
    set_debug_fields(&mut layout.runtime, values);
    Ok(DebugOffsets::Differ(differing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::image::Image;

    /// A runtime whose `_Py_DebugOffsets` (3.14's indices) hold `values` for [`DEBUG_FIELDS`],
    /// with structure sizes `sizes`; the layout made from the 3.14 table, and the verdict.
    fn with_debug_offsets(values: [u64; 7], sizes: (u64, u64)) -> (Layout, DebugOffsets) {
        let mut layout = tables::V3_14;
        let ix = layout.debug_offsets.unwrap();
        let runtime = 0x10000;
        let mut words = vec![0u64; 32];
        words[ix.runtime_size as usize] = sizes.0;
        words[ix.interp_size as usize] = sizes.1;
        for (index, value) in ix.fields().into_iter().zip(values) {
            words[index as usize] = value;
        }
        let bytes = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let image = Image::from_regions(vec![(runtime, bytes)]);
        let verdict = apply_debug_offsets(&mut layout, &image, runtime).unwrap();
        (layout, verdict)
    }

    #[test]
    fn debug_offsets_are_validated_before_they_replace_the_table() {
        let table = debug_fields(&tables::V3_14.runtime);
        let sizes = (316_616, 225_864);
        let (layout, verdict) = with_debug_offsets(table, sizes);
        assert_eq!(verdict, DebugOffsets::AgreeWithTable);
        assert_eq!(debug_fields(&layout.runtime), table);

        // A build whose GC state moved: plausible, so the live value wins.
        let mut moved = table;
        moved[3] += 16;
        let (layout, verdict) = with_debug_offsets(moved, sizes);
        assert_eq!(verdict, DebugOffsets::Differ(vec!["interp_gc"]));
        assert_eq!(debug_fields(&layout.runtime), moved);

        // Implausible offsets leave the table's values in place.
        let mut outside = table;
        outside[5] = sizes.1;
        let mut misaligned = table;
        misaligned[1] += 4;
        let mut twice = table;
        twice[6] = twice[4];
        for (values, sizes) in [
            (outside, sizes),
            (misaligned, sizes),
            (twice, sizes),
            (table, (0, sizes.1)),
            (table, (sizes.0, 2 << 20)),
        ] {
            let (layout, verdict) = with_debug_offsets(values, sizes);
            assert!(
                matches!(verdict, DebugOffsets::Rejected(_)),
                "{values:?} {sizes:?}: {verdict:?}"
            );
            assert_eq!(debug_fields(&layout.runtime), table);
        }
    }

    #[test]
    fn version_hint_from_file_names() {
        assert_eq!(version_hint("/usr/lib/libpython3.11.so.1.0"), Some((3, 11)));
        assert_eq!(version_hint("/usr/bin/python3.13"), Some((3, 13)));
        assert_eq!(version_hint("/x/libpython3.7m.so.1.0"), Some((3, 7)));
        assert_eq!(version_hint("/usr/bin/python"), None);
    }
}
