//! Writing archives and reading them back: exact JSON, chunking, empty users, the sealer hook.

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use pryv_backup::archive::{
    verify, ArchiveReader, ArchiveWriter, FileSealer, ManifestInfo, SealedWrite, UserEntries,
    UserManifest, WriterOptions,
};
use pryv_backup::model::{Collection, Item, UserRef};
use serde_json::{json, Value};

fn user(id: &str) -> UserRef {
    UserRef {
        user_id: id.to_string(),
        username: format!("name-{id}"),
    }
}

fn info(users: Vec<UserManifest>) -> ManifestInfo {
    ManifestInfo {
        core_version: "2.0.0".into(),
        config: json!({"engine": "test"}),
        backup_type: "full".into(),
        backup_timestamp: 1763990000123,
        snapshot_before: Some(1763989999.0),
        users: UserEntries::from_vec(users).unwrap(),
    }
}

/// A writer into `dir` whose chunks hold `max_chunk_size` raw bytes at most.
fn writer_with_chunks(dir: &Path, max_chunk_size: u64) -> ArchiveWriter {
    ArchiveWriter::create(
        dir,
        WriterOptions {
            max_chunk_size,
            ..Default::default()
        },
    )
    .unwrap()
}

fn parse(text: &str) -> Item {
    serde_json::from_str(text).unwrap()
}

fn texts(
    items: impl Iterator<Item = Result<Item, pryv_backup::archive::ArchiveError>>,
) -> Vec<String> {
    items
        .map(|i| serde_json::to_string(&i.unwrap()).unwrap())
        .collect()
}

const TRICKY: &str = r#"{"id":"e1","z":1,"a":{"y":[1e308,-0.0,12345678901234567890,0.1,1.50]},"s":"é 😀 \u2028 \" \n \\ \u0000","big":-1.7976931348623157e308}"#;

#[test]
fn archive_round_trip_keeps_json_exact() {
    for compress in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let w = ArchiveWriter::create(
            dir.path(),
            WriterOptions {
                compress,
                ..Default::default()
            },
        )
        .unwrap();
        let mut u = w.open_user(&user("u1")).unwrap();
        u.item(
            Collection::Streams,
            &parse(r#"{"id":"s","name":"Ünïcode ✓"}"#),
        )
        .unwrap();
        u.item(Collection::Events, &parse(TRICKY)).unwrap();
        u.item(
            Collection::Series,
            &parse(r#"{"measurement":"m","points":[{"deltaTime":0,"value":1}]}"#),
        )
        .unwrap();
        u.item(Collection::Sessions, &parse(r#"{"id":"sess"}"#))
            .unwrap();
        u.account(&parse(
            r#"{"passwords":[],"storeKeyValues":[],"accountFields":[]}"#,
        ))
        .unwrap();
        u.attachment("file-1", &mut &b"\x00\x01binary\xff"[..])
            .unwrap();
        let m = w.finish(info(vec![u.finish().unwrap()])).unwrap();
        let user = m.users.get(0).unwrap();
        assert_eq!(user.stat("events"), 1);
        assert_eq!(user.stat("sessions"), 1);
        assert!(!user.stats.contains_key("passwordResets"));

        let r = ArchiveReader::open(dir.path(), None).unwrap();
        assert_eq!(r.manifest().compressed, compress);
        assert_eq!(r.manifest().writer.as_ref().unwrap().name, "pryv-backup");
        let ur = r.user("u1").unwrap();
        // Items come back equal, and written exactly as serde_json writes them (the number
        // text the parser keeps, key order).
        let tricky = parse(TRICKY);
        let back: Vec<Item> = ur
            .items(Collection::Events)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(back, vec![tricky.clone()]);
        assert_eq!(
            texts(ur.items(Collection::Events).unwrap()),
            vec![serde_json::to_string(&tricky).unwrap()]
        );
        assert!(texts(ur.items(Collection::Events).unwrap())[0]
            .contains("[1e+308,-0.0,12345678901234567890,0.1,1.50]"));
        assert_eq!(
            texts(ur.items(Collection::Streams).unwrap()),
            vec![r#"{"id":"s","name":"Ünïcode ✓"}"#]
        );
        assert_eq!(ur.items(Collection::Series).unwrap().count(), 1);
        assert_eq!(ur.items(Collection::Sessions).unwrap().count(), 1);
        assert_eq!(ur.items(Collection::PasswordResets).unwrap().count(), 0);
        assert_eq!(ur.account().unwrap().unwrap()["passwords"], json!([]));
        let mut blob = Vec::new();
        ur.attachment("file-1")
            .unwrap()
            .unwrap()
            .read_to_end(&mut blob)
            .unwrap();
        assert_eq!(blob, b"\x00\x01binary\xff");
        assert!(ur.attachment("nope").unwrap().is_none());

        let ext = if compress { ".jsonl.gz" } else { ".jsonl" };
        let udir = dir.path().join("users/u1");
        for f in [
            "streams",
            "accesses",
            "profile",
            "webhooks",
            "account",
            "sessions",
            "series/series",
            "events/events-0001",
        ] {
            assert!(udir.join(format!("{f}{ext}")).is_file(), "{f}{ext}");
        }
        assert!(!udir.join(format!("passwordResets{ext}")).exists());
        let report = verify(dir.path(), None).unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
    }
}

#[test]
fn archive_empty_user_has_the_always_present_files() {
    let dir = tempfile::tempdir().unwrap();
    let w = ArchiveWriter::create(dir.path(), WriterOptions::default()).unwrap();
    let m = w.open_user(&user("empty")).unwrap().finish().unwrap();
    assert_eq!(
        serde_json::to_value(&m.chunks).unwrap(),
        json!({"events": [], "audit": []})
    );
    assert_eq!(
        serde_json::to_value(&m.stats).unwrap(),
        json!({"streams":0,"accesses":0,"profile":0,"webhooks":0,"events":0,"audit":0,"series":0,"attachments":0})
    );
    w.finish(info(vec![m])).unwrap();
    let udir = dir.path().join("users/empty");
    let mut names: Vec<String> = std::fs::read_dir(&udir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "accesses.jsonl.gz",
            "profile.jsonl.gz",
            "streams.jsonl.gz",
            "user-manifest.json",
            "webhooks.jsonl.gz"
        ]
    );
    let r = ArchiveReader::open(dir.path(), None).unwrap();
    let ur = r.user("empty").unwrap();
    for c in Collection::ALL {
        assert_eq!(ur.items(c).unwrap().count(), 0);
    }
    assert!(ur.account().unwrap().is_none());
    assert!(ur.attachment_ids().unwrap().is_empty());
    assert!(verify(dir.path(), None).unwrap().is_ok());
}

#[test]
fn archive_chunks_by_raw_size_without_splitting_items() {
    let dir = tempfile::tempdir().unwrap();
    let w = writer_with_chunks(dir.path(), 1000);
    let mut u = w.open_user(&user("u")).unwrap();
    let mut want = Vec::new();
    for i in 0..500 {
        let item = json!({"id": format!("e{i:04}"), "content": "x".repeat(i % 97)});
        u.item(Collection::Events, &item).unwrap();
        want.push(serde_json::to_string(&item).unwrap());
    }
    // One item larger than a whole chunk gets a chunk of its own.
    let huge = json!({"id": "huge", "content": "y".repeat(5000)});
    u.item(Collection::Audit, &json!({"id": "a0"})).unwrap();
    u.item(Collection::Audit, &huge).unwrap();
    u.item(Collection::Audit, &json!({"id": "a2"})).unwrap();
    let m = u.finish().unwrap();
    w.finish(info(vec![m.clone()])).unwrap();

    let r = ArchiveReader::open(dir.path(), None).unwrap();
    let ur = r.user("u").unwrap();
    assert_eq!(texts(ur.items(Collection::Events).unwrap()), want);
    assert_eq!(
        m.chunks["audit"],
        ["audit-0001.jsonl.gz", "audit-0002.jsonl.gz"]
    );
    assert_eq!(ur.items(Collection::Audit).unwrap().count(), 3);
    // Every chunk but the last reached the limit, and would not have without its last line.
    let chunks = &m.chunks["events"];
    assert!(chunks.len() > 20, "{}", chunks.len());
    let mut lines = want.iter();
    for (n, name) in chunks.iter().enumerate() {
        let path = dir.path().join("users/u/events").join(name);
        let mut raw = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
            .read_to_string(&mut raw)
            .unwrap();
        let count = raw.lines().count();
        let expected: Vec<&String> = lines.by_ref().take(count).collect();
        assert_eq!(raw.lines().collect::<Vec<_>>(), expected);
        if n + 1 < chunks.len() {
            let last = raw.lines().last().unwrap().len() + 1;
            assert!(
                raw.len() >= 1000 && raw.len() - last < 1000,
                "chunk {name}: {}",
                raw.len()
            );
        }
    }
    assert!(verify(dir.path(), None).unwrap().is_ok());
}

#[test]
fn archive_writer_refuses_misuse() {
    let dir = tempfile::tempdir().unwrap();
    let w = ArchiveWriter::create(dir.path(), WriterOptions::default()).unwrap();
    let mut u = w.open_user(&user("u")).unwrap();
    u.item(Collection::Streams, &json!({"id": "a"})).unwrap();
    u.item(Collection::Events, &json!({"id": "b"})).unwrap();
    let err = u
        .item(Collection::Streams, &json!({"id": "c"}))
        .unwrap_err();
    assert!(err.to_string().contains("contiguous"), "{err}");
    assert!(w.open_user(&user("u")).is_err(), "same user twice");
    assert!(w.open_user(&user("../evil")).is_err());
    assert!(u.attachment("../x", &mut io::empty()).is_err());
    w.finish(info(vec![u.finish().unwrap()])).unwrap();
    let err = ArchiveWriter::create(dir.path(), WriterOptions::default())
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("choose an empty directory"),
        "{err}"
    );
    // Without the manifest, what is left was not marked as an unfinished run's own output
    // (the marker goes once the manifest is written): it is not pryv-backup's to remove.
    std::fs::remove_file(dir.path().join("manifest.json")).unwrap();
    let err = ArchiveWriter::create(dir.path(), WriterOptions::default())
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("choose an empty directory"),
        "{err}"
    );
    assert!(dir
        .path()
        .join("users")
        .read_dir()
        .unwrap()
        .next()
        .is_some());
}

/// A run that stops before its manifest (a crash, a full disk) leaves its marker: the next
/// run into the folder removes that output and writes a whole backup of its own.
#[test]
fn an_unfinished_backup_is_replaced_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let w = ArchiveWriter::create(dir.path(), WriterOptions::default()).unwrap();
    assert!(!w.replaced_unfinished());
    let mut u = w.open_user(&user("gone")).unwrap();
    u.item(Collection::Events, &json!({"id": "stale"})).unwrap();
    drop(u);
    drop(w);
    assert!(dir.path().join(".pryv-backup-in-progress").is_file());
    assert!(dir.path().join("users/gone").is_dir());

    let w = ArchiveWriter::create(dir.path(), WriterOptions::default()).unwrap();
    assert!(w.replaced_unfinished());
    let mut u = w.open_user(&user("kept")).unwrap();
    u.item(Collection::Events, &json!({"id": "fresh"})).unwrap();
    w.finish(info(vec![u.finish().unwrap()])).unwrap();

    assert!(
        !dir.path().join("users/gone").exists(),
        "the unfinished run's files are removed"
    );
    assert!(!dir.path().join(".pryv-backup-in-progress").exists());
    assert!(verify(dir.path(), None).unwrap().is_ok());
    // A complete backup is never replaced.
    let err = ArchiveWriter::create(dir.path(), WriterOptions::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("already holds a backup"), "{err}");
    assert!(dir.path().join("users/kept").is_dir());
}

#[test]
fn archive_users_are_written_in_parallel() {
    let dir = tempfile::tempdir().unwrap();
    let w = writer_with_chunks(dir.path(), 4096);
    let users: Vec<UserManifest> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let w = &w;
                s.spawn(move || {
                    let mut u = w.open_user(&user(&format!("u{t}"))).unwrap();
                    for i in 0..300 {
                        u.item(
                            Collection::Events,
                            &json!({"id": format!("{t}-{i}"), "n": i}),
                        )
                        .unwrap();
                    }
                    u.finish().unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    w.finish(info(users)).unwrap();
    let report = verify(dir.path(), None).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.items_checked, 1200);
}

#[test]
fn archive_records_on_disk_size_and_sha256() {
    let dir = tempfile::tempdir().unwrap();
    let w = ArchiveWriter::create(dir.path(), WriterOptions::default()).unwrap();
    let mut u = w.open_user(&user("u")).unwrap();
    u.item(Collection::Events, &json!({"id": "e"})).unwrap();
    u.attachment("f", &mut &[7u8; 100_000][..]).unwrap();
    let m = u.finish().unwrap();
    let mut p = w.platform_writer().unwrap();
    p.item(&json!({"username": "u"})).unwrap();
    assert_eq!(p.finish().unwrap(), 1);
    let manifest = w.finish(info(vec![m.clone()])).unwrap();
    let paths: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        ["platform/platform.jsonl.gz", "users/u/user-manifest.json"]
    );
    for f in &m.files {
        let bytes = std::fs::read(dir.path().join("users/u").join(&f.path)).unwrap();
        assert_eq!(bytes.len() as u64, f.size);
        assert_eq!(
            f.sha256.as_deref(),
            Some(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)).as_str())
        );
    }
    // No temporary file is left behind.
    assert_no_temp_files(dir.path());
}

fn assert_no_temp_files(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        assert!(!name.ends_with(".tmp"), "left over: {name}");
        if entry.file_type().unwrap().is_dir() {
            assert_no_temp_files(&entry.path());
        }
    }
}

/// Test-only sealer: a marker, then every byte XORed. Enough to see that every file goes
/// through the hook and comes back.
struct XorSealer(u8);

const MARK: &[u8] = b"XOR!";

struct XorWrite<'a> {
    out: Box<dyn Write + Send + 'a>,
    key: u8,
}

impl Write for XorWrite<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let x: Vec<u8> = buf.iter().map(|b| b ^ self.key).collect();
        self.out.write_all(&x)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl SealedWrite for XorWrite<'_> {
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.out.flush()
    }
}

struct XorRead<'a> {
    input: Box<dyn Read + Send + 'a>,
    key: u8,
}

impl Read for XorRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.input.read(buf)?;
        buf[..n].iter_mut().for_each(|b| *b ^= self.key);
        Ok(n)
    }
}

impl FileSealer for XorSealer {
    fn envelope(&self) -> Value {
        json!({"v": 1, "alg": "XOR-TEST"})
    }
    fn seal<'a>(
        &self,
        mut out: Box<dyn Write + Send + 'a>,
    ) -> io::Result<Box<dyn SealedWrite + 'a>> {
        out.write_all(MARK)?;
        Ok(Box::new(XorWrite { out, key: self.0 }))
    }
    fn open<'a>(
        &self,
        mut input: Box<dyn Read + Send + 'a>,
    ) -> io::Result<Box<dyn Read + Send + 'a>> {
        let mut mark = [0u8; 4];
        input.read_exact(&mut mark)?;
        if mark != MARK {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "not sealed"));
        }
        Ok(Box::new(XorRead { input, key: self.0 }))
    }
}

fn every_file(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            every_file(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn archive_seals_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let sealer: Arc<dyn FileSealer> = Arc::new(XorSealer(0x5a));
    let options = WriterOptions {
        sealer: Some(sealer.clone()),
        max_chunk_size: 64,
        ..Default::default()
    };
    let w = ArchiveWriter::create(dir.path(), options).unwrap();
    let mut u = w.open_user(&user("u")).unwrap();
    for i in 0..10 {
        u.item(
            Collection::Events,
            &json!({"id": format!("e{i}"), "attachments": [{"id": format!("f{i}")}]}),
        )
        .unwrap();
    }
    u.account(&json!({"passwords": []})).unwrap();
    u.attachment("f1", &mut &b"secret blob"[..]).unwrap();
    let m = u.finish().unwrap();
    let mut p = w.platform_writer().unwrap();
    p.item(&json!({"k": 1})).unwrap();
    p.finish().unwrap();
    w.finish(info(vec![m])).unwrap();

    let mut files = Vec::new();
    every_file(dir.path(), &mut files);
    assert!(files.len() >= 12, "{files:?}");
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        if f.file_name().unwrap() == "encryption.json" {
            let envelope: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(envelope["alg"], "XOR-TEST");
        } else {
            assert!(bytes.starts_with(MARK), "{} was not sealed", f.display());
        }
    }

    assert!(ArchiveReader::open(dir.path(), None)
        .err()
        .unwrap()
        .to_string()
        .contains("encrypted"));
    let r = ArchiveReader::open(dir.path(), Some(sealer.clone())).unwrap();
    let ur = r.user("u").unwrap();
    assert_eq!(ur.items(Collection::Events).unwrap().count(), 10);
    assert_eq!(ur.attachment_events().unwrap()["f1"], "e1");
    let mut blob = String::new();
    ur.attachment("f1")
        .unwrap()
        .unwrap()
        .read_to_string(&mut blob)
        .unwrap();
    assert_eq!(blob, "secret blob");
    assert_eq!(r.platform_items().unwrap().count(), 1);
    let wrong: Arc<dyn FileSealer> = Arc::new(XorSealer(0x33));
    let err = ArchiveReader::open(dir.path(), Some(wrong))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("wrong passphrase or key"), "{err}");
    let report = verify(dir.path(), Some(sealer)).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[test]
fn archive_types_can_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<ArchiveWriter>();
    send_sync::<ArchiveReader>();
    send_sync::<pryv_backup::archive::UserReader>();
    send::<pryv_backup::archive::UserWriter>();
    send::<pryv_backup::archive::JsonlWriter>();
}

/// The archive plugs into the engine traits: an engine exports into a `UserWriter` (as a
/// `UserSink`) and imports from a `UserReader` (as a `UserSource`).
#[test]
fn archive_is_a_user_sink_and_source() {
    use pryv_backup::engine::{MemoryUser, UserSink, UserSource};

    let mut original = MemoryUser::default();
    original
        .item(Collection::Streams, &json!({"id": "s"}))
        .unwrap();
    for i in 0..50 {
        original
            .item(
                Collection::Events,
                &json!({"id": format!("e{i}"), "attachments": [{"id": format!("f{i}")}]}),
            )
            .unwrap();
    }
    UserSink::account(&mut original, &json!({"passwords": [{"hash": "h"}]})).unwrap();
    UserSink::attachment(&mut original, "e3", "f3", &mut &b"three"[..]).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let w = writer_with_chunks(dir.path(), 256);
    let mut sink = w.open_user(&user("u")).unwrap();
    for c in Collection::ALL {
        for item in original.items_of(c) {
            UserSink::item(&mut sink, c, item).unwrap();
        }
    }
    UserSink::account(&mut sink, original.account.as_ref().unwrap()).unwrap();
    for (file_id, (event_id, bytes)) in &original.attachments {
        UserSink::attachment(&mut sink, event_id, file_id, &mut bytes.as_slice()).unwrap();
    }
    w.finish(info(vec![sink.finish().unwrap()])).unwrap();

    let r = ArchiveReader::open(dir.path(), None).unwrap();
    let source = r.user("u").unwrap();
    let mut copy = MemoryUser::default();
    for c in Collection::ALL {
        for item in UserSource::items(&source, c).unwrap() {
            copy.item(c, &item.unwrap()).unwrap();
        }
    }
    UserSink::account(&mut copy, &UserSource::account(&source).unwrap().unwrap()).unwrap();
    let events = source.attachment_events().unwrap();
    for file_id in source.attachment_ids().unwrap() {
        let mut blob = UserSource::attachment(&source, &file_id).unwrap().unwrap();
        UserSink::attachment(&mut copy, &events[&file_id], &file_id, &mut blob).unwrap();
    }
    assert_eq!(copy, original);
}
