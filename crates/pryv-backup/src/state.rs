//! What a backup holds for each user in the state a restore would write: its latest state
//! (or the state as of a time), read through [`Chain::user_source`] as a restore reads it.
//!
//! Counted: items per collection as the restore writes them (deletion records and event
//! history versions are items too), their bytes as the JSON text a restore reads (one
//! line each, newline left out), and the attachments the user's live events own that the
//! backup holds, with the sizes those events record for them (`attachments[].size`, the
//! core's own; the files are listed, not read).

use std::collections::{BTreeMap, HashMap};

use indexmap::IndexMap;
use serde::Serialize;

use crate::chain::{Chain, SNAPSHOT_TIME};
use crate::engine::UserSource;
use crate::model::{owned_attachment_ids, Collection, UserRef};
use crate::{Error, Result};

/// Items of one collection.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CollectionCount {
    pub items: u64,
    pub bytes: u64,
}

/// One user as the state holds it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserState {
    pub user_id: String,
    pub username: String,
    /// When the user's newest snapshot in the state was taken (ms since the epoch).
    pub snapshot_time: u64,
    /// The collections holding items, by name, in the archive's order.
    pub collections: IndexMap<&'static str, CollectionCount>,
    pub items: u64,
    pub item_bytes: u64,
    pub attachments: u64,
    pub attachment_bytes: u64,
    /// Files the user's events list that the backup does not hold (the core had lost
    /// them, or they were deleted while the backup ran); not counted above.
    pub attachments_missing: u64,
    pub has_account: bool,
}

impl UserState {
    /// Item and attachment bytes together.
    pub fn bytes(&self) -> u64 {
        self.item_bytes + self.attachment_bytes
    }
}

/// The users of `users` that `wanted` names (userId or username), all when it is empty; a
/// name matching none of them is an error naming it.
pub fn select(users: Vec<UserRef>, wanted: &[String]) -> Result<Vec<UserRef>> {
    if let Some(unknown) = wanted
        .iter()
        .find(|w| !users.iter().any(|u| &u.user_id == *w || &u.username == *w))
    {
        return Err(Error::Other(format!(
            "user {unknown:?} is not in this state of the backup (give a userId or a username \
             it holds; `pryv-backup inspect` lists them)"
        )));
    }
    Ok(users
        .into_iter()
        .filter(|u| wanted.is_empty() || wanted.iter().any(|w| w == &u.user_id || w == &u.username))
        .collect())
}

/// The state of each user of `chain` that `wanted` names (all when empty), in the
/// chain's order. Reads every item of those users, one at a time.
pub fn user_states(chain: &Chain, wanted: &[String]) -> Result<Vec<UserState>> {
    let users = select(chain.users(), wanted)?;
    let snapshots = snapshot_times(chain)?;
    users
        .iter()
        .map(|user| {
            let time = snapshots.get(&user.user_id).copied().unwrap_or(0);
            user_state(chain, user, time)
        })
        .collect()
}

/// userId → when its newest snapshot was taken (ms): our `snapshotTime`, else the time its
/// newest generation is complete up to.
fn snapshot_times(chain: &Chain) -> Result<HashMap<String, u64>> {
    let state = chain.latest_state()?;
    state
        .users
        .iter()
        .map(|u| {
            let u = u?;
            let snapshot = u
                .extra
                .get(SNAPSHOT_TIME)
                .and_then(serde_json::Value::as_f64)
                .filter(|t| t.is_finite() && *t > 0.0)
                .map_or(u.backup_timestamp, |t| (t * 1000.0).round() as u64);
            Ok((u.user_id, snapshot))
        })
        .collect()
}

fn user_state(chain: &Chain, user: &UserRef, snapshot_time: u64) -> Result<UserState> {
    let source = chain.user_source(&user.user_id)?;
    let mut state = UserState {
        user_id: user.user_id.clone(),
        username: user.username.clone(),
        snapshot_time,
        collections: IndexMap::new(),
        items: 0,
        item_bytes: 0,
        attachments: 0,
        attachment_bytes: 0,
        attachments_missing: 0,
        has_account: source.account()?.is_some(),
    };
    // fileId → the size its event records: one entry per attachment of this user.
    let mut owned: BTreeMap<String, u64> = BTreeMap::new();
    for collection in Collection::ALL {
        let mut count = CollectionCount::default();
        for text in source.texts(collection)? {
            let text = text?;
            count.items += 1;
            count.bytes += text.as_str().len() as u64;
            if collection == Collection::Events {
                let event = text.item()?;
                for id in owned_attachment_ids(&event) {
                    let size = recorded_size(&event, &id);
                    owned.insert(id, size);
                }
            }
        }
        if count.items > 0 {
            state.items += count.items;
            state.item_bytes += count.bytes;
            state.collections.insert(collection.name(), count);
        }
    }
    let held = source.attachment_ids()?;
    for (id, size) in owned {
        if held.contains(&id) {
            state.attachments += 1;
            state.attachment_bytes += size;
        } else {
            state.attachments_missing += 1;
        }
    }
    Ok(state)
}

/// The `size` an event records for one of its files (0 when it records none).
fn recorded_size(event: &serde_json::Value, file_id: &str) -> u64 {
    event
        .get("attachments")
        .and_then(|a| a.as_array())
        .into_iter()
        .flatten()
        .find(|a| a.get("id").and_then(|id| id.as_str()) == Some(file_id))
        .and_then(|a| a.get("size"))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0)
}
