//! Shared by the cli_* tests: a Pryv.io install on a throwaway PostgreSQL database (every
//! storage set to `postgresql`), described to the binary by a core directory and a
//! `--config` file, plus table-by-table comparison of two installs.

#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use pryv_backup::engine::Engine;
use pryv_backup::engines::postgres::PgEngine;
use pryv_backup::sample;
// Not every test binary uses every helper.
#[allow(unused_imports)]
pub use testbed::dump::{assert_same, without, Dump};

/// The seed of every sample platform in these tests.
pub const SEED: u64 = 7;

/// One install: its database, its core directory and its override configuration file.
pub struct Install {
    pub db: testbed::TestDb,
    pub core_dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Install {
    /// An install whose database is empty (no schema): a restore target.
    pub fn empty() -> Install {
        let db = testbed::pg_database();
        let core_dir = tempfile::Builder::new()
            .prefix("pryv-core-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a core directory: {e}"));
        // Every install ships a config/ folder; the settings themselves are in `config`.
        std::fs::create_dir(core_dir.path().join("config"))
            .unwrap_or_else(|e| panic!("cannot create config/: {e}"));
        let config = core_dir.path().join("backup-override.yml");
        std::fs::write(&config, config_yaml(db.conn_str()))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", config.display()));
        Install {
            db,
            core_dir,
            config,
        }
    }

    /// An install holding `sample::sample_platform(SEED)`, its platform entries, a session
    /// and a password reset.
    pub fn sample() -> Install {
        let install = Install::empty();
        let engine = install.engine();
        for (user, data) in sample::sample_platform(SEED) {
            engine
                .import_user(&user, &data, &Default::default())
                .unwrap_or_else(|e| panic!("seeding {}: {e}", user.username));
        }
        engine
            .import_platform(&mut sample::sample_platform_entries(SEED).into_iter().map(Ok))
            .unwrap_or_else(|e| panic!("seeding the platform entries: {e}"));
        // The sample has no ephemeral data: add some as the core stores it.
        install.sql(
            "INSERT INTO sessions (id, data, expires) VALUES
               ('sess-alice', '{\"username\": \"alice\", \"appId\": \"pryv-browser\"}', to_timestamp(1795516000.123));
             INSERT INTO password_resets (id, username, expires) VALUES ('reset-bob', 'bob', to_timestamp(1795516000.5));",
        );
        install
    }

    pub fn engine(&self) -> PgEngine {
        PgEngine::connect(self.db.conn_str(), None)
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.db.name()))
    }

    /// `--core-dir DIR --config FILE`: what every backup/restore command needs.
    pub fn args(&self) -> Vec<OsString> {
        vec![
            "--core-dir".into(),
            self.core_dir.path().into(),
            "--config".into(),
            self.config.clone().into(),
        ]
    }

    /// The same install given as `--key:path=value` overrides instead of a file.
    pub fn override_args(&self) -> Vec<OsString> {
        let (host, port, database, user) = server_of(self.db.conn_str());
        let mut args: Vec<OsString> = vec!["--core-dir".into(), self.core_dir.path().into()];
        for storage in ["base", "platform", "file", "audit", "series"] {
            args.push(format!("--storages:{storage}:engine=postgresql").into());
        }
        args.push(format!("--storages:engines:postgresql:host={host}").into());
        args.push(format!("--storages:engines:postgresql:port={port}").into());
        args.push(format!("--storages:engines:postgresql:database={database}").into());
        args.push(format!("--storages:engines:postgresql:user={user}").into());
        args
    }

    pub fn dump(&self) -> Dump {
        testbed::dump::dump(&mut self.db.connect())
    }

    pub fn sql(&self, sql: &str) {
        self.db
            .connect()
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("running {sql}: {e}"));
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.db
            .connect()
            .query_one(sql, &[])
            .unwrap_or_else(|e| panic!("running {sql}: {e}"))
            .get(0)
    }
}

/// Host, port, database and user of a test database's connection string.
fn server_of(conn_str: &str) -> (String, u16, String, String) {
    let c: postgres::Config = conn_str
        .parse()
        .unwrap_or_else(|e| panic!("test database URL {conn_str}: {e}"));
    let host = match c.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        other => panic!("the test database must be reached over TCP, not {other:?}"),
    };
    let port = c.get_ports().first().copied().unwrap_or(5432);
    let user = c.get_user().unwrap_or("postgres").to_string();
    let database = c
        .get_dbname()
        .unwrap_or_else(|| panic!("no database in {conn_str}"))
        .to_string();
    (host, port, database, user)
}

/// Every storage of the install in the one PostgreSQL database.
fn config_yaml(conn_str: &str) -> String {
    let (host, port, database, user) = server_of(conn_str);
    let password = conn_str
        .parse::<postgres::Config>()
        .ok()
        .and_then(|c| {
            c.get_password()
                .map(|p| format!("\n      password: '{}'", String::from_utf8_lossy(p)))
        })
        .unwrap_or_default();
    format!(
        "storages:
  base: {{ engine: postgresql }}
  platform: {{ engine: postgresql }}
  file: {{ engine: postgresql }}
  audit: {{ engine: postgresql }}
  series: {{ engine: postgresql }}
  engines:
    postgresql:
      host: '{host}'
      port: {port}
      database: '{database}'
      user: '{user}'{password}
dnsLess:
  publicUrl: 'https://cli-test.pryv.local/'
"
    )
}

/// The `pryv-backup` binary, with no secret, backup location or NODE_ENV inherited from the
/// environment.
pub fn cli() -> Command {
    let mut cmd =
        Command::cargo_bin("pryv-backup").unwrap_or_else(|e| panic!("pryv-backup binary: {e}"));
    cmd.env_remove("PRYV_BACKUP_PASSPHRASE")
        .env_remove("PRYV_BACKUP_PASSPHRASE_COMMAND")
        .env_remove("PRYV_BACKUP_REPOSITORY")
        .env_remove("PRYV_BACKUP_PRIVATE_KEY_PASSPHRASE")
        .env_remove("PRYV_CORE_DIR")
        .env_remove("NODE_ENV")
        .env_remove("RUST_LOG");
    cmd
}

/// Now, in seconds since the epoch (the core's time stamps).
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A sample install and, in a temporary folder (kept alive by the returned guard), its
/// full backup at `name`.
pub fn sample_backed_up(name: &str) -> (Install, tempfile::TempDir, PathBuf) {
    sample_backed_up_with(name, &[])
}

/// [`sample_backed_up`], the backup made with `extra` arguments.
pub fn sample_backed_up_with(name: &str, extra: &[&str]) -> (Install, tempfile::TempDir, PathBuf) {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join(name);
    backup(&source, &out, extra);
    (source, work, out)
}

/// `pryv-backup` with these arguments, whatever its outcome.
pub fn run(args: &[&OsStr]) -> std::process::Output {
    cli().args(args).output().unwrap()
}

/// What the process printed, stdout then stderr, for assertion messages.
pub fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The test recipient key pair of the reference archives: (public, private) PEM files.
pub fn recipient_keys() -> (PathBuf, PathBuf) {
    let dir = reference_archives().join("keys");
    (dir.join("recipient.pub.pem"), dir.join("recipient.key.pem"))
}

/// `pryv-backup backup` of `install` into `out`, whatever its outcome.
pub fn run_backup(install: &Install, out: &Path, extra: &[&str]) -> std::process::Output {
    cli()
        .arg("backup")
        .args(install.args())
        .arg("--output")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

/// `pryv-backup backup` of `install` into `out`, which must succeed.
pub fn backup(install: &Install, out: &Path, extra: &[&str]) {
    let output = run_backup(install, out, extra);
    assert!(
        output.status.success(),
        "backup {extra:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `pryv-backup restore` of `dir` into `install`, whatever its outcome.
pub fn run_restore(install: &Install, dir: &Path, extra: &[&OsStr]) -> std::process::Output {
    cli()
        .arg("restore")
        .args(install.args())
        .arg("--restore")
        .arg(dir)
        .args(extra)
        .output()
        .unwrap()
}

/// `pryv-backup restore` of `dir` into `install` with plain-text arguments, whatever its outcome.
pub fn restore(install: &Install, dir: &Path, extra: &[&str]) -> std::process::Output {
    let extra: Vec<&OsStr> = extra.iter().map(OsStr::new).collect();
    run_restore(install, dir, &extra)
}

/// Asserts the process exited with `code`, printing its output otherwise.
#[track_caller]
pub fn assert_exit(output: &std::process::Output, code: i32) {
    assert_eq!(output.status.code(), Some(code), "{}", text(output));
}

/// Asserts the process exited with `code`, printing its stderr otherwise.
#[track_caller]
pub fn assert_exit_stderr(output: &std::process::Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Asserts the process exited with `code` and printed `expected` (stdout or stderr).
#[track_caller]
pub fn assert_exit_saying(output: &std::process::Output, code: i32, expected: &str) {
    assert_exit(output, code);
    assert!(text(output).contains(expected), "{}", text(output));
}

/// Restores `dir` into a new empty install with `extra` arguments, whatever the outcome.
pub fn restore_into_new(dir: &Path, extra: &[&OsStr]) -> (Install, std::process::Output) {
    let target = Install::empty();
    let output = run_restore(&target, dir, extra);
    (target, output)
}

/// The reference archives written by open-pryv.io (see their README).
pub fn reference_archives() -> PathBuf {
    testbed::fixture("reference-archives")
}

/// The rows of one user only (tables without a user_id column are left out).
pub fn user_rows(dump: &Dump, user_id: &str) -> Dump {
    let marker = format!("\"user_id\":\"{user_id}\"");
    dump.iter()
        .map(|(t, rows)| {
            (
                t.clone(),
                rows.iter()
                    .filter(|r| r.contains(&marker))
                    .cloned()
                    .collect(),
            )
        })
        .collect()
}

/// Every file under `dir` (recursively), with its bytes.
pub fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in
            std::fs::read_dir(&d).unwrap_or_else(|e| panic!("reading {}: {e}", d.display()))
        {
            let path = entry
                .unwrap_or_else(|e| panic!("reading {}: {e}", d.display()))
                .path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path)
                    .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    out
}

/// Copies a directory tree (to damage a copy of a fixture, never the fixture).
pub fn copy_tree(from: &Path, to: &Path) {
    for (path, bytes) in files(from) {
        let target = to.join(path.strip_prefix(from).unwrap_or(&path));
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("creating {}: {e}", parent.display()));
        }
        std::fs::write(&target, bytes)
            .unwrap_or_else(|e| panic!("writing {}: {e}", target.display()));
    }
}

/// The process's stdout as JSON.
#[track_caller]
pub fn stdout_json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// An empty SQLite-engine install, configured by a file in its core folder, its platform
/// entries in an rqlite stand-in (a restore checks unique values there up front).
pub struct SqliteInstall {
    pub core_dir: tempfile::TempDir,
    pub data: tempfile::TempDir,
    pub platform: testbed::rqlite::RqliteStandIn,
}

impl SqliteInstall {
    pub fn new() -> SqliteInstall {
        let core_dir = testbed::core_dir();
        let data = testbed::data_dir();
        let platform = testbed::rqlite::RqliteStandIn::start();
        std::fs::create_dir_all(core_dir.path().join("config")).unwrap();
        std::fs::write(
            core_dir.path().join("sqlite.yml"),
            format!(
                "storages:\n  base: {{ engine: sqlite }}\n  platform: {{ engine: rqlite }}\n  \
                 file: {{ engine: filesystem }}\n  audit: {{ engine: sqlite }}\n  \
                 series: {{ engine: sqlite }}\n  engines:\n    sqlite:\n      path: '{}'\n    \
                 rqlite:\n      url: '{}'\n\
                 dnsLess:\n  publicUrl: 'https://cli-test.pryv.local/'\n",
                data.path().display(),
                platform.url()
            ),
        )
        .unwrap();
        SqliteInstall {
            core_dir,
            data,
            platform,
        }
    }

    pub fn restore_args(&self, backup: &Path, extra: &[&str]) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = vec![
            "restore".into(),
            "--core-dir".into(),
            self.core_dir.path().into(),
            "--config".into(),
            self.core_dir.path().join("sqlite.yml").into(),
            "--restore".into(),
            backup.into(),
        ];
        args.extend(extra.iter().map(Into::into));
        args
    }

    /// The folder of the user with this id.
    pub fn user_dir(&self, user_id: &str) -> PathBuf {
        let tail: Vec<char> = user_id.chars().rev().take(3).collect();
        let mut dir = self.data.path().to_path_buf();
        for c in tail {
            dir.push(c.to_string());
        }
        dir.join(user_id)
    }
}

/// Deletes the sample's bob as the core deletes a user: every row holding its userId, its
/// users-index row, its platform entries (plaintext mode: keyed or valued by its username)
/// and its ephemeral rows.
pub fn delete_sample_bob(install: &Install) {
    const BOB: &str = "cksamplebobby0002";
    let mut client = install.db.connect();
    let tables: Vec<String> = client
        .query(
            "SELECT table_name FROM information_schema.columns
             WHERE column_name = 'user_id' AND table_schema = current_schema()",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for table in tables {
        client
            .execute(&format!("DELETE FROM {table} WHERE user_id = $1"), &[&BOB])
            .unwrap();
    }
    install.sql(
        "DELETE FROM platform_kv WHERE key LIKE '%/bob' OR key LIKE '%/bob@example.com' OR value = 'bob';
         DELETE FROM password_resets WHERE username = 'bob';
         DELETE FROM sessions WHERE data->>'username' = 'bob';",
    );
    assert_eq!(
        install.count("SELECT count(*) FROM users_index WHERE username = 'bob'"),
        0
    );
}

/// The sample platform backed up into `chain`, then alice changed
/// ([`change_sample_alice`]) and an increment made: a base and `increments/0001` whose
/// differences are known.
pub fn sample_chain_with_alice_changed(chain: &Path) -> Install {
    let source = Install::sample();
    backup(&source, chain, &[]);
    change_sample_alice(&source);
    backup(&source, chain, &["--incremental", "--clock-skew", "0"]);
    source
}

/// Changes to the sample's alice as the core makes them (the SQL of cli_roundtrip's
/// `change_alice`), with known ids: events: `ev-diff-added` created, `ev-alice-0001`
/// edited, `ev-alice-0002` and `ev-with-files` deleted (tombstones, fields cleared in the
/// default `keep-nothing` mode: the latter's two attachments go with it); streams:
/// `diff-added` created, `health` renamed, `weight-morning` deleted (`deleted` = now).
pub fn change_sample_alice(install: &Install) {
    const ALICE: &str = "cksamplealice0001";
    let now = "extract(epoch FROM clock_timestamp())";
    install.sql(&format!(
        "INSERT INTO events (user_id, id, stream_ids, time, type, content, integrity, created, created_by, modified, modified_by)
           VALUES ('{ALICE}', 'ev-diff-added', '[\"health\"]', {now}, 'note/txt', '\"added\"', 'EVENT:0:added',
                   {now}, 'acc-app', {now}, 'acc-app');
         INSERT INTO event_streams (user_id, event_id, stream_id, stream_path)
           VALUES ('{ALICE}', 'ev-diff-added', 'health', 'health/');
         UPDATE events SET content = '\"edited\"', modified = {now}, modified_by = 'acc-personal'
           WHERE user_id = '{ALICE}' AND id = 'ev-alice-0001';
         UPDATE events SET deleted = {now}, integrity = 'EVENT:0:tombstone',
                stream_ids = NULL, time = NULL, end_time = NULL, type = NULL, content = NULL,
                description = NULL, client_data = NULL, attachments = NULL, trashed = NULL, created = NULL,
                created_by = NULL, modified = NULL, modified_by = NULL
           WHERE user_id = '{ALICE}' AND id IN ('ev-alice-0002', 'ev-with-files');
         DELETE FROM event_streams WHERE user_id = '{ALICE}' AND event_id IN ('ev-alice-0002', 'ev-with-files');
         INSERT INTO streams (user_id, id, name, parent_id, path, created, created_by, modified, modified_by)
           VALUES ('{ALICE}', 'diff-added', 'Added', NULL, 'diff-added/', {now}, 'acc-app', {now}, 'acc-app');
         UPDATE streams SET name = 'Health (renamed)', modified = {now}, modified_by = 'acc-personal'
           WHERE user_id = '{ALICE}' AND id = 'health';
         UPDATE streams SET deleted = {now} WHERE user_id = '{ALICE}' AND id = 'weight-morning';"
    ));
    assert_eq!(
        install.count(&format!(
            "SELECT count(*) FROM events WHERE user_id = '{ALICE}' AND deleted IS NOT NULL
               AND id IN ('ev-alice-0002', 'ev-with-files')"
        )),
        2,
        "the tombstones were not written"
    );
}
