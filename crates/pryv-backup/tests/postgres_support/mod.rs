//! Shared by the postgres_* tests: a dataset written with SQL as the core writes it, table
//! dumps for row-by-row comparison, and a source that fails mid-user.

#![allow(dead_code)]

use std::sync::Arc;

use pryv_backup::engine::{
    Engine, ExportOptions, ExportWindow, ImportOptions, ItemIter, MemoryUser, UserSource,
};
use pryv_backup::engines::filesystem::FsAttachments;
use pryv_backup::engines::postgres::PgEngine;
use pryv_backup::model::{Collection, Item, UserRef};
use pryv_backup::Error;
// Not every test binary uses every helper.
#[allow(unused_imports)]
pub use testbed::dump::{assert_same, dump, without, TABLES};

pub fn everything() -> ExportOptions {
    ExportOptions {
        window: ExportWindow::everything(),
        include_ephemeral: true,
    }
}

/// The live install's rows, every table its users' data is in, in a fresh database with the
/// core's indexes; its attachments on disk.
pub fn live_postgres() -> (testbed::TestDb, PgEngine) {
    let mut db = testbed::pg_database();
    let files = FsAttachments::new(testbed::fixture("live-reference/source-files/users"));
    let engine = PgEngine::connect(db.conn_str(), Some(Arc::new(files))).unwrap();
    engine.ensure_schema().unwrap();
    for table in [
        "users_index",
        "streams",
        "events",
        "accesses",
        "profile",
        "webhooks",
        "passwords",
        "store_key_values",
        "account_fields",
        "audit_events",
        "series_data",
        "sessions",
        "password_resets",
    ] {
        testbed::load_live_table(db.client(), table);
    }
    // A schema the engine creates gets its keys and indexes once the rows are in.
    engine
        .finish_restore(1, &pryv_backup::progress::Silent)
        .unwrap();
    (db, engine)
}

/// A new empty database, and an engine on it.
pub fn empty_engine() -> (testbed::TestDb, PgEngine) {
    let db = testbed::pg_database();
    let engine = PgEngine::connect(db.conn_str(), None).unwrap();
    (db, engine)
}

/// A new database holding the dataset (see `insert_dataset`), and an engine on it.
pub fn dataset_engine() -> (testbed::TestDb, PgEngine) {
    let mut db = testbed::pg_database();
    insert_dataset(db.client());
    let engine = PgEngine::connect(db.conn_str(), None).unwrap();
    (db, engine)
}

/// Exports every user of `engine` into memory.
pub fn export_all(engine: &dyn Engine) -> Vec<(UserRef, MemoryUser)> {
    engine
        .users()
        .unwrap()
        .into_iter()
        .map(|u| {
            let mut data = MemoryUser::default();
            engine.export_user(&u, &everything(), &mut data).unwrap();
            (u, data)
        })
        .collect()
}

/// The platform entries `engine` exports.
pub fn platform_items(engine: &dyn Engine) -> Vec<Item> {
    let mut platform = Vec::new();
    engine
        .export_platform(&mut |item| {
            platform.push(item.clone());
            Ok(())
        })
        .unwrap();
    platform
}

/// Imports `data` for `user` (no overwrite) and exports the user back in full.
pub fn import_then_export(engine: &dyn Engine, user: &UserRef, data: &MemoryUser) -> MemoryUser {
    engine
        .import_user(user, data, &ImportOptions::default())
        .unwrap();
    let mut back = MemoryUser::default();
    engine.export_user(user, &everything(), &mut back).unwrap();
    back
}

/// A user's backup whose events fail after `ok_events` items.
pub struct FailingSource<'a> {
    pub inner: &'a MemoryUser,
    pub ok_events: usize,
}

impl<'a> FailingSource<'a> {
    /// `inner`, its events failing after the first `ok_events`.
    pub fn new(inner: &'a MemoryUser, ok_events: usize) -> Self {
        FailingSource { inner, ok_events }
    }
}

impl UserSource for FailingSource<'_> {
    fn items(&self, collection: Collection) -> pryv_backup::Result<ItemIter<'_>> {
        let items = self.inner.items(collection)?;
        if collection != Collection::Events {
            return Ok(items);
        }
        let n = self.ok_events;
        Ok(Box::new(items.enumerate().map(move |(i, item)| {
            if i < n {
                item
            } else {
                Err(Error::Other(
                    "simulated read failure in the middle of the events".into(),
                ))
            }
        })))
    }

    fn account(&self) -> pryv_backup::Result<Option<Item>> {
        self.inner.account()
    }

    fn attachment(
        &self,
        file_id: &str,
    ) -> pryv_backup::Result<Option<Box<dyn std::io::Read + '_>>> {
        self.inner.attachment(file_id)
    }
}

/// Bytes of a big attachment (2.5 chunks), reproducible.
pub fn big_file() -> Vec<u8> {
    (0..(5 * 1024 * 1024 / 2))
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

/// Writes a user's data as the core writes it (row shapes of docs/storage-layout.md §2).
pub fn insert_user(client: &mut postgres::Client, uid: &str, username: &str, events: usize) {
    let sql = format!(
        r##"
INSERT INTO users_index (username, user_id) VALUES ('{username}', '{uid}');

INSERT INTO streams (user_id, id, name, parent_id, path, client_data, single_activity, trashed, created, created_by, modified, modified_by, deleted) VALUES
 ('{uid}', 'health', 'Health', NULL, 'health/', NULL, false, false, 1763980000, 'acc-personal', 1763980000, 'acc-personal', NULL),
 ('{uid}', 'weight', 'Weight', 'health', 'health/weight/', '{{"color": "#ff0000", "n": 1.5}}', false, false, 1763980001.5, 'acc-personal', 1763980001.5, 'acc-personal', NULL),
 ('{uid}', 'daily', 'Daily ✓ ünïcødé', 'weight', 'health/weight/daily/', NULL, true, false, 1763980002, 'acc-app', 1763980002, 'acc-app', NULL),
 ('{uid}', 'notes', 'Notes', NULL, 'notes/', NULL, false, true, 1763980003, 'acc-app', 1763980050.25, 'acc-app', NULL),
 ('{uid}', 'old-stream', NULL, NULL, 'old-stream/', NULL, false, NULL, NULL, NULL, NULL, NULL, 1763980060);

INSERT INTO events (user_id, id, head_id, stream_ids, time, end_time, type, tags, content, description, client_data, attachments, integrity, trashed, created, created_by, modified, modified_by, deleted)
SELECT '{uid}', 'ev-' || i, NULL,
  CASE WHEN i % 3 = 0 THEN '["health"]'::jsonb WHEN i % 3 = 1 THEN '["weight", "notes"]'::jsonb ELSE '["daily"]'::jsonb END,
  1763981000 + i * 37.125, 1763981000 + i * 37.125 + (i % 2) * 60,
  CASE WHEN i % 2 = 0 THEN 'mass/kg' ELSE 'note/txt' END,
  CASE WHEN i % 4 = 0 THEN '["tag-a", "tag-b"]'::jsonb ELSE '[]'::jsonb END,
  CASE WHEN i % 2 = 0 THEN to_jsonb((i * 1.1 + 0.2)::float8) ELSE to_jsonb('note ' || i) END,
  CASE WHEN i % 5 = 0 THEN 'edited' END,
  CASE WHEN i % 7 = 0 THEN '{{"app": {{"v": 1.5}}}}'::jsonb END,
  NULL, 'EVENT:0:sha256-' || md5('{uid}' || i), i % 11 = 0,
  1763981000 + i * 37.125, 'acc-app', 1763981000 + i * 37.125, 'acc-app', NULL
FROM generate_series(1, {events}) AS i;

INSERT INTO event_streams (user_id, event_id, stream_id, stream_path)
SELECT e.user_id, e.id, s.value, st.path
FROM events e CROSS JOIN LATERAL jsonb_array_elements_text(e.stream_ids) AS s(value)
JOIN streams st ON st.user_id = e.user_id AND st.id = s.value
WHERE e.user_id = '{uid}';

INSERT INTO events (user_id, id, head_id, stream_ids, time, end_time, type, tags, content, description, client_data, attachments, integrity, trashed, created, created_by, modified, modified_by, deleted) VALUES
 ('{uid}', 'ev-running', NULL, '["health"]', 1763980005, NULL, 'activity/plain', '[]', NULL, NULL, NULL, NULL, 'EVENT:0:r', false, 1763980005, 'acc-app', 1763980005, 'acc-app', NULL),
 ('{uid}', 'ev-hist-1', 'ev-1', '["weight", "notes"]', 1763981037.125, 1763981037.125, 'note/txt', '[]', '"first version"', NULL, NULL, NULL, 'EVENT:0:h', false, 1763981037, 'acc-app', 1763981037, 'acc-app', NULL),
 ('{uid}', 'ev-deleted', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'EVENT:0:d', NULL, NULL, NULL, NULL, NULL, 1763980090),
 ('{uid}', 'ev-files', NULL, '["health", "unknown-stream"]', 1763980007, 1763980007, 'picture/attached', '[]', NULL, NULL, NULL,
   '[{{"id": "{uid}-f1", "fileName": "photo.jpg", "type": "image/jpeg", "size": 2621440, "integrity": "sha256-x"}}, {{"id": "{uid}-f2", "fileName": "empty.txt", "type": "text/plain", "size": 0, "integrity": "sha256-y"}}]',
   'EVENT:0:f', false, 1763980007, 'acc-app', 1763980007, 'acc-app', NULL);
INSERT INTO event_streams (user_id, event_id, stream_id, stream_path) VALUES
 ('{uid}', 'ev-running', 'health', 'health/'),
 ('{uid}', 'ev-files', 'health', 'health/'),
 ('{uid}', 'ev-files', 'unknown-stream', 'unknown-stream/');

INSERT INTO accesses (user_id, id, serial, head_id, token, name, type, device_name, permissions, client_data, expires, last_used, calls, integrity, integrity_batch_code, created, created_by, created_by_serial, modified, modified_by, modified_by_serial, deleted, alias) VALUES
 ('{uid}', 'acc-personal', NULL, NULL, 'tok-p-{uid}', 'pryv-browser', 'personal', NULL, '[]', NULL, NULL, NULL, NULL, 'ACCESS:0:p', NULL, 1763980000, 'system', NULL, 1763980000, 'system', NULL, NULL, NULL),
 ('{uid}', 'acc-app', 2, NULL, 'tok-a-{uid}', 'diary-app', 'app', 'phone', '[{{"streamId": "health", "level": "contribute"}}]', '{{"app": {{"version": "1.2.3"}}}}', NULL, 1763980100.5, '{{"events:create": 12}}', 'ACCESS:0:a', NULL, 1763980003, 'acc-personal', 1, 1763980010, 'acc-personal', 1, NULL, '{username}-alias'),
 ('{uid}', 'acc-app-v1', 1, 'acc-app', 'tok-a-{uid}', 'diary-app', 'app', 'phone', '[]', NULL, NULL, NULL, NULL, 'ACCESS:0:v', NULL, 1763980003, 'acc-personal', 1, 1763980003, 'acc-personal', 1, NULL, NULL),
 ('{uid}', 'acc-shared', NULL, NULL, 'tok-s-{uid}', 'doctor', 'shared', NULL, '[{{"streamId": "weight", "level": "read"}}]', NULL, 1795516000, NULL, NULL, 'ACCESS:0:s', NULL, 1763980004, 'acc-app', NULL, 1763980004, 'acc-app', NULL, NULL, NULL),
 ('{uid}', 'acc-gone', NULL, NULL, 'tok-g-{uid}', 'old', 'shared', 'tablet', '[{{"streamId": "*", "level": "read"}}]', NULL, NULL, NULL, NULL, 'ACCESS:0:g', NULL, 1763980005, 'acc-personal', NULL, 1763980005, 'acc-personal', NULL, 1763980070, NULL);
INSERT INTO alias_index (alias, user_id) VALUES ('{username}-alias', '{uid}');

INSERT INTO profile (user_id, id, data) VALUES
 ('{uid}', 'public', '{{"displayName": "{username}"}}'),
 ('{uid}', 'private', '{{"language": "fr"}}'),
 ('{uid}', 'diary-app', '{{"theme": "dark", "big": 12345678901234567000}}');

INSERT INTO webhooks (user_id, id, access_id, url, state, run_count, fail_count, last_run, runs, current_retries, max_retries, min_interval_ms, created, created_by, modified, modified_by, deleted, scopes) VALUES
 ('{uid}', 'wh-1', 'acc-app', 'https://hooks.example.com/{username}', 'active', 3, 0, '{{"status": 200, "timestamp": 1763980080}}', '[{{"status": 200, "timestamp": 1763980080}}]', 0, 5, 5000, 1763980006, 'acc-app', 1763980080, 'system', NULL, '{{"s": {{"kind": "streams", "query": ["health"]}}}}'),
 ('{uid}', 'wh-gone', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1763980081, NULL);

INSERT INTO passwords (user_id, time, hash, created_by) VALUES
 ('{uid}', 1763980000, '$2b$10$first{uid}', 'system'),
 ('{uid}', 1763980500.75, '$2b$10$second{uid}', 'acc-personal');
INSERT INTO store_key_values (user_id, store_id, key, value) VALUES ('{uid}', 'local', 'lastSync', '{{"t": 1763980010}}');
INSERT INTO account_fields (user_id, field, value, time, created_by) VALUES
 ('{uid}', 'email', '"{username}@example.com"', 1763980000, 'system'),
 ('{uid}', 'language', '"en"', 1763980000, 'system'),
 ('{uid}', 'language', '"fr"', 1763980400, 'acc-personal');

-- Keys and units as the live core writes them (live-reference): 'user.<username>',
-- 'event.<eventId>', nanoseconds.
INSERT INTO series_data (user_id, event_id, point_time, delta_time, fields)
SELECT 'user.{username}', 'event.ev-series', i::bigint * 500000000, i::bigint * 500000000, jsonb_build_object('value', round((i * 7.3)::numeric % 100, 1)::float8)
FROM generate_series(0, 49) AS i;

INSERT INTO audit_events (user_id, eventid, head_id, stream_ids, time, deleted, end_time, type, content, description, client_data, integrity, attachments, trashed, created, created_by, modified, modified_by)
SELECT '{uid}', 'audit-' || i, NULL, 'access-acc-app action-events.get :_audit:', 1763982000 + i, NULL, 1763982000 + i, 'audit-log/pryv-api',
  '{{"source": {{"name": "http", "ip": "127.0.0.1"}}, "action": "events.get", "query": {{"limit": 20}}}}', NULL, NULL, NULL, NULL, false, 1763982000 + i, 'system', 1763982000 + i, 'system'
FROM generate_series(0, 4) AS i;

INSERT INTO sessions (id, data, expires) VALUES ('sess-{uid}', '{{"username": "{username}", "appId": "pryv-browser"}}', to_timestamp(1795516000.123));
INSERT INTO password_resets (id, username, expires) VALUES ('reset-{uid}', '{username}', to_timestamp(1795516000.5));

INSERT INTO platform_kv (key, value) VALUES
 ('user-unique/email/{username}@example.com', '{username}'),
 ('user-indexed/language/{username}', 'fr'),
 ('user-core/{username}', 'core-1');
"##
    );
    client
        .batch_execute(&sql)
        .unwrap_or_else(|e| panic!("inserting the dataset of {username}: {e}"));
    let stmt = "INSERT INTO attachment_files (user_id, event_id, file_id, seq, data) VALUES ($1, 'ev-files', $2, $3, $4)";
    let big = big_file();
    for (seq, chunk) in big.chunks(1024 * 1024).enumerate() {
        client
            .execute(stmt, &[&uid, &format!("{uid}-f1"), &(seq as i32), &chunk])
            .unwrap();
    }
    client
        .execute(stmt, &[&uid, &format!("{uid}-f2"), &0i32, &&b""[..]])
        .unwrap();
}

/// Three users: two with data, one with only an access.
pub fn insert_dataset(client: &mut postgres::Client) {
    pryv_backup::engines::postgres::schema::create(client).unwrap();
    insert_user(client, "cuser0alice01", "alice", 620);
    insert_user(client, "cuser0bob0002", "bob", 15);
    client
        .batch_execute(
            "INSERT INTO users_index (username, user_id) VALUES ('carol', 'cuser0carol03');
             INSERT INTO accesses (user_id, id, token, name, type, permissions, integrity, created, created_by, modified, modified_by)
             VALUES ('cuser0carol03', 'acc-c', 'tok-c', 'pryv-browser', 'personal', '[]', 'ACCESS:0:c', 1763980000, 'system', 1763980000, 'system');",
        )
        .unwrap();
}
