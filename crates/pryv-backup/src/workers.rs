//! Users processed in parallel by a few worker threads, for backup and restore alike.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::model::UserRef;
use crate::progress::Progress;
use crate::{Error, Result};

/// Runs `work` for every user on up to `jobs` threads, telling `progress`. Slot `i` holds
/// user `i`'s result; with `stop_on_error`, users not started once one failed stay `None`.
pub(crate) fn per_user<R: Send>(
    users: &[UserRef],
    jobs: usize,
    stop_on_error: bool,
    progress: &dyn Progress,
    work: impl Fn(&UserRef) -> Result<R> + Sync,
) -> Result<Vec<Option<Result<R>>>> {
    in_parallel(users, jobs, stop_on_error, |user| {
        progress.user_started(user);
        let result = work(user);
        progress.user_finished(user, result.is_ok());
        result
    })
}

/// Runs `work` for every item on up to `jobs` threads, each taking the next item not yet
/// started; a signal stops the taking of new items, and the run then fails as interrupted. Slot `i` holds item `i`'s result; with `stop_on_error`, items not started once
/// one failed stay `None`.
pub(crate) fn in_parallel<T: Sync, R: Send, E: Send>(
    items: &[T],
    jobs: usize,
    stop_on_error: bool,
    work: impl Fn(&T) -> std::result::Result<R, E> + Sync,
) -> Result<Vec<Option<std::result::Result<R, E>>>> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<std::result::Result<R, E>>>> =
        Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let stopped = crate::interrupt::requested().is_some()
                    || (stop_on_error && failed.load(Ordering::SeqCst));
                if i >= items.len() || stopped {
                    break;
                }
                let result = work(&items[i]);
                if result.is_err() {
                    failed.store(true, Ordering::SeqCst);
                }
                if let Ok(mut slots) = results.lock() {
                    slots[i] = Some(result);
                }
            });
        }
    });
    // Asked to stop: the items started are finished (or undone), the others never began.
    crate::interrupt::check()?;
    results
        .into_inner()
        .map_err(|_| Error::Other("a worker thread panicked".into()))
}
