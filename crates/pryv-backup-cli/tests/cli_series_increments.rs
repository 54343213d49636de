//! A series that grows night after night: each increment holds only its new points, and the
//! chain restores every point, at any night (see pryv-backup's `series_append`).
//!
//! On the live install's rows (tests/fixtures/live-reference/source-db: keys `user.<username>`
//! / `event.<eventId>`, nanosecond times, a point every 500 ms, `{"value": ...}`), one of its
//! measurements grown the way the core's series store grows it (rows after the last one, on
//! the same 500 ms step) past the 1,000 points from which increments carry only new points.

mod cli_support;

use std::path::{Path, PathBuf};

use cli_support::*;
use serde_json::Value;

/// What a backup of the live users reads, and the series.
const LIVE_TABLES: [&str; 8] = [
    "users_index",
    "accesses",
    "passwords",
    "account_fields",
    "streams",
    "events",
    "event_streams",
    "series_data",
];

const STEP_NS: i64 = 500_000_000;

fn live_install() -> Install {
    let install = Install::empty();
    install.engine().ensure_schema().unwrap();
    let mut client = install.db.connect();
    for table in LIVE_TABLES {
        testbed::load_live_table(&mut client, table);
    }
    install
}

/// The live install with its first measurement (key returned) grown from 200 points to
/// 1,200: past the 1,000 points from which increments carry only new points.
fn grown_live_install() -> (Install, String) {
    let source = live_install();
    let big_key: String = source
        .db
        .connect()
        .query_one(
            "SELECT event_id FROM series_data ORDER BY event_id LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    grow(&source, &big_key, 1_000);
    (source, big_key)
}

/// `n` points after the last one of `event_key`, on the core's 500 ms step.
fn grow(install: &Install, event_key: &str, n: u32) {
    install.sql(&format!(
        "INSERT INTO series_data (user_id, event_id, point_time, delta_time, fields)
         SELECT user_id, event_id, point_time + {STEP_NS}::bigint * g, delta_time + {STEP_NS}::bigint * g,
                jsonb_build_object('value', 60 + g * 0.125)
         FROM (SELECT * FROM series_data WHERE event_id = '{event_key}'
               ORDER BY delta_time DESC LIMIT 1) AS last, generate_series(1, {n}) AS g"
    ));
}

fn series_rows(install: &Install) -> Vec<String> {
    install
        .db
        .connect()
        .query(
            "SELECT row_to_json(t)::text FROM series_data t ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Every series item of one generation (uncompressed backups).
fn series_items(generation: &Path) -> Vec<Value> {
    let mut items = Vec::new();
    for (path, bytes) in files(&generation.join("users")) {
        if path.file_name().and_then(|n| n.to_str()) == Some("series.jsonl") {
            for line in String::from_utf8(bytes).unwrap().lines() {
                items.push(serde_json::from_str(line).unwrap());
            }
        }
    }
    items
}

fn increment(chain: &Path, night: usize) -> PathBuf {
    chain.join(format!("increments/{night:04}"))
}

fn backup_timestamp(generation: &Path) -> u64 {
    let record: Value =
        serde_json::from_slice(&std::fs::read(generation.join("chain.json")).unwrap()).unwrap();
    record["backupTimestamp"].as_u64().unwrap()
}

/// Rows compared by count and first difference (thousands of rows: not printed whole).
fn assert_same_rows(actual: &[String], expected: &[String], what: &str) {
    let first_difference = actual.iter().zip(expected).find(|(a, e)| a != e);
    assert!(
        actual.len() == expected.len() && first_difference.is_none(),
        "{what}: {} rows restored, {} expected; first difference: {first_difference:?}",
        actual.len(),
        expected.len()
    );
}

fn restored_series(dir: &Path, extra: &[&str]) -> Vec<String> {
    let extra: Vec<&std::ffi::OsStr> = extra.iter().map(std::ffi::OsStr::new).collect();
    let (target, output) = restore_into_new(dir, &extra);
    assert!(output.status.success(), "{}", text(&output));
    series_rows(&target)
}

#[test]
fn a_month_of_increments_holds_only_new_points_and_restores_every_point_at_any_night() {
    let (source, big_key) = grown_live_install();
    let big = big_key.trim_start_matches("event.").to_string();
    let mut points = 1_200;

    let work = tempfile::tempdir().unwrap();
    let chain = work.path().join("chain");
    backup(&source, &chain, &["--no-compress"]);
    let mut nights = vec![series_rows(&source)];

    for night in 1..=30 {
        let (added, edited) = match night % 10 {
            // A point of the past changed: the measurement goes whole.
            0 => {
                source.sql(&format!(
                    "UPDATE series_data SET fields = '{{\"value\": -{night}}}'
                     WHERE event_id = '{big_key}' AND delta_time = {STEP_NS}::bigint * 7"
                ));
                grow(&source, &big_key, 5);
                (5, true)
            }
            // A night without new points.
            5 => (0, false),
            _ => {
                grow(&source, &big_key, 10);
                (10, false)
            }
        };
        backup(&source, &chain, &["--no-compress", "--incremental"]);
        nights.push(series_rows(&source));

        let items = series_items(&increment(&chain, night));
        let of_big: Vec<&Value> = items
            .iter()
            .filter(|i| i["measurement"] == big.as_str() || i["appendTo"] == big.as_str())
            .collect();
        match (added, edited) {
            (0, _) => assert!(of_big.is_empty(), "night {night}: {of_big:?}"),
            (_, true) => {
                assert_eq!(of_big.len(), 1, "night {night}");
                assert_eq!(of_big[0]["measurement"], big.as_str(), "night {night}");
                assert_eq!(
                    of_big[0]["points"].as_array().unwrap().len(),
                    points + added
                );
            }
            (_, false) => {
                assert_eq!(of_big.len(), 1, "night {night}");
                let append = of_big[0];
                assert!(
                    append.get("measurement").is_none(),
                    "night {night}: {append}"
                );
                assert_eq!(append["after"], points, "night {night}");
                assert_eq!(append["points"].as_array().unwrap().len(), added);
            }
        }
        points += added;
        // The live measurements of 200 points are under the mark: whole every night.
        assert_eq!(
            items
                .iter()
                .filter(|i| i.get("measurement").is_some())
                .count(),
            5 + usize::from(edited),
            "night {night}"
        );
    }

    // The latest state, and the state of a night between the edits and one after a night
    // without new points, restore to the rows the install held then.
    assert_same_rows(&restored_series(&chain, &[]), &nights[30], "latest");
    for night in [13, 16] {
        let as_of = backup_timestamp(&increment(&chain, night)).to_string();
        assert_same_rows(
            &restored_series(&chain, &["--as-of", &as_of]),
            &nights[night],
            &format!("as of night {night}"),
        );
    }

    // Consolidated, the chain is one backup of whole measurements.
    let merged = work.path().join("merged");
    let output = cli()
        .arg("consolidate")
        .arg(&chain)
        .arg("--output")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert!(series_items(&merged)
        .iter()
        .all(|i| i.get("appendTo").is_none()));
    assert_same_rows(&restored_series(&merged, &[]), &nights[30], "consolidated");
}

/// An increment restored on its own (an operator giving `increments/0001` for the backup)
/// holds only the new points of a grown series, and no folder at all of the users with
/// nothing new: the restore refuses it and says which folder to give; nothing is written.
#[test]
fn an_increment_restored_alone_is_refused_and_names_the_backup_to_give() {
    let (source, big_key) = grown_live_install();
    let work = tempfile::tempdir().unwrap();
    let chain = work.path().join("chain");
    backup(&source, &chain, &["--no-compress"]);
    grow(&source, &big_key, 10);
    backup(&source, &chain, &["--no-compress", "--incremental"]);

    let (target, output) = restore_into_new(&increment(&chain, 1), &[]);
    let said = text(&output);
    assert!(!output.status.success(), "{said}");
    assert!(
        said.contains("is increment 0001 of a backup") && said.contains("holding `increments/`"),
        "{said}"
    );
    assert_eq!(
        target.count(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        ),
        0,
        "nothing is written, not even the schema"
    );
}
