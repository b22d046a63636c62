//! The ELF image that holds the interpreter: its symbols, the `.PyRuntime` section, and the
//! load bias that turns a symbol value into an address in the target.

use std::collections::HashMap;
use std::path::Path;

use goblin::elf::{header::ET_DYN, program_header::PT_LOAD, Elf};

use crate::memory::maps::Mapping;

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
    /// `wanted` says which symbol names to keep (a libpython has ~15,000; heapsnap needs ~50).
    pub fn open(path: &Path, wanted: impl Fn(&str) -> bool) -> std::io::Result<Option<ElfImage>> {
        let bytes = std::fs::read(path)?;
        let Ok(elf) = Elf::parse(&bytes) else {
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

    /// The load bias of this image in a process, from the mapping of its first page.
    pub fn load_bias(&self, mappings_of_file: &[&Mapping]) -> Option<u64> {
        if !self.relocatable {
            return Some(0);
        }
        let first = mappings_of_file.iter().find(|m| m.offset == 0)?;
        Some(first.start.wrapping_sub(self.first_load_vaddr))
    }
}
