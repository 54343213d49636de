//! Secrets never shown and never taken on the command line (issue #30, point 6):
//! - a service URL's credentials (`http://admin:…@host`: rqlite, an S3 endpoint) are
//!   redacted in the "reading …" line, in `--json` reports and in error messages;
//! - a `--a:b:c=value` override naming a secret (or holding a URL with credentials) is a
//!   usage error (exit 2) before anything is read or connected to;
//! - a passphrase or private-key file readable by group or others draws a warning.

mod cli_support;

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cli_support::*;
use pryv_backup::engine::PlatformStore;
use pryv_backup::engines::rqlite::{RqlitePlatform, DATA_DIR_DB};
use pryv_backup::sample;

const RQLITE_PASSWORD: &str = "rq-Pa55word-never-shown";
const S3_PASSWORD: &str = "s3-Pa55word-never-shown";

/// A port nothing listens on (taken from the system, then freed).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A SQLite-engine install whose platform is an rqlite node reached with credentials in
/// its URL (the node is down), and whose attachments are on filesystem, or with `s3_port`
/// in an S3 store whose endpoint carries credentials too: `(core dir, config file, the
/// rqlite URL as shown)`.
fn sqlite_install_with_rqlite_credentials(
    work: &Path,
    s3_port: Option<u16>,
) -> (PathBuf, PathBuf, String) {
    let core = work.join("core");
    std::fs::create_dir_all(core.join("config")).unwrap();
    std::fs::create_dir_all(work.join("users")).unwrap();
    let port = closed_port();
    let file_engine = match s3_port {
        Some(s3) => format!(
            "file: {{ engine: s3 }}
  engines:
    s3: {{ bucket: attachments, endpoint: 'http://s3user:{S3_PASSWORD}@127.0.0.1:{s3}' }}"
        ),
        None => "file: { engine: filesystem }\n  engines:".to_string(),
    };
    let config = core.join("override.yml");
    std::fs::write(
        &config,
        format!(
            "storages:
  base: {{ engine: sqlite }}
  platform: {{ engine: rqlite }}
  series: {{ engine: sqlite }}
  audit: {{ engine: sqlite }}
  {file_engine}
    sqlite: {{ path: '{}' }}
    rqlite: {{ url: 'http://admin:{RQLITE_PASSWORD}@127.0.0.1:{port}' }}
",
            work.join("users").display()
        ),
    )
    .unwrap();
    (core, config, format!("http://***@127.0.0.1:{port}"))
}

/// `pryv-backup backup` of the install, with `--json` when asked (S3 credentials in the
/// environment: nothing is read from the store, there are no users).
fn run_backup_of(core: &Path, config: &Path, out: &Path, json: bool) -> std::process::Output {
    let mut command = cli();
    if json {
        command.arg("--json");
    }
    command
        .arg("backup")
        .arg("--core-dir")
        .arg(core)
        .arg("--config")
        .arg(config)
        .arg("--output")
        .arg(out)
        .env("AWS_ACCESS_KEY_ID", "test-key-id")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret")
        .output()
        .unwrap()
}

#[track_caller]
fn assert_no_credentials(all: &str) {
    assert!(
        !all.contains(RQLITE_PASSWORD) && !all.contains(S3_PASSWORD),
        "a password is shown: {all}"
    );
    assert!(
        !all.contains("admin:") && !all.contains("s3user:"),
        "a userinfo is shown: {all}"
    );
}

#[test]
fn service_urls_with_credentials_are_redacted_in_errors() {
    let work = tempfile::tempdir().unwrap();
    let (core, config, shown) =
        sqlite_install_with_rqlite_credentials(work.path(), Some(closed_port()));
    // No node answers and its data directory holds nothing to read instead.
    let output = run_backup_of(&core, &config, &work.path().join("backup"), false);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert_no_credentials(&all);
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains(&format!("cannot reach rqlite at {shown}")),
        "the error names the node, redacted: {all}"
    );
}

#[test]
fn service_urls_with_credentials_are_redacted_in_the_reading_line_and_json() {
    let work = tempfile::tempdir().unwrap();
    let s3_port = closed_port();
    let (core, config, shown) = sqlite_install_with_rqlite_credentials(work.path(), Some(s3_port));
    // The node is down: its data directory is read instead, and the reports say which
    // node did not answer.
    let data_dir = core.join("var-pryv/rqlite-data");
    std::fs::create_dir_all(&data_dir).unwrap();
    RqlitePlatform::sqlite_file(&data_dir.join(DATA_DIR_DB))
        .import(&mut sample::sample_platform_entries(7).into_iter().map(Ok))
        .unwrap();
    let s3_shown = format!("attachments: s3 bucket attachments at http://***@127.0.0.1:{s3_port}");

    let output = run_backup_of(&core, &config, &work.path().join("text"), false);
    let all = text(&output);
    assert!(output.status.success(), "{all}");
    assert_no_credentials(&all);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let reading = stderr
        .lines()
        .find(|l| l.starts_with("reading "))
        .unwrap_or_else(|| panic!("no reading line: {all}"));
    assert!(
        reading.contains(&format!("no node answers at {shown}")) && reading.contains(&s3_shown),
        "{reading}"
    );

    let output = run_backup_of(&core, &config, &work.path().join("json"), true);
    let all = text(&output);
    assert!(output.status.success(), "{all}");
    assert_no_credentials(&all);
    let install = &stdout_json(&output)["install"];
    let platform = install["platform"].as_str().unwrap_or_default();
    assert!(
        platform.contains(&format!("no node answers at {shown}")),
        "{install:#}"
    );
    assert_eq!(
        install["attachments"],
        format!("s3 bucket attachments at http://***@127.0.0.1:{s3_port}"),
        "{install:#}"
    );
}

/// Every kind of secret setting, as an operator might try to give it on the command line.
const SECRET_OVERRIDES: [(&str, &str); 8] = [
    ("storages:engines:postgresql:password", "pg-Secret-1"),
    ("storages:engines:s3:secretAccessKey", "s3-Secret-2"),
    ("storages:engines:s3:accessKeyId", "AKIA-Secret-3"),
    ("platform:piiHmacKey", "cGlpLVNlY3JldC00"),
    ("auth:adminAccessKey", "admin-Secret-5"),
    ("auth:filesReadTokenSecret", "files-Secret-6"),
    ("auth:ssoCookieSignSecret", "sso-Secret-7"),
    (
        "storages:engines:rqlite:url",
        "http://admin:url-Secret-8@127.0.0.1:4001",
    ),
];

/// A PostgreSQL install whose server is `listener`: any connection attempt shows there.
fn install_listening_on(work: &Path, listener: &TcpListener) -> (PathBuf, PathBuf) {
    let core = work.join("core");
    std::fs::create_dir_all(core.join("config")).unwrap();
    let config = core.join("override.yml");
    std::fs::write(
        &config,
        format!(
            "storages:
  base: {{ engine: postgresql }}
  platform: {{ engine: postgresql }}
  file: {{ engine: postgresql }}
  series: {{ engine: postgresql }}
  audit: {{ engine: postgresql }}
  engines:
    postgresql: {{ host: 127.0.0.1, port: {}, database: pryv, user: pryv }}
",
            listener.local_addr().unwrap().port()
        ),
    )
    .unwrap();
    (core, config)
}

#[track_caller]
fn assert_refused(output: &std::process::Output, key: &str, value: &str) {
    let all = text(output);
    assert_eq!(output.status.code(), Some(2), "--{key}: {all}");
    assert!(!all.contains(value), "the secret is echoed: {all}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("--{key}")), "{stderr}");
    assert!(
        stderr.contains(&key.replace(':', "__")) && stderr.contains("configuration file"),
        "the message says where to put it instead: {stderr}"
    );
}

#[track_caller]
fn assert_nothing_connected(listener: &TcpListener) {
    listener.set_nonblocking(true).unwrap();
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok(_) => panic!("the command connected to the database"),
        Err(e) => panic!("accept: {e}"),
    }
}

#[test]
fn every_secret_setting_given_on_the_command_line_is_refused_before_anything_is_reached() {
    let work = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (core, config) = install_listening_on(work.path(), &listener);
    let out = work.path().join("backup");
    for (key, value) in SECRET_OVERRIDES {
        let output = cli()
            .arg("backup")
            .arg("--core-dir")
            .arg(&core)
            .arg("--config")
            .arg(&config)
            .arg("--output")
            .arg(&out)
            .arg(format!("--{key}={value}"))
            // Let through, the command would wait on the silent "database".
            .timeout(Duration::from_secs(20))
            .output()
            .unwrap();
        assert_refused(&output, key, value);
        assert!(!out.exists(), "--{key}: nothing is written");
        assert_nothing_connected(&listener);
    }

    // Restore takes overrides too.
    let (key, value) = SECRET_OVERRIDES[0];
    let output = cli()
        .arg("restore")
        .arg("--restore")
        .arg(reference_archives().join("full-plain"))
        .arg("--core-dir")
        .arg(&core)
        .arg("--config")
        .arg(&config)
        .arg(format!("--{key}={value}"))
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    assert_refused(&output, key, value);
    assert_nothing_connected(&listener);
}

/// A copy of `file` in `dir` with `mode`.
fn copy_with_mode(file: &Path, dir: &Path, name: &str, mode: u32) -> PathBuf {
    let copy = dir.join(name);
    std::fs::copy(file, &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(mode)).unwrap();
    copy
}

fn inspect(archive: &str, flag: &str, secret_file: &Path) -> std::process::Output {
    let output = cli()
        .arg("inspect")
        .arg(reference_archives().join(archive))
        .arg(flag)
        .arg(secret_file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    output
}

#[track_caller]
fn assert_warned(output: &std::process::Output, file: &Path, readers: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("warning: {} ", file.display()))
            && stderr.contains(readers)
            && stderr.contains(&format!("chmod 600 {}", file.display())),
        "{stderr}"
    );
    // Once a run, however often the run opens the file (each generation of a chain does).
    assert_eq!(stderr.matches("holds a secret").count(), 1, "{stderr}");
}

#[test]
fn a_passphrase_file_readable_by_others_draws_a_warning() {
    let work = tempfile::tempdir().unwrap();
    let original = work.path().join("original");
    std::fs::write(&original, "correct horse battery staple\n").unwrap();

    let open = copy_with_mode(&original, work.path(), "pass-0644", 0o644);
    let output = inspect("encrypted-passphrase", "--decrypt-passphrase-file", &open);
    assert_warned(&output, &open, "group and others");

    let group = copy_with_mode(&original, work.path(), "pass-0640", 0o640);
    let output = inspect("encrypted-passphrase", "--decrypt-passphrase-file", &group);
    assert_warned(&output, &group, "group");

    let private = copy_with_mode(&original, work.path(), "pass-0600", 0o600);
    let output = inspect(
        "encrypted-passphrase",
        "--decrypt-passphrase-file",
        &private,
    );
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("warning"),
        "{}",
        text(&output)
    );
}

#[test]
fn a_private_key_file_readable_by_others_draws_a_warning() {
    let work = tempfile::tempdir().unwrap();
    let key = reference_archives().join("keys/recipient.key.pem");

    let open = copy_with_mode(&key, work.path(), "key-0644.pem", 0o644);
    let output = inspect("encrypted-hybrid", "--private-key", &open);
    assert_warned(&output, &open, "group and others");

    let private = copy_with_mode(&key, work.path(), "key-0600.pem", 0o600);
    let output = inspect("encrypted-hybrid", "--private-key", &private);
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("warning"),
        "{}",
        text(&output)
    );
}
