//! Reading archives written by open-pryv.io's own bin/backup.js writer
//! (tests/fixtures/reference-archives) and comparing with what they must yield.

use std::io::Read;
use std::path::PathBuf;

use pryv_backup::archive::{
    summary, verify, ArchiveReader, ArchiveWriter, ManifestInfo, UserEntriesBuilder, WriterOptions,
};
use pryv_backup::model::{Collection, UserRef};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn fixtures() -> PathBuf {
    testbed::fixtures_dir()
}

fn reference(name: &str) -> PathBuf {
    fixtures().join("reference-archives").join(name)
}

fn expected(name: &str) -> Value {
    let path = reference("expected").join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Compact JSON text: equal texts mean equal key order and number text.
fn text(v: &Value) -> String {
    serde_json::to_string(v).unwrap()
}

const USERS: [&str; 3] = ["cjx1alicexyz0001", "cjx1bobxyzab0002", "cjx1carolxyz0003"];

fn check_against_expected(archive: &str) {
    let reader = ArchiveReader::open(&reference(archive), None).unwrap();
    let manifest = reader.manifest();
    assert_eq!(manifest.format_version, 1);
    assert_eq!(manifest.users.len(), 3);

    let platform: Vec<Value> = reader
        .platform_items()
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        text(&Value::Array(platform)),
        text(&expected("platform")),
        "{archive} platform"
    );

    for user_id in USERS {
        let want = expected(user_id);
        let user = reader.user(user_id).unwrap();
        assert_eq!(user.manifest().username, want["username"].as_str().unwrap());
        for collection in Collection::ALL.into_iter().filter(|c| !c.is_ephemeral()) {
            let got: Vec<Value> = user
                .items(collection)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let want_items = want[collection.name()].as_array().unwrap();
            assert_eq!(
                got.len(),
                want_items.len(),
                "{archive} {user_id} {}",
                collection.name()
            );
            assert_eq!(got.len() as u64, user.manifest().stat(collection.name()));
            for (g, w) in got.iter().zip(want_items) {
                assert_eq!(
                    text(g),
                    text(w),
                    "{archive} {user_id} {}",
                    collection.name()
                );
            }
        }
        for collection in [Collection::Sessions, Collection::PasswordResets] {
            assert_eq!(user.items(collection).unwrap().count(), 0);
        }
        let account = user.account().unwrap().expect("account");
        assert_eq!(
            text(&account),
            text(&want["account"]),
            "{archive} {user_id} account"
        );

        let want_attachments = want["attachments"].as_object().unwrap();
        let ids = user.attachment_ids().unwrap();
        assert_eq!(ids, want_attachments.keys().cloned().collect::<Vec<_>>());
        for (id, w) in want_attachments {
            let mut bytes = Vec::new();
            user.attachment(id)
                .unwrap()
                .expect("attachment")
                .read_to_end(&mut bytes)
                .unwrap();
            assert_eq!(
                bytes.len() as u64,
                w["size"].as_u64().unwrap(),
                "{archive} {id} size"
            );
            assert_eq!(
                hex::encode(Sha256::digest(&bytes)),
                w["sha256"].as_str().unwrap(),
                "{archive} {id}"
            );
        }
        let events = user.attachment_events().unwrap();
        for id in want_attachments.keys() {
            assert!(events.contains_key(id), "{archive} {id} has no event");
        }
    }
}

#[test]
fn archive_reads_reference_gzip_chunked() {
    check_against_expected("full-gz");
    let r = ArchiveReader::open(&reference("full-gz"), None).unwrap();
    assert_eq!(r.manifest().users.get(0).unwrap().chunks["events"].len(), 9);
}

#[test]
fn archive_reads_reference_plain() {
    check_against_expected("full-plain");
    assert!(
        !ArchiveReader::open(&reference("full-plain"), None)
            .unwrap()
            .manifest()
            .compressed
    );
}

#[test]
fn archive_reads_reference_default_chunk() {
    check_against_expected("full-default-chunk");
}

#[test]
fn archive_verifies_reference_archives() {
    for name in ["full-gz", "full-plain", "full-default-chunk"] {
        let report = verify(&reference(name), None).unwrap();
        assert!(report.is_ok(), "{name}: {:?}", report.problems);
        assert_eq!(report.users_checked, 3);
        assert_eq!(report.attachments_checked, 4);
        // 4+4+3+1+404+30+1 + 4+4+3+1+44+30+1 + 1+3, 3 accounts, 4 platform entries
        assert_eq!(report.items_checked, 447 + 87 + 4 + 3 + 4, "{name}");
    }
}

#[test]
fn archive_encrypted_reference_needs_a_secret() {
    let err = ArchiveReader::open(&reference("encrypted-passphrase"), None)
        .err()
        .unwrap();
    assert!(err.to_string().contains("passphrase"), "{err}");
    let envelope = ArchiveReader::envelope(&reference("encrypted-passphrase"))
        .unwrap()
        .unwrap();
    assert_eq!(envelope["mode"], "symmetric");
    assert!(ArchiveReader::envelope(&reference("full-gz"))
        .unwrap()
        .is_none());
}

/// Rewriting a reference archive with our writer and reading it back gives the same items.
#[test]
fn archive_rewrites_reference_identically() {
    let source = ArchiveReader::open(&reference("full-gz"), None).unwrap();
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("copy");
    let writer = ArchiveWriter::create(
        &dest,
        WriterOptions {
            max_chunk_size: 16 * 1024,
            ..WriterOptions::default()
        },
    )
    .unwrap();
    let mut users = UserEntriesBuilder::new();
    for um in source.manifest().users.to_vec().unwrap() {
        let user = source.user(&um.user_id).unwrap();
        let mut w = writer
            .open_user(&UserRef {
                user_id: um.user_id.clone(),
                username: um.username.clone(),
            })
            .unwrap();
        for c in Collection::ALL {
            for item in user.items(c).unwrap() {
                w.item(c, &item.unwrap()).unwrap();
            }
        }
        if let Some(a) = user.account().unwrap() {
            w.account(&a).unwrap();
        }
        for id in user.attachment_ids().unwrap() {
            w.attachment(&id, &mut user.attachment(&id).unwrap().unwrap())
                .unwrap();
        }
        let m = w.finish().unwrap();
        assert_eq!(m.stats, um.stats, "stats of {}", um.user_id);
        assert_eq!(
            m.chunks, um.chunks,
            "same chunking as the reference for {}",
            um.user_id
        );
        users.push(m).unwrap();
    }
    let mut p = writer.platform_writer().unwrap();
    for item in source.platform_items().unwrap() {
        p.item(&item.unwrap()).unwrap();
    }
    p.finish().unwrap();
    let m = source.manifest();
    writer
        .finish(ManifestInfo {
            core_version: m.core_version.clone(),
            config: m.config.clone(),
            backup_type: m.backup_type.clone(),
            backup_timestamp: m.backup_timestamp,
            snapshot_before: m.snapshot_before,
            users: users.finish().unwrap(),
        })
        .unwrap();
    // Same layout and, once gunzipped, the very same bytes as the reference wrote.
    let copy = ArchiveReader::open(&dest, None).unwrap();
    let mut compared = 0;
    for (user_id, _) in copy.manifest().users.ids() {
        let user = copy.user(user_id).unwrap();
        for f in user
            .manifest()
            .files
            .iter()
            .filter(|f| f.path.ends_with(".gz"))
        {
            compared += 1;
            let rel = format!("users/{user_id}/{}", f.path);
            assert_eq!(
                gunzip(&dest.join(&rel)),
                gunzip(&reference("full-gz").join(&rel)),
                "{rel}"
            );
        }
    }
    assert!(compared > 3, "every user's chunks compared");
    for (user_id, _) in source.manifest().users.ids() {
        let (a, b) = (source.user(user_id).unwrap(), copy.user(user_id).unwrap());
        for c in Collection::ALL {
            let x: Vec<String> = a.items(c).unwrap().map(|i| text(&i.unwrap())).collect();
            let y: Vec<String> = b.items(c).unwrap().map(|i| text(&i.unwrap())).collect();
            assert_eq!(x, y);
        }
    }
    let report = verify(&dest, None).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let manifest_text = std::fs::read_to_string(dest.join("manifest.json")).unwrap();
    assert!(
        manifest_text.contains("\"snapshotBefore\": 1763989999.5"),
        "{manifest_text}"
    );
}

fn gunzip(path: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn archive_summary_describes_the_reference_archive() {
    let r = ArchiveReader::open(&reference("full-gz"), None).unwrap();
    let s = summary(r.manifest()).unwrap();
    assert!(
        s.text.contains(
            "alice (cjx1alicexyz0001): streams 4, accesses 4, profile 3, webhooks 1, events 404"
        ),
        "{}",
        s.text
    );
    assert!(s.text.contains("2025-11-24T13:13:20.123Z"), "{}", s.text);
    assert_eq!(s.json["totals"]["events"], 448);
    assert_eq!(s.json["userCount"], 3);
    assert_eq!(s.json["snapshotBefore"].to_string(), "1763989999.5");
}
