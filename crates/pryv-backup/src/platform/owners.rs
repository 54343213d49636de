//! Which platform entries go with a set of users, for a backup of some users and for a
//! restore. An entry names its user by plaintext username, or in hashed PII mode by
//! `token("username", name)`; an entry naming no user belongs to the whole platform.

use std::collections::HashSet;

use super::entries::{ACCESS_INDEX, USER_CORE};
use super::pii_token;
use crate::config::PiiKey;
use crate::model::{Item, UserRef};
use crate::{Error, Result};

pub(crate) struct PlatformOwners {
    names: HashSet<String>,
    /// Every entry that names a user belongs to one of these users.
    all_users: bool,
    /// Entries naming no user come along (a whole backup, or a whole-backup restore).
    whole_platform: bool,
    /// Names (and tokens) of users left out, whose entries never come along.
    left_out: HashSet<String>,
}

impl PlatformOwners {
    pub(crate) fn new(
        users: &[UserRef],
        pii_key: Option<&PiiKey>,
        all_users: bool,
        whole_platform: bool,
    ) -> Result<Self> {
        Ok(PlatformOwners {
            names: names_of(users, pii_key)?,
            all_users,
            whole_platform,
            left_out: HashSet::new(),
        })
    }

    /// Whether this entry names no user and comes with the restore.
    pub(crate) fn keeps_unnamed(&self, item: &Item) -> bool {
        self.whole_platform && owner_of(item).is_none()
    }

    /// The same, without the entries of these users (left out of a backup).
    pub(crate) fn without(mut self, users: &[UserRef], pii_key: Option<&PiiKey>) -> Result<Self> {
        self.left_out = names_of(users, pii_key)?;
        Ok(self)
    }

    /// Whether this platform entry goes with the users.
    pub(crate) fn keeps(&self, item: &Item) -> bool {
        match owner_of(item) {
            Some(username) => {
                !self.left_out.contains(&username)
                    && (self.all_users || self.names.contains(&username))
            }
            None => self.whole_platform,
        }
    }
}

/// The users' names, and their tokens in hashed PII mode: how platform entries name them.
fn names_of(users: &[UserRef], pii_key: Option<&PiiKey>) -> Result<HashSet<String>> {
    let mut names = HashSet::new();
    for user in users {
        names.insert(user.username.clone());
        if let Some(key) = pii_key {
            names.insert(pii_token(&key.0, "username", &user.username).map_err(Error::Other)?);
        }
    }
    Ok(names)
}

/// The user (plaintext name or token) an entry belongs to: its `username`, or for a raw
/// row the name in a `user-core/` key or in an `access-index/` value.
pub(crate) fn owner_of(item: &Item) -> Option<String> {
    if let Some(username) = item.get("username").and_then(|u| u.as_str()) {
        return Some(username.to_string());
    }
    let key = item.get("key")?.as_str()?;
    if let Some(name) = key.strip_prefix(USER_CORE) {
        return Some(name.to_string());
    }
    if key.starts_with(ACCESS_INDEX) {
        let entry: serde_json::Value = serde_json::from_str(item.get("value")?.as_str()?).ok()?;
        let name = entry
            .get("usernameToken")
            .or_else(|| entry.get("username"))?;
        return Some(name.as_str()?.to_string());
    }
    None
}
