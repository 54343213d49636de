//! InfluxDB series store against a real influxd (testbed::influx): archive items written
//! in, read back out, compared point by point.

use std::path::PathBuf;

use pryv_backup::engine::{CollectionStore, ExportWindow};
use pryv_backup::engines::influxdb::InfluxSeries;
use pryv_backup::json::number_from_f64;
use pryv_backup::model::{Item, UserRef};
use pryv_backup::series_time::{measurement_item, millis_from_nanos, TimeUnit};
use serde_json::{json, Map, Value};

fn user(tag: &str) -> UserRef {
    let n: u64 = rand::random();
    UserRef {
        user_id: format!("uid-{tag}-{n:x}"),
        username: format!("{tag}-{n:x}"),
    }
}

fn export(store: &InfluxSeries, user: &UserRef) -> Vec<Item> {
    let mut out = Vec::new();
    store
        .export_user(user, &ExportWindow::everything(), &mut |item| {
            out.push(item.clone());
            Ok(())
        })
        .expect("export");
    out
}

fn import(store: &InfluxSeries, user: &UserRef, items: &[Item], overwrite: bool) {
    store
        .import_user(user, &mut items.iter().cloned().map(Ok), overwrite)
        .expect("import");
}

fn point(time: f64, fields: &[(&str, Value)]) -> Value {
    let mut p = Map::new();
    p.insert("time".into(), number_from_f64(time));
    for (k, v) in fields {
        p.insert((*k).into(), v.clone());
    }
    Value::Object(p)
}

/// Items as the export gives them: measurements sorted, points by time, fields by name.
fn sample_items() -> Vec<Item> {
    let floats: Vec<Value> = (0..4000)
        .map(|i| {
            // From -1 s in millisecond steps. Times are kept to the nanosecond, as InfluxDB does.
            let t = (i - 1000) as f64;
            let v = match i % 4 {
                0 => 0.1 + 0.2,
                1 => -(i as f64) / 3.0,
                2 => i as f64, // integral float
                _ => 1e21 * i as f64 + 1e-7,
            };
            point(t, &[("value", number_from_f64(v))])
        })
        .collect();
    let mixed: Vec<Value> = (0..1500)
        .map(|i| {
            point(
                i as f64 * 500.0,
                &[
                    ("big", json!(9_007_199_254_740_993i64 + i)),
                    ("flag", json!(i % 3 == 0)),
                    ("latitude", number_from_f64(46.5 + i as f64 * 1e-6)),
                    (
                        "note",
                        json!(format!("n°{i} \"quoted\" \\ back, comma=x\nline")),
                    ),
                ],
            )
        })
        .collect();
    let sparse: Vec<Value> = (0..300)
        .map(|i| {
            if i % 2 == 0 {
                point(t_abs(i), &[("a", json!(-7))])
            } else {
                point(t_abs(i), &[("b", json!(-0.5))])
            }
        })
        .collect();
    vec![
        measurement_item("ev-floats".into(), floats),
        measurement_item("ev-mixed".into(), mixed),
        measurement_item("ev-sparse".into(), sparse),
    ]
}

/// Absolute times (a client posting timestamps), in milliseconds.
fn t_abs(i: i64) -> f64 {
    (1_763_990_000_000 + i * 123) as f64
}

fn assert_same(got: &[Item], want: &[Item]) {
    assert_eq!(got.len(), want.len(), "number of measurements");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g["measurement"], w["measurement"]);
        assert_eq!(g["timeUnit"], w["timeUnit"], "{}", w["measurement"]);
        let (gp, wp) = (
            g["points"].as_array().unwrap(),
            w["points"].as_array().unwrap(),
        );
        assert_eq!(gp.len(), wp.len(), "points of {}", w["measurement"]);
        for (a, b) in gp.iter().zip(wp) {
            assert_eq!(a.to_string(), b.to_string(), "in {}", w["measurement"]);
        }
    }
}

#[test]
fn influxdb_round_trip_is_exact_point_by_point() {
    let server = testbed::influx::influxdb();
    let store = InfluxSeries::from_url(server.url());
    let alice = user("alice");
    let items = sample_items();
    import(&store, &alice, &items, false);
    assert_same(&export(&store, &alice), &items);

    // The core's names: database user.<username>, measurement event.<eventId>.
    let other = user("nobody");
    assert!(export(&store, &other).is_empty());
}

#[test]
fn influxdb_overwrite_replaces_the_users_series() {
    let server = testbed::influx::influxdb();
    let store = InfluxSeries::from_url(server.url());
    let bob = user("bob");
    import(&store, &bob, &sample_items(), false);
    let replacement = vec![measurement_item(
        "ev-new".into(),
        vec![
            json!({"time": 0, "value": 1.5}),
            json!({"time": 250, "value": -2}),
        ],
    )];
    import(&store, &bob, &replacement, true);
    assert_same(&export(&store, &bob), &replacement);
}

#[test]
fn influxdb_refuses_points_it_cannot_store_without_writing_them() {
    let server = testbed::influx::influxdb();
    let store = InfluxSeries::from_url(server.url());
    let carol = user("carol");
    let bad = vec![json!({"measurement": "ev-bad", "points": [
        {"time": 0, "value": 1}, {"time": 1, "value": {"nested": true}}
    ]})];
    let err = store
        .import_user(&carol, &mut bad.into_iter().map(Ok), false)
        .unwrap_err();
    assert!(err.to_string().contains("ev-bad"), "{err}");
    assert!(export(&store, &carol).is_empty());
}

#[test]
fn influxdb_unreachable_server_says_so() {
    let store = InfluxSeries::from_url("http://127.0.0.1:9");
    let err = store
        .export_user(&user("x"), &ExportWindow::everything(), &mut |_| Ok(()))
        .unwrap_err();
    assert!(err.to_string().contains("cannot reach InfluxDB"), "{err}");
}

fn fixtures() -> PathBuf {
    testbed::fixtures_dir()
}

/// A reference item (points `{"deltaTime": seconds, ...}`) as the store exports it.
fn in_millis(item: &Item) -> Item {
    let points = item["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let mut p = p.as_object().unwrap().clone();
            let Some(Value::Number(seconds)) = p.shift_remove("deltaTime") else {
                panic!("reference point without deltaTime: {item}");
            };
            let ns = TimeUnit::Seconds.nanos(&seconds).unwrap();
            p.shift_insert(0, "time".into(), millis_from_nanos(ns));
            Value::Object(p)
        })
        .collect();
    measurement_item(item["measurement"].as_str().unwrap().into(), points)
}

#[test]
fn influxdb_reference_series_come_back_byte_for_byte() {
    let server = testbed::influx::influxdb();
    let store = InfluxSeries::from_url(server.url());
    let users = fixtures().join("reference-archives/full-plain/users");
    let mut checked = 0;
    for entry in std::fs::read_dir(&users).expect("fixture users") {
        let path = entry.expect("entry").path().join("series/series.jsonl");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
        let items: Vec<Item> = lines
            .iter()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        let u = user("fixture");
        import(&store, &u, &items, false);
        // The fixture's synthetic points name their time `deltaTime`, in seconds; the store
        // reads that and writes `time` in milliseconds (the core's name and unit), marked.
        let want: Vec<String> = items
            .iter()
            .map(|item| in_millis(item).to_string())
            .collect();
        let got: Vec<String> = export(&store, &u).iter().map(Value::to_string).collect();
        assert_eq!(got, want, "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 2, "expected series of several fixture users");
}

/// Data as the core's writers leave it (high-frequency server: floats, no tags; the core's
/// own restore: strings as tags), read back as archive items.
#[test]
fn influxdb_reads_points_as_the_core_wrote_them() {
    let server = testbed::influx::influxdb();
    let store = InfluxSeries::from_url(server.url());
    let u = user("dave");
    let lines = "event.ev-1 value=36.4 0\n\
                 event.ev-1 value=0.1 299999999\n\
                 event.ev-1 value=-12 1500000000\n\
                 event.ev-2,unit=kg value=70.5,count=3i 250000000\n\
                 legacy value=1 1000000000";
    write_lines(server.url(), &u, lines);
    let got: Vec<String> = export(&store, &u).iter().map(Value::to_string).collect();
    assert_eq!(
        got,
        [
            r#"{"measurement":"ev-1","timeUnit":"ms","points":[{"time":0,"value":36.4},{"time":299.999999,"value":0.1},{"time":1500,"value":-12}]}"#,
            r#"{"measurement":"ev-2","timeUnit":"ms","points":[{"time":250,"count":3,"unit":"kg","value":70.5}]}"#,
            r#"{"measurement":"legacy","timeUnit":"ms","points":[{"time":1000,"value":1}]}"#,
        ]
    );
}

/// What the core's series imports take (open-pryv.io f773ccb6, PostgreSQL and SQLite
/// series connections; its InfluxDB connection's later version too): a measurement item's
/// points carry `time` in milliseconds after the event, which they multiply by 10^6 into the
/// stored nanoseconds, and every other key as a value. An archive written before (unmarked,
/// seconds) still restores to the same nanoseconds.
#[test]
fn influxdb_points_are_written_as_the_cores_import_reads_them_and_old_ones_still_restore() {
    let server = testbed::influx::influxdb();
    let store = InfluxSeries::from_url(server.url());
    let eve = user("eve");
    let old_shape = vec![json!({"measurement": "ev-hf", "points": [
        {"time": 0, "value": 36.4}, {"time": 0.5, "value": 36.5}, {"time": 1.000000001, "value": 36.6}
    ]})];
    import(&store, &eve, &old_shape, false);
    let exported = export(&store, &eve);
    assert_eq!(
        exported[0].to_string(),
        r#"{"measurement":"ev-hf","timeUnit":"ms","points":[{"time":0,"value":36.4},{"time":500,"value":36.5},{"time":1000.000001,"value":36.6}]}"#
    );
    for (point, stored_ns) in
        exported[0]["points"]
            .as_array()
            .unwrap()
            .iter()
            .zip([0i64, 500_000_000, 1_000_000_001])
    {
        // The core's import: time × 10^6, as a number.
        let millis = point["time"].as_f64().unwrap();
        assert_eq!((millis * 1e6).round() as i64, stored_ns, "{point}");
    }
    // Our own archive read back: the same nanoseconds.
    let again = user("eve-again");
    import(&store, &again, &exported, false);
    assert_same(&export(&store, &again), &exported);
}

/// Writes line-protocol `lines` into the user's database as the core does (database
/// `user.<username>`, measurement `event.<eventId>`, nanosecond timestamps).
fn write_lines(url: &str, user: &UserRef, lines: &str) {
    let db = format!("user.{}", user.username);
    let agent = ureq::agent();
    agent
        .post(&format!("{url}/query"))
        .send_form(&[("q", &format!("CREATE DATABASE \"{db}\""))])
        .expect("create database");
    // A database created a moment ago may not take writes yet (404): retry, bounded.
    let mut attempts = 0;
    while let Err(e) = agent
        .post(&format!("{url}/write"))
        .query("db", &db)
        .send_string(lines)
    {
        attempts += 1;
        assert!(
            matches!(e, ureq::Error::Status(404, _)) && attempts < 50,
            "write: {e}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Points of `event.ev-grow` on the core's 500 ms step, `from..to`.
fn grow_lines(from: u64, to: u64) -> String {
    (from..to)
        .map(|i| {
            format!(
                "event.ev-grow value={} {}\n",
                60.0 + i as f64 / 8.0,
                i * 500_000_000
            )
        })
        .collect()
}

/// What an increment of a series kept in InfluxDB carries (pryv-backup's series_append):
/// read back after points were added, the measurement's first points are the ones read
/// before, so only the new ones go; a point sent again with another value (InfluxDB keeps
/// the last value written at a time) sends the measurement whole.
#[test]
fn a_series_grown_in_influxdb_goes_into_an_increment_as_its_new_points() {
    use pryv_backup::series_append::{append_points, plan, SeriesWrite};

    let server = testbed::influx::influxdb();
    let store = InfluxSeries::from_url(server.url());
    let u = user("grow");
    write_lines(server.url(), &u, &grow_lines(0, 1_200));
    let before = export(&store, &u);
    assert_eq!(before.len(), 1);
    let mark = plan(&before[0], None).1.expect("1,200 points get a mark");

    write_lines(server.url(), &u, &grow_lines(1_200, 1_210));
    let after = export(&store, &u);
    let SeriesWrite::Append(append) = plan(&after[0], Some(&mark)).0 else {
        panic!("expected only the new points");
    };
    assert_eq!(append["points"].as_array().map(Vec::len), Some(10));
    let mut merged = before[0].clone();
    append_points(&mut merged, &append).expect("the new points follow the old");
    assert_eq!(merged.to_string(), after[0].to_string());

    write_lines(server.url(), &u, "event.ev-grow value=-1 3500000000\n");
    let edited = export(&store, &u);
    assert_eq!(plan(&edited[0], Some(&mark)).0, SeriesWrite::Whole);
}
