//! The binary against real PostgreSQL installs: full backup and restore, single user.

mod cli_support;

use cli_support::*;

#[test]
fn full_backup_restores_into_an_empty_install_identically() {
    let source = Install::sample();
    let target = Install::empty();
    let backup = tempfile::tempdir().unwrap();
    let out = backup.path().join("full");

    let output = cli()
        .arg("backup")
        .args(source.args())
        .arg("--output")
        .arg(&out)
        .args(["--include-ephemeral", "--json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "backup failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = stdout_json(&output);
    assert_eq!(report["report"]["backupType"], "full");
    assert_eq!(report["report"]["users"].as_array().map(Vec::len), Some(4));

    cli()
        .arg("restore")
        .args(target.args())
        .arg("--restore")
        .arg(&out)
        .assert()
        .code(0);

    let expected = source.dump();
    let empty: Vec<&str> = expected
        .iter()
        .filter(|(_, rows)| rows.is_empty())
        .map(|(t, _)| t.as_str())
        .collect();
    assert_eq!(
        empty,
        ["alias_index"],
        "the sample platform should fill every other table"
    );
    assert_same(&expected, &target.dump());
}
