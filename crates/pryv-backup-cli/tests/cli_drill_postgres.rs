//! The drill of a PostgreSQL install's backup: into a private throwaway PostgreSQL server of
//! this host's binaries when it has them (event `tags`, which SQLite cannot hold, then pass),
//! into SQLite with a clear word when it has not (an engine limit is never damage), and the
//! server and its folder gone after either way.

mod cli_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use cli_support::*;

const ALICE: &str = "cksamplealice0001";

/// A sample install whose event of alice carries `tags` (a column PostgreSQL has and SQLite
/// has not), backed up; and a TMPDIR for the drill, reachable by the `postgres` account the
/// scratch server runs as when the tests run as root.
fn tagged_backup() -> (Install, tempfile::TempDir, PathBuf, PathBuf) {
    let source = Install::sample();
    // The core stores events without an integrity hash when integrity is off: the tagged one
    // is such an event, so only the engine can refuse it.
    source.sql(&format!(
        "UPDATE events SET tags = '[\"kept by PostgreSQL only\"]'::jsonb, integrity = NULL \
         WHERE id = (SELECT id FROM events WHERE user_id = '{ALICE}' ORDER BY id LIMIT 1)"
    ));
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let tmp = work.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o711)).unwrap();
    let out = work.path().join("full");
    backup(&source, &out, &[]);
    (source, work, out, tmp)
}

fn drill(dir: &Path, tmp: &Path, extra: &[&str]) -> std::process::Output {
    cli()
        .env("TMPDIR", tmp)
        .args(extra)
        .arg("drill")
        .arg(dir)
        .output()
        .unwrap()
}

/// What a drill left in `tmp`: its scratch folders, and the processes (a PostgreSQL server)
/// whose command line names a path in it.
fn left_behind(tmp: &Path) -> (Vec<PathBuf>, Vec<String>) {
    let folders = std::fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("pryv-backup-drill-")
        })
        .collect();
    (folders, processes_naming(tmp))
}

/// Command lines of running processes that name a path under `dir`.
fn processes_naming(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|cmd| String::from_utf8_lossy(&cmd).replace('\0', " "))
        .filter(|cmd| cmd.contains(&needle))
        .collect()
}

#[test]
fn a_postgres_backup_with_tags_drills_into_postgresql_and_damage_is_named() {
    let (_source, work, good, tmp) = tagged_backup();

    let output = drill(&good, &tmp, &[]);
    let out = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(
        out.contains("drill OK: this backup restores into the PostgreSQL engine"),
        "{out}"
    );
    assert!(!out.contains("NOT STORABLE"), "{out}");
    assert!(out.contains("4 of 4 user(s) restored"), "{out}");
    assert_eq!(
        left_behind(&tmp),
        (vec![], vec![]),
        "server and scratch gone"
    );

    let output = drill(&good, &tmp, &["--json"]);
    let report = stdout_json(&output);
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["report"]["engine"], "PostgreSQL", "{report:#}");
    assert_eq!(report["report"]["sourceEngine"], "postgresql", "{report:#}");
    assert_eq!(report["report"]["sourceEngineTried"], true, "{report:#}");

    // A byte flipped in one of alice's event chunks: damage, named, in PostgreSQL too.
    let damaged = work.path().join("damaged");
    copy_tree(&good, &damaged);
    let chunk = files(&damaged.join("users").join(ALICE).join("events"))
        .into_iter()
        .next()
        .expect("alice has event chunks")
        .0;
    let mut bytes = std::fs::read(&chunk).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&chunk, bytes).unwrap();
    let output = drill(&damaged, &tmp, &[]);
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.contains(&format!("DAMAGED alice ({ALICE})")), "{out}");
    assert!(out.contains("drill FAILED"), "{out}");
    assert_eq!(
        left_behind(&tmp),
        (vec![], vec![]),
        "server and scratch gone"
    );
}

/// No PostgreSQL binaries: the drill says so, restores into SQLite, calls the tagged user an
/// engine limit (not damage) and exits 0; damage still fails it.
#[test]
fn without_postgres_binaries_the_drill_says_what_it_could_not_try() {
    let (_source, work, good, tmp) = tagged_backup();
    let none = work.path().join("no-binaries");
    std::fs::create_dir(&none).unwrap();
    let no_binaries = ["--postgres-bin".as_ref(), none.as_os_str()];
    let run = |dir: &Path, json: bool| {
        let mut cmd = cli();
        cmd.env("TMPDIR", &tmp);
        if json {
            cmd.arg("--json");
        }
        cmd.arg("drill")
            .arg(dir)
            .args(no_binaries)
            .output()
            .unwrap()
    };

    let output = run(&good, false);
    let out = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(
        out.contains("drill NOT FULLY TRIED: PostgreSQL binaries not found"),
        "{out}"
    );
    assert!(
        out.contains("restored into SQLite instead; every file and integrity hash checks out; 1 user(s) have fields SQLite cannot store"),
        "{out}"
    );
    assert!(out.contains("NOT STORABLE IN SQLITE alice"), "{out}");
    assert!(
        out.contains("warning: the backup's own engine (postgresql) was not tried"),
        "{out}"
    );
    assert!(
        !out.contains("DAMAGED") && !out.contains("drill OK"),
        "{out}"
    );

    let report = stdout_json(&run(&good, true));
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["report"]["sourceEngineTried"], false, "{report:#}");
    assert!(
        report["report"]["notTriedBecause"]
            .as_str()
            .unwrap()
            .starts_with("PostgreSQL binaries not found"),
        "{report:#}"
    );
    assert_eq!(report["report"]["engine"], "SQLite", "{report:#}");
    assert_eq!(
        report["report"]["damaged"],
        serde_json::json!([]),
        "{report:#}"
    );
    assert_eq!(
        report["report"]["engineLimits"][0]["userId"], ALICE,
        "{report:#}"
    );

    // Damage is damage whatever engine was tried.
    let damaged = work.path().join("damaged");
    copy_tree(&good, &damaged);
    let (chunk, _) = files(&damaged.join("users/cksamplebobby0002/events"))
        .into_iter()
        .next()
        .expect("bob has event chunks");
    let mut bytes = std::fs::read(&chunk).unwrap();
    bytes[0] ^= 0x01;
    std::fs::write(&chunk, bytes).unwrap();
    let output = run(&damaged, false);
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.contains("DAMAGED bob (cksamplebobby0002)"), "{out}");
    assert_eq!(left_behind(&tmp), (vec![], vec![]));
}

/// Run as root, the drill's server runs as the `postgres` account: a TMPDIR that account
/// cannot reach is said, with what to do, and the drill goes on in SQLite (exit 0).
#[test]
fn run_as_root_a_tmpdir_the_postgres_account_cannot_reach_is_said() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    let (_source, work, good, _) = tagged_backup();
    let closed = work.path().join("closed");
    std::fs::create_dir(&closed).unwrap();
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
    let tmp = closed.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let output = drill(&good, &tmp, &[]);
    let out = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(out.contains("drill NOT FULLY TRIED: "), "{out}");
    assert!(
        out.contains("the drill runs PostgreSQL as the `postgres` account, which must reach"),
        "{out}"
    );
    assert!(out.contains("NOT STORABLE IN SQLITE alice"), "{out}");
    assert_eq!(left_behind(&tmp), (vec![], vec![]));
}
