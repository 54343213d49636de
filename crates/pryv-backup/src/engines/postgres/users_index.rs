//! `users_index` (username ↔ userId) and `alias_index`.

use postgres::types::Type;
use postgres::{GenericClient, Transaction};

use super::PgError;
use crate::model::UserRef;

pub fn all(client: &mut impl GenericClient) -> Result<Vec<UserRef>, PgError> {
    Ok(client
        .query(
            "SELECT user_id, username FROM users_index ORDER BY username",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(UserRef {
                user_id: r.try_get(0)?,
                username: r.try_get(1)?,
            })
        })
        .collect::<Result<Vec<_>, postgres::Error>>()?)
}

/// Why `user` clashes with the index: its username taken by another userId, or its userId
/// registered under another username. One query: it runs once per user restored.
pub fn conflict(
    client: &mut impl GenericClient,
    user: &UserRef,
) -> Result<Option<String>, PgError> {
    let mut reasons = Vec::new();
    // Typed parameters: one round trip, none to have the statement described first.
    let rows = client.query_typed(
        "SELECT username, user_id FROM users_index WHERE username = $1 OR user_id = $2 \
         ORDER BY username = $1 DESC",
        &[(&user.username, Type::TEXT), (&user.user_id, Type::TEXT)],
    )?;
    for row in rows {
        let (username, user_id): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        if username == user.username && user_id != user.user_id {
            reasons.push(format!(
                "username \"{}\" already exists with userId \"{user_id}\"",
                user.username
            ));
        } else if user_id == user.user_id && username != user.username {
            reasons.push(format!(
                "userId \"{}\" already registered as \"{username}\"",
                user.user_id
            ));
        }
    }
    Ok(if reasons.is_empty() {
        None
    } else {
        Some(reasons.join("; "))
    })
}

/// Per-user tables that say a userId has data (`series_data` is keyed by username: see
/// [`super::series::user_key`]).
const USER_TABLES: [&str; 11] = [
    "streams",
    "events",
    "accesses",
    "webhooks",
    "profile",
    "passwords",
    "store_key_values",
    "account_fields",
    "audit_events",
    "attachment_files",
    "alias_index",
];

pub fn exists(client: &mut impl GenericClient, user_id: &str) -> Result<bool, PgError> {
    let mut sql = "SELECT EXISTS (SELECT 1 FROM users_index WHERE user_id = $1)".to_string();
    for t in USER_TABLES {
        sql.push_str(&format!(
            " OR EXISTS (SELECT 1 FROM {t} WHERE user_id = $1)"
        ));
    }
    Ok(client.query_one(sql.as_str(), &[&user_id])?.try_get(0)?)
}

/// Registers the user (a row already there for the same pair is fine). Returns whether
/// the user was not registered before.
pub fn register(tx: &mut Transaction<'_>, user: &UserRef) -> Result<bool, PgError> {
    let added = tx.execute_typed(
        "INSERT INTO users_index (username, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[(&user.username, Type::TEXT), (&user.user_id, Type::TEXT)],
    )?;
    Ok(added == 1)
}

/// Per-user rows removed by an overwrite, in every table that holds some.
pub fn clear_user_data(tx: &mut Transaction<'_>, user: &UserRef) -> Result<(), PgError> {
    for t in USER_TABLES.iter().chain(["event_streams"].iter()) {
        tx.execute(
            format!("DELETE FROM {t} WHERE user_id = $1").as_str(),
            &[&user.user_id],
        )?;
    }
    tx.execute(
        "DELETE FROM series_data WHERE user_id = $1",
        &[&super::series::user_key(&user.username)],
    )?;
    Ok(())
}

/// Registers an access alias; an alias held by another user is a conflict (aliases are
/// platform-unique), never taken over.
pub fn add_alias(tx: &mut Transaction<'_>, alias: &str, user_id: &str) -> Result<(), PgError> {
    tx.execute(
        "INSERT INTO alias_index (alias, user_id) VALUES ($1, $2) ON CONFLICT (alias) DO NOTHING",
        &[&alias, &user_id],
    )?;
    let holder: String = tx
        .query_one(
            "SELECT user_id FROM alias_index WHERE alias = $1",
            &[&alias],
        )?
        .try_get(0)?;
    if holder != user_id {
        return Err(PgError::Item {
            collection: "accesses",
            id: alias.to_string(),
            reason: format!("access alias \"{alias}\" already belongs to user {holder}"),
        });
    }
    Ok(())
}
