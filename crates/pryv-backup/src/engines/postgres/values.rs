//! Conversions between PostgreSQL column values and JSON values, with numbers as JavaScript
//! (the core) writes them.

use serde_json::Value;

use crate::json::number_from_f64;

/// A float column's value as the core exports it.
pub fn float(x: f64) -> Value {
    number_from_f64(x)
}

/// Parses a JSONB column's text, keeping each number's text as the database holds it
/// (`12345678901234567890`, `1.0`): the backup loses no digit, and integrity hashes are
/// still computed on the value JavaScript reads from that text (see `crate::integrity`).
pub fn json_from_text(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("invalid JSON in the database: {e}"))
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
    fn jsonb_numbers_keep_the_databases_text() {
        // PostgreSQL writes no exponent in jsonb (`1e2` comes back as `100`).
        let text =
            r#"{"a":1.0,"b":[100,0.50,12345678901234567890,9007199254740993],"c":0.00000015}"#;
        assert_eq!(json_from_text(text).unwrap().to_string(), text);
    }
}
