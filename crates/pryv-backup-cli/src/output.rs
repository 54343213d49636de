//! What the operator sees: logs on stderr, progress bars on a terminal, reports on stdout.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use pryv_backup::model::UserRef;
use pryv_backup::progress::Progress;
use tracing_subscriber::EnvFilter;

pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// A progress bar of users on a terminal; plain notes on stderr otherwise (quiet logs).
pub struct UserBar {
    bar: Mutex<Option<ProgressBar>>,
    verb: &'static str,
    enabled: bool,
}

impl UserBar {
    pub fn new(verb: &'static str, json: bool) -> Self {
        UserBar {
            bar: Mutex::new(None),
            verb,
            enabled: !json && std::io::stderr().is_terminal(),
        }
    }
}

impl Progress for UserBar {
    fn start(&self, total: usize) {
        if !self.enabled {
            return;
        }
        let bar = ProgressBar::new(total as u64);
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} {msg:30} [{bar:30}] {pos}/{len} users {elapsed}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(self.verb);
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn user_started(&self, user: &UserRef) {
        tracing::info!("{} {} ({})", self.verb, user.username, user.user_id);
        if let Ok(slot) = self.bar.lock() {
            if let Some(bar) = slot.as_ref() {
                bar.set_message(format!("{} {}", self.verb, user.username));
            }
        }
    }

    fn user_finished(&self, user: &UserRef, ok: bool) {
        if !ok {
            tracing::warn!("{} {} ({}) failed", self.verb, user.username, user.user_id);
        }
        if let Ok(slot) = self.bar.lock() {
            if let Some(bar) = slot.as_ref() {
                bar.inc(1);
            }
        }
    }

    fn note(&self, message: &str) {
        match self.bar.lock().ok().and_then(|s| s.clone()) {
            Some(bar) => bar.println(message),
            None => eprintln!("{message}"),
        }
    }
}

impl Drop for UserBar {
    fn drop(&mut self) {
        if let Ok(slot) = self.bar.lock() {
            if let Some(bar) = slot.as_ref() {
                bar.finish_and_clear();
            }
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
