//! The time of a series point in archive items.
//!
//! Every series engine of the core exports a point's time as `time`, in milliseconds after
//! its event's time (its stored nanoseconds / 10⁶), and its imports read `time` back in that
//! unit. pryv-backup writes the same, and marks each measurement item `"timeUnit": "ms"` (a
//! key the core's imports ignore). Items without the mark come from earlier pryv-backup
//! versions, whose unit depended on the engine that wrote them (seconds from PostgreSQL and
//! InfluxDB, milliseconds from SQLite), or from the reference fixtures (`deltaTime`): each
//! engine reads those as it wrote them.
//!
//! Conversions go through the number's decimal text, never a float multiplication, so a
//! stored nanosecond time comes back exactly (see the tests).

use serde_json::{Map, Number, Value};

use crate::json::number_from_f64;
use crate::model::Item;

/// The mark of a measurement item whose point times are milliseconds.
pub const TIME_UNIT_KEY: &str = "timeUnit";
pub const MILLISECONDS: &str = "ms";

const NANOS_PER_MILLI: i128 = 1_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    Seconds,
    Milliseconds,
}

impl TimeUnit {
    /// The unit of an item's point times: milliseconds when marked so, `unmarked` otherwise.
    pub fn of(item: &Item, unmarked: TimeUnit) -> Result<TimeUnit, String> {
        match item.get(TIME_UNIT_KEY) {
            None => Ok(unmarked),
            Some(Value::String(unit)) if unit == MILLISECONDS => Ok(TimeUnit::Milliseconds),
            Some(other) => Err(format!(
                "unknown series time unit {other} (this version reads \"{MILLISECONDS}\")"
            )),
        }
    }

    /// Nanoseconds in one of this unit.
    pub fn nanos_per_unit(self) -> f64 {
        match self {
            TimeUnit::Seconds => 1e9,
            TimeUnit::Milliseconds => 1e6,
        }
    }

    fn decimal_shift(self) -> i32 {
        match self {
            TimeUnit::Seconds => 9,
            TimeUnit::Milliseconds => 6,
        }
    }

    /// Nanoseconds for a time in this unit given as JSON number text, exact up to
    /// nanoseconds and rounded (half away from zero) beyond.
    pub fn nanos(self, n: &Number) -> Result<i64, String> {
        let text = n.to_string();
        let bad = || format!("time {text} is not a point time that fits in 64-bit nanoseconds");
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
        // value = digits × 10^(exponent − frac digits); nanoseconds shift that further.
        let shift = exponent - frac_part.len() as i32 + self.decimal_shift();
        let digits = digits.trim_start_matches('0');
        if digits.is_empty() {
            return Ok(0);
        }
        // i64 nanoseconds have at most 19 digits: anything longer is out.
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
}

/// The `time` written for a point `ns` nanoseconds after its event: milliseconds, as
/// JavaScript prints the number nearest the exact value.
pub fn millis_from_nanos(ns: i64) -> Value {
    let ns = ns as i128;
    let sign = if ns < 0 { "-" } else { "" };
    let (whole, frac) = (ns.abs() / NANOS_PER_MILLI, ns.abs() % NANOS_PER_MILLI);
    let text = format!("{sign}{whole}.{frac:06}");
    number_from_f64(text.parse::<f64>().unwrap_or(ns as f64 / 1e6))
}

/// A measurement item as pryv-backup writes it: `{"measurement", "timeUnit": "ms", "points"}`.
pub fn measurement_item(id: String, points: Vec<Value>) -> Item {
    let mut item = Map::with_capacity(3);
    item.insert("measurement".into(), Value::String(id));
    item.insert(TIME_UNIT_KEY.into(), Value::String(MILLISECONDS.into()));
    item.insert("points".into(), Value::Array(points));
    Value::Object(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ns(unit: TimeUnit, text: &str) -> Result<i64, String> {
        unit.nanos(&text.parse::<Number>().map_err(|e| e.to_string())?)
    }

    #[test]
    fn seconds_text_becomes_exact_nanoseconds() {
        let s = TimeUnit::Seconds;
        assert_eq!(ns(s, "0"), Ok(0));
        assert_eq!(ns(s, "0.3"), Ok(300_000_000));
        assert_eq!(ns(s, "23.5"), Ok(23_500_000_000));
        assert_eq!(ns(s, "-1.25"), Ok(-1_250_000_000));
        assert_eq!(ns(s, "1e-7"), Ok(100));
        assert_eq!(ns(s, "1.5e3"), Ok(1_500_000_000_000));
        assert_eq!(ns(s, "0.0000000004"), Ok(0));
        assert_eq!(ns(s, "0.0000000005"), Ok(1));
        assert_eq!(ns(s, "1.0000000015"), Ok(1_000_000_002));
        assert_eq!(ns(s, "1763990000.123456789"), Ok(1_763_990_000_123_456_789));
        assert!(ns(s, "1e300").is_err());
        assert!(ns(s, "9300000000").is_err());
    }

    #[test]
    fn milliseconds_text_becomes_exact_nanoseconds() {
        let ms = TimeUnit::Milliseconds;
        assert_eq!(ns(ms, "500"), Ok(500_000_000));
        assert_eq!(ns(ms, "299.999999"), Ok(299_999_999));
        assert_eq!(ns(ms, "0.000004"), Ok(4));
        assert_eq!(ns(ms, "-1250"), Ok(-1_250_000_000));
        assert_eq!(ns(ms, "1.5e3"), Ok(1_500_000_000));
        assert!(ns(ms, "9300000000000").is_err());
    }

    #[test]
    fn nanoseconds_read_back_as_javascript_milliseconds() {
        for (stored, text) in [
            (0, "0"),
            (500_000_000, "500"),
            (299_999_999, "299.999999"),
            (4, "0.000004"),
            (-1_250_000_000, "-1250"),
            (86_400_123_456_789, "86400123.456789"),
        ] {
            assert_eq!(millis_from_nanos(stored).to_string(), text);
        }
    }

    proptest::proptest! {
        /// Up to 10^9 ms (11.5 days after the event) a float's spacing is under a
        /// nanosecond: every stored time survives export then restore.
        #[test]
        fn stored_times_survive_a_round_trip(stored in -1_000_000_000_000_000i64..1_000_000_000_000_000) {
            let Value::Number(millis) = millis_from_nanos(stored) else { panic!("not a number") };
            proptest::prop_assert_eq!(TimeUnit::Milliseconds.nanos(&millis), Ok(stored));
        }
    }

    #[test]
    fn items_say_their_unit() {
        let marked = measurement_item("e".into(), vec![]);
        assert_eq!(
            marked.to_string(),
            r#"{"measurement":"e","timeUnit":"ms","points":[]}"#
        );
        let unit = |item: &Item, unmarked| TimeUnit::of(item, unmarked);
        assert_eq!(unit(&marked, TimeUnit::Seconds), Ok(TimeUnit::Milliseconds));
        let old = json!({"measurement": "e", "points": []});
        assert_eq!(unit(&old, TimeUnit::Seconds), Ok(TimeUnit::Seconds));
        assert!(unit(&json!({"timeUnit": "us"}), TimeUnit::Seconds).is_err());
    }
}
