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

use crate::memory::maps::{path_in_target, Mapping};
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
    /// The layout table, with fields covered by `_Py_DebugOffsets` taken from the live process.
    pub layout: Layout,
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

impl Interpreter {
    /// Find the interpreter of process `pid`, reading its memory through `mem`.
    pub fn find(pid: i32, maps: &[Mapping], mem: &dyn Memory) -> Result<Interpreter, FindError> {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        // A candidate whose memory cannot be read is skipped; its error is reported only if no
        // other candidate is an interpreter.
        let mut unreadable = None;
        for path in candidate_files(maps, &exe) {
            match examine(pid, maps, mem, path) {
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
/// located interpreter.
fn examine(
    pid: i32,
    maps: &[Mapping],
    mem: &dyn Memory,
    path: String,
) -> Result<Option<Interpreter>, FindError> {
    let file = path_in_target(pid, &path);
    let Ok(Some(image)) = ElfImage::open(&file, |name| {
        is_static_type_symbol(name) || OTHER_SYMBOLS.contains(&name)
    }) else {
        return Ok(None);
    };
    let mappings: Vec<&Mapping> = maps.iter().filter(|m| m.path == path).collect();
    let Some(bias) = image.load_bias(&mappings) else {
        return Ok(None);
    };
    let runtime = image.symbol("_PyRuntime").or(image.py_runtime_section);
    let version = match runtime.map(|a| a.wrapping_add(bias)) {
        Some(runtime) => detect_version(mem, runtime, &image, bias, &file, &path)?,
        // 2.7 / 3.6: no `_PyRuntime`; the GC lists are reached through a static.
        None if image.symbol("_PyGC_generation0").is_some() => {
            scan_version(&file, &path).ok_or_else(|| unsupported(None))?
        }
        None => return Ok(None),
    };
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
    let mut layout = *table;
    apply_debug_offsets(&mut layout, mem, runtime)?;
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

fn detect_version(
    mem: &dyn Memory,
    runtime: u64,
    image: &ElfImage,
    bias: u64,
    file: &Path,
    path: &str,
) -> Result<Version, FindError> {
    let mut cookie = [0u8; 8];
    mem.read(runtime, &mut cookie)?;
    if &cookie == b"xdebugpy" {
        if let Some(v) = Version::from_hex(mem.read_u64(runtime + 8)?) {
            return Ok(v);
        }
    }
    if let Some(addr) = image.symbol("Py_Version") {
        if let Some(v) = Version::from_hex(mem.read_u32(addr.wrapping_add(bias))? as u64) {
            return Ok(v);
        }
    }
    scan_version(file, path).ok_or_else(|| unsupported(None))
}

/// 3.13+: take the fields `_Py_DebugOffsets` covers from the live runtime rather than the table.
fn apply_debug_offsets(
    layout: &mut Layout,
    mem: &dyn Memory,
    runtime: u64,
) -> Result<(), FindError> {
    let Some(ix) = layout.debug_offsets else {
        return Ok(());
    };
    let field = |index: u64| mem.read_u64(runtime + 8 * index);
    let rt = &mut layout.runtime;
    rt.interpreters = layout::InterpretersHead::Runtime(field(ix.interpreters_head)?);
    rt.interp_next = field(ix.interp_next)?;
    rt.interp_threads_head = field(ix.interp_threads_head)?;
    rt.gc_state = layout::GcState::Interpreter(field(ix.interp_gc)?);
    rt.interp_modules = field(ix.interp_modules)?;
    rt.interp_sysdict = field(ix.interp_sysdict)?;
    rt.interp_builtins = field(ix.interp_builtins)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_hint_from_file_names() {
        assert_eq!(version_hint("/usr/lib/libpython3.11.so.1.0"), Some((3, 11)));
        assert_eq!(version_hint("/usr/bin/python3.13"), Some((3, 13)));
        assert_eq!(version_hint("/x/libpython3.7m.so.1.0"), Some((3, 7)));
        assert_eq!(version_hint("/usr/bin/python"), None);
    }
}
