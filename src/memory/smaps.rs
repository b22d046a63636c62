//! Where the target's resident memory is, by kind of mapping, from `/proc/<pid>/smaps`: files
//! and code, thread stacks, and the anonymous rest (the heap and every other private mapping,
//! where Python's objects and C code's buffers live).

use super::maps::{parse_line, Mapping};

/// The target's resident set, split by kind of mapping (bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResidentMemory {
    pub rss: u64,
    /// Mapped files: executables and libraries (code and data), and any file or shared memory
    /// the process maps.
    pub files: u64,
    /// The main thread's `[stack]` and the other threads' stacks (an anonymous mapping just
    /// above its guard page, as glibc makes them).
    pub thread_stacks: u64,
    /// Everything else: `[heap]` and anonymous mappings.
    pub anonymous: u64,
}

/// The resident memory of process `pid`, by kind of mapping.
pub fn resident_memory(pid: i32) -> std::io::Result<ResidentMemory> {
    Ok(parse_smaps(&std::fs::read_to_string(format!(
        "/proc/{pid}/smaps"
    ))?))
}

/// Parse the text of an smaps file.
pub fn parse_smaps(text: &str) -> ResidentMemory {
    let mut out = ResidentMemory::default();
    let mut previous: Option<Mapping> = None;
    let mut current: Option<(Mapping, Kind)> = None;
    for line in text.lines() {
        if let Some(rss) = line.strip_prefix("Rss:") {
            let kb: u64 = rss
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .unwrap_or(0);
            if let Some((_, kind)) = &current {
                let bytes = kb * 1024;
                out.rss += bytes;
                *match kind {
                    Kind::Files => &mut out.files,
                    Kind::Stack => &mut out.thread_stacks,
                    Kind::Anonymous => &mut out.anonymous,
                } += bytes;
            }
            continue;
        }
        let Some(mapping) = line
            .split(' ')
            .next()
            .filter(|range| range.contains('-') && !range.ends_with(':'))
            .and_then(|_| parse_line(line))
        else {
            continue;
        };
        let kind = kind_of(&mapping, previous.as_ref());
        previous = Some(mapping.clone());
        current = Some((mapping, kind));
    }
    out
}

/// The largest guard area below a thread's stack taken for one (glibc's default is a page;
/// `pthread_attr_setguardsize` may ask for more).
const GUARD_MAX: u64 = 1 << 20;

enum Kind {
    Files,
    Stack,
    Anonymous,
}

/// What a mapping holds, given the mapping just below it.
fn kind_of(m: &Mapping, below: Option<&Mapping>) -> Kind {
    match m.path.as_str() {
        "[stack]" => Kind::Stack,
        "[heap]" | "" => {
            // A thread's stack: glibc maps it with a guard page (no access, a few pages at
            // most) at its low end. (The reserved tail of a malloc heap is no-access too, but
            // megabytes long.)
            let above_guard = below.is_some_and(|g| {
                g.end == m.start
                    && g.len() <= GUARD_MAX
                    && !g.readable
                    && !g.writable
                    && !g.executable
                    && g.path.is_empty()
            });
            if m.path.is_empty() && m.writable && above_guard {
                Kind::Stack
            } else {
                Kind::Anonymous
            }
        }
        _ => Kind::Files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_files_stacks_and_anonymous_memory() {
        let text = "\
55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0                          [heap]
Size:                132 kB
Rss:                 100 kB
7f1c2a000000-7f1c2a200000 r-xp 0001c000 fe:01 1234   /usr/lib/libpython3.11.so.1.0
Rss:                1000 kB
7f1c2b000000-7f1c2b001000 ---p 00000000 00:00 0
Rss:                   0 kB
7f1c2b001000-7f1c2b801000 rw-p 00000000 00:00 0
Rss:                  16 kB
7f1c2c000000-7f1c2c400000 rw-p 00000000 00:00 0
Rss:                2048 kB
VmFlags: rd wr mr mw me ac sd
7ffd0000a000-7ffd0002b000 rw-p 00000000 00:00 0                          [stack]
Rss:                  20 kB
";
        let m = parse_smaps(text);
        assert_eq!(m.files, 1000 * 1024);
        assert_eq!(m.thread_stacks, (16 + 20) * 1024);
        assert_eq!(m.anonymous, (100 + 2048) * 1024);
        assert_eq!(m.rss, m.files + m.thread_stacks + m.anonymous);
    }

    #[test]
    fn reads_this_process() {
        let m = resident_memory(std::process::id() as i32).unwrap();
        assert!(
            m.rss > 0 && m.files > 0 && m.thread_stacks > 0 && m.anonymous > 0,
            "{m:?}"
        );
    }
}
