//! Users processed in parallel by a few worker threads, for backup and restore alike.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::model::UserRef;
use crate::progress::Progress;
use crate::{Error, Result};

/// Runs `work` for every user on up to `jobs` threads, telling `progress`. Slot `i` holds
/// user `i`'s result; users not started once one failed with an error that `stops_all`
/// accepts stay `None`.
pub(crate) fn per_user<R: Send>(
    users: &[UserRef],
    jobs: usize,
    stops_all: impl Fn(&Error) -> bool + Sync,
    progress: &dyn Progress,
    work: impl Fn(&UserRef) -> Result<R> + Sync,
) -> Result<Vec<Option<Result<R>>>> {
    in_parallel(users, jobs, stops_all, |user| {
        progress.user_started(user);
        let result = work(user);
        // A user cut short by a stop request did not fail: the run's stop message says so.
        if result.is_ok() || crate::interrupt::requested().is_none() {
            progress.user_finished(user, result.is_ok());
        }
        result
    })
}

/// Runs `work` for every item on up to `jobs` threads, each taking the next item not yet
/// started; a signal stops the taking of new items, and the run then fails as interrupted.
/// Slot `i` holds item `i`'s result; items not started once one failed with an error that
/// `stops_all` accepts stay `None`.
pub(crate) fn in_parallel<T: Sync, R: Send, E: Send>(
    items: &[T],
    jobs: usize,
    stops_all: impl Fn(&E) -> bool + Sync,
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
                let stopped =
                    crate::interrupt::requested().is_some() || failed.load(Ordering::SeqCst);
                if i >= items.len() || stopped {
                    break;
                }
                let result = work(&items[i]);
                if result.as_ref().is_err_and(&stops_all) {
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
