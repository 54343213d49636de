//! A manifest of many users is read through a spool in the temporary folder: when that
//! folder cannot be written, the reader says so and what to do (for an encrypted backup too,
//! where a manifest that does not read otherwise means a wrong key), and nothing else breaks.
//! (Its own test binary: it sets TMPDIR for the whole process.)

use std::sync::Arc;

use pryv_backup::archive::{
    ArchiveError, ArchiveReader, ArchiveWriter, FileSealer, Manifest, ManifestInfo, UserEntries,
    UserManifest, WriterOptions,
};
use pryv_backup::crypto::Pryvbke1;

const USERS: usize = 5_000;
const PASSPHRASE: &str = "spool test passphrase";

fn entry(i: usize) -> String {
    format!(
        r#"{{"userId":"c{i:024}","username":"user{i:06}","backupTimestamp":1,"stats":{{"events":10}},"chunks":{{"events":["events-0001.jsonl.gz"],"audit":[]}}}}"#
    )
}

#[test]
fn a_temporary_folder_that_cannot_be_written_is_named_with_what_to_do() {
    let work = tempfile::tempdir().unwrap();
    // Written while the temporary folder is there: an encrypted backup listing many users.
    let encrypted = work.path().join("encrypted");
    let sealer: Arc<dyn FileSealer> = Arc::new(Pryvbke1::with_passphrase(PASSPHRASE).unwrap());
    let writer = ArchiveWriter::create(
        &encrypted,
        WriterOptions {
            sealer: Some(sealer),
            ..Default::default()
        },
    )
    .unwrap();
    let users: Vec<UserManifest> = (0..USERS)
        .map(|i| serde_json::from_str(&entry(i)).unwrap())
        .collect();
    writer
        .finish(ManifestInfo {
            core_version: "2.0.0".into(),
            config: serde_json::json!({}),
            backup_type: "full".into(),
            backup_timestamp: 1,
            snapshot_before: None,
            users: UserEntries::from_vec(users).unwrap(),
        })
        .unwrap();
    let envelope = ArchiveReader::envelope(&encrypted).unwrap().unwrap();
    let opener: Arc<dyn FileSealer> =
        Arc::new(Pryvbke1::open_with_passphrase(&envelope, PASSPHRASE).unwrap());

    let missing = work.path().join("gone");
    let mut text = String::from(r#"{"formatVersion":1,"users":["#);
    for i in 0..USERS {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&entry(i));
    }
    text.push_str("]}");
    // SAFETY: the only test of this binary; nothing else reads the environment meanwhile.
    unsafe { std::env::set_var("TMPDIR", &missing) };
    let says_what_to_do = |err: &str| {
        err.contains(&missing.display().to_string()) && err.contains("give TMPDIR a folder")
    };
    let err = serde_json::from_str::<Manifest>(&text)
        .unwrap_err()
        .to_string();
    assert!(says_what_to_do(&err), "{err}");
    // The encrypted manifest opens with the right key: its entries could not be kept, which
    // is neither a wrong key nor damage.
    let err = ArchiveReader::open(&encrypted, Some(opener)).err().unwrap();
    assert!(
        matches!(err, ArchiveError::Invalid(_)) && says_what_to_do(&err.to_string()),
        "{err:?}"
    );
    // A few users stay in memory: no temporary file is needed.
    let small: Manifest = serde_json::from_str(
        r#"{"formatVersion":1,"users":[{"userId":"u1","username":"one","stats":{},"chunks":{}}]}"#,
    )
    .unwrap();
    assert_eq!(small.users.user_id(0), "u1");
}
