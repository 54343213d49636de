//! `pryv-backup restore` of the core's archive of a hashed-PII SQLite install
//! (tests/fixtures/live-reference-sqlite/backup-by-reference) into the core's default mix
//! (PostgreSQL, audit in per-user SQLite files), as an operator runs it: under another
//! `platform:piiHmacKey` the report says the rows were re-derived; a unique email another
//! user holds stops the restore before anything is written.

mod cli_support;

use std::path::PathBuf;

use cli_support::*;
use hmac::{Hmac, Mac};

/// The source install's key (see the fixture's README) and another one.
const SOURCE_KEY: &str = "jdKDGy3lHhp8bUdNvkYS/xqeat5KkWe7m7OVjtuFrBY=";
const OTHER_KEY: &str = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=";

/// The README's token formula.
fn token(key_b64: &str, field: &str, value: &str) -> String {
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD
        .decode(key_b64)
        .unwrap();
    let normalized = if field == "email" {
        value.trim().to_lowercase()
    } else {
        value.trim().to_string()
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(field.as_bytes());
    mac.update(&[0]);
    mac.update(normalized.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// An empty install with PostgreSQL base and platform, audit and attachments in files,
/// hashed PII mode under `key`.
fn install_with_key(key: &str) -> (Install, tempfile::TempDir, PathBuf) {
    let install = Install::empty();
    let users = testbed::data_dir();
    let extra = install.core_dir.path().join("pii-override.yml");
    std::fs::write(
        &extra,
        format!(
            "platform:\n  piiMode: hashed\n  piiHmacKey: '{key}'\nstorages:\n  file: {{ engine: filesystem }}\n  audit: {{ engine: sqlite }}\n  engines:\n    sqlite:\n      path: '{}'\n",
            users.path().display()
        ),
    )
    .unwrap();
    (install, users, extra)
}

fn restore(install: &Install, extra: &PathBuf, args: &[&str]) -> std::process::Output {
    cli()
        .arg("restore")
        .args(install.args())
        .arg("--config")
        .arg(extra)
        .arg("--restore")
        .arg(testbed::fixture(
            "live-reference-sqlite/backup-by-reference",
        ))
        .args(args)
        .output()
        .unwrap()
}

fn platform_value(install: &Install, key: &str) -> Option<String> {
    install
        .db
        .connect()
        .query_opt("SELECT value FROM platform_kv WHERE key = $1", &[&key])
        .unwrap()
        .map(|r| r.get(0))
}

#[test]
fn a_restore_under_another_key_says_the_rows_were_rederived() {
    let (install, _users, extra) = install_with_key(OTHER_KEY);
    let output = restore(&install, &extra, &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("platform entries RE-DERIVED: ")
            && stdout.contains("(15 entries of the backup left out)"),
        "{stdout}"
    );
    let email = token(OTHER_KEY, "email", "wanda-r1.mail@Example.ORG");
    assert_eq!(
        platform_value(&install, &format!("user-unique/email/{email}")),
        Some(token(OTHER_KEY, "username", "wanda-r1"))
    );
    let old = token(SOURCE_KEY, "email", "wanda-r1.mail@Example.ORG");
    assert_eq!(
        platform_value(&install, &format!("user-unique/email/{old}")),
        None
    );

    let (install, _users, extra) = install_with_key(OTHER_KEY);
    let output = restore(&install, &extra, &["--json"]);
    assert!(output.status.success());
    let report = stdout_json(&output);
    assert_eq!(report["platformRederived"]["backupEntriesLeftOut"], 15);
}

#[test]
fn a_unique_email_another_user_holds_stops_the_restore() {
    let (install, _users, extra) = install_with_key(SOURCE_KEY);
    // `intruder`, a user of the target, registered wanda-r1's email (in another case).
    let email_key = format!(
        "user-unique/email/{}",
        token(SOURCE_KEY, "email", "WANDA-R1.mail@example.org")
    );
    let intruder = token(SOURCE_KEY, "username", "intruder");
    // The schema exists once a first restore ran: restore another user's data first.
    let output = restore(&install, &extra, &["--user", "yuki-r3"]);
    assert!(output.status.success());
    install.sql(&format!(
        "INSERT INTO users_index (user_id, username) VALUES ('intruder0000000000000000', 'intruder');
         INSERT INTO platform_kv (key, value) VALUES ('{email_key}', '{intruder}');"
    ));
    for args in [&[][..], &["--overwrite"][..]] {
        let output = restore(&install, &extra, args);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stdout}");
        assert!(
            stdout.contains("Restore aborted before writing anything")
                && stdout.contains(
                    "wanda-r1 (v17fm6avvlpz21gmldt7z1s0): its email (unique) is already registered to user \"intruder\""
                ),
            "{stdout}"
        );
        assert_eq!(platform_value(&install, &email_key), Some(intruder.clone()));
        assert_eq!(
            install.count("SELECT count(*) FROM users_index WHERE username = 'wanda-r1'"),
            0
        );
    }
}
