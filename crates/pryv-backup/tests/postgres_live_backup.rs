//! A backup of a platform that keeps serving its users (issue #14). While the backup runs, a
//! second connection writes as the core would: before a user's snapshot and between the
//! collections of the user being exported, it updates, creates, trashes and deletes events,
//! streams and accesses, and one event is stamped 30 s ahead (a core whose clock runs
//! ahead of the backup host). Then:
//! - the full backup restored alone holds each user exactly as of that user's snapshot;
//! - full + incremental restored as a chain equals the final database, table by table.

mod live_write;

use std::sync::{Arc, Mutex};

use live_write::*;
use pryv_backup::engine::{Engine, ImportOptions};
use pryv_backup::engines::postgres::PgEngine;
use pryv_backup::sample;
use testbed::dump::{assert_same, dump, Dump};

/// The rows of one user only.
fn user_rows(all: &Dump, user_id: &str) -> Dump {
    let marker = format!("\"user_id\":\"{user_id}\"");
    all.iter()
        .map(|(t, rows)| {
            let rows = rows.iter().filter(|r| r.contains(&marker)).cloned();
            (t.clone(), rows.collect())
        })
        .collect()
}

/// What the core writes, through its own connection.
struct Core {
    client: Mutex<postgres::Client>,
}

impl Core {
    fn sql(&self, sql: &str) {
        self.client
            .lock()
            .unwrap()
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The id of one of the user's live events (no history copy, not deleted), by rank.
    fn event(&self, user: &str, rank: i64) -> String {
        self.client
            .lock()
            .unwrap()
            .query_one(
                "SELECT id FROM events WHERE user_id = $1 AND head_id IS NULL AND deleted IS NULL
                   AND NOT trashed ORDER BY id OFFSET $2 LIMIT 1",
                &[&user, &rank],
            )
            .unwrap_or_else(|e| panic!("no event {rank} for {user}: {e}"))
            .get(0)
    }
}

impl CoreWrites for Core {
    fn update_event(&self, user: &str, rank: i64, ahead: f64) {
        let id = self.event(user, rank);
        self.sql(&format!(
            "UPDATE events SET content = '\"changed during the backup\"', modified = {NOW} + {ahead}
               WHERE user_id = '{user}' AND id = '{id}'"
        ));
    }

    fn trash_event(&self, user: &str, rank: i64) {
        let id = self.event(user, rank);
        self.sql(&format!(
            "UPDATE events SET trashed = true, modified = {NOW} WHERE user_id = '{user}' AND id = '{id}'"
        ));
    }

    /// The core's deletion, as the live core left one (live-reference source-db, event
    /// pgu301roivvlzedln43h8h96): the row stays with its id, modification and deletion
    /// times, every other field emptied, and its event_streams rows gone.
    fn delete_event(&self, user: &str, rank: i64) {
        let id = self.event(user, rank);
        self.sql(&format!(
            "UPDATE events SET stream_ids = NULL, time = NULL, end_time = NULL, type = NULL,
                 tags = NULL, content = NULL, description = NULL, client_data = NULL,
                 attachments = NULL, trashed = NULL, created = NULL, created_by = NULL,
                 modified = {NOW}, deleted = {NOW}
               WHERE user_id = '{user}' AND id = '{id}';
             DELETE FROM event_streams WHERE user_id = '{user}' AND event_id = '{id}';"
        ));
    }

    /// A new event, in the streams of an existing one.
    fn create_event(&self, user: &str, new_id: &str) {
        let id = self.event(user, 0);
        self.sql(&format!(
            "INSERT INTO events SELECT (json_populate_record(NULL::events,
                 (row_to_json(e)::jsonb || jsonb_build_object('id', '{new_id}', 'created', {NOW}, 'modified', {NOW}))::json)).*
               FROM events e WHERE user_id = '{user}' AND id = '{id}';
             INSERT INTO event_streams SELECT (json_populate_record(NULL::event_streams,
                 (row_to_json(s)::jsonb || jsonb_build_object('event_id', '{new_id}'))::json)).*
               FROM event_streams s WHERE user_id = '{user}' AND event_id = '{id}';"
        ));
    }

    fn trash_stream(&self, user: &str) {
        self.sql(&format!(
            "UPDATE streams SET trashed = true, modified = {NOW}
               WHERE user_id = '{user}' AND (user_id, id) IN
                 (SELECT user_id, id FROM streams WHERE user_id = '{user}' AND deleted IS NULL ORDER BY id LIMIT 1)"
        ));
    }

    fn rename_access(&self, user: &str) {
        self.sql(&format!(
            "UPDATE accesses SET name = 'renamed during the backup', modified = {NOW}
               WHERE user_id = '{user}' AND type = 'personal'"
        ));
    }
}

/// The core's clock, in seconds as it stores them.
const NOW: &str = "extract(epoch from clock_timestamp())";

fn seeded_source() -> testbed::TestDb {
    let db = testbed::pg_database();
    let engine = PgEngine::connect(db.conn_str(), None).unwrap();
    for (user, data) in sample::sample_platform(7) {
        engine
            .import_user(&user, &data, &ImportOptions::default())
            .unwrap();
    }
    db
}

#[test]
fn a_backup_of_a_platform_being_written_to_loses_nothing() {
    let mut source = seeded_source();
    let core = Arc::new(Core {
        client: Mutex::new(source.connect()),
    });
    let expected: Arc<Mutex<Vec<(String, Dump)>>> = Arc::default();
    let (hook, inside) = {
        let (reader, expected) = (Mutex::new(source.connect()), expected.clone());
        live_write::hook(core, move |user| {
            let rows = user_rows(&dump(&mut reader.lock().unwrap()), &user.user_id);
            expected.lock().unwrap().push((user.user_id.clone(), rows));
        })
    };

    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("backup");
    let engine = PgEngine::connect(source.conn_str(), None).unwrap();
    let report = full_backup(&engine, &out, hook);
    assert_eq!(report.users.len(), 4);
    // dave has one collection only: no point between two of his.
    assert_eq!(
        *inside.lock().unwrap(),
        [ALICE, BOB, CAROL].map(String::from).into(),
        "the hook ran inside each user with several collections"
    );

    // The full backup alone: each user as of its snapshot.
    let full_alone = restore_into(&out);
    let restored = dump(&mut full_alone.connect());
    for (user, want) in expected.lock().unwrap().iter() {
        assert_same(want, &user_rows(&restored, user));
    }

    // Full + incremental: the final database.
    incremental_backup(&engine, &out);
    let chain_restored = restore_into(&out);
    assert_same(&dump(source.client()), &dump(&mut chain_restored.connect()));
}

fn restore_into(chain_dir: &std::path::Path) -> testbed::TestDb {
    let target = testbed::pg_database();
    restore_chain(
        &PgEngine::connect(target.conn_str(), None).unwrap(),
        chain_dir,
    );
    target
}
