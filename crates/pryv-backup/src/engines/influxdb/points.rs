//! Between InfluxDB rows and the archive's series points
//! (`{"time": seconds, <field>: value, ...}`, as the core's engines export them).
//!
//! Times are kept exact: InfluxDB stores integer nanoseconds, and seconds are converted
//! through their decimal text, never through a float multiplication, so a time written by
//! JavaScript (e.g. `0.3`) comes back as the same number.

use serde_json::{Map, Number, Value};

use crate::json::number_from_f64;

const NANOS_PER_SECOND: i128 = 1_000_000_000;

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
            time = Some(seconds_from_nanos(ns));
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

/// Seconds (as JavaScript prints them) for a nanosecond time.
pub fn seconds_from_nanos(ns: i64) -> Value {
    let ns = ns as i128;
    let sign = if ns < 0 { "-" } else { "" };
    let (whole, frac) = (ns.abs() / NANOS_PER_SECOND, ns.abs() % NANOS_PER_SECOND);
    let text = format!("{sign}{whole}.{frac:09}");
    // The decimal text parses to the float nearest the exact time.
    number_from_f64(text.parse::<f64>().unwrap_or(ns as f64 / 1e9))
}

/// Nanoseconds for a time in seconds given as JSON number text, exact up to nanoseconds and
/// rounded (half away from zero) beyond.
pub fn nanos_from_seconds(n: &Number) -> Result<i64, String> {
    let text = n.to_string();
    let bad = || format!("time {text} is not a number of seconds InfluxDB can store");
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().map_err(|_| bad())?),
        None => (text.as_str(), 0),
    };
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: String = [int_part, frac_part].concat();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    // value = digits × 10^(exponent − frac digits); nanoseconds shift that by 9.
    let shift = exponent - frac_part.len() as i32 + 9;
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Ok(0);
    }
    // InfluxDB times fit in i64 nanoseconds (years 1677..2262): anything longer is out.
    let kept_len = digits.len() as i32 + shift;
    if kept_len > 19 {
        return Err(bad());
    }
    let magnitude: i128 = if shift >= 0 {
        let base: i128 = digits.parse().map_err(|_| bad())?;
        base * 10i128.pow(shift as u32)
    } else if kept_len <= 0 {
        // Below one nanosecond: rounds to 0 or 1 ns.
        let first = digits.as_bytes()[0];
        i128::from(kept_len == 0 && first >= b'5')
    } else {
        let (kept, dropped) = digits.split_at(kept_len as usize);
        let base: i128 = kept.parse().map_err(|_| bad())?;
        base + i128::from(dropped.as_bytes()[0] >= b'5')
    };
    let signed = if negative { -magnitude } else { magnitude };
    i64::try_from(signed).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(text: &str) -> Result<i64, String> {
        nanos_from_seconds(&text.parse::<Number>().map_err(|e| e.to_string())?)
    }

    #[test]
    fn seconds_text_becomes_exact_nanoseconds() {
        assert_eq!(ns("0"), Ok(0));
        assert_eq!(ns("0.3"), Ok(300_000_000));
        assert_eq!(ns("23.5"), Ok(23_500_000_000));
        assert_eq!(ns("-1.25"), Ok(-1_250_000_000));
        assert_eq!(ns("1e-7"), Ok(100));
        assert_eq!(ns("1.5e3"), Ok(1_500_000_000_000));
        assert_eq!(ns("0.0000000004"), Ok(0));
        assert_eq!(ns("0.0000000005"), Ok(1));
        assert_eq!(ns("1.0000000015"), Ok(1_000_000_002));
        assert_eq!(ns("1763990000.123456789"), Ok(1_763_990_000_123_456_789));
        assert!(ns("1e300").is_err());
        assert!(ns("9300000000").is_err());
    }

    #[test]
    fn nanoseconds_read_back_as_javascript_seconds() {
        for text in [
            "0",
            "0.3",
            "0.1",
            "23.5",
            "-1.25",
            "1e-7",
            "1763990000.1234567",
        ] {
            let n = ns(text).unwrap();
            assert_eq!(seconds_from_nanos(n).to_string(), text);
        }
    }

    proptest::proptest! {
        /// Below 10^6 s a float's spacing is far under a nanosecond: every stored time
        /// survives export then restore.
        #[test]
        fn stored_times_survive_a_round_trip(stored in -1_000_000_000_000_000i64..1_000_000_000_000_000) {
            let Value::Number(seconds) = seconds_from_nanos(stored) else { panic!("not a number") };
            proptest::prop_assert_eq!(nanos_from_seconds(&seconds), Ok(stored));
        }
    }

    #[test]
    fn rows_become_points_without_nulls() {
        let columns: Vec<String> = ["time", "n", "s", "value"].map(String::from).into();
        let row: Vec<Value> =
            serde_json::from_str(r#"[4, 9007199254740993, null, 1e-07]"#).unwrap();
        let point = point_from_row(&columns, row).unwrap();
        assert_eq!(
            point.to_string(),
            r#"{"time":4e-9,"n":9007199254740993,"value":1e-7}"#
        );
    }
}
