//! The canonical ("stable") JSON text the reference hashes: keys sorted, no spaces, null
//! properties left out, numbers and strings written as its JavaScript serializer writes them.

use super::js_value::{JsValue, Key};
use crate::json::js_number_text;

/// Writes `value` canonically. Object properties whose value is `null` are left out at every
/// depth; `null` array elements stay.
pub(crate) fn stable_text(value: &JsValue) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

fn write_value(value: &JsValue, out: &mut String) {
    match value {
        JsValue::Null => out.push_str("null"),
        JsValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        // The reference writes nothing at all for NaN and infinities (not even `null`).
        JsValue::Number(x) => out.push_str(&js_number_text(*x).unwrap_or_default()),
        JsValue::String(s) => write_quoted(s, out),
        JsValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        JsValue::Object(entries) => {
            let mut present: Vec<&(Key, JsValue)> = entries
                .iter()
                .filter(|(_, v)| !matches!(v, JsValue::Null))
                .collect();
            // JavaScript compares strings by UTF-16 code units, which differs from Rust's
            // byte order for characters above U+FFFF versus U+E000..U+FFFF.
            present.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, (key, v)) in present.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_quoted(key, out);
                out.push(':');
                write_value(v, out);
            }
            out.push('}');
        }
    }
}

/// Quotes a string the way the reference's serializer (derived from Crockford's json2) does:
/// besides `"` and `\`, it escapes C0/C1 controls and a set of invisible or
/// direction-changing characters as `\uXXXX` with lowercase hex. Everything else, including
/// non-ASCII letters and astral characters, is written as is.
fn write_quoted(s: &str, out: &mut String) {
    out.reserve(s.len() + 2);
    out.push('"');
    // Runs of characters written as they are go in one copy.
    let mut plain_from = 0;
    for (i, c) in s.char_indices() {
        let short = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\u{8}' => Some("\\b"),
            '\t' => Some("\\t"),
            '\n' => Some("\\n"),
            '\u{c}' => Some("\\f"),
            '\r' => Some("\\r"),
            _ => None,
        };
        if short.is_none() && !is_escaped(c) {
            continue;
        }
        out.push_str(&s[plain_from..i]);
        match short {
            Some(escape) => out.push_str(escape),
            None => out.push_str(&format!("\\u{:04x}", u32::from(c))),
        }
        plain_from = i + c.len_utf8();
    }
    out.push_str(&s[plain_from..]);
    out.push('"');
}

/// The characters the reference writes as `\uXXXX` (all in the Basic Multilingual Plane).
fn is_escaped(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{ad}'
            | '\u{600}'..='\u{604}'
            | '\u{70f}'
            | '\u{17b4}'
            | '\u{17b5}'
            | '\u{200c}'..='\u{200f}'
            | '\u{2028}'..='\u{202f}'
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff0}'..='\u{ffff}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(json: &str) -> String {
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        stable_text(&JsValue::from_json(&value))
    }

    #[test]
    fn escapes_like_the_reference() {
        assert_eq!(
            text(r#""a\u0001\u007f\u00ad\u200d\u2028\ufeff\t\"é😀""#),
            "\"a\\u0001\\u007f\\u00ad\\u200d\\u2028\\ufeff\\t\\\"é😀\""
        );
    }

    #[test]
    fn sorts_keys_by_utf16_code_units() {
        // U+1F600 is encoded as the surrogates D83D DE00, which sort before U+FF21.
        assert_eq!(text(r#"{"Ａ":1,"😀":2,"b":3}"#), r#"{"b":3,"😀":2,"Ａ":1}"#);
    }

    #[test]
    fn drops_null_properties_but_keeps_null_elements() {
        assert_eq!(
            text(r#"{"a":null,"b":[null,{"c":null}],"d":{}}"#),
            r#"{"b":[null,{}],"d":{}}"#
        );
    }

    proptest::proptest! {
        /// Whatever the characters, the canonical text of a string is valid JSON for it.
        #[test]
        fn quoted_strings_read_back(s in "\\PC*|[\\x00-\\x1f\\x7f-\\x9f\\u{ad}\\u{2028}\\u{fff0}-\\u{ffff}\"\\\\a]*") {
            let quoted = stable_text(&JsValue::String(s.clone()));
            let back: String = serde_json::from_str(&quoted).unwrap();
            proptest::prop_assert_eq!(back, s);
        }
    }

    #[test]
    fn writes_numbers_from_their_f64() {
        assert_eq!(
            text("[1.0, 1e2, 12345678901234567890, 1e400]"),
            "[1,100,12345678901234567000,]"
        );
    }
}
