//! Stopping every thread of the target for the duration of a consistent read, and always
//! resuming it.
//!
//! Threads are stopped with `PTRACE_SEIZE` + `PTRACE_INTERRUPT`, not `PTRACE_ATTACH`: no SIGSTOP
//! is ever queued, so if heapsnap dies while the target is stopped (even by SIGKILL) the kernel
//! detaches and the target simply runs on. While threads are stopped, SIGINT, SIGTERM, SIGHUP,
//! SIGQUIT and the job-control stops are blocked in heapsnap; they take effect right after the
//! target has been resumed.
//!
//! Every thread seized is released on every path (success, timeout, error): a thread that has
//! not reached its stop yet cannot be detached (`PTRACE_DETACH` needs a stopped tracee), so it
//! is waited for a little longer and detached then. The tracer is the calling thread: only it
//! may detach, and the blocked signals are its own mask, so [`Frozen`] is not `Send`.

use std::marker::PhantomData;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::ptrace;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use thiserror::Error;

/// How long one thread may take to reach its stop (a thread in uninterruptible sleep may
/// never stop; we then give up rather than hang).
pub const STOP_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a seized thread that did not stop in time is given to reach its stop (its interrupt
/// is pending) so that it can be detached. One stuck for longer stays attached until heapsnap's
/// thread exits, when the kernel detaches it.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, Error)]
pub enum FreezeError {
    #[error("process {0} does not exist")]
    NoSuchProcess(i32),
    #[error("not permitted to ptrace process {0}")]
    PermissionDenied(i32),
    #[error(
        "thread {tid} of process {pid} did not stop within {ms} ms{}",
        if *released { "" } else { " (it stays attached until heapsnap exits)" }
    )]
    Timeout {
        pid: i32,
        tid: i32,
        ms: u128,
        /// Whether the thread could be detached after all.
        released: bool,
    },
    #[error("could not stop thread {tid}: {errno}")]
    Other { tid: i32, errno: Errno },
}

/// While this value lives, every thread of the target is stopped. Dropping it resumes them.
/// It stays on the thread that made it (not `Send`): ptrace detaches only from the tracing
/// thread, and the signal mask it restores is that thread's.
pub struct Frozen {
    /// Stopped threads, with a signal to re-deliver if the stop intercepted one.
    threads: Vec<(Pid, Option<Signal>)>,
    old_mask: SigSet,
    stopped_at: Instant,
    /// How many times the thread list was read (see [`Frozen::rounds`]).
    rounds: usize,
    not_send: PhantomData<*const ()>,
}

/// `Frozen` must not be `Send`: this fails to compile if it is (two blanket implementations of
/// `AmbiguousIfSend` then apply, and the item is ambiguous).
const _: fn() = || {
    trait AmbiguousIfSend<A> {
        fn some_item() {}
    }
    impl<T: ?Sized> AmbiguousIfSend<()> for T {}
    struct IsSend;
    impl<T: ?Sized + Send> AmbiguousIfSend<IsSend> for T {}
    let _ = <Frozen as AmbiguousIfSend<_>>::some_item;
};

impl Frozen {
    /// Stop every thread of `pid`, including threads that appear while we do it.
    pub fn stop(pid: i32) -> Result<Frozen, FreezeError> {
        Frozen::stop_within(pid, STOP_TIMEOUT)
    }

    /// [`Frozen::stop`], giving each thread `timeout` to reach its stop.
    pub fn stop_within(pid: i32, timeout: Duration) -> Result<Frozen, FreezeError> {
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
            rounds: 0,
            not_send: PhantomData,
        };
        // Dropping `frozen` on an error path resumes what was stopped so far.
        loop {
            let tids = list_threads(pid)?;
            frozen.rounds += 1;
            let mut new = 0;
            for tid in tids {
                if frozen.threads.iter().any(|(t, _)| t.as_raw() == tid) {
                    continue;
                }
                if let Some(sig) = stop_thread(pid, tid, timeout)? {
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

    /// How many times the thread list was read: 2 normally (the second read finds no new
    /// thread), more when threads appeared while the others were being stopped.
    pub fn rounds(&self) -> usize {
        self.rounds
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
            release(tid, sig);
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

/// Detach a seized thread, re-delivering `sig`. A thread that is not in a stop yet (seized, its
/// interrupt pending) cannot be detached: it is waited for, up to [`RELEASE_TIMEOUT`], and
/// detached once stopped. Returns whether the thread is released (or gone).
fn release(t: Pid, sig: Option<Signal>) -> bool {
    if ptrace::detach(t, sig).is_ok() {
        return true;
    }
    let deadline = Instant::now() + RELEASE_TIMEOUT;
    loop {
        match waitpid(t, Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {}
            // Stopped by a signal: give it back.
            Ok(WaitStatus::Stopped(_, stop_sig)) => {
                return ptrace::detach(t, Some(stop_sig)).is_ok();
            }
            Ok(WaitStatus::Exited(..)) | Ok(WaitStatus::Signaled(..)) | Err(Errno::ECHILD) => {
                return true;
            }
            // The interrupt's stop, or another ptrace stop.
            Ok(_) => return ptrace::detach(t, sig).is_ok(),
            Err(_) => {}
        }
        if ptrace::detach(t, sig).is_ok() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Seize and interrupt one thread and wait, up to `timeout`, for it to stop. `Ok(None)` if it
/// exited meanwhile; otherwise the signal to re-inject at detach, if the stop swallowed one.
/// On an error the thread is released.
fn stop_thread(
    pid: i32,
    tid: i32,
    timeout: Duration,
) -> Result<Option<Option<Signal>>, FreezeError> {
    let t = Pid::from_raw(tid);
    match ptrace::seize(t, ptrace::Options::empty()) {
        Ok(()) => {}
        Err(Errno::ESRCH) => return Ok(None),
        Err(Errno::EPERM) => return Err(FreezeError::PermissionDenied(pid)),
        Err(errno) => return Err(FreezeError::Other { tid, errno }),
    }
    if let Err(errno) = ptrace::interrupt(t) {
        release(t, None);
        return if errno == Errno::ESRCH {
            Ok(None)
        } else {
            Err(FreezeError::Other { tid, errno })
        };
    }
    let deadline = Instant::now() + timeout;
    loop {
        match waitpid(t, Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {
                if Instant::now() > deadline {
                    return Err(FreezeError::Timeout {
                        pid,
                        tid,
                        ms: timeout.as_millis(),
                        released: release(t, None),
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
                release(t, None);
                return Err(FreezeError::Other { tid, errno });
            }
        }
    }
}
