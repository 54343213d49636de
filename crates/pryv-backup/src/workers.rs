//! Work shared among a few worker threads (users, batches of users), for backup and restore.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::{Error, Result};

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
