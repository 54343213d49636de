//! Encrypted backups through the binary: they restore, they leak nothing, secrets stay off
//! the command line.

mod cli_support;

use std::path::Path;

use cli_support::*;

const PASSPHRASE: &str = "a long and secret passphrase ✓";

/// Strings of the source's user data that must never appear in clear in an encrypted backup.
fn secrets_of(source: &Install) -> Vec<String> {
    let mut client = source.db.connect();
    let mut needles = Vec::new();
    for sql in [
        "SELECT DISTINCT content #>> '{}' FROM events WHERE jsonb_typeof(content) = 'string'",
        "SELECT DISTINCT token FROM accesses WHERE token IS NOT NULL",
        "SELECT DISTINCT name FROM streams WHERE name IS NOT NULL",
        "SELECT DISTINCT value #>> '{}' FROM account_fields WHERE jsonb_typeof(value) = 'string'",
        "SELECT DISTINCT key FROM platform_kv",
        "SELECT DISTINCT id FROM sessions",
    ] {
        for row in client
            .query(sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
        {
            let s: String = row.get(0);
            // Short strings can turn up in random bytes by chance.
            if s.len() >= 8 {
                needles.push(s);
            }
        }
    }
    assert!(
        needles.iter().any(|n| n.contains("@example.com")),
        "no email among {needles:?}"
    );
    assert!(
        needles.len() > 20,
        "too few secrets to look for: {needles:?}"
    );
    needles
}

/// Fails naming the file when any secret is found in clear in any file under `dir`.
fn assert_no_plaintext(dir: &Path, needles: &[String]) {
    let all = files(dir);
    assert!(
        all.len() > 10,
        "{} holds only {} files",
        dir.display(),
        all.len()
    );
    for (path, bytes) in &all {
        for needle in needles {
            let found = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
            assert!(!found, "{} holds {needle:?} in clear", path.display());
        }
    }
}

fn backup(source: &Install, out: &Path, extra: &[&std::ffi::OsStr]) {
    let output = cli()
        .arg("backup")
        .args(source.args())
        .arg("--output")
        .arg(out)
        .arg("--include-ephemeral")
        .args(extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "backup failed: {}", text(&output));
}

/// An incremental backup of `source` into `out`, encrypted with the passphrase in `pass_file`.
fn backup_encrypted_increment(source: &Install, out: &Path, pass_file: &Path) {
    backup(
        source,
        out,
        &[
            "--incremental".as_ref(),
            "--encrypt-passphrase-file".as_ref(),
            pass_file.as_os_str(),
        ],
    );
}

/// Restoring `out` with the `key` arguments into a new install gives the source's tables.
fn assert_restores_as(source: &Install, out: &Path, key: &[&std::ffi::OsStr]) {
    let (target, output) = restore_into_new(out, key);
    assert_exit(&output, 0);
    assert_same(&source.dump(), &target.dump());
}

/// `out` shows none of `source`'s secrets in clear, and restores as `source` with the `key`
/// arguments.
fn assert_sealed_and_restores_as(source: &Install, out: &Path, key: &[&std::ffi::OsStr]) {
    assert_no_plaintext(out, &secrets_of(source));
    assert_restores_as(source, out, key);
}

/// `decrypt` of `out` into `plain` with the `key` arguments succeeds, and the plaintext copy
/// restores the same as `source`.
fn assert_decrypted_copy_restores_as(
    source: &Install,
    out: &Path,
    plain: &Path,
    key: &[&std::ffi::OsStr],
) {
    let output = cli()
        .arg("decrypt")
        .arg(out)
        .arg("--out")
        .arg(plain)
        .args(key)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let copy = Install::empty();
    assert_eq!(run_restore(&copy, plain, &[]).status.code(), Some(0));
    assert_same(&source.dump(), &copy.dump());
}

#[test]
fn passphrase_encrypted_backup_restores_identically_and_leaks_nothing() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let pass_file = work.path().join("pass.txt");
    std::fs::write(&pass_file, format!("{PASSPHRASE}\n")).unwrap();
    let out = work.path().join("encrypted");
    backup(
        &source,
        &out,
        &["--encrypt-passphrase-file".as_ref(), pass_file.as_os_str()],
    );

    assert!(out.join("encryption.json").is_file());
    assert_sealed_and_restores_as(
        &source,
        &out,
        &["--decrypt-passphrase-file".as_ref(), pass_file.as_os_str()],
    );

    // An encrypted increment: the encryption passphrase opens the previous generation.
    source.sql(
        "INSERT INTO events (user_id, id, stream_ids, time, type, content, integrity, created, created_by, modified, modified_by)
         VALUES ('cksamplealice0001', 'ev-secret-increment', '[\"health\"]', extract(epoch FROM clock_timestamp()), 'note/txt',
                 '\"a secret written after the base\"', NULL, extract(epoch FROM clock_timestamp()), 'acc-app',
                 extract(epoch FROM clock_timestamp()), 'acc-app');
         INSERT INTO event_streams (user_id, event_id, stream_id, stream_path)
         VALUES ('cksamplealice0001', 'ev-secret-increment', 'health', 'health/');",
    );
    backup_encrypted_increment(&source, &out, &pass_file);
    assert!(out.join("increments/0001/encryption.json").is_file());
    assert_sealed_and_restores_as(
        &source,
        &out,
        &["--decrypt-passphrase-file".as_ref(), pass_file.as_os_str()],
    );

    // The passphrase from the environment works as well (verify and a drill, here).
    for command in ["verify", "drill"] {
        cli()
            .arg(command)
            .arg(&out)
            .env("PRYV_BACKUP_PASSPHRASE", PASSPHRASE)
            .assert()
            .code(0);
    }

    // A wrong passphrase: exit 12 (wrong secret), a message that says so, nothing written.
    let wrong = work.path().join("wrong.txt");
    std::fs::write(&wrong, "not the passphrase").unwrap();
    let untouched = Install::empty();
    let output = run_restore(
        &untouched,
        &out,
        &["--decrypt-passphrase-file".as_ref(), wrong.as_os_str()],
    );
    assert_exit(&output, 12);
    let message = text(&output).to_lowercase();
    assert!(
        message.contains("passphrase") || message.contains("key"),
        "unclear message: {message}"
    );
    assert_eq!(
        untouched.count("SELECT count(*) FROM pg_tables WHERE tablename = 'events'"),
        0
    );

    // No key at all: told what to give.
    let output = run_restore(&untouched, &out, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output).contains("--decrypt-passphrase-file"),
        "{}",
        text(&output)
    );
}

#[test]
fn recipient_key_encrypted_backup_restores_identically_and_leaks_nothing() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let (public, private) = recipient_keys();
    let out = work.path().join("encrypted");
    backup(
        &source,
        &out,
        &["--recipient-pubkey".as_ref(), public.as_os_str()],
    );
    assert_sealed_and_restores_as(
        &source,
        &out,
        &["--private-key".as_ref(), private.as_os_str()],
    );

    let output = run_restore(&Install::empty(), &out, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).contains("--private-key"), "{}", text(&output));

    // An increment needs only the chain's clear records: the public key suffices.
    let output = cli()
        .arg("backup")
        .args(source.args())
        .arg("--output")
        .arg(&out)
        .arg("--incremental")
        .arg("--recipient-pubkey")
        .arg(&public)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert!(out.join("increments/0001/encryption.json").is_file());
    assert_no_plaintext(&out, &secrets_of(&source));

    // inspect, verify and decrypt with the key; the plaintext copy restores the same.
    for command in ["inspect", "verify"] {
        let output = cli()
            .arg(command)
            .arg(&out)
            .arg("--private-key")
            .arg(&private)
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{command}: {}",
            text(&output)
        );
    }
    let plain = work.path().join("plain");
    assert_decrypted_copy_restores_as(
        &source,
        &out,
        &plain,
        &["--private-key".as_ref(), private.as_os_str()],
    );
}

#[test]
fn secrets_on_the_command_line_are_refused() {
    let work = tempfile::tempdir().unwrap();
    let core = work.path();
    for args in [
        vec![
            "backup",
            "--output",
            "x",
            "--encrypt-passphrase",
            "hunter2hunter2",
        ],
        vec![
            "restore",
            "--restore",
            "x",
            "--decrypt-passphrase",
            "hunter2hunter2",
        ],
        vec!["verify", "x", "--decrypt-passphrase", "hunter2hunter2"],
    ] {
        let output = cli().current_dir(core).args(&args).output().unwrap();
        // Bad usage, which scripts tell apart from a failed run.
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", text(&output));
        let message = text(&output);
        assert!(
            message.contains("-file") && message.contains("PRYV_BACKUP_PASSPHRASE"),
            "{args:?}: {message}"
        );
        assert!(!core.join("x").exists(), "{args:?} wrote a backup");
    }
}

#[test]
fn decrypt_copies_every_generation() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let pass_file = work.path().join("pass.txt");
    std::fs::write(&pass_file, PASSPHRASE).unwrap();
    let out = work.path().join("encrypted");
    backup(
        &source,
        &out,
        &["--encrypt-passphrase-file".as_ref(), pass_file.as_os_str()],
    );
    source.sql("UPDATE streams SET name = 'renamed', modified = extract(epoch FROM clock_timestamp()) WHERE id = 'health'");
    backup_encrypted_increment(&source, &out, &pass_file);
    let plain = work.path().join("plain");
    assert_decrypted_copy_restores_as(
        &source,
        &out,
        &plain,
        &["--decrypt-passphrase-file".as_ref(), pass_file.as_os_str()],
    );
}
