//! Two cores, when there are two: `join` runs one piece of work on a helper thread while the
//! caller does another, and runs both on the caller when no thread can be started (a
//! container's pids limit), so that heapsnap never fails for want of a thread.

use std::sync::Mutex;

/// Run `helper` on another thread and `mine` on this one; both results, `helper`'s first. A
/// panic in `helper` is raised again here.
pub fn join<A: Send, B>(helper: impl FnOnce() -> A + Send, mine: impl FnOnce() -> B) -> (A, B) {
    // Kept here, not moved into the thread, so that it can still run if the thread cannot start.
    let pending = Mutex::new(Some(helper));
    let take = || pending.lock().unwrap_or_else(|e| e.into_inner()).take();
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .spawn_scoped(scope, || take().map(|helper| helper()))
            .ok();
        let mine = mine();
        let theirs = match thread.map(|t| t.join()) {
            Some(Ok(Some(theirs))) => theirs,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            // No thread (or it found nothing to run, which cannot happen): run it here.
            _ => take()
                .map(|helper| helper())
                .expect("the helper's work runs exactly once"),
        };
        (theirs, mine)
    })
}

#[cfg(test)]
mod tests {
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
