//! `series-1.0.0.sqlite`: high-frequency points, one measurement per series event.
//!
//! Item shape (every series engine of the core): `{measurement, points: [{time, ...fields}]}`
//! with `time` in milliseconds (`delta_time` holds nanoseconds); stored as
//! `delta_time = point_time = time * 1e6`, as the core's import does. Exports add the mark
//! `"timeUnit": "ms"` (see [`crate::series_time`]); this engine always wrote milliseconds, so
//! unmarked items read the same. Imports also accept the reference fixtures' `deltaTime`.

use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection};
use serde_json::{Map, Value};

use super::values::{object, parse_json, to_text};
use super::{db, unstorable};
use crate::json::number_from_f64;
use crate::model::Item;
use crate::series_time::{self, TimeUnit};
use crate::Result;

pub fn read_all(conn: &Connection) -> Result<Vec<Item>> {
    let mut stmt = conn
        .prepare(
            "SELECT event_id, delta_time, fields FROM series_data ORDER BY event_id, delta_time",
        )
        .map_err(db)?;
    let mut rows = stmt.query([]).map_err(db)?;
    let mut out: Vec<Item> = Vec::new();
    let mut current: Option<(String, Vec<Value>)> = None;
    while let Some(row) = rows.next().map_err(db)? {
        let event_id: String = row.get(0).map_err(db)?;
        let delta: f64 = row.get(1).map_err(db)?;
        let fields = parse_json(row.get_ref(2).map_err(db)?, "series_data fields")?;
        let mut point = Map::new();
        point.insert("time".into(), number_from_f64(delta / 1e6));
        if let Value::Object(fields) = fields {
            point.extend(fields);
        }
        match &mut current {
            Some((id, points)) if *id == event_id => points.push(Value::Object(point)),
            _ => {
                if let Some(done) = current.take() {
                    out.push(measurement(done));
                }
                current = Some((event_id, vec![Value::Object(point)]));
            }
        }
    }
    if let Some(done) = current {
        out.push(measurement(done));
    }
    Ok(out)
}

fn measurement((id, points): (String, Vec<Value>)) -> Item {
    series_time::measurement_item(id, points)
}

/// Measurements the high-frequency server wrote (`event.<eventId>`), as opposed to the
/// `<eventId>` ones of the user's own series file.
pub fn is_hf_measurement(item: &Item) -> bool {
    item.get("measurement")
        .and_then(Value::as_str)
        .is_some_and(|m| m.starts_with("event."))
}

pub fn write(conn: &Connection, item: &Item) -> Result<usize> {
    let obj = object(item, "series")?;
    if let Some(extra) = obj
        .keys()
        .find(|k| !["measurement", "points", series_time::TIME_UNIT_KEY].contains(&k.as_str()))
    {
        return Err(unstorable(format!(
            "series item has an unknown field {extra:?}"
        )));
    }
    // Milliseconds, marked or not (this engine wrote them unmarked before): only an unknown
    // mark is refused.
    TimeUnit::of(item, TimeUnit::Milliseconds).map_err(unstorable)?;
    let id = obj
        .get("measurement")
        .and_then(Value::as_str)
        .ok_or_else(|| unstorable("series item without a string \"measurement\""))?;
    let points = match obj.get("points") {
        None | Some(Value::Null) => return Ok(0),
        Some(Value::Array(p)) => p,
        Some(other) => {
            return Err(unstorable(format!(
                "series {id}: points must be an array, not {other}"
            )))
        }
    };
    let mut stmt = conn
        .prepare("INSERT INTO series_data (event_id, point_time, delta_time, fields) VALUES (?1, ?2, ?3, ?4)")
        .map_err(db)?;
    for point in points {
        let p = object(point, &format!("series {id} point"))?;
        let time = p.get("time").or_else(|| p.get("deltaTime"));
        let time = time.and_then(Value::as_f64).ok_or_else(|| {
            unstorable(format!(
                "series {id}: a point without a numeric \"time\" (milliseconds) cannot be stored: {point}"
            ))
        })?;
        // The core puts non-string values first, then strings (Influx fields, then tags).
        let mut fields = Map::new();
        for string_values in [false, true] {
            for (k, v) in p
                .iter()
                .filter(|(k, v)| !is_time_key(k) && v.is_string() == string_values)
            {
                fields.insert(k.clone(), v.clone());
            }
        }
        let delta = time * 1e6;
        // INTEGER affinity keeps whole values as integers, others as REAL, like the core's binding.
        let delta = if delta.fract() == 0.0 && delta.abs() < 9.0e15 {
            SqlValue::Integer(delta as i64)
        } else {
            SqlValue::Real(delta)
        };
        stmt.execute(params_from_iter([
            SqlValue::Text(id.to_string()),
            delta.clone(),
            delta,
            SqlValue::Text(to_text(&Value::Object(fields))?),
        ]))
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                unstorable(format!("series {id}: two points at time {time}"))
            }
            e => db(e),
        })?;
    }
    Ok(points.len())
}

fn is_time_key(key: &str) -> bool {
    key == "time" || key == "deltaTime"
}
