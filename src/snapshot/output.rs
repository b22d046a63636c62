//! Writing heapsnap's files (`-o`, `--objects`, the demo's): where a path really leads, whether
//! it can be written (checked before a target is stopped), and the one writer, which never
//! leaves a truncated file behind and creates files readable by their owner only (mode 0600:
//! snapshots name a process's modules, paths and object layout). A name ending in `.gz` or
//! `.zst` is written compressed ([`Compression`]).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::fd::{BorrowedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The mode of every file heapsnap creates.
pub const FILE_MODE: u32 = 0o600;

/// How many symbolic links are followed (the kernel's own limit is 40).
const MAX_LINKS: usize = 40;

/// Where the bytes written to a path go.
#[derive(Debug, PartialEq, Eq)]
pub enum Destination {
    /// One of heapsnap's own open descriptors, not a regular file (`/dev/stdout`, `/dev/fd/1`,
    /// `/proc/self/fd/1` into a pipe or a socket): written through a duplicate of it. Opening
    /// the path would fail for a socket, and reading the link gives `pipe:[N]`, not a path.
    Descriptor(RawFd),
    /// An existing pipe or device: opened and written in place (a rename would replace it).
    InPlace(PathBuf),
    /// A regular file, existing or not, symbolic links followed: written to `FILE.partial`,
    /// then renamed over it.
    Replace(PathBuf),
}

/// Where writing `path` leads. Symbolic links are followed, even dangling ones (the file they
/// name is written, the link stays); a directory is an error.
pub fn destination(path: &Path) -> io::Result<Destination> {
    let mut path = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        if let Some(fd) = own_descriptor(&path) {
            if std::fs::metadata(&path).is_ok_and(|m| !m.is_file()) {
                return Ok(Destination::Descriptor(fd));
            }
        }
        match std::fs::read_link(&path) {
            Ok(target) => path = path.parent().unwrap_or(Path::new("")).join(target),
            Err(_) => break,
        }
    }
    match std::fs::metadata(&path) {
        Ok(m) if m.is_dir() => Err(io::Error::from_raw_os_error(libc::EISDIR)),
        Ok(m) if !m.is_file() => Ok(Destination::InPlace(path)),
        _ => Ok(Destination::Replace(path)),
    }
}

/// The descriptor number if `path` names one of this process's descriptors
/// (`/proc/self/fd/N`, `/dev/fd/N`, `/proc/<own pid>/fd/N`, `/proc/thread-self/fd/N`).
fn own_descriptor(path: &Path) -> Option<RawFd> {
    let fd: RawFd = path.file_name()?.to_str()?.parse().ok()?;
    let folder = std::fs::canonicalize(path.parent()?).ok()?;
    let own = Path::new("/proc").join(std::process::id().to_string());
    let rest = folder.strip_prefix(&own).ok()?;
    let mut parts = rest.iter();
    let is_fd_folder = match (parts.next()?.to_str()?, parts.next(), parts.next()) {
        ("fd", None, None) => true,
        ("task", Some(_), Some(fd)) => fd == "fd" && parts.next().is_none(),
        _ => false,
    };
    is_fd_folder.then_some(fd)
}

/// Whether `a` and `b` lead to the same file: the same inode when both exist, else the same
/// place once links and folders are resolved.
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let place = |p: &Path| match destination(p).ok()? {
        Destination::Replace(file) => {
            let folder = file.parent().filter(|f| !f.as_os_str().is_empty());
            Some(
                std::fs::canonicalize(folder.unwrap_or(Path::new(".")))
                    .ok()?
                    .join(file.file_name()?),
            )
        }
        _ => None,
    };
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        (Err(_), Err(_)) => place(a).is_some_and(|p| Some(p) == place(b)),
        _ => false,
    }
}

/// Whether `path` can be written, without writing anything: for a regular file, its folder
/// must exist and be writable; a pipe or device must be writable itself. The error says why.
pub fn check_writable(path: &Path) -> io::Result<()> {
    use nix::unistd::{access, AccessFlags};
    let writable = |p: &Path, how: AccessFlags| access(p, how).map_err(io::Error::from);
    match destination(path)? {
        Destination::Descriptor(_) => Ok(()),
        Destination::InPlace(p) => writable(&p, AccessFlags::W_OK),
        Destination::Replace(file) => {
            let folder = match file.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            match std::fs::metadata(folder) {
                Ok(m) if m.is_dir() => writable(folder, AccessFlags::W_OK | AccessFlags::X_OK)
                    .map_err(|e| {
                        io::Error::new(e.kind(), format!("folder {}: {e}", folder.display()))
                    }),
                Ok(_) => Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{} is not a folder", folder.display()),
                )),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Err(io::Error::new(
                    e.kind(),
                    format!("folder {} does not exist", folder.display()),
                )),
                Err(e) => Err(io::Error::new(
                    e.kind(),
                    format!("folder {}: {e}", folder.display()),
                )),
            }
        }
    }
}

/// How a file is compressed, chosen by its name (`.gz`, `.zst`), or by its first bytes when
/// read ([`Compression::of_bytes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn of_name(path: &Path) -> Compression {
        match path.extension().and_then(|e| e.to_str()) {
            Some("gz") => Compression::Gzip,
            Some("zst") => Compression::Zstd,
            _ => Compression::None,
        }
    }

    /// By the format's magic number.
    pub fn of_bytes(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// Write what `body` writes through this compression into `out`, and finish the stream.
    fn write<W: Write>(
        self,
        out: W,
        body: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<W> {
        match self {
            Compression::None => {
                let mut out = out;
                body(&mut out)?;
                Ok(out)
            }
            Compression::Gzip => {
                let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
                body(&mut gz)?;
                gz.finish()
            }
            Compression::Zstd => {
                let mut zst = zstd::stream::write::Encoder::new(out, 3)?;
                body(&mut zst)?;
                zst.finish()
            }
        }
    }

    /// A reader of the plain bytes of `file`.
    pub fn reader(self, file: File) -> io::Result<Box<dyn io::Read>> {
        Ok(match self {
            Compression::None => Box::new(file),
            Compression::Gzip => {
                Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::new(file)))
            }
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(file)?),
        })
    }
}

/// Write `path` with `body` (compressed when its name ends in `.gz` or `.zst`): through a temporary file renamed into place for a regular file
/// (an interrupted or failed write never leaves a truncated file, nor destroys the previous
/// one), directly to a pipe, socket or device (see [`destination`]). New files get
/// [`FILE_MODE`].
pub fn write_atomically(
    path: &Path,
    body: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let compression = Compression::of_name(path);
    let write_all = |file: File| {
        let out = BufWriter::with_capacity(1 << 20, file);
        compression.write(out, body)?.flush()
    };
    match destination(path)? {
        Destination::Descriptor(fd) => {
            // SAFETY: `fd` was just found open in /proc/self/fd, and this process closes none
            // of its descriptors while it writes; the borrow only lasts for the duplication.
            let own = unsafe { BorrowedFd::borrow_raw(fd) };
            write_all(File::from(own.try_clone_to_owned()?))
        }
        Destination::InPlace(p) => write_all(OpenOptions::new().write(true).open(p)?),
        Destination::Replace(file) => {
            let mut partial = file.as_os_str().to_owned();
            partial.push(".partial");
            let partial = PathBuf::from(partial);
            // A stale partial file (an earlier heapsnap killed mid-write) is replaced, not
            // reused, so that its mode and owner are not inherited.
            match std::fs::remove_file(&partial) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            let written = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(FILE_MODE)
                .open(&partial)
                .and_then(write_all);
            match written {
                Ok(()) => std::fs::rename(&partial, &file),
                Err(e) => {
                    let _ = std::fs::remove_file(&partial);
                    Err(e)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_descriptors_are_recognised_whatever_the_spelling() {
        for spelling in ["/proc/self/fd/2", "/dev/fd/2", "/proc/thread-self/fd/2"] {
            assert_eq!(own_descriptor(Path::new(spelling)), Some(2), "{spelling}");
        }
        let own = format!("/proc/{}/fd/2", std::process::id());
        assert_eq!(own_descriptor(Path::new(&own)), Some(2));
        // Another process's descriptors (pid 1's) and ordinary numbered files are not ours.
        assert_eq!(own_descriptor(Path::new("/proc/1/fd/2")), None);
        assert_eq!(own_descriptor(Path::new("/tmp/2")), None);
    }

    #[test]
    fn a_missing_folder_is_named() {
        let e = check_writable(Path::new("/nonexistent-heapsnap-folder/a.json")).unwrap_err();
        assert!(
            e.to_string()
                .contains("folder /nonexistent-heapsnap-folder does not exist"),
            "{e}"
        );
        assert!(check_writable(Path::new("/")).is_err());
    }
}
