//! The target's memory mappings, from `/proc/<pid>/maps` (or a core file's notes), and where
//! the files mapped there are opened from.

use std::path::PathBuf;

/// One line of `/proc/<pid>/maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    pub readable: bool,
    pub writable: bool,
    pub executable: bool,
    /// `s` in the permissions: a shared mapping (files opened `MAP_SHARED`, `/dev/shm`, ...).
    pub shared: bool,
    pub offset: u64,
    /// The backing file or pseudo-name (`[heap]`, `[stack]`), empty for anonymous memory.
    pub path: String,
}

impl Mapping {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// Kernel-provided areas that are not process memory and cannot be copied.
    pub fn is_special(&self) -> bool {
        matches!(
            self.path.as_str(),
            "[vvar]" | "[vsyscall]" | "[vvar_vclock]"
        )
    }
}

/// Parse the text of a maps file.
pub fn parse_maps(text: &str) -> Vec<Mapping> {
    text.lines().filter_map(parse_line).collect()
}

pub(super) fn parse_line(line: &str) -> Option<Mapping> {
    let mut fields = line.splitn(6, ' ');
    let range = fields.next()?;
    let perms = fields.next()?.as_bytes();
    let offset = u64::from_str_radix(fields.next()?, 16).ok()?;
    let _dev = fields.next()?;
    let _inode = fields.next()?;
    let path = fields.next().unwrap_or("").trim_start().to_string();
    let (start, end) = range.split_once('-')?;
    if perms.len() < 3 {
        return None;
    }
    Some(Mapping {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        readable: perms[0] == b'r',
        writable: perms[1] == b'w',
        executable: perms[2] == b'x',
        shared: perms.get(3) == Some(&b's'),
        offset,
        path,
    })
}

/// Read the mappings of a live process.
pub fn read_maps(pid: i32) -> std::io::Result<Vec<Mapping>> {
    Ok(parse_maps(&std::fs::read_to_string(format!(
        "/proc/{pid}/maps"
    ))?))
}

/// Where heapsnap opens the files a target maps (its executable and libraries).
#[derive(Debug, Clone)]
pub enum FileRoot {
    /// A live process: through its own root (`/proc/<pid>/root`), so that a process in another
    /// mount namespace (a container) works; the path as named where that cannot be read.
    Process(i32),
    /// The files as named on this host (a core read where it was made).
    Host,
    /// Under this folder (a core read on another host: `--sysroot`).
    Sysroot(PathBuf),
}

impl FileRoot {
    /// The path on this host of the file the target knows as `path`.
    pub fn locate(&self, path: &str) -> PathBuf {
        match self {
            FileRoot::Process(pid) => {
                let through_root = PathBuf::from(format!("/proc/{pid}/root{path}"));
                if through_root.exists() {
                    through_root
                } else {
                    PathBuf::from(path)
                }
            }
            FileRoot::Host => PathBuf::from(path),
            FileRoot::Sysroot(dir) => dir.join(path.trim_start_matches('/')),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_backed_and_anonymous_lines() {
        let text = "55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0                          [heap]\n\
                    7f1c2a000000-7f1c2a200000 r-xp 0001c000 fe:01 1234   /usr/lib/libpython3.11.so.1.0\n\
                    7f1c2b000000-7f1c2b001000 rw-p 00000000 00:00 0 \n";
        let maps = parse_maps(text);
        assert_eq!(maps.len(), 3);
        assert_eq!(maps[0].path, "[heap]");
        assert!(maps[0].writable && !maps[0].executable);
        assert_eq!(maps[1].offset, 0x1c000);
        assert_eq!(maps[1].path, "/usr/lib/libpython3.11.so.1.0");
        assert!(maps[1].executable && !maps[1].writable);
        assert_eq!(maps[2].path, "");
        assert_eq!(maps[2].len(), 0x1000);
    }
}
