//! How much memory heapsnap may take for its copy of the target: what the machine has available
//! (`MemAvailable`), and what the memory cgroup heapsnap runs in still allows — in a container,
//! the container's limit is what the OOM killer enforces, and it may pick the target; and
//! giving back to the system what heapsnap frees ([`return_freed_memory`]).

use std::path::{Path, PathBuf};

/// Memory heapsnap can still use, and what bounds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headroom {
    pub bytes: u64,
    /// The memory cgroup whose limit is the tighter bound, or `None` for the machine's memory.
    pub cgroup: Option<String>,
}

/// The smaller of the machine's available memory and the room left under the memory limit of
/// heapsnap's cgroup and its ancestors (cgroup v2 or v1). `None` if neither can be read.
pub fn headroom() -> Option<Headroom> {
    let machine = available_memory().map(|bytes| Headroom {
        bytes,
        cgroup: None,
    });
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let limited = cgroup_dirs(&cgroups)
        .into_iter()
        .filter_map(|(dir, name)| {
            cgroup_room(&dir).map(|bytes| Headroom {
                bytes,
                cgroup: Some(name),
            })
        })
        .min_by_key(|h| h.bytes);
    match (machine, limited) {
        (Some(m), Some(c)) if c.bytes < m.bytes => Some(c),
        (Some(m), _) => Some(m),
        (None, c) => c,
    }
}

/// `MemAvailable` from /proc/meminfo, in bytes.
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The memory cgroup directories of this process and of its ancestors, with their names, from
/// the text of /proc/self/cgroup: the v2 hierarchy (`0::/path`) and the v1 memory controller
/// (`N:...memory...:/path`).
fn cgroup_dirs(proc_cgroup: &str) -> Vec<(PathBuf, String)> {
    let mut dirs = Vec::new();
    for line in proc_cgroup.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let root = if id == "0" && controllers.is_empty() {
            Path::new("/sys/fs/cgroup")
        } else if controllers.split(',').any(|c| c == "memory") {
            Path::new("/sys/fs/cgroup/memory")
        } else {
            continue;
        };
        let mut at = Path::new(path);
        loop {
            let relative = at.strip_prefix("/").unwrap_or(at);
            dirs.push((root.join(relative), at.display().to_string()));
            match at.parent() {
                Some(parent) if parent != at => at = parent,
                _ => break,
            }
        }
    }
    dirs
}

/// Bytes left under the limit of the cgroup at `dir`, counting reclaimable page cache
/// (inactive files) as free; `None` without a limit (or without the files).
fn cgroup_room(dir: &Path) -> Option<u64> {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
    let (limit, usage, inactive_key) = match read("memory.max") {
        Some(max) => (
            max.trim().parse::<u64>().ok()?,
            read("memory.current")?,
            "inactive_file",
        ),
        None => (
            read("memory.limit_in_bytes")?.trim().parse::<u64>().ok()?,
            read("memory.usage_in_bytes")?,
            "total_inactive_file",
        ),
    };
    // v1 writes "no limit" as a huge number rounded to pages.
    if limit >= 1 << 60 {
        return None;
    }
    let usage: u64 = usage.trim().parse().ok()?;
    let inactive = read("memory.stat")
        .and_then(|stat| {
            stat.lines()
                .find_map(|l| l.strip_prefix(inactive_key)?.trim().parse::<u64>().ok())
        })
        .unwrap_or(0);
    Some(limit.saturating_sub(usage.saturating_sub(inactive)))
}

/// Have the allocator give every big buffer (from 128 KiB) its own mapping, returned to the
/// system when it is freed. glibc's default threshold rises to the size of the biggest
/// buffer freed so far (up to 32 MiB), after which buffers of the walk come from its arenas
/// and stay resident after they are freed: W1's peak was 4–5 MB higher for it.
pub fn return_freed_memory() {
    // SAFETY: mallopt only sets a parameter of the allocator; called before heapsnap's
    // threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_v2_and_v1_memory_cgroups_with_their_ancestors() {
        let text = "12:cpu,cpuacct:/a\n4:memory:/pod/c1\n0::/user.slice/x.scope\n";
        let dirs: Vec<String> = cgroup_dirs(text)
            .into_iter()
            .map(|(d, _)| d.display().to_string())
            .collect();
        assert_eq!(
            dirs,
            [
                "/sys/fs/cgroup/memory/pod/c1",
                "/sys/fs/cgroup/memory/pod",
                "/sys/fs/cgroup/memory/",
                "/sys/fs/cgroup/user.slice/x.scope",
                "/sys/fs/cgroup/user.slice",
                "/sys/fs/cgroup/",
            ]
        );
    }
}
