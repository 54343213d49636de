//! `verify_integrity` on PostgreSQL restores: the user's events and accesses are read back
//! inside the import transaction and their hashes checked before commit.

mod postgres_support;

use postgres_support::*;
use pryv_backup::engine::{Engine, ImportOptions, MemoryUser};
use pryv_backup::model::Collection;
use pryv_backup::sample::sample_platform;
use pryv_backup::Error;
use serde_json::json;

fn verified(overwrite: bool) -> ImportOptions {
    ImportOptions {
        overwrite,
        verify_integrity: true,
    }
}

/// The user with one hashed event's `content` changed after hashing.
fn tampered(mut data: MemoryUser) -> MemoryUser {
    let event = data
        .collections
        .get_mut(&Collection::Events)
        .into_iter()
        .flatten()
        .find(|e| e.get("integrity").is_some() && e.get("content").is_some())
        .expect("a sample event with integrity and content");
    event["content"] = json!("tampered");
    data
}

#[test]
fn postgres_verified_restore_accepts_valid_users_and_rolls_back_tampered_ones() {
    let (mut db, engine) = empty_engine();
    let platform = sample_platform(7);
    for (user, data) in &platform {
        engine
            .import_user(user, data, &verified(false))
            .unwrap_or_else(|e| panic!("{}: {e}", user.username));
    }
    let before = dump(db.client());

    let (alice, data) = &platform[0];
    let bad = tampered(data.clone());
    for overwrite in [false, true] {
        let err = engine
            .import_user(alice, &bad, &verified(overwrite))
            .unwrap_err();
        assert!(matches!(err, Error::Integrity(_)), "{err}");
        assert!(err.to_string().contains("alice"), "{err}");
        assert_same(&before, &dump(db.client()));
    }

    // Without verification the same data is written as given.
    engine
        .import_user(alice, &bad, &ImportOptions::default())
        .unwrap();
    assert_ne!(before, dump(db.client()));
}
