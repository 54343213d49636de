//! Test support for pryv-backup: real, throwaway PostgreSQL databases and data directories.
//!
//! Which PostgreSQL server: `PRYV_BACKUP_TEST_PG` (a libpq URL) when set; otherwise the server
//! on 127.0.0.1:5432 (user postgres) when it answers; otherwise a cluster started once per test
//! process in a temporary directory on a free port, with Debian's `initdb`/`pg_ctl` (the
//! `postgresql` package is installed with apt-get when they are missing).

pub mod audit;
pub mod dump;
mod fixtures;
pub mod influx;
pub mod rqlite;
pub mod s3;

pub use fixtures::{copy_tree, fixture, fixtures_dir, live_source_rows, load_live_table};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use postgres::{Client, NoTls};
use rand::Rng;

/// An empty database of its own for one test, dropped with the value.
pub struct TestDb {
    name: String,
    conn_str: String,
    admin_conn_str: String,
    client: Option<Client>,
}

impl TestDb {
    /// A libpq connection string to this database.
    pub fn conn_str(&self) -> &str {
        &self.conn_str
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A connection to this database, open from the first call for the life of the value
    /// (none is held before: a restore refuses a database with other connections).
    pub fn client(&mut self) -> &mut Client {
        self.client.get_or_insert_with(|| connect(&self.conn_str))
    }

    /// A fresh, separate connection.
    pub fn connect(&self) -> Client {
        connect(&self.conn_str)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.client.take();
        if let Ok(mut admin) = Client::connect(&self.admin_conn_str, NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A new, empty database on the test server.
pub fn pg_database() -> TestDb {
    let server = server();
    let mut admin = connect(&server.admin_conn_str);
    let name = format!("pryv_test_{:016x}", rand::thread_rng().gen::<u64>());
    admin
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .unwrap_or_else(|e| panic!("testbed: cannot create database {name}: {e}"));
    let conn_str = with_database(&server.admin_conn_str, &name);
    TestDb {
        name,
        conn_str,
        admin_conn_str: server.admin_conn_str.clone(),
        client: None,
    }
}

/// A temporary directory standing for an install's `var-pryv` data folder.
pub fn data_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("var-pryv-")
        .tempdir()
        .unwrap_or_else(|e| panic!("testbed: cannot create a temporary directory: {e}"))
}

/// A temporary core install directory, holding the `config/` folder every install ships
/// (empty: the tests give their settings as overrides).
pub fn core_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("pryv-core-")
        .tempdir()
        .unwrap_or_else(|e| panic!("testbed: cannot create a temporary directory: {e}"));
    std::fs::create_dir(dir.path().join("config"))
        .unwrap_or_else(|e| panic!("testbed: cannot create config/: {e}"));
    dir
}

fn connect(conn_str: &str) -> Client {
    Client::connect(conn_str, NoTls)
        .unwrap_or_else(|e| panic!("testbed: cannot connect to {conn_str}: {e}"))
}

struct Server {
    admin_conn_str: String,
    /// Keeps the throwaway cluster's directory alive for the process.
    _cluster: Option<Cluster>,
}

static SERVER: OnceLock<Server> = OnceLock::new();

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        if let Ok(url) = std::env::var("PRYV_BACKUP_TEST_PG") {
            return Server {
                admin_conn_str: url,
                _cluster: None,
            };
        }
        let local = "postgresql://postgres@127.0.0.1:5432/postgres";
        if Client::connect(local, NoTls).is_ok() {
            return Server {
                admin_conn_str: local.to_string(),
                _cluster: None,
            };
        }
        let cluster = Cluster::start();
        Server {
            admin_conn_str: format!("postgresql://postgres@127.0.0.1:{}/postgres", cluster.port),
            _cluster: Some(cluster),
        }
    })
}

/// Replaces the database part of a libpq URL or key=value string.
fn with_database(conn_str: &str, db: &str) -> String {
    if conn_str.starts_with("postgres://") || conn_str.starts_with("postgresql://") {
        let (base, query) = match conn_str.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (conn_str, None),
        };
        let authority_end = base
            .find("://")
            .map(|i| i + 3)
            .and_then(|start| base[start..].find('/').map(|j| start + j))
            .unwrap_or(base.len());
        let mut out = format!("{}/{db}", &base[..authority_end]);
        if let Some(q) = query {
            out.push('?');
            out.push_str(q);
        }
        out
    } else {
        let kept: Vec<&str> = conn_str
            .split_whitespace()
            .filter(|kv| !kv.starts_with("dbname="))
            .collect();
        format!("{} dbname={db}", kept.join(" "))
    }
}

/// A PostgreSQL cluster private to this test process. It lives in a static, which is never
/// dropped, so it outlives the process; the next process that needs a cluster stops and
/// removes those whose owner process is gone (see [`reap_orphans`]).
struct Cluster {
    port: u16,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        let bindir = pg_bindir().unwrap_or_else(|| {
            install_postgresql();
            pg_bindir().unwrap_or_else(|| {
                panic!("testbed: PostgreSQL binaries not found after installing")
            })
        });
        reap_orphans(&bindir);
        let dir = tempfile::Builder::new()
            .prefix(CLUSTER_PREFIX)
            .tempdir()
            .unwrap_or_else(|e| panic!("testbed: cannot create a temporary directory: {e}"));
        let root = is_root();
        if root {
            run(Command::new("chown").arg("postgres:").arg(dir.path()));
        }
        let data = dir.path().join("data");
        let port = free_port();
        run(as_postgres(root, &bindir.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust"]));
        run(as_postgres(root, &bindir.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.path().join("log"))
            .arg("-o")
            .arg(format!(
                "-h 127.0.0.1 -p {port} -k {}",
                dir.path().display()
            ))
            .args(["-w", "start"]));
        // Written last: a directory with an owner file holds a started cluster.
        let _ = std::fs::write(dir.path().join(OWNER_FILE), std::process::id().to_string());
        Cluster { port, _dir: dir }
    }
}

const CLUSTER_PREFIX: &str = "pryv-backup-pg-";
const OWNER_FILE: &str = "owner.pid";

/// Stops and removes the clusters earlier test processes left behind.
fn reap_orphans(bindir: &Path) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for dir in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        let is_cluster = dir
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(CLUSTER_PREFIX));
        let Some(owner) = std::fs::read_to_string(dir.join(OWNER_FILE))
            .ok()
            .filter(|_| is_cluster)
        else {
            continue;
        };
        if Path::new("/proc").join(owner.trim()).exists() {
            continue;
        }
        let _ = as_postgres(is_root(), &bindir.join("pg_ctl"))
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-m", "fast", "stop"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn pg_bindir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|p| {
        p.parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
}

fn install_postgresql() {
    let sudo = if is_root() { vec![] } else { vec!["sudo"] };
    let apt = |args: &[&str]| {
        let mut cmd = Command::new(sudo.first().copied().unwrap_or("apt-get"));
        if !sudo.is_empty() {
            cmd.arg("apt-get");
        }
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut cmd);
    };
    apt(&["update", "-qq"]);
    apt(&["install", "-y", "-qq", "postgresql"]);
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn as_postgres(root: bool, program: &Path) -> Command {
    if root {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("testbed: no free port: {e}"))
}

fn run(cmd: &mut Command) {
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("testbed: cannot run {cmd:?}: {e}"));
    assert!(status.success(), "testbed: {cmd:?} failed with {status}");
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_of_a_url() {
        assert_eq!(
            with_database("postgresql://postgres@127.0.0.1:5432/postgres", "x"),
            "postgresql://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h:1/db?sslmode=disable", "x"),
            "postgres://u:p@h:1/x?sslmode=disable"
        );
        assert_eq!(with_database("postgresql://h", "x"), "postgresql://h/x");
        assert_eq!(
            with_database("host=h dbname=a user=u", "x"),
            "host=h user=u dbname=x"
        );
    }
}
