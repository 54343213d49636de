//! A user deleted from the install between generations (issue 29, first part): the chain
//! records each generation's users, so the latest state leaves the deleted user out while
//! a state from before the deletion still holds it.

mod cli_support;

use std::ffi::OsStr;
use std::path::Path;

use cli_support::*;

const BOB: &str = "cksamplebobby0002";
const ALICE: &str = "cksamplealice0001";

/// Restores `dir` into a new install; the restore must succeed.
fn restore(dir: &Path, extra: &[&OsStr]) -> Install {
    let target = Install::empty();
    let output = cli()
        .arg("restore")
        .args(target.args())
        .arg("--restore")
        .arg(dir)
        .args(extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "restore: {}", text(&output));
    target
}

fn holds(install: &Install, user_id: &str) -> bool {
    install.count(&format!(
        "SELECT count(*) FROM users_index WHERE user_id = '{user_id}'"
    )) == 1
}

fn has_bob_rows(install: &Install) -> bool {
    install.count(&format!(
        "SELECT count(*) FROM events WHERE user_id = '{BOB}'"
    )) > 0
        || install
            .count("SELECT count(*) FROM platform_kv WHERE key LIKE '%bob%' OR value LIKE '%bob%'")
            > 0
}

#[test]
fn a_user_deleted_between_generations_is_absent_from_the_latest_state_only() {
    let (source, work, chain) = sample_backed_up("chain");
    let base: serde_json::Value =
        serde_json::from_slice(&std::fs::read(chain.join("manifest.json")).unwrap()).unwrap();
    let base_time = base["backupTimestamp"].as_u64().unwrap().to_string();
    delete_sample_bob(&source);
    backup(&source, &chain, &["--incremental", "--clock-skew", "0"]);

    let latest = restore(&chain, &[]);
    assert!(!holds(&latest, BOB), "the deleted user was restored");
    assert!(!has_bob_rows(&latest), "rows of the deleted user restored");
    assert!(holds(&latest, ALICE));

    let before = restore(&chain, &["--as-of".as_ref(), base_time.as_ref()]);
    assert!(
        holds(&before, BOB),
        "--as-of before the deletion lost the user"
    );
    assert!(has_bob_rows(&before));

    let consolidated = work.path().join("consolidated");
    let output = run(&[
        "consolidate".as_ref(),
        chain.as_os_str(),
        "--output".as_ref(),
        consolidated.as_os_str(),
    ]);
    assert!(output.status.success(), "consolidate: {}", text(&output));
    let merged: serde_json::Value =
        serde_json::from_slice(&std::fs::read(consolidated.join("manifest.json")).unwrap())
            .unwrap();
    let ids: Vec<&str> = merged["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["userId"].as_str())
        .collect();
    assert!(!ids.contains(&BOB) && ids.contains(&ALICE), "{ids:?}");
    let from_merged = restore(&consolidated, &[]);
    assert!(!holds(&from_merged, BOB) && holds(&from_merged, ALICE));

    for dir in [&chain, &consolidated] {
        for command in ["verify", "drill"] {
            let output = run(&[command.as_ref(), dir.as_os_str(), "--json".as_ref()]);
            assert!(output.status.success(), "{command}: {}", text(&output));
        }
    }
    let inspect = stdout_json(&run(&[
        "inspect".as_ref(),
        chain.as_os_str(),
        "--json".as_ref(),
    ]));
    assert_eq!(inspect["latestStateUserCount"], 3, "{inspect}");
    let drill = stdout_json(&run(&[
        "drill".as_ref(),
        chain.as_os_str(),
        "--json".as_ref(),
    ]));
    assert_eq!(drill["report"]["users"], 3, "{drill}");
}
