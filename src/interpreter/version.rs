//! Python versions: decoding `PY_VERSION_HEX` and finding the version string in a binary.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u8,
    pub minor: u8,
    pub micro: u8,
    /// 0xA alpha, 0xB beta, 0xC release candidate, 0xF final.
    pub level: u8,
    pub serial: u8,
}

impl Version {
    /// Decode `PY_VERSION_HEX` (as in `Py_Version` and `_Py_DebugOffsets.version`).
    pub fn from_hex(hex: u64) -> Option<Version> {
        let v = Version {
            major: (hex >> 24) as u8,
            minor: (hex >> 16) as u8,
            micro: (hex >> 8) as u8,
            level: ((hex >> 4) & 0xf) as u8,
            serial: (hex & 0xf) as u8,
        };
        let plausible = (v.major == 2 || v.major == 3)
            && v.minor < 40
            && matches!(v.level, 0xA | 0xB | 0xC | 0xF)
            && hex >> 32 == 0;
        plausible.then_some(v)
    }

    /// Find `PY_VERSION` ("3.8.18") in the bytes of an interpreter binary: a NUL-terminated
    /// string, possibly merged by the linker into the tail of a longer one (such as the build
    /// prefix `/opt/python/3.8.18`), or the start of `sys.version` (`3.8.18 (default, ...`).
    /// If `hint` is given (major, minor from the file name), only that series is accepted.
    pub fn scan(bytes: &[u8], hint: Option<(u8, u8)>) -> Option<Version> {
        for i in 0..bytes.len().saturating_sub(6) {
            let c = bytes[i];
            if (c != b'2' && c != b'3') || bytes[i + 1] != b'.' {
                continue;
            }
            // Not the tail of another token (`GLIBC_2.2.5`, `1.2.3`).
            if i > 0
                && (bytes[i - 1].is_ascii_alphanumeric() || matches!(bytes[i - 1], b'.' | b'_'))
            {
                continue;
            }
            if let Some(v) = parse_version_prefix(&bytes[i..]) {
                if hint.is_none_or(|(ma, mi)| v.major == ma && v.minor == mi) {
                    return Some(v);
                }
            }
        }
        None
    }
}

/// Parse `X.Y.Z[(a|b|rc)N][+]` at the start of `s`, ended by NUL or ` (`.
fn parse_version_prefix(s: &[u8]) -> Option<Version> {
    let end = s.iter().take(24).position(|&b| b == 0 || b == b' ')?;
    if s[end] == b' ' && s.get(end + 1) != Some(&b'(') {
        return None;
    }
    let head = std::str::from_utf8(&s[..end]).ok()?.trim_end_matches('+');
    let mut parts = head.splitn(3, '.');
    let major: u8 = parts.next()?.parse().ok()?;
    let minor: u8 = parts.next()?.parse().ok()?;
    let rest = parts.next()?;
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let micro: u8 = rest[..digits_end].parse().ok()?;
    let suffix = &rest[digits_end..];
    let (level, serial) = if suffix.is_empty() {
        (0xF, 0)
    } else {
        let (lvl, n) = if let Some(n) = suffix.strip_prefix("rc") {
            (0xC, n)
        } else if let Some(n) = suffix.strip_prefix('a') {
            (0xA, n)
        } else if let Some(n) = suffix.strip_prefix('b') {
            (0xB, n)
        } else {
            return None;
        };
        (lvl, n.parse().ok()?)
    };
    Some(Version {
        major,
        minor,
        micro,
        level,
        serial,
    })
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.micro)?;
        match self.level {
            0xA => write!(f, "a{}", self.serial),
            0xB => write!(f, "b{}", self.serial),
            0xC => write!(f, "rc{}", self.serial),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_version_hex() {
        let v = Version::from_hex(0x030d12f0).unwrap();
        assert_eq!(v.to_string(), "3.13.18");
        assert_eq!(
            Version::from_hex(0x030f00a2).unwrap().to_string(),
            "3.15.0a2"
        );
        assert!(Version::from_hex(0xdeadbeef).is_none());
    }

    #[test]
    fn finds_version_string_in_binary_bytes() {
        let bytes = b"junk\x003.1.2 nope\x003.8.18 (default, Jan 1 2024, 00:00:00) \n[GCC]\x00";
        let merged = b"GLIBC_2.3.4\x00/opt/versions/3.10.13\x00python3.10\x00";
        assert_eq!(Version::scan(merged, None).unwrap().to_string(), "3.10.13");
        assert_eq!(
            Version::scan(merged, Some((3, 10))).unwrap().to_string(),
            "3.10.13"
        );
        assert_eq!(
            Version::scan(bytes, Some((3, 8))).unwrap().to_string(),
            "3.8.18"
        );
        assert!(Version::scan(bytes, Some((3, 9))).is_none());
        let rc = b"\x003.13.0rc3+ (main, ...)";
        assert_eq!(Version::scan(rc, None).unwrap().to_string(), "3.13.0rc3");
    }
}
