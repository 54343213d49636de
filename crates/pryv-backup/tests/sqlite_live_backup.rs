//! A backup of a SQLite-engine platform that keeps serving its users (issue #14), as
//! postgres_live_backup.rs does on PostgreSQL. The "core" writes through its own
//! connections to the per-user files (WAL mode, as the core opens them), before a user's
//! snapshot and between the collections of the user being exported:
//! - the full backup restored alone holds each user exactly as of its snapshot;
//! - full + incremental restored as a chain equals the final platform, item by item.

mod live_write;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use live_write::*;
use pryv_backup::engine::{Engine, ExportOptions, ExportWindow, ImportOptions, MemoryUser};
use pryv_backup::engines::filesystem::user_local_dir;
use pryv_backup::engines::sqlite::SqliteEngine;
use pryv_backup::model::{Collection, UserRef};
use pryv_backup::sample;

/// A user's data with each collection sorted, so that two exports compare whatever order
/// their files keep.
fn export(engine: &SqliteEngine, user: &UserRef) -> MemoryUser {
    let mut data = MemoryUser::default();
    let everything = ExportOptions {
        window: ExportWindow::everything(),
        include_ephemeral: false,
    };
    engine.export_user(user, &everything, &mut data).unwrap();
    for items in data.collections.values_mut() {
        items.sort_by_key(|i| i.to_string());
    }
    data
}

fn export_all(engine: &SqliteEngine) -> BTreeMap<String, MemoryUser> {
    engine
        .users()
        .unwrap()
        .iter()
        .map(|u| (u.user_id.clone(), export(engine, u)))
        .collect()
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// What the core writes, through its own connections to the user's files.
struct Core {
    root: PathBuf,
    deleted_blob: Mutex<Option<PathBuf>>,
}

impl Core {
    fn file(&self, user: &str, name: &str) -> rusqlite::Connection {
        let path = user_local_dir(&self.root, user).unwrap().join(name);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn
    }

    fn events(&self, user: &str, sql: &str, params: &[&dyn rusqlite::ToSql]) {
        self.file(user, "local-1.0.0.sqlite")
            .execute(sql, params)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    fn base(&self, user: &str, sql: &str, params: &[&dyn rusqlite::ToSql]) {
        self.file(user, "baseStorage-1.0.0.sqlite")
            .execute(sql, params)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// One of the user's live events (no history copy, not deleted or trashed), by rank.
    fn event(&self, user: &str, rank: i64) -> String {
        self.file(user, "local-1.0.0.sqlite")
            .query_row(
                "SELECT eventid FROM events WHERE headId IS NULL AND deleted IS NULL
                   AND NOT coalesce(trashed, 0) ORDER BY eventid LIMIT 1 OFFSET ?1",
                [rank],
                |r| r.get(0),
            )
            .unwrap_or_else(|e| panic!("no event {rank} for {user}: {e}"))
    }

    /// Removes the user's first attachment file (by path), as the core does when an
    /// attachment is deleted; remembers which.
    fn delete_blob(&self, user: &str) {
        let dir = user_local_dir(&self.root, user)
            .unwrap()
            .join("attachments");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .flat_map(|event| std::fs::read_dir(event.unwrap().path()).unwrap())
            .map(|f| f.unwrap().path())
            .collect();
        files.sort();
        std::fs::remove_file(&files[0]).unwrap();
        *self.deleted_blob.lock().unwrap() = Some(files[0].clone());
    }
}

impl CoreWrites for Core {
    fn update_event(&self, user: &str, rank: i64, ahead: f64) {
        let id = self.event(user, rank);
        self.events(
            user,
            "UPDATE events SET content = '\"changed during the backup\"', modified = ?1 WHERE eventid = ?2",
            &[&(now() + ahead), &id],
        );
    }

    /// A blob of an event in alice's snapshot, deleted before the backup reads it.
    fn inside_alice(&self) {
        self.delete_blob(ALICE);
    }

    fn trash_event(&self, user: &str, rank: i64) {
        let id = self.event(user, rank);
        self.events(
            user,
            "UPDATE events SET trashed = 1, modified = ?1 WHERE eventid = ?2",
            &[&now(), &id],
        );
    }

    /// The core's deletion (as on PostgreSQL, see postgres_live_backup.rs): id, times and
    /// author kept, every other field emptied.
    fn delete_event(&self, user: &str, rank: i64) {
        let id = self.event(user, rank);
        self.events(
            user,
            "UPDATE events SET streamIds = '..', time = NULL, endTime = NULL, type = NULL,
                 content = NULL, description = NULL, clientData = NULL, attachments = NULL,
                 trashed = NULL, created = NULL, createdBy = NULL, modified = ?1, deleted = ?1
               WHERE eventid = ?2",
            &[&now(), &id],
        );
    }

    /// A new event, copied from one of the user's (without its attachments).
    fn create_event(&self, user: &str, new_id: &str) {
        let id = self.event(user, 0);
        self.events(
            user,
            "INSERT INTO events (eventid, headId, streamIds, time, endTime, type, content,
                 description, clientData, attachments, trashed, deleted, created, createdBy,
                 modified, modifiedBy, integrity)
               SELECT ?1, headId, streamIds, time, endTime, type, content, description,
                 clientData, NULL, trashed, deleted, ?2, createdBy, ?2, modifiedBy, NULL
               FROM events WHERE eventid = ?3",
            &[&new_id, &now(), &id],
        );
    }

    fn trash_stream(&self, user: &str) {
        self.base(
            user,
            "UPDATE streams SET data = json_set(data, '$.trashed', json('true'), '$.modified', ?1)
               WHERE id = (SELECT id FROM streams WHERE deleted IS NULL ORDER BY id LIMIT 1)",
            &[&now()],
        );
    }

    fn rename_access(&self, user: &str) {
        self.base(
            user,
            "UPDATE accesses SET data = json_set(data, '$.name', 'renamed during the backup', '$.modified', ?1)
               WHERE json_extract(data, '$.type') = 'personal'",
            &[&now()],
        );
    }
}

fn restore_into(chain_dir: &std::path::Path, target: &std::path::Path) -> SqliteEngine {
    std::fs::create_dir_all(target).unwrap();
    let engine = SqliteEngine::open_with_fs_attachments(target).unwrap();
    restore_chain(&engine, chain_dir);
    engine
}

#[test]
fn a_backup_of_a_sqlite_platform_being_written_to_loses_nothing() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("source");
    std::fs::create_dir(&root).unwrap();
    let source = SqliteEngine::open_with_fs_attachments(&root).unwrap();
    for (user, data) in sample::sample_platform(7) {
        source
            .import_user(&user, &data, &ImportOptions::default())
            .unwrap();
    }

    let core = Arc::new(Core {
        root: root.clone(),
        deleted_blob: Mutex::new(None),
    });
    let expected: Arc<Mutex<HashMap<String, MemoryUser>>> = Arc::default();
    let (hook, inside) = {
        let reader = SqliteEngine::open_with_fs_attachments(&root).unwrap();
        let expected = expected.clone();
        live_write::hook(core.clone(), move |user| {
            let data = export(&reader, user);
            expected.lock().unwrap().insert(user.user_id.clone(), data);
        })
    };

    let out = work.path().join("backup");
    let report = full_backup(&source, &out, hook);
    // The blob deleted inside alice's snapshot is named in the report; its event is kept.
    let deleted = core.deleted_blob.lock().unwrap().clone().unwrap();
    let file_id = deleted.file_name().unwrap().to_string_lossy().to_string();
    let event_id = deleted
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    assert_eq!(report.missing_attachments.len(), 1, "{report:?}");
    let missing = &report.missing_attachments[0];
    assert_eq!(
        (
            missing.user_id.as_str(),
            missing.event_id.as_str(),
            missing.file_id.as_str()
        ),
        (ALICE, event_id.as_str(), file_id.as_str())
    );
    let inside = inside.lock().unwrap().clone();
    assert!(
        inside.contains(ALICE) && inside.contains(BOB),
        "the hook ran inside alice and bob: {inside:?}"
    );

    // The full backup alone: each user as of its snapshot.
    let alone = restore_into(&out, &work.path().join("full-alone"));
    let restored = export_all(&alone);
    let mut expected = expected.lock().unwrap().clone();
    assert_eq!(expected.len(), 4);
    // Alice as of her snapshot, but for the blob gone before it could be read.
    let alice = expected.get_mut(ALICE).unwrap();
    assert!(alice.attachments.remove(&file_id).is_some());
    assert!(alice
        .items_of(Collection::Events)
        .iter()
        .any(|e| e["id"] == event_id.as_str()));
    for (user, want) in &expected {
        assert_eq!(&restored[user], want, "{user} as of its snapshot");
    }
    // And the writes inside the snapshots are not in it.
    let events_of = |data: &MemoryUser| data.items_of(Collection::Events).len();
    assert!(events_of(&restored[ALICE]) < events_of(&export_all(&source)[ALICE]));

    // Full + incremental: the final platform.
    incremental_backup(&source, &out);
    let chained = restore_into(&out, &work.path().join("chain"));
    assert_eq!(export_all(&chained), export_all(&source));
}
