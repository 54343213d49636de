//! What the operator sees: logs on stderr, progress bars on a terminal, reports on stdout.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use indicatif::{ProgressBar, ProgressStyle};
use pryv_backup::model::UserRef;
use pryv_backup::progress::Progress;
use tracing_subscriber::EnvFilter;

/// `--quiet`: no progress and no informational lines on stderr; warnings, errors and the
/// report stay.
static QUIET: AtomicBool = AtomicBool::new(false);

pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// An informational line on stderr ("reading …", "restoring into …"), left out with --quiet.
pub fn info(text: std::fmt::Arguments<'_>) {
    if !QUIET.load(Ordering::Relaxed) {
        eprintln!("{text}");
    }
}

pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Colour codes only for a person at a terminal: journald and log files show them as
    // garbage. NO_COLOR (no-color.org) turns them off there too.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .init();
}

/// A progress bar on a terminal: the phase of the run with a spinner ("building the
/// indexes"), then while users are processed, items (with an ETA when their total is known,
/// as in a restore), bytes and users, so one big user shows progress too. When stderr is
/// not a terminal, one line per phase; with --json or --quiet, nothing but the notes.
pub struct UserBar {
    bar: OnceLock<ProgressBar>,
    verb: &'static str,
    enabled: bool,
    /// Phase lines on a stderr that is not a terminal (journald, a log file).
    lines: bool,
    started: std::time::Instant,
    items: AtomicU64,
    users_total: AtomicU64,
    users_done: AtomicU64,
    bytes: AtomicU64,
    /// Bytes when the message was last redrawn (redrawn every MiB, not every item).
    bytes_shown: AtomicU64,
    current: Mutex<String>,
}

const PHASE: &str = "{spinner} {msg} {elapsed}";
const ITEMS: &str = "{spinner} {msg} {human_pos} items, {per_sec}, {elapsed}";
const ITEMS_OF: &str =
    "{spinner} {msg} [{bar:25}] {human_pos}/{human_len} items, {elapsed}, ETA {eta}";

impl UserBar {
    pub fn new(verb: &'static str, json: bool) -> Self {
        let shown = !json && !QUIET.load(Ordering::Relaxed);
        let terminal = std::io::stderr().is_terminal();
        UserBar {
            bar: OnceLock::new(),
            verb,
            enabled: shown && terminal,
            lines: shown && !terminal,
            started: std::time::Instant::now(),
            items: AtomicU64::new(0),
            users_total: AtomicU64::new(0),
            users_done: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            bytes_shown: AtomicU64::new(0),
            current: Mutex::new(String::new()),
        }
    }

    /// The bar, drawn from the first phase or the start of the users on.
    fn bar(&self) -> &ProgressBar {
        self.bar.get_or_init(|| {
            let bar = ProgressBar::no_length().with_style(style(PHASE));
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        })
    }

    /// The run's last line on stderr (not with --json or --quiet): items, bytes read,
    /// duration and rate, for a restore, whose report on stdout is by user.
    pub fn finish(&self, done: &str) {
        if !self.enabled && !self.lines {
            return;
        }
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
        }
        let seconds = self.started.elapsed().as_secs_f64();
        let items = self.items.load(Ordering::Relaxed);
        eprintln!(
            "{done} {items} items and {} of attachments of {} user(s) in {seconds:.1} s ({:.0} items/s)",
            indicatif::HumanBytes(self.bytes.load(Ordering::Relaxed)),
            self.users_done.load(Ordering::Relaxed),
            items as f64 / seconds.max(0.001)
        );
    }

    fn redraw(&self) {
        if let Some(bar) = self.bar.get() {
            let user = self.current.lock().map(|u| u.clone()).unwrap_or_default();
            let bytes = self.bytes.load(Ordering::Relaxed);
            self.bytes_shown.store(bytes, Ordering::Relaxed);
            bar.set_message(format!(
                "{} {user} ({}/{} users, {})",
                self.verb,
                self.users_done.load(Ordering::Relaxed),
                self.users_total.load(Ordering::Relaxed),
                indicatif::HumanBytes(bytes)
            ));
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .progress_chars("=> ")
}

impl Progress for UserBar {
    fn phase(&self, name: &str) {
        if self.lines {
            eprintln!("{name}…");
        }
        if self.enabled {
            let bar = self.bar();
            bar.set_style(style(PHASE));
            bar.set_message(format!("{name}…"));
        }
    }

    fn start(&self, total: usize) {
        self.users_total.store(total as u64, Ordering::Relaxed);
        if !self.enabled {
            return;
        }
        self.bar().set_style(style(ITEMS));
        self.redraw();
    }

    fn expect_items(&self, total: u64) {
        if let Some(bar) = self.bar.get() {
            bar.set_length(total);
            bar.set_style(style(ITEMS_OF));
        }
    }

    fn items_done(&self, items: u64, bytes: u64) {
        self.items.fetch_add(items, Ordering::Relaxed);
        let total = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if let Some(bar) = self.bar.get() {
            bar.inc(items);
            if total - self.bytes_shown.load(Ordering::Relaxed) >= 1 << 20 {
                self.redraw();
            }
        }
    }

    fn user_started(&self, user: &UserRef) {
        tracing::info!("{} {} ({})", self.verb, user.username, user.user_id);
        if let Ok(mut current) = self.current.lock() {
            *current = user.username.clone();
        }
        self.redraw();
    }

    fn user_finished(&self, user: &UserRef, ok: bool) {
        if !ok {
            tracing::warn!("{} {} ({}) failed", self.verb, user.username, user.user_id);
        }
        self.users_done.fetch_add(1, Ordering::Relaxed);
        self.redraw();
    }

    fn note(&self, message: &str) {
        match self.bar.get() {
            Some(bar) => bar.println(message),
            None => eprintln!("{message}"),
        }
    }
}

impl Drop for UserBar {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
        }
    }
}

/// Set once stdout can no longer be written (its reader closed the pipe): the rest of the
/// report is dropped, and the command still finishes its work and exits with its own code.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

pub fn write_stdout(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(text).and_then(|()| out.flush()) {
        STDOUT_GONE.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("warning: the report could not be written to stdout: {e}");
        }
    }
}

pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
