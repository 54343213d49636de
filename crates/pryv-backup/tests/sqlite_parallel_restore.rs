//! Many users restored into one SQLite install at once: every worker updates the shared
//! users index (`user-index.db`); none may fail on another's lock.

use std::sync::{Arc, Barrier};

use pryv_backup::engine::{Engine, ImportOptions, MemoryUser};
use pryv_backup::engines::filesystem::FsAttachments;
use pryv_backup::engines::sqlite::SqliteEngine;
use pryv_backup::model::{Collection, UserRef};
use serde_json::json;

const USERS: usize = 40;
const JOBS: usize = 8;
const ROUNDS: usize = 3;

fn small_user(i: usize) -> (UserRef, MemoryUser) {
    let user = UserRef {
        user_id: format!("cparallel{i:05}user"),
        username: format!("parallel-{i}"),
    };
    let mut data = MemoryUser::default();
    data.collections.insert(
        Collection::Streams,
        vec![
            json!({"id": "diary", "name": "Diary", "parentId": null, "created": 1.0,
                    "createdBy": "a", "modified": 1.0, "modifiedBy": "a"}),
        ],
    );
    (user, data)
}

/// 40 users on 8 threads released together, into an empty install each round (the case where
/// the first workers also create the index): every user restores and is listed.
#[test]
fn sqlite_parallel_restore_never_trips_on_the_users_index() {
    let users: Vec<_> = (0..USERS).map(small_user).collect();
    for round in 0..ROUNDS {
        let dir = tempfile::tempdir().unwrap();
        let engine = SqliteEngine::open(dir.path(), Arc::new(FsAttachments::new(dir.path())))
            .expect("open engine");
        let start = Barrier::new(JOBS);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let failures = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..JOBS {
                scope.spawn(|| {
                    start.wait();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let Some((user, data)) = users.get(i) else {
                            break;
                        };
                        if let Err(e) = engine.import_user(user, data, &ImportOptions::default()) {
                            failures
                                .lock()
                                .unwrap()
                                .push(format!("{}: {e}", user.username));
                        }
                    }
                });
            }
        });
        let failures = failures.into_inner().unwrap();
        assert!(failures.is_empty(), "round {round}: {failures:#?}");
        assert_eq!(engine.users().unwrap().len(), USERS, "round {round}");
    }
}

/// SQLite refuses to switch a file still in rollback mode to WAL while another connection
/// writes it, at once and without waiting: that is how a users index another worker has just
/// created looks. The restore waits for the writer instead of failing the user.
#[test]
fn sqlite_restore_waits_for_a_writer_of_a_new_users_index() {
    let dir = tempfile::tempdir().unwrap();
    let engine = SqliteEngine::open(dir.path(), Arc::new(FsAttachments::new(dir.path())))
        .expect("open engine");
    // Created as a fresh connection creates it: rollback mode, then written to.
    let other = rusqlite::Connection::open(dir.path().join("user-index.db")).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (user, data) = small_user(0);
    let (done, result) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        let (engine, user, data) = (&engine, &user, &data);
        scope.spawn(move || done.send(engine.import_user(user, data, &ImportOptions::default())));
        // While the other connection writes, the restore can neither finish nor fail; without
        // the fix it fails in well under a millisecond.
        if let Ok(early) = result.recv_timeout(std::time::Duration::from_secs(2)) {
            panic!("the restore ended while another connection wrote the index: {early:?}");
        }
        other.execute_batch("COMMIT").unwrap();
        result
            .recv()
            .unwrap()
            .expect("the restore once the other writer is done");
    });
    assert_eq!(engine.users().unwrap(), vec![user]);
}
