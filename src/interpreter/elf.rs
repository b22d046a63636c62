//! The ELF image that holds the interpreter: its symbols, the `.PyRuntime` section, and the
//! load bias that turns a symbol value into an address in the target.

use std::collections::HashMap;
use std::path::Path;

use goblin::elf::{header::ET_DYN, program_header::PT_LOAD, Elf};

use crate::memory::maps::Mapping;

/// The bytes of a file, mapped read-only where the file system allows it (parsing then reads a
/// few pages of a libpython, tens of MB with its symbol table, instead of copying all of it),
/// read into memory otherwise.
pub(crate) enum FileBytes {
    Mapped { ptr: *mut libc::c_void, len: usize },
    Read(Vec<u8>),
}

impl FileBytes {
    pub(crate) fn open(path: &Path) -> std::io::Result<FileBytes> {
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len() as usize;
        if len == 0 {
            return Ok(FileBytes::Read(Vec::new()));
        }
        // SAFETY: a fresh private read-only mapping of an open file, checked for failure. The
        // mapping stays valid while mapped; if the file were truncated meanwhile (a library
        // rewritten in place), reading past its new end would raise SIGBUS: this happens
        // before the target is stopped, so at worst heapsnap dies with the target running.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                std::os::fd::AsRawFd::as_raw_fd(&file),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return std::fs::read(path).map(FileBytes::Read);
        }
        Ok(FileBytes::Mapped { ptr, len })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            // SAFETY: `ptr` maps `len` readable bytes until `drop`.
            FileBytes::Mapped { ptr, len } => unsafe {
                std::slice::from_raw_parts(*ptr as *const u8, *len)
            },
            FileBytes::Read(bytes) => bytes,
        }
    }
}

impl Drop for FileBytes {
    fn drop(&mut self) {
        if let FileBytes::Mapped { ptr, len } = *self {
            // SAFETY: unmapping exactly what `open` mapped; no borrow of it outlives `self`.
            unsafe { libc::munmap(ptr, len) };
        }
    }
}

/// What heapsnap needs from the interpreter's ELF file.
pub struct ElfImage {
    /// Symbol name → value (not yet relocated), from `.dynsym` and `.symtab`.
    symbols: HashMap<String, u64>,
    /// Address (not relocated) of the `.PyRuntime` section, 3.10+.
    pub py_runtime_section: Option<u64>,
    /// True for a position-independent image (ET_DYN).
    pub relocatable: bool,
    /// p_vaddr − p_offset of the first PT_LOAD, page aligned.
    first_load_vaddr: u64,
    /// Whether `.symtab` was present (pyenv builds) or stripped (distribution builds).
    pub has_symtab: bool,
}

impl ElfImage {
    /// Parse the file at `path`. Returns `None` if it is not a 64-bit ELF file.
    /// `wanted` says which symbol names to keep (a libpython has ~15,000; heapsnap keeps ~130: the 7 it names and the static types).
    pub fn open(path: &Path, wanted: impl Fn(&str) -> bool) -> std::io::Result<Option<ElfImage>> {
        let file = FileBytes::open(path)?;
        let Ok(elf) = Elf::parse(file.bytes()) else {
            return Ok(None);
        };
        if !elf.is_64 {
            return Ok(None);
        }
        let mut symbols = HashMap::new();
        for (syms, strtab) in [(&elf.dynsyms, &elf.dynstrtab), (&elf.syms, &elf.strtab)] {
            for sym in syms.iter() {
                if sym.st_value == 0 {
                    continue;
                }
                match strtab.get_at(sym.st_name) {
                    Some(name) if wanted(name) => {
                        symbols.entry(name.to_string()).or_insert(sym.st_value);
                    }
                    _ => {}
                }
            }
        }
        let py_runtime_section = elf
            .section_headers
            .iter()
            .find(|sh| elf.shdr_strtab.get_at(sh.sh_name) == Some(".PyRuntime"))
            .map(|sh| sh.sh_addr);
        let loads: Vec<_> = elf
            .program_headers
            .iter()
            .filter(|p| p.p_type == PT_LOAD)
            .collect();
        let first_load_vaddr = loads
            .first()
            .map(|p| (p.p_vaddr - p.p_offset) & !0xfff)
            .unwrap_or(0);
        Ok(Some(ElfImage {
            symbols,
            py_runtime_section,
            relocatable: elf.header.e_type == ET_DYN,
            first_load_vaddr,
            has_symtab: !elf.syms.is_empty(),
        }))
    }

    /// The unrelocated value of a symbol.
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.symbols.get(name).copied()
    }

    /// Every symbol kept (name, value not yet relocated).
    pub fn symbols(&self) -> impl Iterator<Item = (&str, u64)> {
        self.symbols
            .iter()
            .map(|(name, &value)| (name.as_str(), value))
    }

    /// The load bias of this image in a process, from the mapping of its first page.
    pub fn load_bias(&self, mappings_of_file: &[&Mapping]) -> Option<u64> {
        if !self.relocatable {
            return Some(0);
        }
        let first = mappings_of_file.iter().find(|m| m.offset == 0)?;
        Some(first.start.wrapping_sub(self.first_load_vaddr))
    }
}
