//! The vocabulary shared by the archive format and the storage engines.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One API object (stream, event, access, ...) as the core exports it: a JSON object whose
/// key order and number text are kept exactly (serde_json `preserve_order` + `arbitrary_precision`).
pub type Item = serde_json::Value;

/// One item as its JSON text, not parsed yet: an engine loading many rows parses it into
/// what it needs (fields left as text) instead of a whole [`Item`].
pub struct ItemText {
    text: String,
    /// The file and line it was read from, for error messages.
    origin: Option<(Arc<Path>, u64)>,
}

impl ItemText {
    /// The text of an item held elsewhere than in a file.
    pub fn of(item: &Item) -> Self {
        ItemText {
            text: item.to_string(),
            origin: None,
        }
    }

    /// An item's text as is (not checked until parsed).
    pub fn of_text(text: &str) -> Self {
        ItemText {
            text: text.to_string(),
            origin: None,
        }
    }

    pub(crate) fn read_at(text: String, path: Arc<Path>, line: u64) -> Self {
        ItemText {
            text,
            origin: Some((path, line)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Parses the text; the error names the file and line it came from.
    pub fn parse<'a, T: Deserialize<'a>>(&'a self) -> Result<T, InvalidItem> {
        serde_json::from_str(&self.text).map_err(|e| self.invalid(e))
    }

    /// Parses the text with a seed that decides what to keep of it.
    pub fn parse_with<'a, S: serde::de::DeserializeSeed<'a>>(
        &'a self,
        seed: S,
    ) -> Result<S::Value, InvalidItem> {
        let mut de = serde_json::Deserializer::from_str(&self.text);
        let value = seed.deserialize(&mut de).map_err(|e| self.invalid(e))?;
        de.end().map_err(|e| self.invalid(e))?;
        Ok(value)
    }

    pub fn item(&self) -> Result<Item, InvalidItem> {
        self.parse()
    }

    fn invalid(&self, source: serde_json::Error) -> InvalidItem {
        match &self.origin {
            Some((path, line)) => InvalidItem::InFile {
                path: path.display().to_string(),
                line: *line,
                source,
            },
            None => InvalidItem::Text { source },
        }
    }
}

/// An item's text that is not valid JSON. The model's own error, so that the vocabulary
/// needs nothing above it; the archive reports it as a corrupt file.
#[derive(Debug, Error)]
pub enum InvalidItem {
    #[error("{path}: line {line}: invalid JSON ({source})")]
    InFile {
        path: String,
        line: u64,
        source: serde_json::Error,
    },
    #[error("an item is not valid JSON ({source})")]
    Text { source: serde_json::Error },
}

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
