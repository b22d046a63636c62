//! Reading a live process's memory with `process_vm_readv` (no ptrace needed for the read
//! itself, but the same permission as ptrace).

use super::{Memory, MemoryError};

/// The memory of a live process.
pub struct ProcessMemory {
    pub pid: i32,
}

impl ProcessMemory {
    pub fn new(pid: i32) -> Self {
        ProcessMemory { pid }
    }

    /// Read as many bytes as possible from `addr` into `buf`; returns how many were read.
    /// A short count means the byte after them is not readable.
    pub fn read_partial(&self, addr: u64, buf: &mut [u8]) -> Result<usize, MemoryError> {
        let mut done = 0usize;
        while done < buf.len() {
            let local = libc::iovec {
                iov_base: buf[done..].as_mut_ptr().cast(),
                iov_len: buf.len() - done,
            };
            let remote = libc::iovec {
                iov_base: (addr + done as u64) as *mut libc::c_void,
                iov_len: buf.len() - done,
            };
            // SAFETY: `local` describes memory owned by `buf`; the remote range is only read
            // by the kernel on the target's side.
            let n = unsafe { libc::process_vm_readv(self.pid, &local, 1, &remote, 1, 0) };
            if n < 0 {
                let err = std::io::Error::last_os_error();
                return match err.raw_os_error() {
                    Some(libc::ESRCH) => Err(MemoryError::Gone(self.pid)),
                    Some(libc::EPERM) => Err(MemoryError::PermissionDenied(self.pid)),
                    Some(libc::EFAULT) if done == 0 => Ok(0),
                    Some(libc::EFAULT) => Ok(done),
                    _ => Err(MemoryError::Unreadable {
                        addr: addr + done as u64,
                        len: buf.len() - done,
                    }),
                };
            }
            if n == 0 {
                break;
            }
            done += n as usize;
        }
        Ok(done)
    }
}

impl Memory for ProcessMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        let n = self.read_partial(addr, buf)?;
        if n == buf.len() {
            Ok(())
        } else {
            Err(MemoryError::Unreadable {
                addr: addr + n as u64,
                len: buf.len() - n,
            })
        }
    }
}
