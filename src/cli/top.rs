//! `heapsnap top`: a census every few seconds, shown live in the terminal (ratatui) sorted by
//! growth, or as one plain block per sample when the standard output is not a terminal.
//!
//! Samples are taken on a thread of their own, so the keys stay responsive while a census is
//! taken; the terminal is given back on `q`, on Ctrl-C, when the target exits, and on a panic.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row, Table};
use ratatui::{DefaultTerminal, Frame};

use super::dump::capture_failure;
use super::{print_stdout, Failure, TopArgs};
use crate::capture::{capture, CaptureError, FailureKind, Options};
use crate::census::watch::{SortBy, Watch};
use crate::census::Census;
use crate::render::top::{cells, headers, plain_block, status, title, NUMBER_WIDTHS};
use crate::snapshot::Meta;

/// What a sample needs to take: only counts by type, never the objects themselves.
fn sample_options(args: &TopArgs) -> Options {
    Options::census_only(args.mode.into(), args.low_memory)
}

/// Whether a failed sample means the target is gone (the watch then ends normally).
fn target_gone(e: &CaptureError) -> bool {
    matches!(e.kind, FailureKind::NoSuchProcess | FailureKind::TargetLost)
}

pub fn run(args: &TopArgs) -> Result<(), Failure> {
    if !(args.interval > 0.0 && args.interval.is_finite()) {
        return Err(Failure::new(
            super::exit::USAGE,
            format!(
                "--interval must be a positive number of seconds, not {}",
                args.interval
            ),
        ));
    }
    if std::io::stdout().is_terminal() {
        run_screen(args)
    } else {
        run_plain(args)
    }
}

/// Until the target exits or `--samples` are taken: a census, one block printed, a wait.
fn run_plain(args: &TopArgs) -> Result<(), Failure> {
    let options = sample_options(args);
    let interval = Duration::from_secs_f64(args.interval);
    let start = Instant::now();
    let mut watch = Watch::new();
    loop {
        let began = Instant::now();
        match capture(args.pid, &options) {
            Ok(taken) => {
                watch.add(&taken.census);
                print_stdout(&plain_block(
                    &taken.meta,
                    &taken.census,
                    &watch,
                    args.sort.into(),
                    start.elapsed(),
                    args.top,
                ))?;
            }
            Err(e) if watch.samples() > 0 && target_gone(&e) => {
                eprintln!("heapsnap: process {} exited", args.pid);
                return Ok(());
            }
            Err(e) if watch.samples() > 0 => eprintln!("heapsnap: warning: sample failed: {e}"),
            Err(e) => return Err(capture_failure(e)),
        }
        if args.samples.is_some_and(|n| watch.samples() >= n) {
            return Ok(());
        }
        thread::sleep(interval.saturating_sub(began.elapsed()));
    }
}

/// What the sampling thread sends: a census, or why one could not be taken.
enum Sampled {
    Census(Box<(Meta, Census)>),
    Failed(CaptureError),
}

/// Takes a census every interval (unless paused) until told to stop.
struct Sampler {
    stop: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
    results: mpsc::Receiver<Sampled>,
    thread: thread::JoinHandle<()>,
}

impl Sampler {
    fn start(pid: i32, options: Options, interval: Duration) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let paused = Arc::new(AtomicBool::new(false));
        let (send, results) = mpsc::channel();
        let thread = {
            let (stop, paused) = (stop.clone(), paused.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let began = Instant::now();
                    if !paused.load(Ordering::Relaxed) {
                        let sampled = match capture(pid, &options) {
                            Ok(taken) => Sampled::Census(Box::new((taken.meta, taken.census))),
                            Err(e) => Sampled::Failed(e),
                        };
                        if send.send(sampled).is_err() {
                            return;
                        }
                    }
                    // Wait out the interval in short steps, so that stopping is prompt.
                    while !stop.load(Ordering::Relaxed) && began.elapsed() < interval {
                        thread::sleep(Duration::from_millis(20));
                    }
                }
            })
        };
        Sampler {
            stop,
            paused,
            results,
            thread,
        }
    }

    /// Stop, and wait for a census under way to finish (the target is never left stopped).
    fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        drop(self.results);
        let _ = self.thread.join();
    }
}

/// The terminal in raw mode on the alternate screen, given back when dropped (also when
/// unwinding from a panic).
struct Screen {
    terminal: DefaultTerminal,
}

impl Screen {
    fn enter() -> Result<Screen, Failure> {
        let fail = |e: std::io::Error| {
            Failure::new(
                super::exit::ERROR,
                format!("cannot set up the terminal: {e}"),
            )
        };
        enable_raw_mode().map_err(fail)?;
        let screen = Screen {
            terminal: ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(
                std::io::stdout(),
            ))
            .map_err(fail)?,
        };
        execute!(std::io::stdout(), EnterAlternateScreen).map_err(fail)?;
        Ok(screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = disable_raw_mode();
        let _ = execute!(std::io::stdout(), LeaveAlternateScreen);
        let _ = self.terminal.show_cursor();
    }
}

/// What the screen shows.
struct View {
    latest: Option<(Meta, Census)>,
    watch: Watch,
    sort: SortBy,
    paused: bool,
    started: Instant,
    /// The last sample that failed, shown until one succeeds.
    problem: Option<String>,
}

/// The live view, until `q`, Ctrl-C, or the target's exit.
fn run_screen(args: &TopArgs) -> Result<(), Failure> {
    let interval = Duration::from_secs_f64(args.interval);
    let sampler = Sampler::start(args.pid, sample_options(args), interval);
    let mut view = View {
        latest: None,
        watch: Watch::new(),
        sort: args.sort.into(),
        paused: false,
        started: Instant::now(),
        problem: None,
    };
    let mut screen = Screen::enter()?;
    let ended = watch_screen(&mut screen, &sampler, &mut view, args);
    drop(screen);
    sampler.finish();
    if let Ok(Ended::TargetExited) = ended {
        eprintln!("heapsnap: process {} exited", args.pid);
    }
    ended.map(|_| ())
}

/// Why the live view ended, when it ended well.
enum Ended {
    /// `q`, Esc, Ctrl-C, or `--samples` reached.
    Quit,
    TargetExited,
}

/// Draw, read keys and take in samples until the watch ends.
fn watch_screen(
    screen: &mut Screen,
    sampler: &Sampler,
    view: &mut View,
    args: &TopArgs,
) -> Result<Ended, Failure> {
    let draw_failed =
        |e: std::io::Error| Failure::new(super::exit::ERROR, format!("cannot draw: {e}"));
    loop {
        screen
            .terminal
            .draw(|frame| draw(frame, view))
            .map_err(draw_failed)?;
        while let Ok(sampled) = sampler.results.try_recv() {
            match sampled {
                // A sample that was under way when the view was paused is dropped: paused, the
                // screen stays as it was.
                Sampled::Census(_) if view.paused => {}
                Sampled::Census(taken) => {
                    view.watch.add(&taken.1);
                    view.latest = Some(*taken);
                    view.problem = None;
                }
                Sampled::Failed(e) if view.latest.is_some() && target_gone(&e) => {
                    return Ok(Ended::TargetExited);
                }
                Sampled::Failed(e) if view.latest.is_some() => {
                    view.problem = Some(format!("sample failed: {e}"));
                }
                Sampled::Failed(e) => return Err(capture_failure(e)),
            }
            if args.samples.is_some_and(|n| view.watch.samples() >= n) {
                return Ok(Ended::Quit);
            }
        }
        if !event::poll(Duration::from_millis(100)).map_err(draw_failed)? {
            continue;
        }
        if let Event::Key(key) = event::read().map_err(draw_failed)? {
            if key.kind != KeyEventKind::Press {
                continue;
            }
            match key.code {
                KeyCode::Char('q') | KeyCode::Esc => return Ok(Ended::Quit),
                KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                    return Ok(Ended::Quit)
                }
                KeyCode::Char('s') => view.sort = view.sort.next(),
                KeyCode::Char('p') | KeyCode::Char(' ') => {
                    view.paused = !view.paused;
                    sampler.paused.store(view.paused, Ordering::Relaxed);
                }
                _ => {}
            }
        }
    }
}

fn draw(frame: &mut Frame, view: &View) {
    let [title_area, status_area, table_area, keys_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let keys = format!(
        "q quit   s sort ({})   p {}",
        view.sort.describe(),
        if view.paused { "resume" } else { "pause" }
    );
    frame.render_widget(
        Line::from(keys).style(Style::new().add_modifier(Modifier::DIM)),
        keys_area,
    );
    let Some((meta, census)) = &view.latest else {
        frame.render_widget(
            Line::from("heapsnap top — taking the first census…"),
            title_area,
        );
        return;
    };
    let bold = Style::new().add_modifier(Modifier::BOLD);
    frame.render_widget(
        Line::from(title(meta, view.watch.samples(), view.started.elapsed())).style(bold),
        title_area,
    );
    let mut line = status(meta, census);
    if view.paused {
        line.push_str(" — PAUSED");
    }
    if let Some(problem) = &view.problem {
        line = format!("{line} — {problem}");
    }
    frame.render_widget(Line::from(line), status_area);
    let rows = view
        .watch
        .rows(view.sort)
        .into_iter()
        .take(table_area.height as usize)
        .map(|r| {
            Row::new(cells(&r).into_iter().enumerate().map(|(i, cell)| {
                if i == 0 {
                    Cell::from(cell)
                } else {
                    Cell::from(Line::from(cell).right_aligned())
                }
            }))
        });
    let widths = std::iter::once(Constraint::Min(12))
        .chain(NUMBER_WIDTHS.map(|w| Constraint::Length(w as u16)));
    let right = |title: String| Cell::from(Line::from(title).right_aligned());
    let [name, numbers @ ..] = headers(view.sort);
    let header = Row::new(std::iter::once(Cell::from(name)).chain(numbers.into_iter().map(right)))
        .style(bold.add_modifier(Modifier::REVERSED));
    frame.render_widget(Table::new(rows, widths).header(header), table_area);
}
