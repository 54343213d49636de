//! The S3 file engine against a real S3 server (Garage): attachments read from and restored
//! to `<keyPrefix><userId>/<eventId>/<fileId>`, all or nothing, through a whole backup and
//! restore of a PostgreSQL-base install configured as the core is.

mod archive_support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Instant;

use archive_support::*;
use pryv_backup::engine::{
    AttachmentStore, Engine, ExportOptions, ExportWindow, ImportOptions, ItemIter, MemoryUser,
    UserSource,
};
use pryv_backup::engines::s3::S3Attachments;
use pryv_backup::engines::sqlite::SqliteEngine;
use pryv_backup::install::{Install, InstallSources};
use pryv_backup::integrity::{self, ItemKind};
use pryv_backup::model::{Collection, Item, UserRef};
use pryv_backup::s3::{Bucket, S3Settings};
use pryv_backup::sample::sample_platform;
use pryv_backup::Error;
use serde_json::json;
use testbed::s3::S3Server;

/// Above two multipart parts (8 MiB each), so the upload takes three.
const BIG: usize = 17 * 1024 * 1024 + 123;

/// One PostgreSQL-base install whose attachments are in S3 under its own key prefix.
struct S3Install {
    engine: Box<dyn Engine>,
    /// `<label>-<random>/`
    key_prefix: String,
    _db: testbed::TestDb,
    _core: tempfile::TempDir,
}

impl S3Install {
    fn new(server: &S3Server, label: &str) -> S3Install {
        let db = testbed::pg_database();
        let core = testbed::core_dir();
        let key_prefix = format!("{}/", server.unique_prefix(label));
        let user_root = core.path().display().to_string();
        let mut overrides = pg_overrides(&db);
        for (key, value) in [
            ("storages:base:engine", "postgresql"),
            ("storages:audit:engine", "postgresql"),
            ("storages:series:engine", "postgresql"),
            ("storages:platform:engine", "postgresql"),
            ("storages:file:engine", "s3"),
            ("storages:engines:s3:bucket", server.bucket.as_str()),
            ("storages:engines:s3:endpoint", server.endpoint.as_str()),
            ("storages:engines:s3:region", "garage"),
            ("storages:engines:s3:accessKeyId", server.key_id.as_str()),
            (
                "storages:engines:s3:secretAccessKey",
                server.secret.as_str(),
            ),
            ("storages:engines:s3:forcePathStyle", "true"),
            ("storages:engines:s3:keyPrefix", key_prefix.as_str()),
            ("storages:engines:sqlite:path", user_root.as_str()),
        ] {
            overrides.push((key.to_string(), value.to_string()));
        }
        let install = Install::load(&InstallSources {
            core_dir: core.path().to_path_buf(),
            overrides,
            ..Default::default()
        })
        .expect("configuration");
        S3Install {
            engine: install.engine().expect("engines"),
            key_prefix,
            _db: db,
            _core: core,
        }
    }

    /// Every object under the install's prefix, user ones and staged ones: key (below the
    /// prefix) → bytes.
    fn objects(&self, bucket: &Bucket) -> BTreeMap<String, Vec<u8>> {
        let prefix = self.key_prefix.trim_end_matches('/');
        bucket
            .list(prefix)
            .expect("list")
            .into_iter()
            .map(|key| {
                let bytes = read_all(bucket.get(&key).expect("get").expect("listed"));
                (key[self.key_prefix.len()..].to_string(), bytes)
            })
            .collect()
    }
}

/// The test database's connection settings as `storages:engines:postgresql:*` overrides.
fn pg_overrides(db: &testbed::TestDb) -> Vec<(String, String)> {
    let config: postgres::Config = db.conn_str().parse().expect("testbed gives a valid URL");
    let host = match &config.get_hosts()[0] {
        postgres::config::Host::Tcp(h) => h.clone(),
        postgres::config::Host::Unix(p) => p.display().to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    [
        ("host", host),
        ("port", port.to_string()),
        ("database", config.get_dbname().unwrap_or_default().into()),
        ("user", config.get_user().unwrap_or_default().into()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("storages:engines:postgresql:{k}"), v))
    .collect()
}

fn bucket(server: &S3Server) -> Bucket {
    Bucket::connect(&S3Settings::self_hosted(
        &server.bucket,
        &server.endpoint,
        "garage",
        &server.key_id,
        &server.secret,
    ))
    .expect("bucket")
}

fn read_all(mut reader: impl Read) -> Vec<u8> {
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).expect("read");
    bytes
}

fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// The sample platform, with alice also holding an event whose files are a big one (three
/// multipart parts) and an empty one.
fn platform(seed: u64) -> Vec<(UserRef, MemoryUser)> {
    let mut users = sample_platform(seed);
    let alice = &mut users[0].1;
    let big = pseudo_random(BIG, seed);
    let mut event = json!({"id": "ev-big-files", "streamIds": ["notes"], "time": 1763990000,
        "endTime": 1763990000, "type": "file/attached",
        "attachments": [
            {"id": "att-big", "fileName": "scan.tiff", "type": "image/tiff", "size": big.len(),
             "integrity": "sha256-unchecked"},
            {"id": "att-empty", "fileName": "empty.txt", "type": "text/plain", "size": 0,
             "integrity": "sha256-unchecked"}],
        "created": 1763990000, "createdBy": "acc-app", "modified": 1763990000,
        "modifiedBy": "acc-app", "integrity": ""});
    event["integrity"] = integrity::compute(ItemKind::Event, &event).into();
    alice
        .collections
        .entry(Collection::Events)
        .or_default()
        .push(event);
    alice
        .attachments
        .insert("att-big".into(), ("ev-big-files".into(), big));
    alice
        .attachments
        .insert("att-empty".into(), ("ev-big-files".into(), Vec::new()));
    users
}

/// What the install's prefix must hold for these users: `<userId>/<eventId>/<fileId>` → bytes.
fn expected_objects(users: &[(UserRef, MemoryUser)]) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for (user, data) in users {
        for (file_id, (event_id, bytes)) in &data.attachments {
            out.insert(
                format!("{}/{event_id}/{file_id}", user.user_id),
                bytes.clone(),
            );
        }
    }
    out
}

fn fill(engine: &dyn Engine, users: &[(UserRef, MemoryUser)]) {
    for (user, data) in users {
        engine
            .import_user(user, data, &ImportOptions::default())
            .expect("import");
    }
}

fn backup_to(engine: &dyn Engine, dir: &Path) {
    let options = backup_options("test", "https://s3.example");
    backup_into(engine, dir, &options);
}

fn attachments_of(engine: &dyn Engine) -> BTreeMap<String, BTreeMap<String, (String, Vec<u8>)>> {
    let everything = ExportOptions {
        window: ExportWindow::everything(),
        include_ephemeral: true,
    };
    engine
        .users()
        .expect("users")
        .into_iter()
        .map(|user| {
            let mut data = MemoryUser::default();
            engine
                .export_user(&user, &everything, &mut data)
                .expect("export");
            (user.user_id, data.attachments)
        })
        .collect()
}

fn assert_same_objects(found: &BTreeMap<String, Vec<u8>>, wanted: &BTreeMap<String, Vec<u8>>) {
    let keys = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(found), keys(wanted));
    for (key, bytes) in wanted {
        assert!(found[key] == *bytes, "bytes of {key} differ");
    }
}

#[test]
fn s3_attachments_survive_backup_and_restore_byte_for_byte() {
    let server = testbed::s3::s3();
    let bucket = bucket(&server);
    let users = platform(11);
    let wanted = expected_objects(&users);

    let source = S3Install::new(&server, "s3att-source");
    fill(source.engine.as_ref(), &users);
    // The core's layout, written by us and read back by a plain client.
    assert_same_objects(&source.objects(&bucket), &wanted);

    let work = tempfile::tempdir().expect("tempdir");
    let archive = work.path().join("backup");
    let started = Instant::now();
    backup_to(source.engine.as_ref(), &archive);
    let backed_up = started.elapsed();

    let target = S3Install::new(&server, "s3att-target");
    let started = Instant::now();
    restore_verified(&archive, target.engine.as_ref(), false);
    let restored = started.elapsed();
    eprintln!(
        "{} attachments ({} bytes) in S3: backup {backed_up:?}, restore {restored:?}",
        wanted.len(),
        wanted.values().map(Vec::len).sum::<usize>()
    );
    // Exactly the users' objects: nothing left under the staging prefix.
    assert_same_objects(&target.objects(&bucket), &wanted);
    // Not assert_eq: a failure would print megabytes.
    assert!(attachments_of(source.engine.as_ref()) == attachments_of(target.engine.as_ref()));
}

/// Alice's backup, failing at `fail_at` after her attachments were (partly) uploaded.
struct Failing<'a> {
    inner: &'a MemoryUser,
    fail_at: FailAt,
}

#[derive(Clone, Copy)]
enum FailAt {
    /// Midway through the big file's bytes, while its multipart upload is open.
    BigFileBytes,
    /// Once every attachment is staged (the account comes after the files).
    Account,
}

impl UserSource for Failing<'_> {
    fn items(&self, collection: Collection) -> pryv_backup::Result<ItemIter<'_>> {
        self.inner.items(collection)
    }

    fn account(&self) -> pryv_backup::Result<Option<Item>> {
        match self.fail_at {
            FailAt::Account => Err(Error::Other("simulated failure after the files".into())),
            FailAt::BigFileBytes => self.inner.account(),
        }
    }

    fn attachment(&self, file_id: &str) -> pryv_backup::Result<Option<Box<dyn Read + '_>>> {
        match (self.fail_at, self.inner.attachments.get(file_id)) {
            (FailAt::BigFileBytes, Some((_, bytes))) if file_id == "att-big" => {
                let half = &bytes[..bytes.len() / 2];
                let broken = std::io::Read::chain(
                    half,
                    FailingReader("simulated failure in the middle of a file"),
                );
                Ok(Some(Box::new(broken)))
            }
            _ => self.inner.attachment(file_id),
        }
    }
}

struct FailingReader(&'static str);

impl Read for FailingReader {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other(self.0))
    }
}

#[test]
fn s3_attachments_failed_restore_leaves_no_object() {
    let server = testbed::s3::s3();
    let bucket = bucket(&server);
    let users = platform(12);
    let (alice, data) = &users[0];
    let target = S3Install::new(&server, "s3att-failing");
    for fail_at in [FailAt::BigFileBytes, FailAt::Account] {
        let failing = Failing {
            inner: data,
            fail_at,
        };
        let error = target
            .engine
            .import_user(alice, &failing, &ImportOptions::default())
            .expect_err("the source fails")
            .to_string();
        assert!(error.contains("simulated failure"), "{error}");
        // Neither the user's objects nor staged ones.
        assert_eq!(target.objects(&bucket).len(), 0);
        assert!(target.engine.users().expect("users").is_empty());
    }
    // The same user then restores completely.
    target
        .engine
        .import_user(alice, data, &ImportOptions::default())
        .expect("import");
    assert_same_objects(&target.objects(&bucket), &expected_objects(&users[..1]));
}

#[test]
fn s3_attachments_overwrite_replaces_the_users_files() {
    let server = testbed::s3::s3();
    let bucket = bucket(&server);
    let target = S3Install::new(&server, "s3att-overwrite");
    // The user already has other files, one of them at a key the restore also writes.
    let old = platform(13);
    fill(target.engine.as_ref(), &old);
    let (alice, mut data) = platform(14).swap_remove(0);
    data.attachments
        .retain(|file_id, _| file_id != "att-alice-2" && file_id != "att-big");
    target
        .engine
        .import_user(
            &alice,
            &data,
            &ImportOptions {
                overwrite: true,
                ..Default::default()
            },
        )
        .expect("overwrite");
    let mut wanted = expected_objects(&old[1..]);
    wanted.extend(expected_objects(&[(alice, data)]));
    assert_same_objects(&target.objects(&bucket), &wanted);
}

#[test]
fn s3_attachments_without_overwrite_never_replace_a_file() {
    let server = testbed::s3::s3();
    let bucket = bucket(&server);
    let prefix = format!("{}/", server.unique_prefix("s3att-merge"));
    let store = S3Attachments::new(bucket.clone(), &prefix).expect("store");
    let user = "cjx1userxyz0009";
    let write = |files: &[(&str, &[u8])], overwrite: bool| {
        let mut import = store.begin_user_import(user, overwrite)?;
        for (file_id, bytes) in files {
            import.write("ev1", file_id, &mut &bytes[..])?;
        }
        import.commit()
    };
    write(&[("a", b"old a")], false).expect("first restore");
    let clash = write(&[("b", b"new b"), ("a", b"new a")], false)
        .expect_err("an existing file is never replaced without overwrite")
        .to_string();
    assert!(clash.contains("overwrite"), "{clash}");
    write(&[("c", b"c")], false).expect("new files merge in");
    let objects: Vec<(String, Vec<u8>)> = bucket
        .list(prefix.trim_end_matches('/'))
        .expect("list")
        .into_iter()
        .map(|key| {
            let bytes = read_all(bucket.get(&key).expect("get").expect("listed"));
            (key[prefix.len()..].to_string(), bytes)
        })
        .collect();
    assert_eq!(
        objects,
        vec![
            (format!("{user}/ev1/a"), b"old a".to_vec()),
            (format!("{user}/ev1/c"), b"c".to_vec()),
        ]
    );
    assert!(store.read(user, "ev1", "..").is_err());
    assert!(store.read("../x", "ev1", "a").is_err());
    match store.read(user, "ev1", "missing") {
        Err(Error::Io { source, .. }) => assert_eq!(source.kind(), std::io::ErrorKind::NotFound),
        other => panic!(
            "a missing object reads as not found, got {:?}",
            other.is_ok()
        ),
    };
}

#[test]
fn s3_attachments_restore_an_archive_of_filesystem_attachments() {
    let server = testbed::s3::s3();
    let bucket = bucket(&server);
    let users = platform(15);
    let work = tempfile::tempdir().expect("tempdir");
    let sqlite_dir = work.path().join("sqlite");
    std::fs::create_dir(&sqlite_dir).expect("mkdir");
    let sqlite = SqliteEngine::open_with_fs_attachments(&sqlite_dir).expect("sqlite");
    fill(&sqlite, &users);
    let archive = work.path().join("backup");
    backup_to(&sqlite, &archive);

    let target = S3Install::new(&server, "s3att-from-fs");
    restore_verified(&archive, target.engine.as_ref(), false);
    assert_same_objects(&target.objects(&bucket), &expected_objects(&users));
    assert!(attachments_of(&sqlite) == attachments_of(target.engine.as_ref()));
}

#[test]
fn s3_attachments_failing_after_the_database_commit_leave_the_user_incomplete_not_rolled_back() {
    let server = testbed::s3::s3();
    let bucket = bucket(&server);
    let users = platform(15);
    let (alice, data) = &users[0];
    let target = S3Install::new(&server, "s3att-after-commit");
    // A stray object where the restore puts one of alice's files: the attachment commit,
    // which runs once her rows are committed, refuses to replace it without overwrite.
    let wanted = expected_objects(&users[..1]);
    let (clashing, _) = wanted.iter().next().expect("alice has attachments");
    let mut stray = bucket
        .create(&format!("{}{clashing}", target.key_prefix))
        .expect("upload");
    stray.write_all(b"stray").expect("write");
    stray.finish().expect("finish");

    let error = target
        .engine
        .import_user(alice, data, &ImportOptions::default())
        .expect_err("the attachment commit fails");
    assert!(
        matches!(
            &error,
            Error::AfterCommit {
                what: "attachments",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("--overwrite"), "{error}");
    // Her rows are in: the report must not call her rolled back.
    assert_eq!(target.engine.users().expect("users"), vec![alice.clone()]);

    target
        .engine
        .import_user(
            alice,
            data,
            &ImportOptions {
                overwrite: true,
                ..Default::default()
            },
        )
        .expect("the overwrite completes her");
    assert_same_objects(&target.objects(&bucket), &wanted);
}
