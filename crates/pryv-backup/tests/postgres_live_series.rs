//! HF series as the live core stores them (tests/fixtures/live-reference/source-db): rows keyed
//! `user.<username>` / `event.<eventId>`, times in nanoseconds. Both bin/backup.js and our
//! earlier exporter looked them up by userId and backed up none.

mod postgres_support;

use std::collections::BTreeSet;

use postgres_support::*;
use pryv_backup::engine::{Engine, ImportOptions};
use pryv_backup::model::Collection;

fn series_rows(client: &mut postgres::Client) -> BTreeSet<String> {
    client
        .query("SELECT row_to_json(t)::text FROM series_data t", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn series_of_the_live_core_are_backed_up_and_restored_under_its_keys() {
    let (mut source_db, source) = empty_engine();
    source.ensure_schema().unwrap();
    testbed::load_live_table(source_db.client(), "users_index");
    testbed::load_live_table(source_db.client(), "series_data");

    let users = export_all(&source);
    assert_eq!(users.len(), 3);
    for (user, data) in &users {
        let series = data.items_of(Collection::Series);
        assert_eq!(series.len(), 2, "{}: two HF events", user.username);
        for item in series {
            let points = item["points"].as_array().unwrap();
            assert_eq!(points.len(), 200, "{}", user.username);
            // The core writes a point every half second: 500000000 ns, exported as 500 ms.
            assert_eq!(points[1]["time"], serde_json::json!(500), "{item}");
            assert_eq!(item["timeUnit"], "ms", "{item}");
            assert!(!item["measurement"].as_str().unwrap().starts_with("event."));
        }
    }

    let (mut target_db, target) = empty_engine();
    let options = ImportOptions::default();
    for (user, data) in &users {
        target.import_user(user, data, &options).unwrap();
    }
    let expected: BTreeSet<String> = testbed::live_source_rows("series_data")
        .into_iter()
        .collect();
    assert_eq!(expected.len(), 1200);
    assert_eq!(series_rows(target_db.client()), expected);

    // An overwrite replaces them under the same keys, and leaves no copy behind.
    let overwrite = ImportOptions {
        overwrite: true,
        ..Default::default()
    };
    for (user, data) in &users {
        target.import_user(user, data, &overwrite).unwrap();
    }
    assert_eq!(series_rows(target_db.client()), expected);
}

/// Archives of earlier pryv-backup versions carry the points of a PostgreSQL install in
/// seconds, unmarked: they still restore to the core's nanoseconds.
#[test]
fn series_in_the_earlier_shape_still_restore() {
    let (mut source_db, source) = empty_engine();
    source.ensure_schema().unwrap();
    testbed::load_live_table(source_db.client(), "users_index");
    testbed::load_live_table(source_db.client(), "series_data");

    let (mut target_db, target) = empty_engine();
    for (user, mut data) in export_all(&source) {
        for item in data.collections.get_mut(&Collection::Series).unwrap() {
            let item = item.as_object_mut().unwrap();
            assert_eq!(item.shift_remove("timeUnit"), Some("ms".into()));
            for point in item["points"].as_array_mut().unwrap() {
                let ms = point["time"].as_f64().unwrap();
                point["time"] = pryv_backup::json::number_from_f64(ms / 1000.0);
            }
        }
        target
            .import_user(&user, &data, &ImportOptions::default())
            .unwrap();
    }
    let expected: BTreeSet<String> = testbed::live_source_rows("series_data")
        .into_iter()
        .collect();
    assert_eq!(series_rows(target_db.client()), expected);
}
