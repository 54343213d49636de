//! A manifest of many users is read through a spool in the temporary folder: when that
//! folder cannot be written, the reader says so and what to do, and nothing else breaks.
//! (Its own test binary: it sets TMPDIR for the whole process.)

use pryv_backup::archive::Manifest;

#[test]
fn a_temporary_folder_that_cannot_be_written_is_named_with_what_to_do() {
    let missing = tempfile::tempdir().unwrap().path().join("gone");
    let mut text = String::from(r#"{"formatVersion":1,"users":["#);
    for i in 0..5_000 {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&format!(
            r#"{{"userId":"c{i:024}","username":"user{i:06}","backupTimestamp":1,"stats":{{"events":10}},"chunks":{{"events":["events-0001.jsonl.gz"],"audit":[]}}}}"#
        ));
    }
    text.push_str("]}");
    // SAFETY: the only test of this binary; nothing else reads the environment meanwhile.
    unsafe { std::env::set_var("TMPDIR", &missing) };
    let err = serde_json::from_str::<Manifest>(&text)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&missing.display().to_string()) && err.contains("give TMPDIR a folder"),
        "{err}"
    );
    // A few users stay in memory: no temporary file is needed.
    let small: Manifest = serde_json::from_str(
        r#"{"formatVersion":1,"users":[{"userId":"u1","username":"one","stats":{},"chunks":{}}]}"#,
    )
    .unwrap();
    assert_eq!(small.users.user_id(0), "u1");
}
