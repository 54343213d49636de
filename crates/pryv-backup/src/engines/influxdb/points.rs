//! Between InfluxDB rows and the archive's series points
//! (`{"time": milliseconds, <field>: value, ...}`, as the core's engines export them; see
//! [`crate::series_time`] for the unit and its exact conversion).

use serde_json::{Map, Number, Value};

use crate::json::number_from_f64;
use crate::series_time::millis_from_nanos;

/// A row of `SELECT *` (first column `time`, in nanoseconds) as an archive point. Null cells
/// (fields the point does not have) are left out.
pub fn point_from_row(columns: &[String], row: Vec<Value>) -> Result<Value, String> {
    let mut point = Map::new();
    let mut time = None;
    for (column, cell) in columns.iter().zip(row) {
        if column == "time" {
            let ns = cell
                .as_i64()
                .ok_or_else(|| format!("time is not integer nanoseconds: {cell}"))?;
            time = Some(millis_from_nanos(ns));
            continue;
        }
        let value = match cell {
            Value::Null => continue,
            Value::Number(n) => normalize_number(&n),
            other => other,
        };
        point.insert(column.clone(), value);
    }
    let time = time.ok_or("the row has no time column")?;
    let mut out = Map::with_capacity(point.len() + 1);
    out.insert("time".into(), time);
    out.extend(point);
    Ok(Value::Object(out))
}

/// InfluxDB (Go) and JavaScript print floats differently (`1e-07` vs `1e-7`); integers are
/// kept whole (integer fields may exceed 2^53), every other number is printed as JavaScript
/// would.
fn normalize_number(n: &Number) -> Value {
    if let Some(i) = n.as_i64() {
        return Value::Number(i.into());
    }
    match n.as_f64() {
        Some(x) => number_from_f64(x),
        None => Value::Number(n.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_points_without_nulls() {
        let columns: Vec<String> = ["time", "n", "s", "value"].map(String::from).into();
        let row: Vec<Value> =
            serde_json::from_str(r#"[4, 9007199254740993, null, 1e-07]"#).unwrap();
        let point = point_from_row(&columns, row).unwrap();
        assert_eq!(
            point.to_string(),
            r#"{"time":0.000004,"n":9007199254740993,"value":1e-7}"#
        );
    }
}
