//! What a restore writes into the target's platform DB, known before anything is written:
//! the unique values each user claims (checked against the target's owners), and whether
//! the backup's entries name users as the target does.
//!
//! In hashed PII mode an entry names its user by `token("username", name)` made with the
//! install's `platform:piiHmacKey`. A backup of an install with another key (or the other
//! PII mode) carries entries the target cannot find its users by. Its rows are then
//! re-derived, as the core's `bin/platform-pii-rotate.js` does after a key change: the
//! unique and indexed fields from each user's account fields (their cleartext), the
//! `user-core/` and `access-index/` rows from the user and its accesses, all under the
//! target's key. The backup's own user entries are then left out.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::{Map, Value};

use crate::chain::Chain;
use crate::engine::UserSource;
use crate::model::{Collection, Item, UserRef};
use crate::platform::entries::{row_from_item, UNIQUE};
use crate::platform::owners::owner_of;
use crate::platform::{pii_token, IndexRebuild};
use crate::{Error, Result};

pub struct PlatformPlan {
    /// Fields the backup's entries hold as unique, and as indexed only.
    unique_fields: BTreeSet<String>,
    indexed_fields: BTreeSet<String>,
    /// The backup's unique rows (`key`, `value`), by the user name they hold.
    unique_rows: HashMap<String, Vec<(String, String)>>,
    /// How many of the backup's entries name a user.
    user_entries: u64,
    /// No entry names a user of the backup as the target would: another key or mode.
    pub rederive: bool,
}

impl PlatformPlan {
    /// Reads the backup's platform entries once.
    pub fn read(chain: &Chain, rebuild: &IndexRebuild<'_>) -> Result<PlatformPlan> {
        let mut target_names = HashSet::new();
        for user in chain.users() {
            target_names.insert(rebuild.stored_name(&user)?);
        }
        let mut plan = PlatformPlan {
            unique_fields: BTreeSet::new(),
            indexed_fields: BTreeSet::new(),
            unique_rows: HashMap::new(),
            user_entries: 0,
            rederive: false,
        };
        let mut named_as_target = false;
        for item in chain.platform_items()? {
            let item = item?;
            let Some(owner) = owner_of(&item) else {
                continue;
            };
            plan.user_entries += 1;
            named_as_target |= target_names.contains(&owner);
            let Some(field) = item.get("field").and_then(Value::as_str) else {
                continue;
            };
            if item.get("isUnique").and_then(Value::as_bool) == Some(true) {
                plan.unique_fields.insert(field.to_string());
                let row = row_from_item(&item).map_err(Error::Other)?;
                plan.unique_rows.entry(owner).or_default().push(row);
            } else {
                plan.indexed_fields.insert(field.to_string());
            }
        }
        plan.indexed_fields
            .retain(|f| !plan.unique_fields.contains(f));
        plan.rederive = plan.user_entries > 0 && !named_as_target;
        Ok(plan)
    }

    /// How many of the backup's entries name a user (left out when re-derived).
    pub fn user_entries(&self) -> u64 {
        self.user_entries
    }

    /// The `user-unique/` rows (`key` → the user's stored name) restoring this user writes.
    /// `source` (the user's backup) is opened only when the rows are re-derived.
    pub fn unique_rows(
        &self,
        user: &UserRef,
        source: &dyn Fn() -> Result<Box<dyn UserSource>>,
        rebuild: &IndexRebuild<'_>,
    ) -> Result<Vec<(String, String)>> {
        if !self.rederive {
            let token = rebuild.stored_name(user)?;
            let mut rows: Vec<(String, String)> = Vec::new();
            for name in [&user.username, &token] {
                for row in self.unique_rows.get(name).into_iter().flatten() {
                    if !rows.contains(row) {
                        rows.push(row.clone());
                    }
                }
            }
            return Ok(rows);
        }
        let name = rebuild.stored_name(user)?;
        let fields = current_fields(source()?.as_ref())?;
        let mut rows = Vec::new();
        for field in &self.unique_fields {
            if let Some(value) = fields.get(field) {
                let stored = stored_value(rebuild, field, value)?;
                rows.push((format!("{UNIQUE}{field}/{stored}"), name.clone()));
            }
        }
        Ok(rows)
    }

    /// Every platform row of a user, re-derived under the target's naming: unique and
    /// indexed fields from its account fields, `user-core/` and `access-index/` rows.
    pub fn rederived_rows(
        &self,
        user: &UserRef,
        source: &dyn UserSource,
        rebuild: &IndexRebuild<'_>,
    ) -> Result<Vec<Item>> {
        let name = rebuild.stored_name(user)?;
        let fields = current_fields(source)?;
        let mut rows = Vec::new();
        for (field, unique) in self
            .unique_fields
            .iter()
            .map(|f| (f, true))
            .chain(self.indexed_fields.iter().map(|f| (f, false)))
        {
            let Some(value) = fields.get(field) else {
                continue;
            };
            let value = if unique {
                stored_value(rebuild, field, value)?
            } else {
                value.clone()
            };
            let mut item = Map::new();
            item.insert("username".into(), Value::String(name.clone()));
            item.insert("field".into(), Value::String(field.clone()));
            item.insert("value".into(), Value::String(value));
            item.insert("isUnique".into(), Value::Bool(unique));
            rows.push(Value::Object(item));
        }
        rows.push(rebuild.user_core(user)?);
        for access in source.items(Collection::Accesses)? {
            if let Some(row) = rebuild.access_index(user, &access?)? {
                rows.push(row);
            }
        }
        Ok(rows)
    }
}

/// How the target stores a unique value: its token in hashed PII mode.
fn stored_value(rebuild: &IndexRebuild<'_>, field: &str, value: &str) -> Result<String> {
    match rebuild.pii_key {
        Some(key) => pii_token(&key.0, field, value).map_err(Error::Other),
        None => Ok(value.to_string()),
    }
}

/// The user's current value of each account field (the latest by time), as text: what the
/// core indexes on the platform.
fn current_fields(source: &dyn UserSource) -> Result<HashMap<String, String>> {
    let mut latest: HashMap<String, (f64, String)> = HashMap::new();
    let Some(account) = source.account()? else {
        return Ok(HashMap::new());
    };
    let fields = account
        .get("accountFields")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for entry in fields {
        let (Some(field), Some(value)) = (
            entry.get("field").and_then(Value::as_str),
            entry.get("value"),
        ) else {
            continue;
        };
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(_) | Value::Bool(_) => value.to_string(),
            _ => continue,
        };
        let time = entry
            .get("time")
            .and_then(Value::as_f64)
            .unwrap_or(f64::MIN);
        // The list is in time order per field: an equal time keeps the later entry.
        if latest.get(field).is_none_or(|(t, _)| time >= *t) {
            latest.insert(field.to_string(), (time, text));
        }
    }
    Ok(latest.into_iter().map(|(f, (_, v))| (f, v)).collect())
}

/// The row key of a unique field, e.g. `user-unique/email/<token>`, split back.
pub fn unique_field_of(key: &str) -> Option<&str> {
    key.strip_prefix(UNIQUE)?.split('/').next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::MemoryUser;
    use serde_json::json;

    #[test]
    fn the_latest_value_of_each_field_is_current() {
        let user = MemoryUser {
            account: Some(json!({"accountFields": [
                {"field": "language", "value": "pt", "time": 2.5},
                {"field": "language", "value": "en", "time": 1.0},
                {"field": "email", "value": "A@b.c", "time": 1.0},
                {"field": "attachedFiles", "value": 0, "time": 1.0},
                {"field": "odd", "value": {"x": 1}, "time": 1.0}
            ]})),
            ..Default::default()
        };
        let fields = current_fields(&user).unwrap();
        assert_eq!(fields["language"], "pt");
        assert_eq!(fields["email"], "A@b.c");
        assert_eq!(fields["attachedFiles"], "0");
        assert!(!fields.contains_key("odd"));
        assert_eq!(unique_field_of("user-unique/email/abc"), Some("email"));
    }
}
