//! What changed between two states of backups (two backups, or two generations of one
//! chain): per user, the items added, changed and deleted in each collection, whether the
//! account changed, the attachments added and removed; the users added and gone.
//!
//! An item is known by its id (`id`; series: `measurement`; audit: `eventid`). Changed: the
//! same id with JSON that differs other than in key order. A deletion record (`deleted` set,
//! as the core keeps a deleted event, stream or access) counts as absent: an item live in a
//! that b holds as a deletion record, or not at all, is deleted; a deletion record on both
//! sides, or in b only, is no difference. Event history versions are items of their own.
//! Attachments are the file ids the live events list.

use std::collections::{BTreeSet, HashMap};

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::chain::{id_field, Chain, ChainUser};
use crate::engine::UserSource;
use crate::model::{owned_attachment_ids, Collection, Item, UserRef};
use crate::Result;

#[derive(Clone, Copy, Debug, Default)]
pub struct DiffOptions {
    /// List the ids of the items added, changed and deleted, not only their counts.
    pub ids: bool,
}

/// The differences of one collection.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    pub added: u64,
    pub changed: u64,
    pub deleted: u64,
    /// The ids, sorted, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ids: Option<ChangedIds>,
}

impl Changes {
    fn is_empty(&self) -> bool {
        self.added + self.changed + self.deleted == 0
    }

    fn add_counts(&mut self, other: &Changes) {
        self.added += other.added;
        self.changed += other.changed;
        self.deleted += other.deleted;
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ChangedIds {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub deleted: Vec<String>,
}

/// One user both states hold, when it differs.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDiff {
    pub user_id: String,
    pub username: String,
    /// The collections that differ, in the archive's order.
    pub collections: IndexMap<&'static str, Changes>,
    pub account_changed: bool,
    pub attachments_added: Vec<String>,
    pub attachments_removed: Vec<String>,
}

impl UserDiff {
    fn is_empty(&self) -> bool {
        self.collections.is_empty()
            && !self.account_changed
            && self.attachments_added.is_empty()
            && self.attachments_removed.is_empty()
    }
}

/// The whole comparison, the users that differ left out (they went to the caller one by one).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffReport {
    /// Users b holds and a does not (by userId).
    pub users_added: Vec<UserRef>,
    /// Users a holds and b does not.
    pub users_gone: Vec<UserRef>,
    /// Users both hold.
    pub users_compared: usize,
    /// Of those, the users that differ.
    pub users_changed: usize,
    /// Counts over the compared users, per collection that differs.
    pub totals: IndexMap<&'static str, Changes>,
    pub accounts_changed: usize,
    pub attachments_added: u64,
    pub attachments_removed: u64,
}

impl DiffReport {
    pub fn differ(&self) -> bool {
        !self.users_added.is_empty() || !self.users_gone.is_empty() || self.users_changed > 0
    }
}

/// Compares state `a` with state `b`: each user both hold that differs goes to `on_user`
/// as soon as it is compared (so that no more than one user's differences are held).
pub fn diff(
    a: &Chain,
    b: &Chain,
    options: DiffOptions,
    on_user: &mut dyn FnMut(&UserDiff) -> Result<()>,
) -> Result<DiffReport> {
    let a_users = a.users();
    let b_users = b.users();
    let holds = |users: &[UserRef], user: &UserRef| users.iter().any(|u| u.user_id == user.user_id);
    let mut report = DiffReport {
        users_added: b_users
            .iter()
            .filter(|u| !holds(&a_users, u))
            .cloned()
            .collect(),
        users_gone: a_users
            .iter()
            .filter(|u| !holds(&b_users, u))
            .cloned()
            .collect(),
        ..Default::default()
    };
    for user in b_users.iter().filter(|u| holds(&a_users, u)) {
        report.users_compared += 1;
        let a_source = a.user_source(&user.user_id)?;
        let b_source = b.user_source(&user.user_id)?;
        let user_diff = diff_user(user, &a_source, &b_source, options)?;
        if user_diff.is_empty() {
            continue;
        }
        report.users_changed += 1;
        for (name, changes) in &user_diff.collections {
            report.totals.entry(name).or_default().add_counts(changes);
        }
        report.accounts_changed += usize::from(user_diff.account_changed);
        report.attachments_added += user_diff.attachments_added.len() as u64;
        report.attachments_removed += user_diff.attachments_removed.len() as u64;
        on_user(&user_diff)?;
    }
    report
        .totals
        .sort_by_cached_key(|name, _| Collection::from_name(name));
    Ok(report)
}

fn diff_user(
    user: &UserRef,
    a: &ChainUser,
    b: &ChainUser,
    options: DiffOptions,
) -> Result<UserDiff> {
    let mut attachments_a = BTreeSet::new();
    let mut attachments_b = BTreeSet::new();
    let mut collections = IndexMap::new();
    for collection in Collection::ALL {
        let changes = diff_collection(
            collection,
            a,
            b,
            options,
            [&mut attachments_a, &mut attachments_b],
        )?;
        if !changes.is_empty() {
            collections.insert(collection.name(), changes);
        }
    }
    let account_digest = |source: &ChainUser| -> Result<Option<[u8; 16]>> {
        Ok(source.account()?.as_ref().map(digest))
    };
    Ok(UserDiff {
        user_id: user.user_id.clone(),
        username: user.username.clone(),
        collections,
        account_changed: account_digest(a)? != account_digest(b)?,
        attachments_added: attachments_b.difference(&attachments_a).cloned().collect(),
        attachments_removed: attachments_a.difference(&attachments_b).cloned().collect(),
    })
}

/// One collection of one user: a's live items into a map, then b's streamed against it.
/// The map holds an id and a 16-byte digest per live item of this one user and collection
/// (about a hundred bytes each: a million events make some 100 MB), never a whole backup;
/// the ids listed, when asked for, are as many at most. `attachments` (a's, b's) gathers
/// the file ids of the live events.
fn diff_collection(
    collection: Collection,
    a: &ChainUser,
    b: &ChainUser,
    options: DiffOptions,
    attachments: [&mut BTreeSet<String>; 2],
) -> Result<Changes> {
    let [attachments_a, attachments_b] = attachments;
    let mut live_in_a: HashMap<String, [u8; 16]> = HashMap::new();
    for item in a.items(collection)? {
        let item = item?;
        if is_deletion(&item) {
            continue;
        }
        if collection == Collection::Events {
            attachments_a.extend(owned_attachment_ids(&item));
        }
        let digest = digest(&item);
        live_in_a.insert(key(collection, &item, &digest), digest);
    }
    let mut changes = Changes::default();
    let mut ids = ChangedIds::default();
    for item in b.items(collection)? {
        let item = item?;
        let live = !is_deletion(&item);
        if live && collection == Collection::Events {
            attachments_b.extend(owned_attachment_ids(&item));
        }
        let digest = digest(&item);
        let key = key(collection, &item, &digest);
        match (live_in_a.remove(&key), live) {
            (Some(before), true) if before != digest => {
                changes.changed += 1;
                ids.changed.push(key);
            }
            (Some(_), true) => {}
            (Some(_), false) => {
                changes.deleted += 1;
                ids.deleted.push(key);
            }
            (None, true) => {
                changes.added += 1;
                ids.added.push(key);
            }
            (None, false) => {}
        }
    }
    changes.deleted += live_in_a.len() as u64;
    if options.ids {
        ids.deleted.extend(live_in_a.into_keys());
        for list in [&mut ids.added, &mut ids.changed, &mut ids.deleted] {
            list.sort();
        }
        changes.ids = Some(ids);
    }
    Ok(changes)
}

/// A deletion record: `deleted` set.
fn is_deletion(item: &Item) -> bool {
    item.get("deleted").is_some_and(|d| !d.is_null())
}

/// The item's id as text; an item without one is known by its digest.
fn key(collection: Collection, item: &Item, digest: &[u8; 16]) -> String {
    match item.get(id_field(collection)) {
        Some(Value::String(id)) => id.clone(),
        Some(other) => other.to_string(),
        None => format!("(no {}) {}", id_field(collection), hex::encode(digest)),
    }
}

/// 16 bytes of the SHA-256 of the item's canonical form: object keys sorted, numbers as
/// written, each string prefixed with its length (so no two items share a form).
fn digest(item: &Item) -> [u8; 16] {
    fn feed(value: &Value, h: &mut Sha256) {
        match value {
            Value::Null => h.update(b"n"),
            Value::Bool(b) => h.update(if *b { b"t" } else { b"f" }),
            Value::Number(n) => {
                h.update(b"#");
                feed_str(&n.to_string(), h);
            }
            Value::String(s) => {
                h.update(b"s");
                feed_str(s, h);
            }
            Value::Array(values) => {
                h.update(b"[");
                for v in values {
                    feed(v, h);
                }
                h.update(b"]");
            }
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_by(|x, y| x.0.cmp(y.0));
                h.update(b"{");
                for (k, v) in entries {
                    feed_str(k, h);
                    feed(v, h);
                }
                h.update(b"}");
            }
        }
    }
    fn feed_str(s: &str, h: &mut Sha256) {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
    let mut h = Sha256::new();
    feed(item, &mut h);
    let full = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

#[cfg(test)]
mod tests {
    use super::digest;
    use serde_json::json;

    #[test]
    fn the_digest_ignores_key_order_only() {
        let a = json!({"id": "e", "content": {"x": 1, "y": "z"}});
        let b: serde_json::Value =
            serde_json::from_str(r#"{"content": {"y": "z", "x": 1}, "id": "e"}"#).unwrap();
        assert_eq!(digest(&a), digest(&b));
        assert_ne!(
            digest(&a),
            digest(&json!({"id": "e", "content": {"x": 2, "y": "z"}}))
        );
        assert_ne!(digest(&json!(["ab", "c"])), digest(&json!(["a", "bc"])));
        assert_ne!(digest(&json!({"a": "1"})), digest(&json!({"a": 1})));
    }
}
