//! A backup of a stopped SQLite-engine install (tests/fixtures/live-reference-sqlite): the
//! core's embedded rqlited stops with the core, so the platform rows are read from the
//! node's data directory, read-only, and the run says so.

mod cli_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use cli_support::*;

fn fixture(relative: &str) -> PathBuf {
    testbed::fixture(&format!("live-reference-sqlite/{relative}"))
}

/// The stopped install: copies of the fixture's data folders, and its own configuration
/// file (config/r-config.yml) with its paths and ports set for this machine.
struct StoppedInstall {
    data: tempfile::TempDir,
    core_dir: tempfile::TempDir,
    config: PathBuf,
    _influx: testbed::influx::Influx,
}

impl StoppedInstall {
    fn new() -> StoppedInstall {
        let data = testbed::data_dir();
        copy_tree(&fixture("source-files/users"), &data.path().join("users"));
        copy_tree(
            &fixture("source-platform/rqlite-data"),
            &data.path().join("rqlite-data"),
        );
        let influx = testbed::influx::influxdb();
        let influx_port = influx.url().rsplit(':').next().unwrap().to_string();
        let core_dir = testbed::core_dir();
        let config = core_dir.path().join("r-config.yml");
        let text = std::fs::read_to_string(fixture("config/r-config.yml"))
            .unwrap()
            .replace("<DATA_DIR_R>", &data.path().display().to_string())
            .replace("<RQLITED_BIN>", "/nonexistent/rqlited")
            .replace(
                "http://127.0.0.1:4965",
                &format!("http://127.0.0.1:{}", closed_port()),
            )
            .replace("port: 4988", &format!("port: {influx_port}"));
        std::fs::write(&config, text).unwrap();
        StoppedInstall {
            data,
            core_dir,
            config,
            _influx: influx,
        }
    }

    fn rqlite_dir(&self) -> PathBuf {
        self.data.path().join("rqlite-data")
    }

    fn backup(&self, out: &Path, extra: &[&str]) -> std::process::Output {
        cli()
            .arg("backup")
            .arg("--core-dir")
            .arg(self.core_dir.path())
            .arg("--config")
            .arg(&self.config)
            .arg("--output")
            .arg(out)
            .arg("--no-compress")
            .args(extra)
            .output()
            .unwrap()
    }
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Every file of a folder with its bytes and modification time.
fn state(dir: &Path) -> Vec<(PathBuf, Vec<u8>, SystemTime)> {
    files(dir)
        .into_iter()
        .map(|(path, bytes)| {
            let modified = path.metadata().unwrap().modified().unwrap();
            (path, bytes, modified)
        })
        .collect()
}

/// The source platform's rows as archive items, but for the core's own `core-info/` row
/// (no backup carries it).
fn source_platform_items() -> BTreeSet<String> {
    std::fs::read_to_string(fixture("source-platform/platform-keyValue.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|row| !row["key"].as_str().unwrap().starts_with("core-info/"))
        .map(|row| {
            pryv_backup::platform::item_from_row(
                row["key"].as_str().unwrap(),
                row["value"].as_str().unwrap(),
            )
            .to_string()
        })
        .collect()
}

fn backed_up_platform_items(out: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(out.join("platform/platform.jsonl"))
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn a_stopped_nodes_data_directory_is_read_read_only_and_named() {
    let install = StoppedInstall::new();
    let before = state(&install.rqlite_dir());
    let out = tempfile::tempdir().unwrap();
    let output = install.backup(&out.path().join("full"), &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "backup failed: {stderr}");
    let said = format!(
        "platform: rqlite data directory {} read directly and read-only (no node answers at",
        install.rqlite_dir().display()
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("reading ") && l.contains(&said)),
        "the reading line names the data directory: {stderr}"
    );
    assert_eq!(
        backed_up_platform_items(&out.path().join("full")),
        source_platform_items()
    );
    // Not a byte changed, no -wal or -shm created beside the database.
    assert_eq!(state(&install.rqlite_dir()), before);

    let output = install.backup(&out.path().join("json"), &["--json"]);
    assert!(output.status.success());
    let report = stdout_json(&output);
    let platform = report["install"]["platform"].as_str().unwrap();
    assert!(platform.starts_with(&format!(
        "rqlite data directory {} read directly",
        install.rqlite_dir().display()
    )));
    assert_eq!(report["report"]["platformEntries"], 39);
    assert_eq!(state(&install.rqlite_dir()), before);
}

#[test]
fn a_write_ahead_log_left_by_the_node_is_read_on_a_private_copy() {
    let install = StoppedInstall::new();
    // The node stopped before checkpointing: one more row lives only in its -wal file.
    let crashed = tempfile::tempdir().unwrap();
    let db = crashed.path().join("db.sqlite");
    std::fs::copy(install.rqlite_dir().join("db.sqlite"), &db).unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "journal_mode", "wal").unwrap();
    conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    conn.execute(
        "INSERT INTO keyValue (key, value) VALUES ('user-indexed/language/late', 'fr')",
        [],
    )
    .unwrap();
    for name in ["db.sqlite", "db.sqlite-wal"] {
        std::fs::copy(crashed.path().join(name), install.rqlite_dir().join(name)).unwrap();
    }
    drop(conn);
    let before = state(&install.rqlite_dir());
    let out = tempfile::tempdir().unwrap();
    let output = install.backup(&out.path().join("full"), &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let items = backed_up_platform_items(&out.path().join("full"));
    assert!(
        items.contains(r#"{"username":"late","field":"language","value":"fr","isUnique":false}"#)
    );
    assert_eq!(items.len(), 40);
    assert_eq!(state(&install.rqlite_dir()), before);
}

#[test]
fn a_data_directory_a_process_holds_is_not_read() {
    let install = StoppedInstall::new();
    // A node still running on the directory, reached through another URL than configured.
    let held = std::fs::File::open(install.rqlite_dir().join("db.sqlite")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = install.backup(&out.path().join("full"), &[]);
    drop(held);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("process {}", std::process::id()))
            && stderr.contains("holds this rqlite data directory"),
        "{stderr}"
    );
    assert!(!out.path().join("full/manifest.json").exists());
}

#[test]
fn no_node_and_no_data_directory_says_what_to_do() {
    let install = StoppedInstall::new();
    std::fs::remove_dir_all(install.rqlite_dir()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = install.backup(&out.path().join("full"), &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot reach rqlite at") && stderr.contains("holds no db.sqlite"),
        "{stderr}"
    );
}
