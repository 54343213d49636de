//! The platform rows the core keeps for each user beside its fields: `user-core/<name>`
//! (which core holds the user) and `access-index/<accessId>` (whose access a token is). The
//! core's archives do not carry them, so a restore of such an archive writes them again
//! from the restored users and accesses, as the core's own index backfill does:
//! - the user is named by `token("username", name)` in hashed PII mode, by name otherwise;
//! - one index row per access, history copies (`headId`) left out, deleted ones kept with
//!   their deletion time;
//! - `lastModified` is the access's `modified` (its `deleted` for a deleted one).

use serde_json::{Map, Value};

use super::entries::{ACCESS_INDEX, USER_CORE};
use super::pii_token;
use crate::config::PiiKey;
use crate::model::{Item, UserRef};
use crate::{Error, Result};

/// The core's id when its configuration names none (`core:id`).
pub const DEFAULT_CORE_ID: &str = "single";

pub struct IndexRebuild<'a> {
    pub pii_key: Option<&'a PiiKey>,
    pub core_id: &'a str,
}

impl IndexRebuild<'_> {
    /// How platform rows name this user.
    pub(crate) fn stored_name(&self, user: &UserRef) -> Result<String> {
        match self.pii_key {
            Some(key) => pii_token(&key.0, "username", &user.username).map_err(Error::Other),
            None => Ok(user.username.clone()),
        }
    }

    pub fn user_core(&self, user: &UserRef) -> Result<Item> {
        Ok(raw_row(
            format!("{USER_CORE}{}", self.stored_name(user)?),
            self.core_id.to_string(),
        ))
    }

    /// The index row of one access item of the user; `None` for a history copy or an item
    /// without an id.
    pub fn access_index(&self, user: &UserRef, access: &Item) -> Result<Option<Item>> {
        if access.get("headId").is_some_and(|h| !h.is_null()) {
            return Ok(None);
        }
        let Some(id) = access.get("id").and_then(Value::as_str) else {
            return Ok(None);
        };
        let field = |name: &str| access.get(name).filter(|v| !v.is_null()).cloned();
        let deleted = field("deleted");
        let created = field("created").unwrap_or(Value::Null);
        let last_modified = deleted
            .clone()
            .or_else(|| field("modified"))
            .unwrap_or_else(|| created.clone());
        let mut entry = Map::new();
        entry.insert("accessId".into(), Value::String(id.to_string()));
        entry.insert("type".into(), field("type").unwrap_or(Value::Null));
        entry.insert("expires".into(), field("expires").unwrap_or(Value::Null));
        entry.insert("created".into(), created);
        entry.insert("lastModified".into(), last_modified);
        let name_field = if self.pii_key.is_some() {
            "usernameToken"
        } else {
            "username"
        };
        entry.insert(name_field.into(), Value::String(self.stored_name(user)?));
        if let Some(deleted) = deleted {
            entry.insert("deleted".into(), deleted);
        }
        Ok(Some(raw_row(
            format!("{ACCESS_INDEX}{id}"),
            Value::Object(entry).to_string(),
        )))
    }
}

fn raw_row(key: String, value: String) -> Item {
    let mut item = Map::new();
    item.insert("key".into(), Value::String(key));
    item.insert("value".into(), Value::String(value));
    Value::Object(item)
}

/// Whether an archive's platform item is one of these index rows (then the archive carries
/// them, and nothing is rebuilt).
pub fn is_index_row(item: &Item) -> bool {
    item.get("username").is_none()
        && item
            .get("key")
            .and_then(Value::as_str)
            .is_some_and(|k| k.starts_with(USER_CORE) || k.starts_with(ACCESS_INDEX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn index_rows_are_built_as_the_core_builds_them() {
        let user = UserRef {
            user_id: "u1".into(),
            username: "alice".into(),
        };
        let rebuild = IndexRebuild {
            pii_key: None,
            core_id: DEFAULT_CORE_ID,
        };
        assert_eq!(
            rebuild.user_core(&user).unwrap(),
            json!({"key": "user-core/alice", "value": "single"})
        );
        let live = json!({"id": "a1", "type": "shared", "created": 10.5, "modified": 11.25});
        let row = rebuild.access_index(&user, &live).unwrap().unwrap();
        assert_eq!(row["key"], "access-index/a1");
        assert_eq!(
            row["value"],
            r#"{"accessId":"a1","type":"shared","expires":null,"created":10.5,"lastModified":11.25,"username":"alice"}"#
        );
        let gone = json!({"id": "a2", "type": "app", "created": 1, "modified": 1, "deleted": 3, "expires": 9});
        let row = rebuild.access_index(&user, &gone).unwrap().unwrap();
        assert_eq!(
            row["value"],
            r#"{"accessId":"a2","type":"app","expires":9,"created":1,"lastModified":3,"username":"alice","deleted":3}"#
        );
        let copy = json!({"id": "a3", "headId": "a1", "type": "shared", "created": 1});
        assert!(rebuild.access_index(&user, &copy).unwrap().is_none());
        assert!(is_index_row(
            &json!({"key": "user-core/x", "value": "single"})
        ));
        assert!(!is_index_row(
            &json!({"username": "x", "field": "f", "value": "v", "isUnique": false})
        ));
    }
}
