//! Which platform entries go with a set of users, for a backup of some users and for a
//! restore. An entry names its user by plaintext username, or in hashed PII mode by
//! `token("username", name)`; an entry naming no user belongs to the whole platform.

use std::collections::HashSet;

use crate::config::PiiKey;
use crate::engines::rqlite::pii_token;
use crate::model::{Item, UserRef};
use crate::{Error, Result};

pub(crate) struct PlatformOwners {
    names: HashSet<String>,
    /// Every entry that names a user belongs to one of these users.
    all_users: bool,
    /// Entries naming no user come along (a whole backup, or a whole-backup restore).
    whole_platform: bool,
}

impl PlatformOwners {
    pub(crate) fn new(
        users: &[UserRef],
        pii_key: Option<&PiiKey>,
        all_users: bool,
        whole_platform: bool,
    ) -> Result<Self> {
        let mut names = HashSet::new();
        for user in users {
            names.insert(user.username.clone());
            if let Some(key) = pii_key {
                names.insert(pii_token(&key.0, "username", &user.username).map_err(Error::Other)?);
            }
        }
        Ok(PlatformOwners {
            names,
            all_users,
            whole_platform,
        })
    }

    /// Whether this platform entry goes with the users.
    pub(crate) fn keeps(&self, item: &Item) -> bool {
        match item.get("username").and_then(|u| u.as_str()) {
            Some(username) => self.all_users || self.names.contains(username),
            None => self.whole_platform,
        }
    }
}
