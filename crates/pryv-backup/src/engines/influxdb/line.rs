//! Archive points as InfluxDB line protocol, typed as the core writes them: numbers as
//! floats, strings and booleans as such, no tags. Errors name keys, never values (health
//! data).

use serde_json::{Map, Value};

use crate::series_time::TimeUnit;

/// Integers beyond this cannot be floats exactly: they are written as integer fields.
const MAX_EXACT_FLOAT_INT: u64 = 1 << 53;

/// One line for a point whose time is in `unit`, or `None` when the point has no value to
/// store (InfluxDB cannot keep a point without fields; there is nothing to lose).
pub fn point_line(
    measurement: &str,
    point: &Value,
    unit: TimeUnit,
) -> Result<Option<String>, String> {
    let point = point.as_object().ok_or("a point is not an object")?;
    let time = point
        .get("time")
        .or_else(|| point.get("deltaTime"))
        .ok_or("point without time")?;
    let Value::Number(time) = time else {
        return Err("the point time is not a number".into());
    };
    let ns = unit.nanos(time)?;
    let fields = fields_text(point)?;
    if fields.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!(
        "{} {fields} {ns}",
        escape_measurement(measurement)?
    )))
}

fn fields_text(point: &Map<String, Value>) -> Result<String, String> {
    let mut out = String::new();
    for (key, value) in point {
        if key == "deltaTime" || key == "time" {
            continue;
        }
        let value = match value {
            Value::Null => continue,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => number_text(key, n)?,
            Value::String(s) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
            _ => {
                return Err(format!(
                    "field {key:?} holds a list or an object, which InfluxDB cannot store"
                ))
            }
        };
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(&escape_key(key)?);
        out.push('=');
        out.push_str(&value);
    }
    Ok(out)
}

fn number_text(key: &str, n: &serde_json::Number) -> Result<String, String> {
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() > MAX_EXACT_FLOAT_INT {
            return Ok(format!("{i}i"));
        }
    }
    match n.as_f64() {
        Some(x) if x.is_finite() => Ok(ryu::Buffer::new().format_finite(x).to_string()),
        _ => Err(format!("field {key:?}: a number does not fit a float")),
    }
}

/// Names with a backslash or line break are refused: InfluxDB 1.x does not read such escapes
/// back reliably, and Pryv.io ids and field names never hold them.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.contains(['\\', '\n', '\r']) {
        return Err(format!("name {name:?} cannot be written to InfluxDB"));
    }
    Ok(())
}

fn escape_measurement(name: &str) -> Result<String, String> {
    check_name(name)?;
    Ok(name.replace(',', "\\,").replace(' ', "\\ "))
}

fn escape_key(name: &str) -> Result<String, String> {
    check_name(name)?;
    Ok(name
        .replace(',', "\\,")
        .replace('=', "\\=")
        .replace(' ', "\\ "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const S: TimeUnit = TimeUnit::Seconds;
    const MS: TimeUnit = TimeUnit::Milliseconds;

    #[test]
    fn points_become_typed_lines() {
        let p: Value = serde_json::from_str(
            r#"{"time":0.3,"value":0.30000000000000004,"big":9007199254740993,"n":12,"s":"a\"b","ok":true,"gone":null}"#,
        )
        .unwrap();
        assert_eq!(
            point_line("event.a b", &p, S).unwrap().unwrap(),
            r#"event.a\ b value=0.30000000000000004,big=9007199254740993i,n=12.0,s="a\"b",ok=true 300000000"#
        );
        assert_eq!(point_line("m", &json!({"time": 1}), S).unwrap(), None);
        // What pryv-backup writes today: milliseconds.
        assert_eq!(
            point_line("m", &json!({"time": 299.999999, "v": 1}), MS)
                .unwrap()
                .unwrap(),
            "m v=1.0 299999999"
        );
        // Reference archives name the time `deltaTime`.
        assert_eq!(
            point_line("m", &json!({"deltaTime": 2, "v": 1}), S)
                .unwrap()
                .unwrap(),
            "m v=1.0 2000000000"
        );
        assert!(point_line("m", &json!({"deltaTime": 1, "x": [1]}), S).is_err());
        assert!(point_line("m", &json!({"value": 1}), S).is_err());
    }
}
