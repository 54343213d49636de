//! `account-1.0.0.sqlite`: password history, per-store key-values, account fields history.
//!
//! The account object travels in the PostgreSQL engine's shape (see docs §4): the core's own
//! SQLite export drops `createdBy` of passwords and leaves key-value values as JSON text.

use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection};
use serde_json::{Map, Value};

use super::values::{json_col, object, parse_json, real, text_col, to_json};
use super::{db, unstorable};
use crate::model::Item;
use crate::Result;

pub fn read(conn: &Connection) -> Result<Item> {
    let passwords = select(
        conn,
        "SELECT time, hash, createdBy FROM passwords ORDER BY time",
        |r| {
            let mut p = Map::new();
            p.insert("time".into(), to_json(r.get_ref(0).map_err(db)?)?);
            p.insert("hash".into(), to_json(r.get_ref(1).map_err(db)?)?);
            // A restore of an archive without createdBy stored "" (the column is NOT NULL).
            let by = to_json(r.get_ref(2).map_err(db)?)?;
            if by.as_str() != Some("") {
                p.insert("createdBy".into(), by);
            }
            Ok(Value::Object(p))
        },
    )?;
    let store = select(
        conn,
        "SELECT storeId, key, value FROM storeKeyValueData ORDER BY rowid",
        |r| {
            let mut kv = Map::new();
            kv.insert("storeId".into(), to_json(r.get_ref(0).map_err(db)?)?);
            kv.insert("key".into(), to_json(r.get_ref(1).map_err(db)?)?);
            kv.insert(
                "value".into(),
                parse_json(r.get_ref(2).map_err(db)?, "storeKeyValueData value")?,
            );
            Ok(Value::Object(kv))
        },
    )?;
    let fields = select(
        conn,
        "SELECT field, value, time, createdBy FROM account_fields ORDER BY field, time",
        |r| {
            let mut f = Map::new();
            f.insert("field".into(), to_json(r.get_ref(0).map_err(db)?)?);
            f.insert(
                "value".into(),
                parse_json(r.get_ref(1).map_err(db)?, "account_fields value")?,
            );
            f.insert("time".into(), to_json(r.get_ref(2).map_err(db)?)?);
            f.insert("createdBy".into(), to_json(r.get_ref(3).map_err(db)?)?);
            Ok(Value::Object(f))
        },
    )?;
    let mut account = Map::new();
    account.insert("passwords".into(), Value::Array(passwords));
    account.insert("storeKeyValues".into(), Value::Array(store));
    account.insert("accountFields".into(), Value::Array(fields));
    Ok(Value::Object(account))
}

fn select(
    conn: &Connection,
    sql: &str,
    mut map: impl FnMut(&rusqlite::Row<'_>) -> Result<Value>,
) -> Result<Vec<Value>> {
    let mut stmt = conn.prepare(sql).map_err(db)?;
    let mut rows = stmt.query([]).map_err(db)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db)? {
        out.push(map(row)?);
    }
    Ok(out)
}

pub fn write(conn: &Connection, account: &Item) -> Result<()> {
    let obj = object(account, "account")?;
    if let Some(extra) = obj
        .keys()
        .find(|k| !["passwords", "storeKeyValues", "accountFields"].contains(&k.as_str()))
    {
        return Err(unstorable(format!(
            "account data has an unknown part {extra:?}"
        )));
    }
    for p in entries(obj, "passwords")? {
        let createdby = match p.get("createdBy") {
            None | Some(Value::Null) => SqlValue::Text(String::new()),
            v => text_col(v, "password createdBy")?,
        };
        insert(
            conn,
            "INSERT INTO passwords (time, hash, createdBy) VALUES (?1, ?2, ?3)",
            vec![
                required(real(p.get("time"), "password time")?, "password time")?,
                required(text_col(p.get("hash"), "password hash")?, "password hash")?,
                createdby,
            ],
            "a password with this time",
        )?;
    }
    for kv in entries(obj, "storeKeyValues")? {
        insert(
            conn,
            "INSERT INTO storeKeyValueData (storeId, key, value) VALUES (?1, ?2, ?3)",
            vec![
                required(
                    text_col(kv.get("storeId"), "storeKeyValues storeId")?,
                    "storeKeyValues storeId",
                )?,
                required(
                    text_col(kv.get("key"), "storeKeyValues key")?,
                    "storeKeyValues key",
                )?,
                // The core stores JSON text; a null value is not stored at all.
                required(json_col(kv.get("value"))?, "storeKeyValues value")?,
            ],
            "a key-value with this store and key",
        )?;
    }
    for f in entries(obj, "accountFields")? {
        let value = match f.get("value") {
            None => SqlValue::Null,
            Some(v) => SqlValue::Text(super::values::to_text(v)?),
        };
        insert(
            conn,
            "INSERT INTO account_fields (field, value, time, createdBy) VALUES (?1, ?2, ?3, ?4)",
            vec![
                required(
                    text_col(f.get("field"), "accountFields field")?,
                    "accountFields field",
                )?,
                value,
                required(
                    real(f.get("time"), "accountFields time")?,
                    "accountFields time",
                )?,
                required(
                    text_col(f.get("createdBy"), "accountFields createdBy")?,
                    "accountFields createdBy",
                )?,
            ],
            "an account field with this name and time",
        )?;
    }
    Ok(())
}

fn entries<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Vec<&'a Map<String, Value>>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(list)) => list
            .iter()
            .map(|e| object(e, &format!("account {key} entry")))
            .collect(),
        Some(other) => Err(unstorable(format!(
            "account {key} must be an array, not {other}"
        ))),
    }
}

fn required(value: SqlValue, what: &str) -> Result<SqlValue> {
    if value == SqlValue::Null {
        return Err(unstorable(format!(
            "{what} is missing (the core's schema requires it)"
        )));
    }
    Ok(value)
}

fn insert(conn: &Connection, sql: &str, row: Vec<SqlValue>, duplicate: &str) -> Result<()> {
    conn.execute(sql, params_from_iter(row))
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                unstorable(format!("account data holds {duplicate} twice"))
            }
            e => db(e),
        })?;
    Ok(())
}
