//! `series_data`: high-frequency points, one item per measurement (series event):
//! `{"measurement": event id, "timeUnit": "ms", "points": [{"time": milliseconds, ...fields}]}`,
//! the unit and name of the core's own export (see [`crate::series_time`]); imports also
//! accept unmarked items in seconds (earlier pryv-backup versions) and `deltaTime` (the
//! reference fixtures).
//!
//! As the live core writes them (tests/fixtures/live-reference): rows are keyed
//! `user_id = 'user.<username>'` and `event_id = 'event.<eventId>'`, and `delta_time` /
//! `point_time` are nanoseconds relative to the event's time.

use postgres::Row;
use serde_json::{Map, Value};

use super::table::{Cell, Inserter, Kind::*};
use super::values::{as_f64, json_from_text};
use super::PgError;
use crate::model::Item;
use crate::series_time::{measurement_item, millis_from_nanos, TimeUnit};

const EVENT_PREFIX: &str = "event.";

/// The `user_id` the core keys a user's points by.
pub fn user_key(username: &str) -> String {
    format!("user.{username}")
}

/// The points of the user whose key (see [`user_key`]) is the SQL expression `user`, in the
/// order [`Measurements`] takes them.
pub fn query(user: &str) -> String {
    format!(
        "SELECT event_id, delta_time, fields::text FROM series_data WHERE user_id = {user} \
         ORDER BY event_id, delta_time, point_time"
    )
}

/// Gathers a user's point rows into one item per measurement (one series item is one JSON
/// line of the archive, so a measurement's points are held in memory).
#[derive(Default)]
pub struct Measurements {
    current: Option<(String, Vec<Value>)>,
}

impl Measurements {
    /// Takes the row of [`query`] whose values start at column `first`; emits the previous
    /// measurement when this one begins another.
    pub fn push(
        &mut self,
        row: &Row,
        first: usize,
        emit: &mut dyn FnMut(&Item) -> crate::Result<()>,
    ) -> crate::Result<()> {
        let key: &str = row.try_get(first).map_err(PgError::from)?;
        let event_id = key.strip_prefix(EVENT_PREFIX).unwrap_or(key);
        let delta_time: i64 = row.try_get(first + 1).map_err(PgError::from)?;
        let fields: &str = row.try_get(first + 2).map_err(PgError::from)?;
        let point = point(delta_time, fields)?;
        match &mut self.current {
            Some((id, points)) if id == event_id => points.push(point),
            _ => {
                if let Some((id, points)) = self.current.take() {
                    emit(&measurement(id, points))?;
                }
                self.current = Some((event_id.to_string(), vec![point]));
            }
        }
        Ok(())
    }

    /// Emits the last measurement.
    pub fn finish(self, emit: &mut dyn FnMut(&Item) -> crate::Result<()>) -> crate::Result<()> {
        match self.current {
            Some((id, points)) => emit(&measurement(id, points)),
            None => Ok(()),
        }
    }
}

fn point(delta_time_ns: i64, fields: &str) -> Result<Value, PgError> {
    let fields = json_from_text(fields).map_err(|reason| PgError::Row {
        table: "series_data",
        reason,
    })?;
    let mut point = Map::new();
    point.insert("time".into(), millis_from_nanos(delta_time_ns));
    match fields {
        Value::Object(map) => point.extend(map),
        other => {
            return Err(PgError::Row {
                table: "series_data",
                reason: format!("fields is not an object: {other}"),
            })
        }
    }
    Ok(Value::Object(point))
}

fn measurement(id: String, points: Vec<Value>) -> Value {
    measurement_item(id, points)
}

/// The rows of one measurement item, given one by one to `push`. The point time may be named
/// `time` (the core's series export) or `deltaTime` (reference archives), in the item's unit.
pub fn rows(
    username: &str,
    item: &Item,
    push: &mut dyn FnMut(Vec<Cell>) -> Result<(), PgError>,
) -> Result<(), PgError> {
    let bad = |reason: String| PgError::Item {
        collection: "series",
        id: item
            .get("measurement")
            .map(|m| {
                m.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| m.to_string())
            })
            .unwrap_or_else(|| "(without measurement)".into()),
        reason,
    };
    let measurement = item
        .get("measurement")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no string \"measurement\"".into()))?;
    let points = match item.get("points") {
        Some(Value::Array(p)) => p.as_slice(),
        None | Some(Value::Null) => &[],
        Some(_) => return Err(bad("\"points\" is not an array".into())),
    };
    // Earlier versions wrote seconds from PostgreSQL, unmarked.
    let unit = TimeUnit::of(item, TimeUnit::Seconds).map_err(bad)?;
    for p in points {
        let obj = p
            .as_object()
            .ok_or_else(|| bad(format!("point is not an object: {p}")))?;
        let time = obj
            .get("time")
            .or_else(|| obj.get("deltaTime"))
            .and_then(as_f64)
            .ok_or_else(|| bad(format!("point without a numeric time: {p}")))?;
        let nanos = (time * unit.nanos_per_unit()).round();
        if !nanos.is_finite() || nanos.abs() > 9.0e18 {
            return Err(bad(format!("time out of range: {time}")));
        }
        let fields: Map<String, Value> = obj
            .iter()
            .filter(|(k, _)| k.as_str() != "deltaTime" && k.as_str() != "time")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let row = vec![
            Cell::Text(user_key(username).into()),
            Cell::Text(format!("{EVENT_PREFIX}{measurement}").into()),
            Cell::Float(nanos),
            Cell::BigInt(nanos as i64),
            Cell::Json(Value::Object(fields).to_string().into()),
        ];
        push(row)?;
    }
    Ok(())
}

pub fn inserter() -> Inserter<'static> {
    Inserter::new(
        "series_data",
        vec![
            ("user_id", Text),
            ("event_id", Text),
            ("point_time", Float),
            ("delta_time", BigInt),
            ("fields", Json),
        ],
        vec!["user_id", "event_id", "point_time"],
    )
}
