//! A progress indicator on stderr for work that takes a while: a spinner naming the phase
//! ("copying", "walking", "reading a.json", ...) with the time so far. It appears only when
//! stderr is a terminal and the work has lasted about a second, and is cleared when the work
//! is done, leaving no trace. Nothing of it reaches a pipe or a file.
//!
//! One indicator at a time, held here, so that the library's phase observer (a plain function:
//! [`crate::capture::Options::on_phase`]) can name the phase without knowing of terminals.

use std::io::IsTerminal;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long work runs before the indicator shows.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// The indicator of the work under way, if any.
static CURRENT: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// The work under way: its indicator is cleared when this is dropped.
pub struct Progress {
    _private: (),
}

/// Start an indicator for work described by `message` (when stderr is a terminal; otherwise
/// nothing shows, ever).
pub fn start(message: impl Into<String>) -> Progress {
    if std::io::stderr().is_terminal() {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{spinner} heapsnap: {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(message.into());
        let shown = bar.clone();
        // Shown only once the work has lasted SHOW_AFTER; a thread waits for that moment. It
        // looks and shows under the lock that `Progress::drop` clears under: a bar is never
        // drawn after it was cleared.
        std::thread::spawn(move || {
            std::thread::sleep(SHOW_AFTER);
            let _current = current();
            if !shown.is_finished() {
                shown.set_draw_target(ProgressDrawTarget::stderr());
                shown.enable_steady_tick(Duration::from_millis(100));
            }
        });
        if let Some(previous) = current().replace(bar) {
            previous.finish_and_clear();
        }
    }
    Progress { _private: () }
}

/// The indicator under way, locked.
fn current() -> MutexGuard<'static, Option<ProgressBar>> {
    CURRENT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Name the phase of the work under way.
pub fn phase(message: &str) {
    if let Some(bar) = current().as_ref() {
        bar.set_message(message.to_string());
    }
}

/// Print `line` on stderr. While an indicator is drawn, the line goes above it (the indicator
/// is cleared, the line printed, the indicator redrawn below): a warning never lands on the
/// spinner's line.
pub fn eprint_line(line: &str) {
    match current().as_ref() {
        Some(bar) => bar.suspend(|| eprintln!("{line}")),
        None => eprintln!("{line}"),
    }
}

/// The observer to give the capture, so that its phases show.
pub fn phase_observer() -> Option<fn(&'static str)> {
    Some(phase)
}

impl Drop for Progress {
    fn drop(&mut self) {
        let mut current = current();
        if let Some(bar) = current.take() {
            bar.finish_and_clear();
        }
    }
}
