//! Export from PostgreSQL, import into an empty database: every table identical, row by row.

mod postgres_support;

use postgres_support::*;
use pryv_backup::engine::{Engine, ImportOptions};
use pryv_backup::engines::postgres::PgEngine;
use pryv_backup::model::Collection;

fn restore_into(
    target: &PgEngine,
    users: &[(pryv_backup::model::UserRef, pryv_backup::engine::MemoryUser)],
    source: &PgEngine,
) {
    // The dataset's integrity strings are placeholders, not hashes: verification is tested
    // on real hashes in postgres_integrity.rs.
    let options = ImportOptions {
        overwrite: false,
        verify_integrity: false,
    };
    for (user, data) in users {
        target.import_user(user, data, &options).unwrap();
    }
    let platform = platform_items(source);
    target
        .import_platform(&mut platform.into_iter().map(Ok))
        .unwrap();
}

/// The dataset's install, its users exported, and a new install they were restored into.
struct Restored {
    source_db: testbed::TestDb,
    users: Vec<(pryv_backup::model::UserRef, pryv_backup::engine::MemoryUser)>,
    target_db: testbed::TestDb,
    target: PgEngine,
}

fn restored_dataset() -> Restored {
    let (source_db, source) = dataset_engine();
    let users = export_all(&source);
    let (target_db, target) = empty_engine();
    restore_into(&target, &users, &source);
    Restored {
        source_db,
        users,
        target_db,
        target,
    }
}

#[test]
fn postgres_roundtrip_restores_every_table_identically() {
    let (source_db, source) = dataset_engine();

    let users = export_all(&source);
    assert_eq!(
        users
            .iter()
            .map(|(u, _)| u.username.as_str())
            .collect::<Vec<_>>(),
        ["alice", "bob", "carol"]
    );
    let (_, alice) = &users[0];
    assert_eq!(alice.items_of(Collection::Streams).len(), 5);
    assert_eq!(alice.items_of(Collection::Events).len(), 624);
    assert_eq!(alice.items_of(Collection::Accesses).len(), 5);
    assert_eq!(alice.items_of(Collection::Series).len(), 1);
    assert_eq!(alice.items_of(Collection::Audit).len(), 5);
    assert_eq!(alice.items_of(Collection::Sessions).len(), 1);
    assert_eq!(alice.items_of(Collection::PasswordResets).len(), 1);
    assert_eq!(alice.attachments.len(), 2);
    assert_eq!(alice.attachments["cuser0alice01-f1"].1, big_file());
    assert!(alice.attachments["cuser0alice01-f2"].1.is_empty());

    let (target_db, target) = empty_engine();
    restore_into(&target, &users, &source);

    let expected = dump(&mut source_db.connect());
    let actual = dump(&mut target_db.connect());
    assert_same(&expected, &actual);
    for (table, rows) in &expected {
        assert!(
            table == "schema_migrations" || !rows.is_empty(),
            "the dataset has no {table} rows"
        );
    }
    let rows: usize = expected.iter().map(|(_, r)| r.len()).sum();
    assert!(rows > 400, "the dataset is not trivial ({rows} rows)");

    // A second export of the restored database gives the same items.
    let again = export_all(&target);
    assert_eq!(users, again);
}

#[test]
fn postgres_overwrite_over_modified_data_ends_identical() {
    let Restored {
        source_db,
        users,
        mut target_db,
        target,
    } = restored_dataset();

    // The user changes things after the backup.
    target_db
        .client()
        .batch_execute(
            "UPDATE streams SET name = 'Renamed' WHERE user_id = 'cuser0alice01' AND id = 'health';
             DELETE FROM events WHERE user_id = 'cuser0alice01' AND id IN ('ev-3', 'ev-running');
             INSERT INTO events (user_id, id, stream_ids, time, type, content) VALUES ('cuser0alice01', 'ev-new', '[\"health\"]', 1, 'note/txt', '\"x\"');
             INSERT INTO event_streams VALUES ('cuser0alice01', 'ev-new', 'health', 'health/');
             UPDATE attachment_files SET data = 'changed' WHERE user_id = 'cuser0alice01' AND seq = 1;
             INSERT INTO attachment_files VALUES ('cuser0alice01', 'ev-new', 'f-new', 0, 'new');
             INSERT INTO accesses (user_id, id, token, name, type) VALUES ('cuser0alice01', 'acc-new', 't', 'n', 'app');
             INSERT INTO account_fields VALUES ('cuser0alice01', 'email', '\"new@example.com\"', 1763990000, 'acc-personal');
             DELETE FROM series_data WHERE user_id = 'user.alice' AND delta_time > 1000000000;
             INSERT INTO sessions VALUES ('sess-new', '{\"username\": \"alice\"}', now());",
        )
        .unwrap();
    assert_ne!(
        dump(&mut source_db.connect()),
        dump(&mut target_db.connect())
    );

    let (alice, data) = &users[0];
    let overwrite = ImportOptions {
        overwrite: true,
        verify_integrity: false,
    };
    target.import_user(alice, data, &overwrite).unwrap();
    assert_same(
        &dump(&mut source_db.connect()),
        &dump(&mut target_db.connect()),
    );
}

#[test]
fn postgres_import_failing_mid_user_leaves_the_user_as_before() {
    let Restored {
        source_db: _source_db,
        users,
        mut target_db,
        target,
    } = restored_dataset();
    target_db
        .client()
        .batch_execute("UPDATE events SET description = 'changed since' WHERE user_id = 'cuser0alice01' AND id = 'ev-1'")
        .unwrap();
    let before = dump(&mut target_db.connect());

    let (alice, data) = &users[0];
    for overwrite in [true, false] {
        // 510 events: past the first written batch of 500.
        let failing = FailingSource::new(data, 510);
        let options = ImportOptions {
            overwrite,
            verify_integrity: false,
        };
        let err = target.import_user(alice, &failing, &options).unwrap_err();
        assert!(err.to_string().contains("simulated read failure"), "{err}");
        assert_same(&before, &dump(&mut target_db.connect()));

        let failing = FailingSource::new(data, 60);
        assert!(target.import_user(alice, &failing, &options).is_err());
        assert_same(&before, &dump(&mut target_db.connect()));
    }

    // A new user failing mid-way leaves no trace either.
    let (_empty_db, empty) = empty_engine();
    empty.ensure_schema().unwrap();
    let failing = FailingSource::new(data, 60);
    assert!(empty
        .import_user(alice, &failing, &ImportOptions::default())
        .is_err());
    assert!(!empty.user_exists(&alice.user_id).unwrap());
    assert!(empty.users().unwrap().is_empty());
}
