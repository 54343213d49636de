//! A backup of a platform that keeps serving its users (issue #14). While the backup runs, a
//! second connection writes as the core would: before a user's snapshot and between the
//! collections of the user being exported, it updates, creates, trashes and deletes events,
//! streams and accesses, and one event is stamped 30 s ahead (a core whose clock runs
//! ahead of the backup host). Then:
//! - the full backup restored alone holds each user exactly as of that user's snapshot;
//! - full + incremental restored as a chain equals the final database, table by table.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use pryv_backup::archive::{ArchiveReader, ArchiveWriter, Backend, WriterOptions};
use pryv_backup::backup::{self, BackupHook, BackupOptions, BackupStep};
use pryv_backup::chain::Chain;
use pryv_backup::engine::{Engine, ImportOptions};
use pryv_backup::engines::postgres::PgEngine;
use pryv_backup::progress::Silent;
use pryv_backup::restore::{self, RestoreOptions};
use pryv_backup::sample;
use testbed::dump::{assert_same, dump, Dump};

const ALICE: &str = "cksamplealice0001";
const BOB: &str = "cksamplebobby0002";
const CAROL: &str = "cksamplecarol0003";
const DAVE: &str = "cksampledaves0004";

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
    client: postgres::Client,
}

impl Core {
    fn sql(&mut self, sql: &str) {
        self.client
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The id of one of the user's live events (no history copy, not deleted), by rank.
    fn event(&mut self, user: &str, rank: i64) -> String {
        self.client
            .query_one(
                "SELECT id FROM events WHERE user_id = $1 AND head_id IS NULL AND deleted IS NULL
                   AND NOT trashed ORDER BY id OFFSET $2 LIMIT 1",
                &[&user, &rank],
            )
            .unwrap_or_else(|e| panic!("no event {rank} for {user}: {e}"))
            .get(0)
    }

    fn update_event(&mut self, user: &str, rank: i64, modified: &str) {
        let id = self.event(user, rank);
        self.sql(&format!(
            "UPDATE events SET content = '\"changed during the backup\"', modified = {modified}
               WHERE user_id = '{user}' AND id = '{id}'"
        ));
    }

    fn trash_event(&mut self, user: &str, rank: i64) {
        let id = self.event(user, rank);
        self.sql(&format!(
            "UPDATE events SET trashed = true, modified = {NOW} WHERE user_id = '{user}' AND id = '{id}'"
        ));
    }

    /// The core's deletion, as the live core left one (live-reference source-db, event
    /// pgu301roivvlzedln43h8h96): the row stays with its id, modification and deletion
    /// times, every other field emptied, and its event_streams rows gone.
    fn delete_event(&mut self, user: &str, rank: i64) {
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
    fn create_event(&mut self, user: &str, new_id: &str) {
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

    fn trash_stream(&mut self, user: &str) {
        self.sql(&format!(
            "UPDATE streams SET trashed = true, modified = {NOW}
               WHERE user_id = '{user}' AND (user_id, id) IN
                 (SELECT user_id, id FROM streams WHERE user_id = '{user}' AND deleted IS NULL ORDER BY id LIMIT 1)"
        ));
    }

    fn rename_access(&mut self, user: &str) {
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

fn options(hook: Option<BackupHook>) -> BackupOptions {
    BackupOptions {
        users: Vec::new(),
        previous: None,
        include_ephemeral: false,
        // One user at a time, so "not yet exported" means what it says.
        jobs: 1,
        engine_name: "postgresql".into(),
        domain: "test".into(),
        core_version: "test".into(),
        clock_skew: 300.0,
        pii_key: None,
        hook,
    }
}

fn restore_into(chain_dir: &std::path::Path) -> testbed::TestDb {
    let target = testbed::pg_database();
    let engine = PgEngine::connect(target.conn_str(), None).unwrap();
    let chain = Chain::open(&Backend::Local, chain_dir, &|d| {
        ArchiveReader::open(d, None).map_err(|e| e.to_string())
    })
    .unwrap()
    .unwrap();
    let report = restore::run(
        &engine,
        &chain,
        chain_dir,
        &RestoreOptions {
            jobs: 1,
            ..Default::default()
        },
        &Silent,
    )
    .unwrap();
    assert!(report.is_complete(), "{report:?}");
    target
}

#[test]
fn a_backup_of_a_platform_being_written_to_loses_nothing() {
    let mut source = seeded_source();
    let core = Arc::new(Mutex::new(Core {
        client: source.connect(),
    }));
    let expected: Arc<Mutex<HashMap<String, Dump>>> = Arc::default();
    let in_snapshot_writes: Arc<Mutex<HashSet<String>>> = Arc::default();

    let hook = {
        let (core, expected, in_snapshot_writes) =
            (core.clone(), expected.clone(), in_snapshot_writes.clone());
        BackupHook(Arc::new(move |step: &BackupStep<'_>| {
            let mut core = core.lock().unwrap();
            match step {
                BackupStep::BeforeUser(user) => {
                    if user.user_id == ALICE {
                        // Users not exported yet: their snapshot must show all of this.
                        core.update_event(BOB, 0, NOW);
                        core.update_event(BOB, 1, &format!("{NOW} + 30"));
                        core.create_event(CAROL, "ev-created-before-carol");
                        core.rename_access(DAVE);
                    }
                    let rows = user_rows(&dump(&mut core.client), &user.user_id);
                    expected.lock().unwrap().insert(user.user_id.clone(), rows);
                }
                BackupStep::BetweenCollections { user, .. } => {
                    // Once per user, inside its snapshot: none of it is in the full backup.
                    if !in_snapshot_writes
                        .lock()
                        .unwrap()
                        .insert(user.user_id.clone())
                    {
                        return;
                    }
                    if user.user_id == ALICE {
                        core.update_event(ALICE, 0, NOW);
                        core.create_event(ALICE, "ev-created-inside-alice");
                        core.trash_stream(ALICE);
                        core.rename_access(ALICE);
                        // A user not exported yet, written while another is exported.
                        core.trash_event(BOB, 2);
                    }
                    if user.user_id == BOB {
                        core.delete_event(BOB, 3);
                        core.create_event(BOB, "ev-created-inside-bob");
                    }
                }
            }
        }))
    };

    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("backup");
    let engine = PgEngine::connect(source.conn_str(), None).unwrap();
    let report = backup::run(
        &engine,
        ArchiveWriter::create(&out, WriterOptions::default()).unwrap(),
        &options(Some(hook)),
        &Silent,
    )
    .unwrap();
    assert_eq!(report.users.len(), 4);
    // dave has one collection only: no point between two of his.
    let inside: HashSet<String> = in_snapshot_writes.lock().unwrap().clone();
    assert_eq!(
        inside,
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
    let chain = Chain::open(&Backend::Local, &out, &|d| {
        ArchiveReader::open(d, None).map_err(|e| e.to_string())
    })
    .unwrap()
    .unwrap();
    let mut incremental = options(None);
    incremental.previous = Some(chain.latest_state());
    backup::run(
        &engine,
        ArchiveWriter::create(
            &chain.next_generation_dir().unwrap(),
            WriterOptions::default(),
        )
        .unwrap(),
        &incremental,
        &Silent,
    )
    .unwrap();
    let chain_restored = restore_into(&out);
    assert_same(&dump(source.client()), &dump(&mut chain_restored.connect()));
}
