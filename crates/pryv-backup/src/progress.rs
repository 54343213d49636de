//! How long-running work reports what it is doing; the CLI draws bars, tests ignore it.

use crate::model::UserRef;

pub trait Progress: Send + Sync {
    /// A phase of the run begins ("building the indexes", "writing the manifest"): work
    /// that may take a while with no user or item to count.
    fn phase(&self, _name: &str) {}
    /// `total` users are about to be processed.
    fn start(&self, _total: usize) {}
    fn user_started(&self, _user: &UserRef) {}
    /// One user is done, `ok` or not.
    fn user_finished(&self, _user: &UserRef, _ok: bool) {}
    /// A line worth telling the operator (fallback to full backup, skipped user, ...).
    fn note(&self, _message: &str) {}
    /// About `total` items will be processed (known for restores, not for backups).
    fn expect_items(&self, _total: u64) {}
    /// `items` more items and `bytes` more raw bytes (items and attachments) are done: a big
    /// user shows progress too.
    fn items_done(&self, _items: u64, _bytes: u64) {}
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {}
