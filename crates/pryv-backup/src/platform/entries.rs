//! Platform rows (rqlite's `keyValue`, PostgreSQL's `platform_kv`) and the archive's
//! platform items.
//!
//! The core backs up only the user-field rows: `user-unique/<field>/<value>` → username and
//! `user-indexed/<field>/<username>` → value, as `{username, field, value, isUnique}`. Rows
//! are taken as stored: in hashed PII mode names and unique values are already tokens, and
//! they travel as such (the core does the same). pryv-backup also carries each user's
//! `user-core/<name>` and `access-index/<accessId>` rows, as raw `{key, value}` items: the
//! core's reader skips those, and without them a restored user is unknown to the platform.

use serde_json::{Map, Value};

pub const UNIQUE: &str = "user-unique/";
pub const INDEXED: &str = "user-indexed/";
/// `user-core/<name>` → the id of the core that holds the user.
pub const USER_CORE: &str = "user-core/";
/// `access-index/<accessId>` → JSON naming the access's user, type and dates.
pub const ACCESS_INDEX: &str = "access-index/";

/// The prefixes of the rows a platform backup holds: the core's two first, in its order.
pub const BACKED_UP_PREFIXES: [&str; 4] = [UNIQUE, INDEXED, USER_CORE, ACCESS_INDEX];

/// The archive item for a row. A key that is not `<kind>/<field>/<name>` is kept as a raw
/// `{key, value}` item rather than dropped. The last part keeps any further `/`.
pub fn item_from_row(key: &str, value: &str) -> Value {
    let mut item = Map::new();
    let mut parts = key.splitn(3, '/');
    let (Some(kind @ ("user-unique" | "user-indexed")), Some(field), Some(name)) =
        (parts.next(), parts.next(), parts.next())
    else {
        item.insert("key".into(), Value::String(key.to_string()));
        item.insert("value".into(), Value::String(value.to_string()));
        return Value::Object(item);
    };
    let unique = kind == "user-unique";
    let (username, value) = if unique { (value, name) } else { (name, value) };
    item.insert("username".into(), Value::String(username.to_string()));
    item.insert("field".into(), Value::String(field.to_string()));
    item.insert("value".into(), Value::String(value.to_string()));
    item.insert("isUnique".into(), Value::Bool(unique));
    Value::Object(item)
}

/// The row an archive item is restored to.
pub fn row_from_item(item: &Value) -> Result<(String, String), String> {
    let text = |name: &str| -> Result<String, String> {
        match item.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            // The core writes values through string concatenation: numbers become text.
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(v.to_string()),
            _ => Err(format!("platform item without a string \"{name}\"")),
        }
    };
    if item.get("username").is_none() && item.get("key").is_some() {
        return Ok((text("key")?, text("value")?));
    }
    let (username, field, value) = (text("username")?, text("field")?, text("value")?);
    if item
        .get("isUnique")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        Ok((format!("{UNIQUE}{field}/{value}"), username))
    } else {
        Ok((format!("{INDEXED}{field}/{username}"), value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_and_items_map_both_ways() {
        let cases = [
            (
                "user-unique/email/a@b.c",
                "alice",
                json!({"username":"alice","field":"email","value":"a@b.c","isUnique":true}),
            ),
            (
                "user-indexed/language/alice",
                "fr",
                json!({"username":"alice","field":"language","value":"fr","isUnique":false}),
            ),
            (
                "user-unique/x/a/b",
                "bob",
                json!({"username":"bob","field":"x","value":"a/b","isUnique":true}),
            ),
            ("odd-key", "v", json!({"key":"odd-key","value":"v"})),
            (
                "user-core/alice",
                "single",
                json!({"key":"user-core/alice","value":"single"}),
            ),
            (
                "core-info/a/b",
                "{}",
                json!({"key":"core-info/a/b","value":"{}"}),
            ),
        ];
        for (key, value, item) in cases {
            assert_eq!(item_from_row(key, value), item);
            assert_eq!(
                row_from_item(&item),
                Ok((key.to_string(), value.to_string()))
            );
        }
        assert!(row_from_item(&json!({"field": "email"})).is_err());
    }
}
