//! Who the users are: users_index, platform_kv user fields, passwords, account fields,
//! per-store key/values and profile sets.

use postgres::Client;
use pryv_backup::platform::DEFAULT_CORE_ID;
use rand::Rng;
use serde_json::json;

use super::ids::{js, rng_for, secs, Purpose, NOW_MS};
use super::plan::UserPlan;
use crate::copy_text::TableCopy;
use crate::BenchError;

pub fn load_users_index(client: &mut Client, users: &[UserPlan]) -> Result<u64, BenchError> {
    let mut copy = TableCopy::start(client, "users_index", &["username", "user_id"])?;
    for user in users {
        copy.text(&user.username).text(&user.user_id);
        copy.end_row()?;
    }
    copy.finish()
}

/// What the core keeps per user in cleartext PII mode: `user-unique/email/<email>` →
/// username, `user-indexed/language/<username>` → language, `user-core/<username>` → its
/// core, and one `access-index/<accessId>` row per access.
pub fn load_platform_kv(
    client: &mut Client,
    seed: u64,
    users: &[UserPlan],
) -> Result<u64, BenchError> {
    let mut copy = TableCopy::start(client, "platform_kv", &["key", "value"])?;
    for user in users {
        copy.text(&format!("user-unique/email/{}", user.email))
            .text(&user.username);
        copy.end_row()?;
        copy.text(&format!("user-indexed/language/{}", user.username))
            .text(user.language);
        copy.end_row()?;
        copy.text(&format!("user-core/{}", user.username))
            .text(DEFAULT_CORE_ID);
        copy.end_row()?;
        for (key, value) in super::accesses::index_rows(seed, user)? {
            copy.text(&key).text(&value);
            copy.end_row()?;
        }
    }
    copy.finish()
}

/// A bcrypt-looking hash (the generator never needs a real one).
fn bcrypt_like(rng: &mut impl Rng) -> String {
    const ALPHABET: &[u8] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let tail: String = (0..53)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("$2b$10${tail}")
}

/// Passwords (one change for half the users), email and language history, one store value.
pub fn load_account(client: &mut Client, seed: u64, users: &[UserPlan]) -> Result<u64, BenchError> {
    let created = secs(NOW_MS - 400 * 86_400_000);
    let mut rows = 0;
    let mut copy = TableCopy::start(
        client,
        "passwords",
        &["user_id", "time", "hash", "created_by"],
    )?;
    for user in users {
        let mut rng = rng_for(seed, user.index, Purpose::Account);
        copy.text(&user.user_id)
            .float(created)
            .text(&bcrypt_like(&mut rng))
            .text("system");
        copy.end_row()?;
        if user.index % 2 == 0 {
            copy.text(&user.user_id)
                .float(created + 86_400.5)
                .text(&bcrypt_like(&mut rng))
                .text(&user.personal_access);
            copy.end_row()?;
        }
    }
    rows += copy.finish()?;

    let mut copy = TableCopy::start(
        client,
        "account_fields",
        &["user_id", "field", "value", "time", "created_by"],
    )?;
    for user in users {
        copy.text(&user.user_id)
            .text("email")
            .json(&json!(user.email))
            .float(created)
            .text("system");
        copy.end_row()?;
        if user.language != "en" {
            copy.text(&user.user_id)
                .text("language")
                .json(&json!("en"))
                .float(created)
                .text("system");
            copy.end_row()?;
        }
        copy.text(&user.user_id)
            .text("language")
            .json(&json!(user.language))
            .float(created + 3600.25)
            .text(&user.personal_access);
        copy.end_row()?;
    }
    rows += copy.finish()?;

    let mut copy = TableCopy::start(
        client,
        "store_key_values",
        &["user_id", "store_id", "key", "value"],
    )?;
    for user in users {
        copy.text(&user.user_id)
            .text("local")
            .text("lastSync")
            .json(&json!({"t": js(secs(NOW_MS - 60_000))}));
        copy.end_row()?;
    }
    rows += copy.finish()?;
    Ok(rows)
}

pub fn load_profile(client: &mut Client, users: &[UserPlan]) -> Result<u64, BenchError> {
    let mut copy = TableCopy::start(client, "profile", &["user_id", "id", "data"])?;
    for user in users {
        let sets = [
            (
                "public",
                json!({"displayName": user.username.to_uppercase()}),
            ),
            (
                "private",
                json!({"language": user.language, "timezone": "Europe/Zurich"}),
            ),
            (
                "diary-app",
                json!({"theme": "dark", "lastOpened": js(secs(NOW_MS - 3_600_000))}),
            ),
        ];
        for (id, data) in &sets {
            copy.text(&user.user_id).text(id).json(data);
            copy.end_row()?;
        }
    }
    copy.finish()
}
