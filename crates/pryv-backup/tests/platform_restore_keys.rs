//! The platform rows of a restore, on the core's archive of a hashed-PII install
//! (tests/fixtures/live-reference-sqlite/backup-by-reference; tokens in its README):
//! - into an install whose `platform:piiHmacKey` differs, every hashed row is re-derived
//!   under the target's key and none is left under the backup's;
//! - a unique email another user of the target owns is a conflict found before anything is
//!   written, on PostgreSQL and on a SQLite platform with an rqlite file.

mod archive_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use archive_support::*;
use base64::Engine as _;
use pryv_backup::config::PiiKey;
use pryv_backup::engine::{Composite, Engine, MemoryUser};
use pryv_backup::engines::postgres::PgEngine;
use pryv_backup::engines::rqlite::RqlitePlatform;
use pryv_backup::engines::sqlite::SqliteEngine;
use pryv_backup::model::UserRef;
use pryv_backup::platform::pii_token;
use pryv_backup::progress::Silent;
use pryv_backup::restore::{self, OnSuccess, RestoreOptions, RestoreReport};
use serde_json::Value;

/// `platform:piiHmacKey` of the install the archive was made of.
const SOURCE_KEY: &str = "jdKDGy3lHhp8bUdNvkYS/xqeat5KkWe7m7OVjtuFrBY=";

/// (userId, username, email as stored) of the archive's users.
const USERS: [(&str, &str, &str); 3] = [
    (
        "v17fm6avvlpz21gmldt7z1s0",
        "wanda-r1",
        "wanda-r1.mail@Example.ORG",
    ),
    (
        "ds1kkjmbkbfprnjjeelme12k",
        "xaver-r2",
        "xaver-r2+pryv@fixture.test",
    ),
    (
        "pxe6ikq0052c91techtujnmu",
        "yuki-r3",
        "Mixed.yuki-r3@EXAMPLE.com",
    ),
];

/// The tokens of the README's table, made with the source key.
const SOURCE_TOKENS: [&str; 6] = [
    "ea01839ab7708b7d1df5bf513d3529dcc04532b9011d585e6bf5ce612a2bf93e",
    "7d78a609f9db4eed8fc76d86ad6d954f2cdb6b8d01021c3d013926022f227e69",
    "718797777ccde42378b1a51abfeffa518d930e88265fd115317a801fbd944a9d",
    "1164495084d75ea3c8f6e50be0acb5e63bc0706083c7ec5f503c4ea935e443ac",
    "e852c19d8b4eca1dc34ca28fe301725df64cb70d6e89a06c2935b530ea615009",
    "e6a8046368b41654509c0724c77d21e95561edd68f2b248ba45ec9d6a8b128d3",
];

fn source_key() -> PiiKey {
    PiiKey(
        base64::engine::general_purpose::STANDARD
            .decode(SOURCE_KEY)
            .unwrap()
            .into(),
    )
}

fn other_key() -> PiiKey {
    PiiKey(vec![0x42; 32].into())
}

fn token(key: &PiiKey, field: &str, value: &str) -> String {
    pii_token(&key.0, field, value).unwrap()
}

fn archive() -> PathBuf {
    testbed::fixture("live-reference-sqlite/backup-by-reference")
}

fn restore(engine: &dyn Engine, dir: &Path, options: RestoreOptions) -> RestoreReport {
    restore::run(
        engine,
        &open_local_chain(dir),
        dir,
        &RestoreOptions { jobs: 2, ..options },
        &Silent,
    )
    .expect("restore")
}

/// Restores the reference archive into `target` under `key`; the restore must complete.
fn restore_archive_under(target: &SqliteTarget, key: &PiiKey) -> RestoreReport {
    let report = restore(
        &target.engine,
        &archive(),
        RestoreOptions {
            pii_key: Some(key.clone()),
            ..Default::default()
        },
    );
    assert!(report.is_complete(), "{report:?}");
    report
}

/// An empty SQLite-engine install whose platform DB is an rqlite file.
struct SqliteTarget {
    dir: tempfile::TempDir,
    engine: Composite,
}

fn sqlite_target() -> SqliteTarget {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    std::fs::create_dir(&users).unwrap();
    let engine = Composite {
        base: Box::new(SqliteEngine::open_with_fs_attachments(&users).unwrap()),
        audit: None,
        series: None,
        platform: Some(Box::new(RqlitePlatform::sqlite_file(
            &dir.path().join("platform.sqlite"),
        ))),
    };
    SqliteTarget { dir, engine }
}

impl SqliteTarget {
    fn rows(&self) -> Vec<(String, String)> {
        let conn = rusqlite::Connection::open(self.dir.path().join("platform.sqlite")).unwrap();
        let mut st = conn
            .prepare("SELECT key, value FROM keyValue ORDER BY key")
            .unwrap();
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        rows.map(Result::unwrap).collect()
    }
}

fn rows_with(rows: &[(String, String)], prefixes: &[&str]) -> BTreeSet<(String, String)> {
    rows.iter()
        .filter(|(k, _)| prefixes.iter().any(|p| k.starts_with(p)))
        .cloned()
        .collect()
}

/// The field rows the target's key gives the archive's users (the archive's values).
fn field_rows_under(key: &PiiKey) -> BTreeSet<(String, String)> {
    let mut rows = BTreeSet::new();
    for (_, username, email) in USERS {
        let name = token(key, "username", username);
        rows.insert((
            format!("user-unique/email/{}", token(key, "email", email)),
            name.clone(),
        ));
        for (field, value) in [
            ("appId", "pryv-h1-fixture"),
            ("invitationToken", "no-token"),
            ("referer", "ref-rhea"),
            ("language", "pt"),
        ] {
            rows.insert((format!("user-indexed/{field}/{name}"), value.to_string()));
        }
    }
    rows
}

/// The accessIds of the source install's access-index rows.
fn source_access_ids() -> BTreeSet<String> {
    std::fs::read_to_string(testbed::fixture(
        "live-reference-sqlite/source-platform/platform-keyValue.jsonl",
    ))
    .unwrap()
    .lines()
    .filter_map(|l| {
        let row: Value = serde_json::from_str(l).unwrap();
        row["key"]
            .as_str()
            .unwrap()
            .strip_prefix("access-index/")
            .map(str::to_string)
    })
    .collect()
}

#[test]
fn a_restore_under_another_pii_key_rederives_every_hashed_row() {
    let target = sqlite_target();
    let key = other_key();
    let report = restore_archive_under(&target, &key);
    let rows = target.rows();
    assert_eq!(
        rows_with(&rows, &["user-unique/", "user-indexed/"]),
        field_rows_under(&key)
    );
    let names: BTreeSet<String> = USERS
        .iter()
        .map(|(_, u, _)| token(&key, "username", u))
        .collect();
    let user_core: BTreeSet<(String, String)> = names
        .iter()
        .map(|n| (format!("user-core/{n}"), "single".to_string()))
        .collect();
    assert_eq!(rows_with(&rows, &["user-core/"]), user_core);
    let index = rows_with(&rows, &["access-index/"]);
    let ids: BTreeSet<String> = index
        .iter()
        .map(|(k, _)| k["access-index/".len()..].to_string())
        .collect();
    assert_eq!(ids, source_access_ids());
    for (_, value) in &index {
        let entry: Value = serde_json::from_str(value).unwrap();
        assert!(names.contains(entry["usernameToken"].as_str().unwrap()));
    }
    for (key, value) in &rows {
        for old in SOURCE_TOKENS {
            assert!(
                !key.contains(old) && !value.contains(old),
                "a row under the backup's key is left: {key} = {value}"
            );
        }
    }
    assert_eq!(report.platform_entries, rows.len() as u64);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["platformRederived"]["backupEntriesLeftOut"], 15);
    assert!(json["platformRederived"]["reason"]
        .as_str()
        .unwrap()
        .contains("platform.piiHmacKey"));
}

#[test]
fn a_restore_under_the_same_key_keeps_the_backups_rows() {
    let target = sqlite_target();
    let key = source_key();
    let report = restore_archive_under(&target, &key);
    assert!(report.platform_rederived.is_none());
    assert_eq!(
        rows_with(&target.rows(), &["user-unique/", "user-indexed/"]),
        field_rows_under(&key)
    );
}

/// A user of the target, `intruder`, whose unique email is wanda-r1's (as the core
/// normalises it: another case).
fn add_intruder(engine: &dyn Engine) -> String {
    let key = source_key();
    let intruder = UserRef {
        user_id: "intruder0000000000000000".into(),
        username: "intruder".into(),
    };
    engine
        .import_user(&intruder, &MemoryUser::default(), &Default::default())
        .expect("the intruder");
    let email_key = format!(
        "user-unique/email/{}",
        token(&key, "email", "WANDA-R1.mail@example.org")
    );
    let name = token(&key, "username", "intruder");
    engine
        .import_platform(&mut std::iter::once(Ok(serde_json::json!({
            "key": email_key, "value": name
        }))))
        .expect("the intruder's email");
    email_key
}

/// Checks the email-uniqueness conflict on `engine`, which holds the intruder.
fn assert_unique_email_is_a_conflict(engine: &dyn Engine, email_key: &str) {
    let intruder_name = token(&source_key(), "username", "intruder");
    let held = || engine.platform_values(&[email_key.to_string()]).unwrap();
    for overwrite in [false, true] {
        let report = restore(
            engine,
            &archive(),
            RestoreOptions {
                pii_key: Some(source_key()),
                overwrite,
                ..Default::default()
            },
        );
        assert!(report.aborted, "overwrite {overwrite}: {report:?}");
        assert_eq!(report.conflicts.len(), 1, "{report:?}");
        assert_eq!(report.conflicts[0].user.username, "wanda-r1");
        assert!(
            report.conflicts[0]
                .reason
                .contains("email (unique) is already registered to user \"intruder\""),
            "{}",
            report.conflicts[0].reason
        );
        assert!(report.restored.is_empty());
        assert_eq!(held(), vec![(email_key.to_string(), intruder_name.clone())]);
        let users: Vec<String> = engine
            .users()
            .unwrap()
            .into_iter()
            .map(|u| u.username)
            .collect();
        assert_eq!(users, vec!["intruder".to_string()]);
    }

    // --skip-conflicts restores the others and leaves the email to its owner.
    let copy = tempfile::tempdir().unwrap();
    let dir = copy.path().join("backup");
    std::fs::create_dir(&dir).unwrap();
    testbed::copy_tree(&archive(), &dir);
    let report = restore(
        engine,
        &dir,
        RestoreOptions {
            pii_key: Some(source_key()),
            skip_conflicts: true,
            on_success: OnSuccess::MoveTo(copy.path().join("moved")),
            ..Default::default()
        },
    );
    assert!(!report.aborted);
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].user.username, "wanda-r1");
    assert_eq!(report.restored.len(), 2, "{report:?}");
    assert_eq!(held(), vec![(email_key.to_string(), intruder_name)]);
}

#[test]
fn a_unique_email_owned_by_another_user_is_a_conflict_on_sqlite() {
    let target = sqlite_target();
    let email_key = add_intruder(&target.engine);
    assert_unique_email_is_a_conflict(&target.engine, &email_key);
}

#[test]
fn a_unique_email_owned_by_another_user_is_a_conflict_on_postgresql() {
    let db = testbed::pg_database();
    let users = tempfile::tempdir().unwrap();
    let engine = Composite {
        base: Box::new(
            PgEngine::connect(
                db.conn_str(),
                Some(std::sync::Arc::new(
                    pryv_backup::engines::filesystem::FsAttachments::new(
                        users.path().to_path_buf(),
                    ),
                )),
            )
            .expect("connect"),
        ),
        // The archive's audit rows are the core's SQLite ones: kept in per-user files, as
        // the core's default configuration does beside PostgreSQL.
        audit: Some(Box::new(pryv_backup::engines::sqlite::SqliteAudit::new(
            users.path(),
        ))),
        series: None,
        platform: None,
    };
    let email_key = add_intruder(&engine);
    assert_unique_email_is_a_conflict(&engine, &email_key);
}

/// A cleartext-mode source where bob's email differs from alice's by case only: two rows
/// there, one token under a hashed target's key.
#[test]
fn two_users_of_the_backup_claiming_one_unique_value_is_a_conflict() {
    use pryv_backup::backup::BackupOptions;
    use pryv_backup::sample::{sample_platform, sample_platform_entries};

    let source = sqlite_target();
    let mut entries = sample_platform_entries(7);
    for (user, mut data) in sample_platform(7) {
        if user.username == "bob" {
            let account = data.account.as_mut().unwrap();
            for field in account["accountFields"].as_array_mut().unwrap() {
                if field["field"] == "email" {
                    field["value"] = "ALICE@example.com".into();
                }
            }
            for entry in &mut entries {
                if entry["username"] == "bob" && entry["field"] == "email" {
                    entry["value"] = "ALICE@example.com".into();
                }
            }
        }
        source
            .engine
            .import_user(&user, &data, &Default::default())
            .unwrap();
    }
    source
        .engine
        .import_platform(&mut entries.into_iter().map(Ok))
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("backup");
    let options = BackupOptions {
        include_ephemeral: false,
        jobs: 1,
        ..backup_options("sqlite", "https://keys.example")
    };
    backup_into(&source.engine, &dir, &options);

    let target = sqlite_target();
    let report = restore(
        &target.engine,
        &dir,
        RestoreOptions {
            pii_key: Some(other_key()),
            ..Default::default()
        },
    );
    assert!(report.aborted, "{report:?}");
    let conflicts: Vec<(&str, &str)> = report
        .conflicts
        .iter()
        .map(|c| (c.user.username.as_str(), c.reason.as_str()))
        .collect();
    assert_eq!(
        conflicts,
        vec![(
            "bob",
            "its email (unique) is also the email of \"alice\" in this backup"
        )]
    );
    assert!(!target.dir.path().join("platform.sqlite").exists());
    assert!(target.engine.users().unwrap().is_empty());
}
