//! The vocabulary shared by the archive format and the storage engines.

use serde::{Deserialize, Serialize};

/// One API object (stream, event, access, ...) as the core exports it: a JSON object whose
/// key order and number text are kept exactly (serde_json `preserve_order` + `arbitrary_precision`).
pub type Item = serde_json::Value;

/// The attachment file ids of an event that owns its files, a live head: a history copy
/// (`headId` set) lists its head's files, and a deletion owns none.
pub fn owned_attachment_ids(event: &Item) -> Vec<String> {
    let set = |field: &str| event.get(field).is_some_and(|v| !v.is_null());
    if set("headId") || set("deleted") {
        return Vec::new();
    }
    event
        .get("attachments")
        .and_then(|a| a.as_array())
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("id").and_then(|id| id.as_str()).map(str::to_string))
        .collect()
}

/// A user as the users index knows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UserRef {
    #[serde(rename = "userId")]
    pub user_id: String,
    pub username: String,
}

/// The per-user collections of a backup. `account` (one object) and attachments (blobs) are
/// not collections and travel separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Collection {
    Streams,
    Accesses,
    Profile,
    Webhooks,
    Events,
    Audit,
    Series,
    /// Ephemeral: only with `--include-ephemeral`. A pryv-backup addition to format v1.
    Sessions,
    /// Ephemeral: only with `--include-ephemeral`. A pryv-backup addition to format v1.
    PasswordResets,
}

impl Collection {
    pub const ALL: [Collection; 9] = [
        Collection::Streams,
        Collection::Accesses,
        Collection::Profile,
        Collection::Webhooks,
        Collection::Events,
        Collection::Audit,
        Collection::Series,
        Collection::Sessions,
        Collection::PasswordResets,
    ];

    /// The name used in file names and in the user manifest's `stats`.
    pub fn name(self) -> &'static str {
        match self {
            Collection::Streams => "streams",
            Collection::Accesses => "accesses",
            Collection::Profile => "profile",
            Collection::Webhooks => "webhooks",
            Collection::Events => "events",
            Collection::Audit => "audit",
            Collection::Series => "series",
            Collection::Sessions => "sessions",
            Collection::PasswordResets => "passwordResets",
        }
    }

    pub fn from_name(name: &str) -> Option<Collection> {
        Collection::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Ephemeral collections are backed up only on request.
    pub fn is_ephemeral(self) -> bool {
        matches!(self, Collection::Sessions | Collection::PasswordResets)
    }
}
