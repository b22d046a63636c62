//! Two cores, when there are two, and never more: `join` runs one piece of work on a helper
//! thread while the caller does another. The process has one helper thread at a time (a census
//! must not take over a production host): when it is busy, or when no thread can be started (a
//! container's pids limit), both pieces run on the caller, the helper's first, so that heapsnap
//! never fails for want of a thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Whether the process's helper thread is running.
static HELPER_BUSY: AtomicBool = AtomicBool::new(false);

/// The right to run the helper thread, given back on drop.
struct HelperSlot;

impl HelperSlot {
    fn take() -> Option<HelperSlot> {
        HELPER_BUSY
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| HelperSlot)
    }
}

impl Drop for HelperSlot {
    fn drop(&mut self) {
        HELPER_BUSY.store(false, Ordering::Release);
    }
}

/// Run `helper` on the helper thread and `mine` on this one; both results, `helper`'s first.
/// Without a helper thread, `helper` runs here, then `mine`. A panic in `helper` is raised
/// again here.
pub fn join<A: Send, B>(helper: impl FnOnce() -> A + Send, mine: impl FnOnce() -> B) -> (A, B) {
    let Some(slot) = HelperSlot::take() else {
        return (helper(), mine());
    };
    // Kept here, not moved into the thread, so that it can still run if the thread cannot start.
    let pending = Mutex::new(Some(helper));
    let take = || lock(&pending).take();
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .spawn_scoped(scope, move || {
                let theirs = take().map(|helper| helper());
                // Free for another piece of work as soon as this one is done (the caller's
                // may go on for much longer).
                drop(slot);
                theirs
            })
            .ok();
        let Some(thread) = thread else {
            let theirs = take().map(|helper| helper());
            let theirs = theirs.expect("a helper that did not start is still pending");
            return (theirs, mine());
        };
        let mine = mine();
        match thread.join() {
            Ok(theirs) => (
                theirs.expect("the helper thread found its work pending"),
                mine,
            ),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Both threads take items from `items` in turn until none is left: `helper` handles those
/// the helper thread takes, `mine` those this one takes (all of them without a helper thread).
pub fn share<T: Send>(
    items: impl Iterator<Item = T> + Send,
    mut helper: impl FnMut(T) + Send,
    mut mine: impl FnMut(T),
) {
    let items = Mutex::new(items);
    let next = || lock(&items).next();
    join(
        || {
            while let Some(item) = next() {
                helper(item);
            }
        },
        || {
            while let Some(item) = next() {
                mine(item);
            }
        },
    );
}

/// Lock `m`, also after a panic of another thread holding it (heapsnap never panics on
/// purpose; such a panic is raised again where that thread is joined).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    #[test]
    fn one_helper_thread_at_a_time() {
        let here = || std::thread::current().id();
        // Hold the slot as a running helper would (waiting for any other test's join to end).
        let slot = loop {
            match super::HelperSlot::take() {
                Some(slot) => break slot,
                None => std::thread::yield_now(),
            }
        };
        let (helper, mine) = super::join(here, here);
        assert_eq!(
            helper, mine,
            "a join while the helper thread is busy runs both pieces on its caller"
        );
        drop(slot);
        // Free again: a join gets a helper thread (other tests' joins may take it for a while).
        let start = Instant::now();
        let mut threads = (here(), here());
        while threads.0 == threads.1 && start.elapsed() < Duration::from_secs(5) {
            threads = super::join(here, here);
        }
        assert_ne!(threads.0, threads.1);
    }

    #[test]
    fn shared_items_are_each_handled_once() {
        let (mut theirs, mut ours) = (Vec::new(), Vec::new());
        super::share(0..10_000, |i| theirs.push(i), |i| ours.push(i));
        let mut all: Vec<i32> = theirs.into_iter().chain(ours).collect();
        all.sort_unstable();
        assert_eq!(all, (0..10_000).collect::<Vec<_>>());
    }

    #[test]
    fn both_results_come_back_in_order() {
        let mut written = [0u32; 2];
        let (left, right) = written.split_at_mut(1);
        let (a, b) = super::join(
            || {
                left[0] = 1;
                "helper"
            },
            || {
                right[0] = 2;
                "mine"
            },
        );
        assert_eq!((a, b), ("helper", "mine"));
        assert_eq!(written, [1, 2]);
    }
}
