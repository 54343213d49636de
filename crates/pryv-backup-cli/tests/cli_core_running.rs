//! A restore into an install whose core runs is refused (exit 1) before anything is
//! written, naming what shows the core running, unless `--force` is given: another session
//! on its PostgreSQL database, another process holding a file of its SQLite data folder.

mod cli_support;

use std::ffi::OsString;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::*;

fn run_os(args: &[OsString]) -> std::process::Output {
    cli().args(args).output().unwrap()
}

#[test]
fn a_restore_into_a_database_with_other_sessions_is_refused_unless_forced() {
    let (_source, _work, backup) = sample_backed_up("full");
    let target = Install::empty();
    // The core's connection, open through the restore.
    let mut core = target.db.connect();
    let pid: i32 = core
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);

    let refused = run_restore(&target, &backup, &[]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("1 other connection to the PostgreSQL database")
            && stderr.contains(&format!("pid {pid} "))
            && stderr.contains("stop the core")
            && stderr.contains("--force"),
        "{stderr}"
    );
    let tables = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'";
    assert_eq!(target.count(tables), 0, "nothing written");

    let forced = run_restore(&target, &backup, &["--force".as_ref()]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced));
    assert!(target.count("SELECT count(*) FROM events") > 0);
    drop(core);
}

#[test]
fn a_restore_into_a_sqlite_folder_a_process_holds_open_is_refused_unless_forced() {
    let (_source, _work, backup) = sample_backed_up("full");
    let install = SqliteInstall::new();
    let first = run_os(&install.restore_args(&backup, &[]));
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));

    // A stand-in for the core: it keeps the users index open, as the core does.
    let index = std::fs::canonicalize(install.data.path().join("user-index.db")).unwrap();
    let mut holder = Command::new("sh")
        .arg("-c")
        .arg("exec 3<\"$0\"; exec sleep 60")
        .arg(&index)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = holder.id();
    let start = Instant::now();
    while std::fs::read_link(format!("/proc/{pid}/fd/3")).ok() != Some(index.clone())
        || std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .ok()
            .as_deref()
            != Some("sleep\n")
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the holder never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    let before = files(install.data.path());
    let refused = run_os(&install.restore_args(&backup, &["--overwrite"]));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    let after_refused = files(install.data.path());
    let forced = run_os(&install.restore_args(&backup, &["--overwrite", "--force"]));
    holder.kill().unwrap();
    holder.wait().unwrap();

    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        stderr.contains(&format!(
            "process {pid} (sleep) holds {} open",
            index.display()
        )) && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced));
    assert!(
        before == after_refused,
        "the refused restore wrote into the install"
    );
}
