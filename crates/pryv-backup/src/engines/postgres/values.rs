//! Conversions between PostgreSQL column values and JSON values, with numbers as JavaScript
//! (the core) writes them.

use serde_json::{Map, Number, Value};

use crate::json::number_from_f64;

/// A float column's value as the core exports it.
pub fn float(x: f64) -> Value {
    number_from_f64(x)
}

/// Parses a JSONB column's text and rewrites its numbers as JavaScript would print them
/// after `JSON.parse` (PostgreSQL keeps `numeric` text such as `1.0` or `1e2`).
pub fn json_from_text(text: &str) -> Result<Value, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("invalid JSON in the database: {e}"))?;
    Ok(js_numbers(value))
}

/// Every number of `value` in JavaScript's form.
pub fn js_numbers(value: Value) -> Value {
    match value {
        Value::Number(n) => js_number(&n),
        Value::Array(items) => Value::Array(items.into_iter().map(js_numbers).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, js_numbers(v)))
                .collect::<Map<_, _>>(),
        ),
        other => other,
    }
}

fn js_number(n: &Number) -> Value {
    // Integers small enough for a double print the same in JavaScript; others go through f64.
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() <= (1u64 << 53) {
            return Value::Number(i.into());
        }
    }
    match n.to_string().parse::<f64>() {
        Ok(x) => number_from_f64(x),
        Err(_) => Value::Null,
    }
}

/// A JSON value as the text to store in a JSONB column.
pub fn json_text(value: &Value) -> String {
    value.to_string()
}

/// A JSON number as f64 (the value a float column stores), or None when not a number.
pub fn as_f64(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64().or_else(|| n.to_string().parse().ok()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonb_numbers_come_back_as_javascript_writes_them() {
        let v = json_from_text(r#"{"a": 1.0, "b": [1e2, 0.50, 12345678901234567890], "c": -0.0}"#)
            .unwrap();
        assert_eq!(
            v.to_string(),
            r#"{"a":1,"b":[100,0.5,12345678901234567000],"c":0}"#
        );
    }
}
