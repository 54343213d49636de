//! A batch of users read in one snapshot (`Engine::export_users`) gives each user exactly
//! what its own export gives, on the rows a live core wrote (tests/fixtures/live-reference),
//! and a user deleted before the batch's snapshot is left out whole.

mod postgres_support;

use std::sync::Arc;

use postgres_support::{everything, export_all, live_postgres};
use pryv_backup::engine::{BatchSink, Engine, MemoryUser, UserSink};
use pryv_backup::engines::filesystem::FsAttachments;
use pryv_backup::engines::postgres::PgEngine;
use pryv_backup::model::UserRef;
use pryv_backup::{Error, Result};

/// How a user's export ended: `Err("deleted")` for a user left out.
type Ended = Option<std::result::Result<(), String>>;

/// Every user a batch began, what it got, and how it ended; `at_begin` runs as each begins.
struct Collected<'a> {
    users: Vec<(UserRef, MemoryUser, Ended)>,
    at_begin: &'a dyn Fn(&UserRef),
}

impl BatchSink for Collected<'_> {
    fn begin(&mut self, user: &UserRef) -> Result<&mut dyn UserSink> {
        (self.at_begin)(user);
        self.users.push((user.clone(), MemoryUser::default(), None));
        Ok(&mut self.users.last_mut().unwrap().1)
    }

    fn end(&mut self, user: &UserRef, exported: Result<()>) -> Result<()> {
        let last = self.users.last_mut().unwrap();
        assert_eq!(&last.0, user, "a user ends before the next begins");
        last.2 = Some(exported.map_err(|e| match e {
            Error::UserDeleted { .. } => "deleted".to_string(),
            e => e.to_string(),
        }));
        Ok(())
    }
}

#[test]
fn a_batch_gives_every_user_its_own_export_read_in_one_snapshot() {
    let (db, engine) = live_postgres();
    let one_by_one = export_all(&engine);
    assert!(one_by_one.len() >= 3, "the live install has three users");
    let users: Vec<UserRef> = one_by_one.iter().map(|(u, _)| u.clone()).collect();
    let first = users[0].clone();
    let conn_str = db.conn_str().to_string();
    // As the first user is read, an app renames an access and adds a profile set of each
    // later user (writes the core makes): the batch's snapshot was taken before, so none of
    // it is in the backup, as if each user had been read at that instant.
    let at_begin = |user: &UserRef| {
        if *user != first {
            return;
        }
        let mut client = postgres::Client::connect(&conn_str, postgres::NoTls).unwrap();
        client
            .batch_execute(&format!(
                "UPDATE accesses SET name = name || ' (renamed)' WHERE user_id <> '{0}';
                 INSERT INTO profile (user_id, id, data)
                   SELECT user_id, 'written-meanwhile', '{{}}'::jsonb FROM users_index WHERE user_id <> '{0}';",
                first.user_id
            ))
            .unwrap();
    };
    let mut batch = Collected {
        users: Vec::new(),
        at_begin: &at_begin,
    };
    let done = engine
        .export_users(&users, &|_| everything(), &mut batch)
        .unwrap();

    assert_eq!(done, users.len(), "small users all go in one batch");
    assert_eq!(batch.users.len(), users.len());
    for ((user, expected), (got_user, got, ended)) in one_by_one.iter().zip(&batch.users) {
        assert_eq!(user, got_user, "users in the order given");
        assert_eq!(ended, &Some(Ok(())), "{}", user.username);
        assert!(
            got == expected,
            "{}: the batch must export what the user's own export does",
            user.username
        );
    }
    // The writes are there for a user read alone now: the batch did not miss them by chance.
    let mut now = MemoryUser::default();
    engine
        .export_user(&users[1], &everything(), &mut now)
        .unwrap();
    assert!(now != one_by_one[1].1);
}

#[test]
fn a_user_deleted_before_the_batch_snapshot_is_left_out_whole() {
    let (mut db, engine) = live_postgres();
    let one_by_one = export_all(&engine);
    let users: Vec<UserRef> = one_by_one.iter().map(|(u, _)| u.clone()).collect();
    let gone = &users[1];
    // The core deletes a user's index entry first, then its data: caught in between.
    db.client()
        .execute(
            "DELETE FROM users_index WHERE user_id = $1",
            &[&gone.user_id],
        )
        .unwrap();
    db.client()
        .execute("DELETE FROM streams WHERE user_id = $1", &[&gone.user_id])
        .unwrap();
    let mut batch = Collected {
        users: Vec::new(),
        at_begin: &|_| {},
    };
    let done = engine
        .export_users(&users, &|_| everything(), &mut batch)
        .unwrap();

    assert_eq!(done, users.len());
    for ((user, expected), (_, got, ended)) in one_by_one.iter().zip(&batch.users) {
        if user == gone {
            assert_eq!(ended, &Some(Err("deleted".to_string())));
            assert!(
                *got == MemoryUser::default(),
                "nothing of a deleted user is exported"
            );
        } else {
            assert_eq!(ended, &Some(Ok(())), "{}", user.username);
            assert!(got == expected, "{}", user.username);
        }
    }
}

/// Sequential scans of `table` the server has counted, once every other session of the
/// database has ended (a backend's counts reach the statistics when it exits).
fn seq_scans(db: &mut testbed::TestDb, table: &str) -> i64 {
    let client = db.client();
    for _ in 0..100 {
        let others: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0);
        if others == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    client
        .batch_execute("SELECT pg_stat_clear_snapshot()")
        .unwrap();
    client
        .query_one(
            "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = $1",
            &[&table],
        )
        .unwrap()
        .get(0)
}

#[test]
fn a_batch_reads_each_user_through_the_index_even_where_few_users_own_the_rows() {
    let (mut db, engine) = live_postgres();
    // Series points as the live core keys them ('user.<username>'), most of them one user's,
    // beside many users without any: what a platform where a few users record series looks
    // like, and statistics that put every user at a third of the table.
    db.client()
        .batch_execute(
            "INSERT INTO series_data (user_id, event_id, point_time, delta_time, fields)
               SELECT s.user_id, s.event_id, s.point_time + g * 100000, s.delta_time + g * 100000, s.fields
               FROM (SELECT * FROM series_data WHERE user_id = (SELECT min(user_id) FROM series_data)) s,
                    generate_series(1, 12) AS g;
             INSERT INTO users_index (username, user_id)
               SELECT 'small' || n, 'csmall' || n FROM generate_series(1, 150) AS n;
             ANALYZE series_data; ANALYZE users_index;",
        )
        .unwrap();
    let users = engine.users().unwrap();
    assert!(users.len() > 150);
    drop(engine);
    let before = seq_scans(&mut db, "series_data");

    let files = FsAttachments::new(testbed::fixture("live-reference/source-files/users"));
    let engine = PgEngine::connect(db.conn_str(), Some(Arc::new(files))).unwrap();
    let mut rest = &users[..];
    while !rest.is_empty() {
        let mut batch = Collected {
            users: Vec::new(),
            at_begin: &|_| {},
        };
        let done = engine
            .export_users(rest, &|_| everything(), &mut batch)
            .unwrap();
        assert!(batch
            .users
            .iter()
            .all(|(_, _, ended)| ended == &Some(Ok(()))));
        rest = &rest[done..];
    }
    drop(engine);
    let scans = seq_scans(&mut db, "series_data") - before;
    assert!(
        scans < 5,
        "{scans} scans of the whole series_data table for {} users: one per user, not its index",
        users.len()
    );
}
