//! The account object: `passwords`, `store_key_values` and `account_fields`.

use postgres::{Row, Transaction};
use serde_json::{json, Map, Value};

use super::table::{Cell, Inserter, Kind::*, RowWriter};
use super::values::{float, json_from_text};
use super::PgError;
use crate::model::Item;

/// The account's three tables, read for the user named by the SQL expression `user`, each
/// row's values from column `first` on (see [`password`], [`store_key_value`], [`field`]).
pub fn queries(user: &str) -> [String; 3] {
    [
        format!("SELECT time, hash, created_by FROM passwords WHERE user_id = {user} ORDER BY time"),
        format!(
            "SELECT store_id, key, value::text FROM store_key_values WHERE user_id = {user} \
             ORDER BY store_id, key"
        ),
        format!(
            "SELECT field, value::text, time, created_by FROM account_fields WHERE user_id = {user} \
             ORDER BY field, time"
        ),
    ]
}

pub fn password(r: &Row, first: usize) -> Result<Value, PgError> {
    Ok(json!({
        "time": float(r.try_get(first)?),
        "hash": r.try_get::<_, String>(first + 1)?,
        "createdBy": r.try_get::<_, Option<String>>(first + 2)?,
    }))
}

pub fn store_key_value(r: &Row, first: usize) -> Result<Value, PgError> {
    Ok(json!({
        "storeId": r.try_get::<_, String>(first)?,
        "key": r.try_get::<_, String>(first + 1)?,
        "value": json_column(r.try_get(first + 2)?)?,
    }))
}

pub fn field(r: &Row, first: usize) -> Result<Value, PgError> {
    Ok(json!({
        "field": r.try_get::<_, String>(first)?,
        "value": json_column(r.try_get(first + 1)?)?,
        "time": float(r.try_get(first + 2)?),
        "createdBy": r.try_get::<_, Option<String>>(first + 3)?,
    }))
}

/// `{passwords, storeKeyValues, accountFields}` as the core exports it.
pub fn object(passwords: Vec<Value>, store_key_values: Vec<Value>, fields: Vec<Value>) -> Item {
    let mut account = Map::new();
    account.insert("passwords".into(), Value::Array(passwords));
    account.insert("storeKeyValues".into(), Value::Array(store_key_values));
    account.insert("accountFields".into(), Value::Array(fields));
    Value::Object(account)
}

fn json_column(text: Option<String>) -> Result<Value, PgError> {
    match text {
        None => Ok(Value::Null),
        Some(t) => json_from_text(&t).map_err(|reason| PgError::Row {
            table: "account",
            reason,
        }),
    }
}

/// Writes the account object back. Accepts the snake_case spellings the core also accepts
/// (`created_by`, `store_id`).
pub fn import(tx: &mut Transaction<'_>, user_id: &str, account: &Item) -> Result<(), PgError> {
    let mut tables = inserters();
    rows(user_id, account, &mut |table, row| {
        tables[table].push(tx, row)
    })?;
    for table in &mut tables {
        table.flush(tx)?;
    }
    Ok(())
}

/// The three tables of an account object, in the order [`rows`] numbers them.
pub fn inserters() -> [Inserter<'static>; 3] {
    [
        Inserter::new(
            "passwords",
            vec![
                ("user_id", Text),
                ("time", Float),
                ("hash", Text),
                ("created_by", Text),
            ],
            vec!["user_id", "time"],
        ),
        Inserter::new(
            "store_key_values",
            vec![
                ("user_id", Text),
                ("store_id", Text),
                ("key", Text),
                ("value", Json),
            ],
            vec!["user_id", "store_id", "key"],
        ),
        Inserter::new(
            "account_fields",
            vec![
                ("user_id", Text),
                ("field", Text),
                ("value", Json),
                ("time", Float),
                ("created_by", Text),
            ],
            vec!["user_id", "field", "time"],
        ),
    ]
}

/// The rows [`import`] writes, given to `push` with the index of their table in
/// [`inserters`].
pub fn rows(
    user_id: &str,
    account: &Item,
    push: &mut dyn FnMut(usize, Vec<Cell<'static>>) -> Result<(), PgError>,
) -> Result<(), PgError> {
    let bad = |reason: String| PgError::Item {
        collection: "account",
        id: user_id.to_string(),
        reason,
    };
    let obj = account
        .as_object()
        .ok_or_else(|| bad("not a JSON object".into()))?;
    if let Some(k) = obj
        .keys()
        .find(|k| !["passwords", "storeKeyValues", "accountFields"].contains(&k.as_str()))
    {
        return Err(bad(format!("unknown part \"{k}\"")));
    }
    let list = |name: &str| -> Result<&[Value], PgError> {
        match obj.get(name) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(a)) => Ok(a.as_slice()),
            Some(_) => Err(bad(format!("\"{name}\" is not an array"))),
        }
    };
    let text = |v: &Value, names: &[&str]| -> Result<Cell, PgError> {
        match names.iter().find_map(|n| v.get(*n)) {
            None | Some(Value::Null) => Ok(Cell::Null),
            Some(Value::String(s)) => Ok(Cell::Text(s.clone().into())),
            Some(other) => Err(bad(format!(
                "\"{}\" should be a string, not {other}",
                names[0]
            ))),
        }
    };
    let time = |v: &Value| -> Result<Cell, PgError> {
        v.get("time")
            .and_then(super::values::as_f64)
            .map(Cell::Float)
            .ok_or_else(|| bad(format!("entry without a numeric time: {v}")))
    };
    let user = || Cell::Text(user_id.to_string().into());

    for p in list("passwords")? {
        let row = vec![
            user(),
            time(p)?,
            text(p, &["hash"])?,
            text(p, &["createdBy", "created_by"])?,
        ];
        push(0, row)?;
    }
    for kv in list("storeKeyValues")? {
        let value = kv
            .get("value")
            .map(|v| Cell::Json(v.to_string().into()))
            .unwrap_or(Cell::Null);
        let row = vec![
            user(),
            text(kv, &["storeId", "store_id"])?,
            text(kv, &["key"])?,
            value,
        ];
        push(1, row)?;
    }
    for f in list("accountFields")? {
        let value = f
            .get("value")
            .map(|v| Cell::Json(v.to_string().into()))
            .unwrap_or(Cell::Null);
        let row = vec![
            user(),
            text(f, &["field"])?,
            value,
            time(f)?,
            text(f, &["createdBy", "created_by"])?,
        ];
        push(2, row)?;
    }
    Ok(())
}
