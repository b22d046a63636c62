//! Stopping every thread of the target for the duration of a consistent read, and always
//! resuming it.
//!
//! Threads are stopped with `PTRACE_SEIZE` + `PTRACE_INTERRUPT`, not `PTRACE_ATTACH`: no SIGSTOP
//! is ever queued, so if heapsnap dies while the target is stopped (even by SIGKILL) the kernel
//! detaches and the target simply runs on. While threads are stopped, SIGINT, SIGTERM, SIGHUP,
//! SIGQUIT and the job-control stops are blocked in heapsnap; they take effect right after the target has been resumed.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::ptrace;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use thiserror::Error;

/// How long one thread may take to reach its stop (a thread in uninterruptible sleep may
/// never stop; we then give up rather than hang).
const STOP_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Error)]
pub enum FreezeError {
    #[error("process {0} does not exist")]
    NoSuchProcess(i32),
    #[error("not permitted to ptrace process {0}")]
    PermissionDenied(i32),
    #[error("thread {tid} of process {pid} did not stop within {secs} s")]
    Timeout { pid: i32, tid: i32, secs: u64 },
    #[error("could not stop thread {tid}: {errno}")]
    Other { tid: i32, errno: Errno },
}

/// While this value lives, every thread of the target is stopped. Dropping it resumes them.
pub struct Frozen {
    /// Stopped threads, with a signal to re-deliver if the stop intercepted one.
    threads: Vec<(Pid, Option<Signal>)>,
    old_mask: SigSet,
    stopped_at: Instant,
}

impl Frozen {
    /// Stop every thread of `pid`, including threads that appear while we do it.
    pub fn stop(pid: i32) -> Result<Frozen, FreezeError> {
        let mut blocked = SigSet::empty();
        for s in [
            Signal::SIGINT,
            Signal::SIGTERM,
            Signal::SIGHUP,
            Signal::SIGQUIT,
            Signal::SIGTSTP,
            Signal::SIGTTIN,
            Signal::SIGTTOU,
        ] {
            blocked.add(s);
        }
        let mut old_mask = SigSet::empty();
        let _ = nix::sys::signal::pthread_sigmask(
            SigmaskHow::SIG_BLOCK,
            Some(&blocked),
            Some(&mut old_mask),
        );
        let mut frozen = Frozen {
            threads: Vec::new(),
            old_mask,
            stopped_at: Instant::now(),
        };
        // Dropping `frozen` on an error path resumes what was stopped so far.
        loop {
            let tids = list_threads(pid)?;
            let mut new = 0;
            for tid in tids {
                if frozen.threads.iter().any(|(t, _)| t.as_raw() == tid) {
                    continue;
                }
                if let Some(sig) = stop_thread(pid, tid)? {
                    if frozen.threads.is_empty() {
                        // The pause starts with the first stopped thread.
                        frozen.stopped_at = Instant::now();
                    }
                    frozen.threads.push((Pid::from_raw(tid), sig));
                    new += 1;
                }
            }
            if new == 0 {
                break;
            }
        }
        if frozen.threads.is_empty() {
            return Err(FreezeError::NoSuchProcess(pid));
        }
        Ok(frozen)
    }

    /// How long the target has been stopped so far.
    pub fn paused(&self) -> Duration {
        self.stopped_at.elapsed()
    }

    pub fn thread_count(&self) -> usize {
        self.threads.len()
    }

    /// Resume the target now; returns how long it was stopped.
    pub fn resume(self) -> Duration {
        let paused = self.stopped_at.elapsed();
        drop(self);
        paused
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        for (tid, sig) in self.threads.drain(..) {
            // ESRCH: the thread exited while stopped (killed by someone else); nothing to do.
            let _ = ptrace::detach(tid, sig);
        }
        let _ =
            nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&self.old_mask), None);
    }
}

fn list_threads(pid: i32) -> Result<Vec<i32>, FreezeError> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map_err(|_| FreezeError::NoSuchProcess(pid))?;
    Ok(dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect())
}

/// Seize and interrupt one thread and wait for it to stop. `Ok(None)` if it exited meanwhile;
/// otherwise the signal to re-inject at detach, if the stop swallowed one.
fn stop_thread(pid: i32, tid: i32) -> Result<Option<Option<Signal>>, FreezeError> {
    let t = Pid::from_raw(tid);
    match ptrace::seize(t, ptrace::Options::empty()) {
        Ok(()) => {}
        Err(Errno::ESRCH) => return Ok(None),
        Err(Errno::EPERM) => return Err(FreezeError::PermissionDenied(pid)),
        Err(errno) => return Err(FreezeError::Other { tid, errno }),
    }
    if let Err(errno) = ptrace::interrupt(t) {
        let _ = ptrace::detach(t, None);
        return if errno == Errno::ESRCH {
            Ok(None)
        } else {
            Err(FreezeError::Other { tid, errno })
        };
    }
    let deadline = Instant::now() + STOP_TIMEOUT;
    loop {
        match waitpid(t, Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {
                if Instant::now() > deadline {
                    let _ = ptrace::detach(t, None);
                    return Err(FreezeError::Timeout {
                        pid,
                        tid,
                        secs: STOP_TIMEOUT.as_secs(),
                    });
                }
                std::thread::sleep(Duration::from_micros(50));
            }
            // The interrupt's own stop.
            Ok(WaitStatus::PtraceEvent(..)) => return Ok(Some(None)),
            // A signal arrived first: the thread is stopped too; give the signal back later.
            Ok(WaitStatus::Stopped(_, sig)) => return Ok(Some(Some(sig))),
            Ok(WaitStatus::Exited(..)) | Ok(WaitStatus::Signaled(..)) | Err(Errno::ECHILD) => {
                return Ok(None)
            }
            Ok(_) => return Ok(Some(None)),
            Err(errno) => {
                let _ = ptrace::detach(t, None);
                return Err(FreezeError::Other { tid, errno });
            }
        }
    }
}
