//! Bytes from a core file (`gcore`, or a kernel core dump): the same questions a live process
//! answers — its mappings, the bytes at an address — answered from an ELF core.
//!
//! The core's `PT_LOAD` segments are the process's memory areas (address, size, permissions,
//! and the bytes the core holds); its notes say which files were mapped where (`NT_FILE`,
//! standing in for `/proc/<pid>/maps`), the threads (`NT_PRSTATUS`, with the pid) and the
//! entry point (`NT_AUXV`, which names the executable). Bytes a segment does not hold
//! (read-only file mappings that `gcore` and the kernel leave out) are read from the mapped
//! file itself, under `--sysroot` for a core read on another host.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::maps::{FileRoot, Mapping};
use super::{Memory, MemoryError};

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const NT_PRSTATUS: u32 = 1;
const NT_AUXV: u32 = 6;
const NT_FILE: u32 = 0x4649_4c45;
const AT_ENTRY: u64 = 9;
/// `e_phnum` when the count is in section 0's `sh_info`.
const PN_XNUM: u16 = 0xffff;
/// Notes bigger than this are not read (a real core's are a few MB at most).
const MAX_NOTES: u64 = 256 << 20;

/// Why a file cannot be read as a core.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{path}: not an ELF core file ({why})")]
    NotCore { path: String, why: String },
    #[error("{path}: damaged core file ({why})")]
    Damaged { path: String, why: String },
}

/// One memory area of the core.
#[derive(Debug, Clone)]
struct Segment {
    start: u64,
    end: u64,
    /// Where its bytes are in the core, and how many the core holds (from `start`).
    offset: u64,
    held: u64,
    /// The file mapped there, and the file offset of `start` (from `NT_FILE`).
    file: Option<(String, u64)>,
}

/// An opened core file: its memory areas and what its notes say.
pub struct CoreFile {
    path: String,
    core: File,
    segments: Vec<Segment>,
    pub mappings: Vec<Mapping>,
    pub pid: i32,
    pub threads: usize,
    /// The executable (the file mapped at the entry point), or empty if the notes do not say.
    pub executable: String,
    files: FileRoot,
    opened: Mutex<HashMap<String, Option<Arc<File>>>>,
}

fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Whether the file at `path` is an ELF core (its header says `ET_CORE`).
pub fn is_core(path: &Path) -> bool {
    let mut header = [0u8; 18];
    File::open(path)
        .and_then(|f| f.read_exact_at(&mut header, 0))
        .is_ok()
        && header.starts_with(b"\x7fELF")
        && le_u16(&header, 16) == 4
}

impl CoreFile {
    /// Open the core at `path`; mapped files are read under `sysroot` when given.
    pub fn open(path: &Path, sysroot: Option<&Path>) -> Result<CoreFile, CoreError> {
        let name = path.display().to_string();
        let io = |error| CoreError::Io {
            path: name.clone(),
            error,
        };
        let not_core = |why: &str| CoreError::NotCore {
            path: name.clone(),
            why: why.into(),
        };
        let damaged = |why: String| CoreError::Damaged {
            path: name.clone(),
            why,
        };
        let core = File::open(path).map_err(io)?;
        let size = core.metadata().map_err(io)?.len();
        let mut ehdr = [0u8; 64];
        core.read_exact_at(&mut ehdr, 0)
            .map_err(|_| not_core("shorter than an ELF header"))?;
        if !ehdr.starts_with(b"\x7fELF") {
            return Err(not_core("no ELF magic"));
        }
        if ehdr[4] != 2 || ehdr[5] != 1 || le_u16(&ehdr, 18) != 62 {
            return Err(not_core("not a 64-bit little-endian x86-64 file"));
        }
        if le_u16(&ehdr, 16) != 4 {
            return Err(not_core(
                "an ELF file, but not a core (e_type is not ET_CORE)",
            ));
        }
        let phoff = le_u64(&ehdr, 32);
        let phentsize = u64::from(le_u16(&ehdr, 54));
        let mut phnum = u64::from(le_u16(&ehdr, 56));
        if phnum == u64::from(PN_XNUM) {
            // The count is in section 0's sh_info.
            let shoff = le_u64(&ehdr, 40);
            let mut shdr = [0u8; 64];
            core.read_exact_at(&mut shdr, shoff)
                .map_err(|_| damaged("section 0 is missing".into()))?;
            phnum = u64::from(le_u32(&shdr, 44));
        }
        if phentsize < 56 || phoff.saturating_add(phnum * phentsize) > size {
            return Err(damaged("program headers out of the file".into()));
        }
        let mut phdrs = vec![0u8; (phnum * phentsize) as usize];
        core.read_exact_at(&mut phdrs, phoff).map_err(io)?;
        let mut segments = Vec::new();
        let mut flags = Vec::new();
        let mut notes = Vec::new();
        for ph in phdrs.chunks_exact(phentsize as usize) {
            let (kind, offset, vaddr) = (le_u32(ph, 0), le_u64(ph, 8), le_u64(ph, 16));
            let (filesz, memsz) = (le_u64(ph, 32), le_u64(ph, 40));
            match kind {
                PT_LOAD if memsz > 0 => {
                    segments.push(Segment {
                        start: vaddr,
                        end: vaddr.saturating_add(memsz),
                        offset,
                        // What the core holds of it (a core cut short holds less).
                        held: filesz.min(size.saturating_sub(offset)),
                        file: None,
                    });
                    flags.push(le_u32(ph, 4));
                }
                PT_NOTE if filesz <= MAX_NOTES && offset.saturating_add(filesz) <= size => {
                    let mut bytes = vec![0u8; filesz as usize];
                    core.read_exact_at(&mut bytes, offset).map_err(io)?;
                    notes.push(bytes);
                }
                _ => {}
            }
        }
        if segments.is_empty() {
            return Err(damaged("no memory segments".into()));
        }
        let mut found = Notes::default();
        for bytes in &notes {
            found.read(bytes);
        }
        let mut segments: Vec<(Segment, u32)> = segments.into_iter().zip(flags).collect();
        for (segment, _) in &mut segments {
            segment.file = found
                .files
                .iter()
                .find(|f| f.0 <= segment.start && segment.start < f.1)
                .map(|f| (f.3.clone(), f.2 + (segment.start - f.0)));
        }
        // Files mapped where the core holds no segment (gcore leaves out read-only file
        // mappings): their bytes are the file's, readable, not writable.
        for (start, end, offset, path) in &found.files {
            if !segments
                .iter()
                .any(|(s, _)| s.start < *end && *start < s.end)
            {
                let segment = Segment {
                    start: *start,
                    end: *end,
                    offset: 0,
                    held: 0,
                    file: Some((path.clone(), *offset)),
                };
                segments.push((segment, 4));
            }
        }
        segments.sort_by_key(|(s, _)| s.start);
        let mappings = segments
            .iter()
            .map(|(s, flags)| Mapping {
                start: s.start,
                end: s.end,
                readable: flags & 4 != 0,
                writable: flags & 2 != 0,
                executable: flags & 1 != 0,
                shared: false,
                offset: s.file.as_ref().map_or(0, |f| f.1),
                path: s.file.as_ref().map(|f| f.0.clone()).unwrap_or_default(),
            })
            .collect::<Vec<_>>();
        let executable = found
            .entry
            .and_then(|entry| mappings.iter().find(|m| m.start <= entry && entry < m.end))
            .map(|m| m.path.clone())
            .unwrap_or_default();
        Ok(CoreFile {
            path: name,
            core,
            segments: segments.into_iter().map(|(s, _)| s).collect(),
            mappings,
            pid: found.pid,
            threads: found.threads,
            executable,
            files: match sysroot {
                Some(dir) => FileRoot::Sysroot(dir.to_path_buf()),
                None => FileRoot::Host,
            },
            opened: Mutex::new(HashMap::new()),
        })
    }

    /// The core's own path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Where the files the process mapped are opened from.
    pub fn files(&self) -> &FileRoot {
        &self.files
    }

    /// The mapped file `path`, opened once (None if it cannot be).
    fn mapped_file(&self, path: &str) -> Option<Arc<File>> {
        let mut opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        opened
            .entry(path.to_string())
            .or_insert_with(|| File::open(self.files.locate(path)).ok().map(Arc::new))
            .clone()
    }

    /// Copies of the areas a live capture would copy (writable private memory, adjacent
    /// areas merged), read from the core: the image the walk runs on.
    pub fn writable_regions(&self) -> Vec<(u64, Vec<u8>)> {
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for m in self.mappings.iter().filter(|m| super::image::wants_copy(m)) {
            match ranges.last_mut() {
                Some(last) if last.1 == m.start => last.1 = m.end,
                _ => ranges.push((m.start, m.end)),
            }
        }
        ranges
            .into_iter()
            .filter_map(|(start, end)| {
                let mut data = vec![0u8; (end - start) as usize];
                self.read(start, &mut data).ok()?;
                Some((start, data))
            })
            .collect()
    }

    /// Fill `out` from the segment `s`, starting `at` bytes into it.
    fn read_in(&self, s: &Segment, at: u64, out: &mut [u8]) -> Result<(), MemoryError> {
        let unreadable = MemoryError::Unreadable {
            addr: s.start + at,
            len: out.len(),
        };
        let in_core = (s.held.saturating_sub(at) as usize).min(out.len());
        if in_core > 0 {
            self.core
                .read_exact_at(&mut out[..in_core], s.offset + at)
                .map_err(|_| unreadable.clone())?;
        }
        if in_core == out.len() {
            return Ok(());
        }
        // The rest is not in the core: the mapped file's bytes, if a file is mapped there.
        let (path, file_offset) = s.file.as_ref().ok_or(unreadable.clone())?;
        let file = self.mapped_file(path).ok_or(unreadable.clone())?;
        let rest = at + in_core as u64;
        file.read_exact_at(&mut out[in_core..], file_offset + rest)
            .map_err(|_| unreadable)
    }
}

impl Memory for CoreFile {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        let mut done = 0usize;
        while done < buf.len() {
            let at = addr.wrapping_add(done as u64);
            let i = self.segments.partition_point(|s| s.end <= at);
            let s =
                self.segments
                    .get(i)
                    .filter(|s| s.start <= at)
                    .ok_or(MemoryError::Unreadable {
                        addr,
                        len: buf.len(),
                    })?;
            let n = ((s.end - at) as usize).min(buf.len() - done);
            self.read_in(s, at - s.start, &mut buf[done..done + n])?;
            done += n;
        }
        Ok(())
    }
}

/// What the notes of a core say.
#[derive(Default)]
struct Notes {
    pid: i32,
    threads: usize,
    entry: Option<u64>,
    /// (start, end, file offset, path) of each mapped file.
    files: Vec<(u64, u64, u64, String)>,
}

impl Notes {
    /// Read one `PT_NOTE` segment (malformed notes end the reading quietly).
    fn read(&mut self, bytes: &[u8]) {
        let align = |n: usize| n.div_ceil(4) * 4;
        let mut at = 0usize;
        while at + 12 <= bytes.len() {
            let namesz = le_u32(bytes, at) as usize;
            let descsz = le_u32(bytes, at + 4) as usize;
            let kind = le_u32(bytes, at + 8);
            let desc_at = at + 12 + align(namesz);
            let Some(desc) = bytes.get(desc_at..desc_at.saturating_add(descsz)) else {
                return;
            };
            match kind {
                // struct elf_prstatus: pr_pid after the siginfo (12), cursig (2 + 2 padding)
                // and two signal masks (8 + 8).
                NT_PRSTATUS if desc.len() >= 36 => {
                    if self.threads == 0 {
                        self.pid = le_u32(desc, 32) as i32;
                    }
                    self.threads += 1;
                }
                NT_AUXV => {
                    self.entry = desc
                        .chunks_exact(16)
                        .find(|pair| le_u64(pair, 0) == AT_ENTRY)
                        .map(|pair| le_u64(pair, 8));
                }
                NT_FILE => self.files = parse_file_note(desc).unwrap_or_default(),
                _ => {}
            }
            at = desc_at + align(descsz);
        }
    }
}

/// `NT_FILE`: count, page size, count × (start, end, offset in pages), then count paths.
fn parse_file_note(desc: &[u8]) -> Option<Vec<(u64, u64, u64, String)>> {
    let count = usize::try_from(le_u64(desc.get(..16)?, 0)).ok()?;
    let page = le_u64(desc, 8);
    let table_end = 16usize.checked_add(count.checked_mul(24)?)?;
    let mut names = desc.get(table_end..)?.split(|&b| b == 0);
    (0..count)
        .map(|k| {
            let e = &desc[16 + 24 * k..16 + 24 * (k + 1)];
            let name = String::from_utf8_lossy(names.next()?).into_owned();
            Some((
                le_u64(e, 0),
                le_u64(e, 8),
                le_u64(e, 16).wrapping_mul(page),
                name,
            ))
        })
        .collect()
}
