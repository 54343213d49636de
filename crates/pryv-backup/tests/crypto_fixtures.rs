//! The reference's encrypted archives decrypt to exactly what the reference wrote in clear.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use pryv_backup::archive::FileSealer;
use pryv_backup::crypto::{decrypt_tree, Pryvbke1};
use serde_json::Value;
use sha2::{Digest, Sha256};

const PASSPHRASE: &str = "correct horse battery staple";

fn archives() -> PathBuf {
    testbed::fixture("reference-archives")
}

fn envelope(archive: &Path) -> Value {
    serde_json::from_slice(&fs::read(archive.join("encryption.json")).unwrap()).unwrap()
}

fn files_under(root: &Path) -> BTreeSet<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(path.strip_prefix(root).unwrap().to_owned());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, &mut out);
    out
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

fn jsonl(bytes: &[u8]) -> Vec<Value> {
    std::str::from_utf8(bytes)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Decrypts `name` with `sealer` and compares it with full-gz and expected/.
fn check_archive(name: &str, sealer: &dyn FileSealer) {
    let archives = archives();
    let src = archives.join(name);
    let clear = archives.join("full-gz");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("plain");
    let report = decrypt_tree(&src, &out, sealer).unwrap();
    assert_eq!(report.skipped, vec![PathBuf::from("encryption.json")]);

    let decrypted = files_under(&out);
    assert_eq!(
        decrypted,
        files_under(&clear),
        "same file set as the cleartext archive"
    );
    assert_eq!(report.files.len(), decrypted.len());
    let mut checked_lines = 0;
    for rel in &decrypted {
        let plain = fs::read(out.join(rel)).unwrap();
        let reference = fs::read(clear.join(rel)).unwrap();
        let file_name = rel.file_name().unwrap().to_str().unwrap();
        if file_name.ends_with(".jsonl.gz") {
            let (plain, reference) = (gunzip(&plain), gunzip(&reference));
            assert_eq!(plain, reference, "{} differs from full-gz", rel.display());
            checked_lines += jsonl(&plain).len();
        } else if file_name.ends_with(".json") {
            // Manifests carry write times that differ between the two archives.
            let plain: Value = serde_json::from_slice(&plain).unwrap();
            assert!(plain.is_object(), "{} is a JSON object", rel.display());
        } else {
            assert_eq!(
                plain,
                reference,
                "attachment {} differs from full-gz",
                rel.display()
            );
        }
    }
    assert!(
        checked_lines > 400,
        "only {checked_lines} JSONL lines checked"
    );

    // And against expected/: every user's events and attachments.
    for user in ["cjx1alicexyz0001", "cjx1bobxyzab0002", "cjx1carolxyz0003"] {
        let expected: Value = serde_json::from_slice(
            &fs::read(archives.join("expected").join(format!("{user}.json"))).unwrap(),
        )
        .unwrap();
        let user_dir = out.join("users").join(user);
        let mut events = Vec::new();
        if let Ok(entries) = fs::read_dir(user_dir.join("events")) {
            let mut chunks: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
            chunks.sort();
            for chunk in chunks {
                events.extend(jsonl(&gunzip(&fs::read(chunk).unwrap())));
            }
        }
        assert_eq!(Value::Array(events), expected["events"], "{user} events");
        let streams = jsonl(&gunzip(
            &fs::read(user_dir.join("streams.jsonl.gz")).unwrap(),
        ));
        assert_eq!(Value::Array(streams), expected["streams"], "{user} streams");
        for (id, meta) in expected["attachments"].as_object().unwrap() {
            let bytes = fs::read(user_dir.join("attachments").join(id)).unwrap();
            assert_eq!(
                bytes.len() as u64,
                meta["size"].as_u64().unwrap(),
                "{user}/{id} size"
            );
            assert_eq!(
                hex::encode(Sha256::digest(&bytes)),
                meta["sha256"].as_str().unwrap()
            );
        }
    }
}

#[test]
fn crypto_fixture_passphrase_archive_decrypts_to_cleartext_archive() {
    let src = archives().join("encrypted-passphrase");
    let sealer = Pryvbke1::open_with_passphrase(&envelope(&src), PASSPHRASE).unwrap();
    check_archive("encrypted-passphrase", &sealer);
}

#[test]
fn crypto_fixture_hybrid_archive_decrypts_to_cleartext_archive() {
    let src = archives().join("encrypted-hybrid");
    let key = fs::read_to_string(archives().join("keys/recipient.key.pem")).unwrap();
    let sealer = Pryvbke1::open_with_private_key(&envelope(&src), &key, None).unwrap();
    check_archive("encrypted-hybrid", &sealer);
}

#[test]
fn crypto_fixture_wrong_secrets_are_reported_clearly() {
    let archives = archives();
    let src = archives.join("encrypted-passphrase");
    let sealer = Pryvbke1::open_with_passphrase(&envelope(&src), "wrong horse").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("plain");
    let err = decrypt_tree(&src, &out, &sealer).unwrap_err().to_string();
    assert!(err.contains("wrong passphrase"), "{err}");
    assert!(err.contains("manifest.json"), "names the file: {err}");
    assert!(
        !out.exists() || files_under(&out).is_empty(),
        "no partial output left"
    );

    // A passphrase for a hybrid backup, and a key for a passphrase backup.
    let hybrid = envelope(&archives.join("encrypted-hybrid"));
    let err = Pryvbke1::open_with_passphrase(&hybrid, PASSPHRASE)
        .unwrap_err()
        .to_string();
    assert!(err.contains("private key"), "{err}");
    let key = fs::read_to_string(archives.join("keys/recipient.key.pem")).unwrap();
    let err = Pryvbke1::open_with_private_key(&envelope(&src), &key, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("passphrase"), "{err}");
}
