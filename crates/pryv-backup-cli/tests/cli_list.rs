//! `list` over a folder of backups as the backup unit fills it: a month with a full backup
//! and an increment, an encrypted month, a month whose run did not finish, and a
//! `lost+found`; text (a table) and `--json`, without a key and with one.

mod cli_support;

use std::path::Path;

use cli_support::*;

const PASSPHRASE: &str = "list me if you can";

fn json_rows(args: &[&std::ffi::OsStr]) -> Vec<serde_json::Value> {
    let output = run(args);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    stdout_json(&output)["backups"].as_array().unwrap().clone()
}

fn row<'a>(
    rows: &'a [serde_json::Value],
    backup: &Path,
    generation: &str,
) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r["backup"] == backup.to_str().unwrap() && r["generation"] == generation)
        .unwrap_or_else(|| panic!("no row {} {generation}: {rows:#?}", backup.display()))
}

#[test]
fn list_shows_every_backup_and_generation_and_what_it_holds() {
    let source = Install::sample();
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("pryv");
    let plain = root.join("2026-10");
    backup(&source, &plain, &[]);
    backup(&source, &plain, &["--incremental"]);
    let pass_file = work.path().join("passphrase");
    std::fs::write(&pass_file, PASSPHRASE).unwrap();
    let sealed = root.join("2026-11");
    backup(
        &source,
        &sealed,
        &["--encrypt-passphrase-file", pass_file.to_str().unwrap()],
    );
    // A run that stopped before its manifest, as a killed backup leaves it.
    let unfinished = root.join("2026-12");
    std::fs::create_dir_all(unfinished.join("users/cksamplealice0001")).unwrap();
    std::fs::write(unfinished.join(".pryv-backup-in-progress"), b"run 1").unwrap();
    std::fs::write(
        unfinished.join("users/cksamplealice0001/streams.jsonl"),
        b"{}\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("lost+found")).unwrap();

    let rows = json_rows(&["list".as_ref(), root.as_os_str(), "--json".as_ref()]);
    assert_eq!(rows.len(), 4, "{rows:#?}");
    let base = row(&rows, &plain, ".");
    assert_eq!(base["kind"], "full");
    assert_eq!(base["complete"], true);
    assert_eq!(base["encryption"], "none");
    assert_eq!(base["sequence"], 0);
    assert!(base["users"].as_u64().unwrap() >= 2, "{base}");
    assert!(base["items"].as_u64().unwrap() > 0, "{base}");
    assert!(base["bytes"].as_u64().unwrap() > 0, "{base}");
    let increment = row(&rows, &plain, "increments/0001");
    assert_eq!(increment["kind"], "increment");
    assert_eq!(increment["sequence"], 1);
    assert!(
        increment["backupTimestamp"].as_u64() >= base["backupTimestamp"].as_u64(),
        "{rows:#?}"
    );
    // The base's size leaves its increments out.
    let whole: u64 = files(&plain).iter().map(|(_, b)| b.len() as u64).sum();
    assert_eq!(
        base["bytes"].as_u64().unwrap() + increment["bytes"].as_u64().unwrap(),
        whole
    );
    // No key: what the clear record says, and a note for the items.
    let encrypted = row(&rows, &sealed, ".");
    assert_eq!(encrypted["encryption"], "symmetric");
    assert_eq!(encrypted["complete"], true);
    assert!(encrypted["users"].as_u64().unwrap() >= 2, "{encrypted}");
    assert!(encrypted.get("items").is_none(), "{encrypted}");
    assert!(
        encrypted["note"]
            .as_str()
            .unwrap()
            .contains("need the backup's key"),
        "{encrypted}"
    );
    let stopped = row(&rows, &unfinished, ".");
    assert_eq!(stopped["kind"], "unfinished");
    assert_eq!(stopped["complete"], false);
    assert!(stopped["note"].as_str().unwrap().contains("did not finish"));
    assert!(!rows
        .iter()
        .any(|r| r["backup"].as_str().unwrap().ends_with("lost+found")));

    // With the key, the encrypted backup's items are counted too.
    let keyed = json_rows(&[
        "snapshots".as_ref(),
        root.as_os_str(),
        "--json".as_ref(),
        "--decrypt-passphrase-file".as_ref(),
        pass_file.as_os_str(),
    ]);
    assert_eq!(row(&keyed, &sealed, ".")["items"], base["items"]);

    // The table an operator reads.
    let output = run(&["list".as_ref(), root.as_os_str()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let table = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "2026-10 ",
        "2026-10/increments/0001",
        "increment",
        "yes (symmetric)",
        "unfinished",
        "NO",
        "ago",
        "2026-12: no manifest.json",
    ] {
        assert!(table.contains(expected), "{expected}:\n{table}");
    }
    let year = chrono_year();
    assert!(table.contains(&format!("{year}-")), "{table}");

    // One backup given: its own generations.
    let one = json_rows(&["list".as_ref(), plain.as_os_str(), "--json".as_ref()]);
    assert_eq!(one.len(), 2, "{one:#?}");

    // inspect of the folder says it is a folder of backups, and how to list them.
    let output = run(&["inspect".as_ref(), root.as_os_str()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        text(&output).contains("is a folder of backups"),
        "{}",
        text(&output)
    );
    assert!(
        text(&output).contains("pryv-backup list"),
        "{}",
        text(&output)
    );
}

/// This year, as the backups just made are dated.
fn chrono_year() -> i64 {
    let days = (now() / 86_400.0) as i64;
    pryv_backup::dates::civil_from_days(days).0
}
