//! The few JavaScript value semantics the reference relies on when it hashes an item.
//!
//! The reference deep-copies an item through `JSON.parse(JSON.stringify(item))` before
//! normalising it, so every number becomes an f64 and arithmetic (`endTime - time`) may yield
//! NaN or infinities that JSON cannot carry. [`JsValue`] models that copy.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::json::{js_number_text, BorrowedStr};

/// A text of a value: borrowed from the item, the row or the JSON text it was read from
/// where that holds it as is.
pub(crate) type Text<'a> = Cow<'a, str>;

/// A JSON value as JavaScript holds it after parsing: numbers are f64.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum JsValue<'a> {
    Null,
    Bool(bool),
    Number(f64),
    String(Text<'a>),
    Array(Vec<JsValue<'a>>),
    /// Key order is irrelevant: the canonical text sorts keys.
    Object(Vec<(Text<'a>, JsValue<'a>)>),
}

impl<'a> JsValue<'a> {
    pub(crate) fn from_json(value: &'a Value) -> JsValue<'a> {
        match value {
            Value::Null => JsValue::Null,
            Value::Bool(b) => JsValue::Bool(*b),
            Value::Number(n) => JsValue::Number(number_to_f64(n)),
            Value::String(s) => JsValue::String(Text::Borrowed(s)),
            Value::Array(items) => JsValue::Array(items.iter().map(JsValue::from_json).collect()),
            Value::Object(map) => JsValue::Object(
                map.iter()
                    .map(|(k, v)| (Text::Borrowed(k.as_str()), JsValue::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// The JavaScript value of a JSON text, parsed without an intermediate `Value`: the same
    /// value `from_json` gives for that text's `Value`.
    pub(crate) fn from_json_text(text: &'a str) -> Result<JsValue<'a>, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// A property of an object (None for a missing property or a value that is not an object).
    pub(crate) fn get(&self, key: &str) -> Option<&JsValue<'a>> {
        match self {
            JsValue::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// JavaScript truthiness (`if (x)`).
    pub(crate) fn is_truthy(&self) -> bool {
        match self {
            JsValue::Null => false,
            JsValue::Bool(b) => *b,
            JsValue::Number(x) => *x != 0.0 && !x.is_nan(),
            JsValue::String(s) => !s.is_empty(),
            JsValue::Array(_) | JsValue::Object(_) => true,
        }
    }
}

impl<'de> Deserialize<'de> for JsValue<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<JsValue<'de>, D::Error> {
        deserializer.deserialize_any(JsVisitor)
    }
}

/// With serde_json's `arbitrary_precision`, a number reaches a visitor as a one-entry map
/// under this key, its value the number's text.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

struct JsVisitor;

impl<'de> Visitor<'de> for JsVisitor {
    type Value = JsValue<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(JsValue::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
        Ok(JsValue::Bool(b))
    }

    fn visit_i64<E>(self, x: i64) -> Result<Self::Value, E> {
        Ok(JsValue::Number(x as f64))
    }

    fn visit_u64<E>(self, x: u64) -> Result<Self::Value, E> {
        Ok(JsValue::Number(x as f64))
    }

    fn visit_f64<E>(self, x: f64) -> Result<Self::Value, E> {
        Ok(JsValue::Number(x))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(JsValue::String(Text::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(JsValue::String(Text::Owned(s.to_string())))
    }

    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(JsValue::String(Text::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(JsValue::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries: Vec<(Text<'de>, JsValue<'de>)> = Vec::new();
        while let Some(BorrowedStr(key)) = map.next_key()? {
            if entries.is_empty() && key == NUMBER_TOKEN {
                let BorrowedStr(number) = map.next_value()?;
                return Ok(JsValue::Number(number.parse::<f64>().unwrap_or(f64::NAN)));
            }
            let value: JsValue<'de> = map.next_value()?;
            // A repeated key keeps its last value, as `JSON.parse` does.
            match entries.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => *v = value,
                None => entries.push((key, value)),
            }
        }
        Ok(JsValue::Object(entries))
    }
}

/// The f64 JavaScript's `JSON.parse` gives a number's source text (huge values become ±Infinity).
pub(crate) fn number_to_f64(n: &serde_json::Number) -> f64 {
    // With `arbitrary_precision` the number is its source text: parsed without a copy.
    n.as_str().parse::<f64>().unwrap_or(f64::NAN)
}

/// JavaScript's `ToNumber` on a JSON value; `None` stands for `undefined` (a missing property).
pub(crate) fn to_number(value: Option<&JsValue<'_>>) -> f64 {
    match value {
        None => f64::NAN,
        Some(JsValue::Null) => 0.0,
        Some(JsValue::Bool(b)) => f64::from(u8::from(*b)),
        Some(JsValue::Number(x)) => *x,
        Some(JsValue::String(s)) => string_to_number(s),
        // Arrays convert through their string form ([] is 0, [7] is 7); plain objects are NaN.
        Some(JsValue::Array(_)) => string_to_number(&to_js_string(value)),
        Some(JsValue::Object(_)) => f64::NAN,
    }
}

/// JavaScript's `String(value)`, as used when the key is built by string concatenation;
/// `None` stands for `undefined`.
pub(crate) fn to_js_string(value: Option<&JsValue<'_>>) -> String {
    match value {
        None => "undefined".to_string(),
        Some(JsValue::Null) => "null".to_string(),
        Some(JsValue::Bool(b)) => b.to_string(),
        Some(JsValue::Number(x)) => number_text(*x),
        Some(JsValue::String(s)) => s.to_string(),
        // Array.prototype.join: null elements print as empty strings.
        Some(JsValue::Array(items)) => items
            .iter()
            .map(|item| match item {
                JsValue::Null => String::new(),
                other => to_js_string(Some(other)),
            })
            .collect::<Vec<_>>()
            .join(","),
        Some(JsValue::Object(_)) => "[object Object]".to_string(),
    }
}

/// `String(x)` for any f64, including the values JSON has no text for.
fn number_text(x: f64) -> String {
    match js_number_text(x) {
        Some(text) => text,
        None if x.is_nan() => "NaN".to_string(),
        None if x > 0.0 => "Infinity".to_string(),
        None => "-Infinity".to_string(),
    }
}

/// JavaScript's StringToNumber: surrounding whitespace ignored, empty is 0, `0x`/`0o`/`0b`
/// integer prefixes, `Infinity`, otherwise a decimal literal or NaN.
fn string_to_number(s: &str) -> f64 {
    let t = s.trim_matches(is_js_whitespace);
    if t.is_empty() {
        return 0.0;
    }
    for (prefix, radix) in [
        ("0x", 16),
        ("0X", 16),
        ("0o", 8),
        ("0O", 8),
        ("0b", 2),
        ("0B", 2),
    ] {
        if let Some(digits) = t.strip_prefix(prefix) {
            return parse_radix(digits, radix);
        }
    }
    let (sign, unsigned) = match t.as_bytes()[0] {
        b'-' => (-1.0, &t[1..]),
        b'+' => (1.0, &t[1..]),
        _ => (1.0, t),
    };
    if unsigned == "Infinity" {
        return sign * f64::INFINITY;
    }
    // Rust also accepts "inf", "nan" and the like, which JavaScript does not.
    let is_decimal_literal = !unsigned.is_empty()
        && unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && unsigned.bytes().any(|b| b.is_ascii_digit());
    if !is_decimal_literal {
        return f64::NAN;
    }
    unsigned
        .parse::<f64>()
        .map(|x| sign * x)
        .unwrap_or(f64::NAN)
}

fn parse_radix(digits: &str, radix: u32) -> f64 {
    if digits.is_empty() {
        return f64::NAN;
    }
    let mut x = 0.0_f64;
    for c in digits.chars() {
        match c.to_digit(radix) {
            Some(d) => x = x * f64::from(radix) + f64::from(d),
            None => return f64::NAN,
        }
    }
    x
}

/// WhiteSpace and LineTerminator of ECMA-262, which `Number(string)` trims.
fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\u{9}' | '\u{a}' | '\u{b}' | '\u{c}' | '\u{d}' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> JsValue<'_> {
        JsValue::String(Text::Borrowed(text))
    }

    #[test]
    fn string_to_number_follows_javascript() {
        assert_eq!(to_number(Some(&s(" 12.5 "))), 12.5);
        assert_eq!(to_number(Some(&s(""))), 0.0);
        assert_eq!(to_number(Some(&s("0x1f"))), 31.0);
        assert_eq!(to_number(Some(&s("-Infinity"))), f64::NEG_INFINITY);
        assert!(to_number(Some(&s("inf"))).is_nan());
        assert!(to_number(Some(&s("12abc"))).is_nan());
        assert!(to_number(None).is_nan());
        assert_eq!(to_number(Some(&JsValue::Null)), 0.0);
        assert_eq!(to_number(Some(&JsValue::Array(vec![]))), 0.0);
        assert_eq!(
            to_number(Some(&JsValue::Array(vec![JsValue::Number(7.0)]))),
            7.0
        );
    }

    /// Parsing a text straight into a JsValue gives what going through `Value` gives.
    #[test]
    fn text_parses_as_through_value() {
        for text in [
            r#"{"a":1.0,"b":[100,0.50,12345678901234567890,9007199254740993,-0,1e400],"c":"x\u00e9"}"#,
            r#"[null,true,false,{"k":{"$x":1}},"s",-1.5e-7]"#,
            r#"{"a":1,"a":2}"#,
            "12",
            r#""text""#,
        ] {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(
                JsValue::from_json_text(text).unwrap(),
                JsValue::from_json(&value),
                "{text}"
            );
        }
    }

    #[test]
    fn string_conversion_follows_javascript() {
        assert_eq!(to_js_string(None), "undefined");
        assert_eq!(to_js_string(Some(&JsValue::Number(1e21))), "1e+21");
        assert_eq!(to_js_string(Some(&JsValue::Number(f64::NAN))), "NaN");
        let arr = JsValue::Array(vec![JsValue::Number(1.0), JsValue::Null, s("a")]);
        assert_eq!(to_js_string(Some(&arr)), "1,,a");
        assert_eq!(
            to_js_string(Some(&JsValue::Object(vec![]))),
            "[object Object]"
        );
    }
}
