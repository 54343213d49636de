//! The canonical ("stable") JSON text the reference hashes: keys sorted, no spaces, null
//! properties left out, numbers and strings written as its JavaScript serializer writes them.

use std::fmt::Write as _;

use super::js_value::{JsValue, Text};
use crate::json::push_js_number;

/// Writes `value` canonically. Object properties whose value is `null` are left out at every
/// depth; `null` array elements stay.
pub(crate) fn stable_text(value: &JsValue<'_>) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

fn write_value(value: &JsValue<'_>, out: &mut String) {
    match value {
        JsValue::Null => out.push_str("null"),
        JsValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        // The reference writes nothing at all for NaN and infinities (not even `null`).
        JsValue::Number(x) => {
            push_js_number(*x, out);
        }
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
            let mut present: Vec<&(Text<'_>, JsValue<'_>)> = entries
                .iter()
                .filter(|(_, v)| !matches!(v, JsValue::Null))
                .collect();
            // JavaScript compares strings by UTF-16 code units, which differs from Rust's
            // byte order for characters above U+FFFF versus U+E000..U+FFFF.
            present.sort_unstable_by(|(a, _), (b, _)| utf16_order(a, b));
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
    let bytes = s.as_bytes();
    // Runs of characters written as they are go in one copy.
    let mut plain_from = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        // Most text is ASCII that needs no escape: decided on the byte alone.
        let c = if b < 0x80 {
            if b >= 0x20 && b != b'"' && b != b'\\' && b != 0x7f {
                i += 1;
                continue;
            }
            char::from(b)
        } else {
            match s[i..].chars().next() {
                Some(c) if is_escaped(c) => c,
                Some(c) => {
                    i += c.len_utf8();
                    continue;
                }
                None => break,
            }
        };
        out.push_str(&s[plain_from..i]);
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
        }
        i += c.len_utf8();
        plain_from = i;
    }
    out.push_str(&s[plain_from..]);
    out.push('"');
}

/// JavaScript's string order (by UTF-16 code units). UTF-8 bytes sort by code point, which
/// is the same order unless a string holds a character from U+E000 up (lead byte 0xEE or
/// more): only then are the code units compared.
fn utf16_order(a: &str, b: &str) -> std::cmp::Ordering {
    let high = |s: &str| s.bytes().any(|byte| byte >= 0xee);
    if high(a) || high(b) {
        a.encode_utf16().cmp(b.encode_utf16())
    } else {
        a.cmp(b)
    }
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
            let quoted = stable_text(&JsValue::String(s.as_str().into()));
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
