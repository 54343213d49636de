//! A restore starts the users with the most items first, so that a big user does not start
//! last and leave the other jobs idle; its report keeps the backup's order. The backup is
//! the one the real core's bin/backup.js wrote of a live install (live-reference).

mod archive_support;

use std::collections::HashMap;
use std::sync::Mutex;

use archive_support::*;
use pryv_backup::engines::sqlite::SqliteEngine;
use pryv_backup::model::UserRef;
use pryv_backup::progress::Progress;
use pryv_backup::restore::{self, RestoreOptions};

/// The order in which users start.
#[derive(Default)]
struct Starts(Mutex<Vec<String>>);

impl Progress for Starts {
    fn user_started(&self, user: &UserRef) {
        if let Ok(mut started) = self.0.lock() {
            started.push(user.user_id.clone());
        }
    }
}

#[test]
fn the_users_with_the_most_items_are_restored_first() {
    let archive = testbed::fixture("live-reference/backup-by-reference");
    let chain = open_local_chain(&archive);
    let counts: HashMap<&str, u64> = chain.item_counts().unwrap();
    let in_backup: Vec<String> = chain.users().into_iter().map(|u| u.user_id).collect();
    let mut biggest_first = in_backup.clone();
    biggest_first.sort_by_key(|id| std::cmp::Reverse(counts[id.as_str()]));
    assert_ne!(
        biggest_first, in_backup,
        "the fixture's users must not already be in that order"
    );

    let work = tempfile::tempdir().unwrap();
    let target = SqliteEngine::open_with_fs_attachments(work.path()).unwrap();
    let starts = Starts::default();
    let report = restore::run(
        &target,
        &chain,
        &archive,
        &RestoreOptions {
            jobs: 1,
            ..Default::default()
        },
        &starts,
    )
    .unwrap();

    // (Platform entries have no place in SQLite: only the users are restored here.)
    assert_eq!(report.restored.len(), in_backup.len(), "{report:?}");
    assert_eq!(*starts.0.lock().unwrap(), biggest_first);
    let restored: Vec<String> = report.restored.into_iter().map(|u| u.user_id).collect();
    assert_eq!(restored, in_backup);
}
