//! Reading damaged or hostile archives: every case is a clear error naming the file, never a
//! panic, never a read outside the backup.

use std::fs;
use std::io::{Cursor, Read};
use std::path::Path;

use proptest::prelude::*;
use pryv_backup::archive::{
    read_jsonl, verify, ArchiveError, ArchiveReader, ArchiveWriter, Backend, JsonlLines,
    ManifestInfo, UserEntries, WriterOptions,
};
use pryv_backup::chain::Chain;
use pryv_backup::model::{Collection, UserRef};
use serde_json::{json, Value};

/// A small archive: user `u` with 3 streams, 40 events in several chunks, one attachment.
fn write_archive(dir: &Path, compress: bool) {
    let w = ArchiveWriter::create(
        dir,
        WriterOptions {
            compress,
            max_chunk_size: 200,
            ..Default::default()
        },
    )
    .unwrap();
    let mut u = w
        .open_user(&UserRef {
            user_id: "u".into(),
            username: "user".into(),
        })
        .unwrap();
    for i in 0..3 {
        u.item(Collection::Streams, &json!({"id": format!("s{i}")}))
            .unwrap();
    }
    for i in 0..40 {
        u.item(
            Collection::Events,
            &json!({"id": format!("e{i}"), "content": "x".repeat(30)}),
        )
        .unwrap();
    }
    u.attachment("f1", &mut &b"blob"[..]).unwrap();
    let m = u.finish().unwrap();
    w.finish(ManifestInfo {
        core_version: "2.0.0".into(),
        config: json!({}),
        backup_type: "full".into(),
        backup_timestamp: 1,
        snapshot_before: None,
        users: UserEntries::from_vec(vec![m]).unwrap(),
    })
    .unwrap();
}

fn events_error(dir: &Path) -> ArchiveError {
    let r = ArchiveReader::open(dir, None).unwrap();
    // Opening the user reads its own manifest: a linked user folder is refused there.
    let result: Result<Vec<Value>, ArchiveError> = r.user("u").and_then(|u| {
        u.items(Collection::Events)
            .and_then(|items| items.collect())
    });
    result.unwrap_err()
}

/// Rewrites the manifest through a JSON edit.
fn edit_manifest(dir: &Path, edit: impl FnOnce(&mut Value)) {
    let path = dir.join("manifest.json");
    let mut m: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    edit(&mut m);
    fs::write(path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
}

#[test]
fn archive_refuses_path_traversal() {
    let dir = tempfile::tempdir().unwrap();
    write_archive(dir.path(), true);
    let r = ArchiveReader::open(dir.path(), None).unwrap();
    for bad in ["../u", "a/b", "/etc", "..", "x\0y"] {
        assert!(
            matches!(r.user(bad), Err(ArchiveError::UnsafeName { .. })),
            "{bad:?}"
        );
    }
    let u = r.user("u").unwrap();
    for bad in [
        "../user-manifest.json",
        "../../manifest.json",
        "/etc/passwd",
        "a\\b",
    ] {
        assert!(
            matches!(u.attachment(bad), Err(ArchiveError::UnsafeName { .. })),
            "{bad:?}"
        );
    }

    edit_manifest(dir.path(), |m| {
        m["users"][0]["chunks"]["events"][0] = json!("../streams.jsonl.gz")
    });
    let err = events_error(dir.path());
    assert!(matches!(err, ArchiveError::UnsafeName { .. }), "{err}");

    edit_manifest(dir.path(), |m| {
        m["users"][0]["userId"] = json!("../../outside")
    });
    let err = ArchiveReader::open(dir.path(), None).err().unwrap();
    assert!(err.to_string().contains("../../outside"), "{err}");
}

#[test]
fn archive_reports_truncated_gzip_with_file_name() {
    let dir = tempfile::tempdir().unwrap();
    write_archive(dir.path(), true);
    let chunk = dir.path().join("users/u/events/events-0002.jsonl.gz");
    let bytes = fs::read(&chunk).unwrap();
    fs::write(&chunk, &bytes[..bytes.len() / 2]).unwrap();
    let err = events_error(dir.path()).to_string();
    assert!(
        err.contains("events-0002.jsonl.gz") && err.contains("truncated"),
        "{err}"
    );
}

#[test]
fn archive_reports_bad_json_with_line_number() {
    let dir = tempfile::tempdir().unwrap();
    write_archive(dir.path(), false);
    let streams = dir.path().join("users/u/streams.jsonl");
    fs::write(&streams, "{\"id\":\"s0\"}\n{\"id\":\n{\"id\":\"s2\"}\n").unwrap();
    let r = ArchiveReader::open(dir.path(), None).unwrap();
    let u = r.user("u").unwrap();
    let err = u
        .items(Collection::Streams)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("streams.jsonl") && err.contains("line 2"),
        "{err}"
    );
}

#[test]
fn archive_reports_missing_chunk_and_missing_manifest() {
    let dir = tempfile::tempdir().unwrap();
    write_archive(dir.path(), true);
    fs::remove_file(dir.path().join("users/u/events/events-0003.jsonl.gz")).unwrap();
    let err = events_error(dir.path());
    assert!(matches!(err, ArchiveError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("events-0003.jsonl.gz"), "{err}");

    fs::remove_file(dir.path().join("manifest.json")).unwrap();
    let err = ArchiveReader::open(dir.path(), None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("incomplete"), "{err}");
    assert!(verify(dir.path(), None).is_err());
}

#[test]
fn archive_verify_collects_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    write_archive(dir.path(), false);
    assert!(verify(dir.path(), None).unwrap().is_ok());
    let udir = dir.path().join("users/u");
    // Two bad lines in one file (also changes its size and hash), a missing chunk, a
    // changed attachment, a stray attachment.
    fs::write(udir.join("streams.jsonl"), "{\"id\":\"s0\"}\nnope\n{]\n").unwrap();
    fs::remove_file(udir.join("events/events-0002.jsonl")).unwrap();
    fs::write(udir.join("attachments/f1"), b"BLOB").unwrap();
    fs::write(udir.join("attachments/f2"), b"extra").unwrap();
    fs::write(udir.join("events/events-0999.jsonl"), b"{}\n").unwrap();
    let report = verify(dir.path(), None).unwrap();
    assert!(!report.is_ok());
    let text = format!("{:#?}", report.problems);
    let streams = report
        .problems
        .iter()
        .find(|p| p.path.ends_with("streams.jsonl"))
        .expect(&text);
    assert!(
        streams.problems.iter().any(|p| p.contains("line 2")),
        "{text}"
    );
    assert!(
        streams.problems.iter().any(|p| p.contains("line 3")),
        "{text}"
    );
    assert!(
        streams.problems.iter().any(|p| p.contains("size is")),
        "{text}"
    );
    assert!(
        streams.problems.iter().any(|p| p.contains("SHA-256")),
        "{text}"
    );
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.path.ends_with("events-0002.jsonl")),
        "{text}"
    );
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.path.ends_with("events-0999.jsonl") && p.problems[0].contains("not listed")),
        "{text}"
    );
    let f1 = report
        .problems
        .iter()
        .find(|p| p.path.ends_with("attachments/f1"))
        .expect(&text);
    assert!(f1.problems.iter().any(|p| p.contains("SHA-256")), "{text}");
    let user = report
        .problems
        .iter()
        .find(|p| p.path.ends_with("users/u"))
        .expect(&text);
    assert!(
        user.problems
            .iter()
            .any(|p| p.contains("streams: 1 items found, the manifest says 3")),
        "{text}"
    );
    assert!(
        user.problems
            .iter()
            .any(|p| p.contains("attachments: 2 files found")),
        "{text}"
    );
}

#[test]
fn archive_line_length_is_capped() {
    let input = format!("{{\"a\":\"{}\"}}\n", "x".repeat(5000));
    let mut lines = JsonlLines::with_max_line(
        Box::new(Cursor::new(input.into_bytes())),
        Path::new("big.jsonl"),
        1000,
    );
    let err = lines.next().unwrap().unwrap_err().to_string();
    assert!(
        err.contains("big.jsonl") && err.contains("line 1 is longer"),
        "{err}"
    );
    assert!(lines.next().is_none());
}

fn drain(bytes: Vec<u8>, gzip: bool) {
    let lines = read_jsonl(Box::new(Cursor::new(bytes)), Path::new("fuzz.jsonl"), gzip);
    for item in lines.take(10_000) {
        let _ = item;
    }
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut e, bytes).unwrap();
    e.finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn archive_jsonl_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        drain(bytes.clone(), false);
        drain(bytes.clone(), true);
        // Valid gzip around arbitrary bytes, and a damaged one.
        let mut wrapped = gz(&bytes);
        drain(wrapped.clone(), true);
        let n = wrapped.len();
        wrapped[n / 2] ^= 0xff;
        drain(wrapped, true);
    }

    #[test]
    fn archive_jsonl_reader_reads_what_json_lines_hold(values in proptest::collection::vec(any::<(i64, String, bool)>(), 0..20)) {
        let items: Vec<Value> = values.iter().map(|(n, s, b)| json!({"n": n, "s": s, "b": b})).collect();
        let mut text = Vec::new();
        for item in &items {
            text.extend(serde_json::to_vec(item).unwrap());
            text.push(b'\n');
        }
        let back: Vec<Value> = read_jsonl(Box::new(Cursor::new(gz(&text))), Path::new("x.gz"), true)
            .collect::<Result<_, _>>()
            .unwrap();
        prop_assert_eq!(back, items);
    }
}

#[test]
fn archive_attachment_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    write_archive(dir.path(), true);
    let r = ArchiveReader::open(dir.path(), None).unwrap();
    let mut s = String::new();
    r.user("u")
        .unwrap()
        .attachment("f1")
        .unwrap()
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    assert_eq!(s, "blob");
}

#[test]
fn archive_reads_register_mappings_when_present() {
    let dir = tempfile::tempdir().unwrap();
    write_archive(dir.path(), false);
    let r = ArchiveReader::open(dir.path(), None).unwrap();
    assert_eq!(r.register_items().unwrap().count(), 0);
    fs::create_dir(dir.path().join("register")).unwrap();
    fs::write(
        dir.path().join("register/servers.jsonl"),
        "{\"username\":\"a\",\"server\":\"co1.example.com\"}\n",
    )
    .unwrap();
    let items: Vec<Value> = r.register_items().unwrap().map(Result::unwrap).collect();
    assert_eq!(
        items,
        vec![json!({"username": "a", "server": "co1.example.com"})]
    );
}

/// A link inside a backup (what an attacker who can write to the backup store plants to make
/// a host file a user's attachment) is refused by name: a chunk, an attachment, a user folder.
#[test]
fn archive_never_follows_links() {
    use std::os::unix::fs::symlink;
    let host_file = tempfile::NamedTempFile::new().unwrap();
    fs::write(host_file.path(), b"host secret").unwrap();

    // An attachment replaced by a link.
    let dir = tempfile::tempdir().unwrap();
    write_archive(dir.path(), true);
    let att = dir.path().join("users/u/attachments/f1");
    fs::remove_file(&att).unwrap();
    symlink(host_file.path(), &att).unwrap();
    let r = ArchiveReader::open(dir.path(), None).unwrap();
    let u = r.user("u").unwrap();
    let err = u
        .attachment("f1")
        .err()
        .expect("a linked attachment is refused");
    assert!(matches!(err, ArchiveError::Link { .. }), "{err}");
    assert!(err.to_string().contains("users/u/attachments/f1"), "{err}");
    let err = u.attachment_ids().unwrap_err();
    assert!(matches!(err, ArchiveError::Link { .. }), "{err}");

    // A chunk replaced by a link.
    let dir = tempfile::tempdir().unwrap();
    write_archive(dir.path(), true);
    let events = dir.path().join("users/u/events");
    let chunk = fs::read_dir(&events)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let copy = dir.path().join("elsewhere.gz");
    fs::rename(&chunk, &copy).unwrap();
    symlink(&copy, &chunk).unwrap();
    let err = events_error(dir.path());
    assert!(matches!(err, ArchiveError::Link { .. }), "{err}");

    // A whole user folder pointing elsewhere.
    let dir = tempfile::tempdir().unwrap();
    write_archive(dir.path(), true);
    let user_dir = dir.path().join("users/u");
    let moved = dir.path().join("moved-user");
    fs::rename(&user_dir, &moved).unwrap();
    symlink(&moved, &user_dir).unwrap();
    let err = events_error(dir.path());
    assert!(matches!(err, ArchiveError::Link { .. }), "{err}");
}

/// Every file of user `u`'s folder, sorted.
fn user_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join("users/u")];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// What a restore does first with user `u`: open the chain, then check the user's files.
fn precheck(dir: &Path) -> pryv_backup::Result<()> {
    let chain = Chain::open(&Backend::Local, dir, &|d| {
        ArchiveReader::open(d, None).map_err(|e| e.to_string())
    })?
    .ok_or_else(|| pryv_backup::Error::Other("no manifest".into()))?;
    chain.user_source("u")?.check()
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replaces the value at a path picked by `picks` (walking into objects and arrays).
fn replace_somewhere(value: &mut Value, picks: &[prop::sample::Index], with: Value) {
    if let Some((pick, rest)) = picks.split_first() {
        let child = match value {
            Value::Object(map) if !map.is_empty() => {
                let key = map.keys().nth(pick.index(map.len())).cloned();
                key.and_then(|k| map.get_mut(&k))
            }
            Value::Array(list) if !list.is_empty() => {
                let i = pick.index(list.len());
                list.get_mut(i)
            }
            _ => None,
        };
        if let Some(child) = child {
            return replace_somewhere(child, rest, with);
        }
    }
    *value = with;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any one byte changed in any file of a user's folder, or the file cut short, is found
    /// by the restore's pre-check, before anything of the user is written.
    #[test]
    fn restore_precheck_finds_any_damaged_file(
        compress in any::<bool>(),
        file in any::<prop::sample::Index>(),
        offset in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        cut in any::<bool>(),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        write_archive(tmp.path(), compress);
        prop_assert!(precheck(tmp.path()).is_ok());
        // An empty file has no byte to change.
        let files: Vec<_> = user_files(tmp.path())
            .into_iter()
            .filter(|p| fs::metadata(p).unwrap().len() > 0)
            .collect();
        let path = &files[file.index(files.len())];
        let mut bytes = fs::read(path).unwrap();
        let at = offset.index(bytes.len());
        if cut {
            bytes.truncate(at);
        } else {
            bytes[at] ^= flip;
        }
        fs::write(path, &bytes).unwrap();
        prop_assert!(precheck(tmp.path()).is_err(), "{} damaged at {at} (cut: {cut})", path.display());
    }

    /// A manifest with any of its values replaced by any JSON gives a clear error or a
    /// reader, and then verify and the pre-check answer without a panic.
    #[test]
    fn mangled_manifests_never_panic(
        picks in proptest::collection::vec(any::<prop::sample::Index>(), 0..5),
        with in any_json(),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        write_archive(tmp.path(), true);
        edit_manifest(tmp.path(), |m| replace_somewhere(m, &picks, with));
        if ArchiveReader::open(tmp.path(), None).is_ok() {
            let _ = verify(tmp.path(), None);
            let _ = precheck(tmp.path());
        }
    }

    /// The same for a manifest with bytes changed anywhere.
    #[test]
    fn manifest_bytes_changed_never_panic(
        offset in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        write_archive(tmp.path(), false);
        let path = tmp.path().join("manifest.json");
        let mut bytes = fs::read(&path).unwrap();
        let at = offset.index(bytes.len());
        bytes[at] = byte;
        fs::write(&path, &bytes).unwrap();
        if ArchiveReader::open(tmp.path(), None).is_ok() {
            let _ = verify(tmp.path(), None);
            let _ = precheck(tmp.path());
        }
    }
}

/// The SHA-256 (hex) of a file's bytes.
fn sha256_of(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(fs::read(path).unwrap()))
}

/// Replaces the first events chunk of user `u` with other events, valid and as many: only a
/// hash tells it apart. Returns its path relative to the user folder.
fn swap_first_chunk(dir: &Path) -> String {
    use std::io::Write;
    let user_manifest: Value =
        serde_json::from_slice(&fs::read(dir.join("users/u/user-manifest.json")).unwrap()).unwrap();
    let name = user_manifest["chunks"]["events"][0].as_str().unwrap();
    let path = dir.join("users/u/events").join(name);
    let mut text = String::new();
    flate2::read::GzDecoder::new(&fs::read(&path).unwrap()[..])
        .read_to_string(&mut text)
        .unwrap();
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let mut item: Value = serde_json::from_str(line).unwrap();
            item["content"] = json!("planted");
            serde_json::to_string(&item).unwrap()
        })
        .collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(format!("{}\n", lines.join("\n")).as_bytes())
        .unwrap();
    fs::write(&path, gz.finish().unwrap()).unwrap();
    format!("events/{name}")
}

/// A user's files are listed once, in its own manifest, and the root manifest's hash of that
/// manifest proves the list: the root manifest stays small with many users, and neither a
/// swapped chunk nor a user manifest edited to match it is restored.
#[test]
fn a_users_files_are_listed_in_its_own_manifest_which_the_root_hash_proves() {
    let dir = tempfile::tempdir().unwrap();
    write_archive(dir.path(), true);
    let root: Value =
        serde_json::from_slice(&fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    assert!(
        root["users"][0].get("files").is_none(),
        "the root manifest repeats no user's file list"
    );
    assert!(precheck(dir.path()).is_ok());

    let chunk = swap_first_chunk(dir.path());
    let err = precheck(dir.path()).unwrap_err().to_string();
    assert!(err.contains(&chunk) && err.contains("SHA-256"), "{err}");

    // The user's manifest edited to list the swapped chunk's hash and size.
    let own_path = dir.path().join("users/u/user-manifest.json");
    let mut own: Value = serde_json::from_slice(&fs::read(&own_path).unwrap()).unwrap();
    let swapped = dir.path().join("users/u").join(&chunk);
    for entry in own["files"].as_array_mut().unwrap() {
        if entry["path"] == json!(chunk) {
            entry["sha256"] = json!(sha256_of(&swapped));
            entry["size"] = json!(fs::metadata(&swapped).unwrap().len());
        }
    }
    fs::write(&own_path, serde_json::to_vec_pretty(&own).unwrap()).unwrap();
    let err = precheck(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("user-manifest.json") && err.contains("cannot be trusted"),
        "{err}"
    );
    let report = verify(dir.path(), None).unwrap();
    assert!(!report.is_ok());
}

/// Backups written before the user lists left the root manifest (which held each user's list
/// as well) read as they did: their lists are proven by the root manifest itself.
#[test]
fn a_root_manifest_that_lists_each_users_files_still_proves_them() {
    let dir = tempfile::tempdir().unwrap();
    write_archive(dir.path(), true);
    let own: Value =
        serde_json::from_slice(&fs::read(dir.path().join("users/u/user-manifest.json")).unwrap())
            .unwrap();
    edit_manifest(dir.path(), |m| {
        m["users"][0]["files"] = own["files"].clone();
    });
    assert!(precheck(dir.path()).is_ok());
    assert!(verify(dir.path(), None).unwrap().is_ok());
    let chunk = swap_first_chunk(dir.path());
    let err = precheck(dir.path()).unwrap_err().to_string();
    assert!(err.contains(&chunk) && err.contains("SHA-256"), "{err}");
}

/// A generation whose user manifest no longer proves out is still removed whole (prune,
/// `--delete-on-success`): the user's files are then those its folder holds.
#[test]
fn a_user_whose_manifest_does_not_prove_out_still_has_its_files_listed_for_removal() {
    let dir = tempfile::tempdir().unwrap();
    write_archive(dir.path(), true);
    let held = user_files(dir.path());
    fs::write(dir.path().join("users/u/user-manifest.json"), b"{}").unwrap();
    let reader = ArchiveReader::open(dir.path(), None).unwrap();
    let listed = pryv_backup::chain::listed_files_of(&reader).unwrap();
    for file in &held {
        assert!(listed.contains(file), "{} is not listed", file.display());
    }
}

/// What a restore imports is what its check before the import proved: a small file is read
/// once, by the check, and the import takes those bytes, so a file changed in between (by
/// whoever can write into the backup folder) is not what goes in.
#[test]
fn a_restore_imports_the_bytes_its_check_proved_not_a_file_changed_since() {
    let dir = tempfile::tempdir().unwrap();
    write_archive(dir.path(), true);
    let chain = Chain::open(&Backend::Local, dir.path(), &|d| {
        ArchiveReader::open(d, None).map_err(|e| e.to_string())
    })
    .unwrap()
    .unwrap();
    let user = chain.user_source("u").unwrap();
    user.check().unwrap();
    swap_first_chunk(dir.path());
    fs::write(dir.path().join("users/u/attachments/f1"), b"swapped").unwrap();

    let source: &dyn pryv_backup::engine::UserSource = &user;
    let events: Vec<Value> = source
        .items(Collection::Events)
        .unwrap()
        .collect::<pryv_backup::Result<_>>()
        .unwrap();
    assert_eq!(events.len(), 40);
    assert!(
        events.iter().all(|e| e["content"] != json!("planted")),
        "the import read the chunk changed after the check"
    );
    let mut blob = Vec::new();
    source
        .attachment("f1")
        .unwrap()
        .unwrap()
        .read_to_end(&mut blob)
        .unwrap();
    assert_eq!(blob, b"blob");
}

/// Files the user's manifests leave out are not opened one by one (a restore no longer looks
/// for the series, sessions and password-reset files a user has none of), but one planted
/// there is still found: by `verify` and by the check before a restore, which refuses the
/// user, and the user's series read nothing of it.
#[test]
fn a_collection_file_planted_beside_the_listed_ones_is_reported_and_never_read() {
    let dir = tempfile::tempdir().unwrap();
    write_archive(dir.path(), false);
    let udir = dir.path().join("users/u");
    fs::create_dir(udir.join("series")).unwrap();
    fs::write(
        udir.join("series/series.jsonl"),
        "{\"measurement\":\"ev\",\"timeUnit\":\"ms\",\"points\":[{\"time\":0,\"value\":1}]}\n",
    )
    .unwrap();
    fs::write(udir.join("sessions.jsonl"), "{\"id\":\"planted\"}\n").unwrap();

    let report = verify(dir.path(), None).unwrap();
    let text = format!("{:#?}", report.problems);
    for planted in ["series/series.jsonl", "sessions.jsonl"] {
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.path.ends_with(planted) && p.problems[0].contains("not listed")),
            "{planted}: {text}"
        );
    }
    let refused = precheck(dir.path()).unwrap_err().to_string();
    assert!(refused.contains("series.jsonl"), "{refused}");

    let r = ArchiveReader::open(dir.path(), None).unwrap();
    let user = r.user("u").unwrap();
    assert_eq!(user.items(Collection::Series).unwrap().count(), 0);
    assert_eq!(user.items(Collection::Sessions).unwrap().count(), 0);
}

/// One generation holding user `x` with these series items (no record: an older chain's
/// shape, which readers take as it is).
fn generation_with_series(dir: &Path, series: &[Value]) {
    let w = ArchiveWriter::create(dir, WriterOptions::default()).unwrap();
    let mut u = w
        .open_user(&UserRef {
            user_id: "x".into(),
            username: "xavier".into(),
        })
        .unwrap();
    for item in series {
        u.item(Collection::Series, item).unwrap();
    }
    let m = u.finish().unwrap();
    w.finish(ManifestInfo {
        core_version: "2.0.0".into(),
        config: json!({}),
        backup_type: "incremental".into(),
        backup_timestamp: 1,
        snapshot_before: None,
        users: UserEntries::from_vec(vec![m]).unwrap(),
    })
    .unwrap();
}

/// Points an increment adds to a series that no older generation of the user holds (its
/// oldest generation is that increment: the base lost the user) are an error naming the
/// series, never dropped: the chain must not read as if the user had no such points.
#[test]
fn new_points_in_a_users_oldest_generation_are_an_error_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    write_archive(dir.path(), true);
    let append = json!({"appendTo": "ev-grow", "after": 1000, "timeUnit": "ms",
                        "points": [{"time": 1, "value": 2}]});
    generation_with_series(&dir.path().join("increments/0001"), &[append]);
    generation_with_series(&dir.path().join("increments/0002"), &[]);

    let chain = Chain::open(&Backend::Local, dir.path(), &|d| {
        ArchiveReader::open(d, None).map_err(|e| e.to_string())
    })
    .unwrap()
    .unwrap();
    let user = chain.user_source("x").unwrap();
    let read: pryv_backup::Result<Vec<Value>> =
        pryv_backup::engine::UserSource::items(&user, Collection::Series)
            .unwrap()
            .collect();
    let err = read.expect_err("points following nothing").to_string();
    assert!(
        err.contains("ev-grow") && err.contains("no generation before"),
        "{err}"
    );
}
