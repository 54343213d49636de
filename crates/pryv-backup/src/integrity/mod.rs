//! Pryv.io integrity hashes of events and accesses, as open-pryv.io computes them with the
//! npm package `@pryv/stable-object-representation` (representation version 0).
//!
//! See docs/integrity.md for the algorithm.

mod js_value;
mod normalize;
mod stable_text;

use base64::Engine as _;
use sha2::{Digest, Sha256, Sha512};
use thiserror::Error;

use crate::model::Item;
use js_value::{to_js_string, JsValue};

#[derive(Debug, Error)]
pub enum IntegrityError {
    #[error("integrity check failed for user {user}: {count} item(s) do not match their stored hash ({examples})")]
    Mismatch {
        user: String,
        count: u64,
        examples: String,
    },
}

/// Tallies the integrity checks of one user's restored items, streamed one by one.
#[derive(Debug, Default)]
pub struct UserCheck {
    pub checked: u64,
    /// Items whose hash was made with an algorithm we cannot recompute (`sha1`, `md5`).
    pub unsupported: u64,
    mismatches: u64,
    examples: Vec<String>,
}

impl UserCheck {
    const MAX_EXAMPLES: usize = 3;

    pub fn item(&mut self, kind: ItemKind, item: &Item) {
        match check(kind, item) {
            Check::Valid => self.checked += 1,
            Check::Absent => {}
            Check::Unsupported { .. } => self.unsupported += 1,
            Check::Mismatch { stored, computed } => {
                self.mismatches += 1;
                if self.examples.len() < Self::MAX_EXAMPLES {
                    let id = item.get("id").and_then(|v| v.as_str()).unwrap_or("?");
                    self.examples.push(format!(
                        "{kind:?} {id}: stored {stored}, computed {computed}"
                    ));
                }
            }
        }
    }

    /// `Err` when any item did not match: the caller rolls the user back.
    pub fn finish(self, user: &str) -> Result<UserCheck, IntegrityError> {
        if self.mismatches > 0 {
            return Err(IntegrityError::Mismatch {
                user: user.to_string(),
                count: self.mismatches,
                examples: self.examples.join("; "),
            });
        }
        if self.unsupported > 0 {
            tracing::warn!(
                "user {user}: {} integrity hash(es) use an algorithm pryv-backup cannot recompute; not checked",
                self.unsupported
            );
        }
        Ok(self)
    }
}

/// The two kinds of items the core protects with an integrity hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemKind {
    Event,
    Access,
}

impl ItemKind {
    /// The prefix of both the key and the hash: `EVENT:0:` or `ACCESS:0:`.
    fn prefix(self) -> &'static str {
        match self {
            ItemKind::Event => "EVENT:0:",
            ItemKind::Access => "ACCESS:0:",
        }
    }
}

/// Digest algorithms pryv-backup can recompute. The core also allows `sha1` and `md5` in its
/// `integrity:algorithm` setting; hashes made with those are reported as unsupported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// The core's default.
    Sha256,
    Sha512,
}

impl Algorithm {
    /// The name used in the hash text (`sha256-…`), as in subresource integrity.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name {
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    fn digest(self, text: &str) -> Vec<u8> {
        match self {
            Algorithm::Sha256 => Sha256::digest(text.as_bytes()).to_vec(),
            Algorithm::Sha512 => Sha512::digest(text.as_bytes()).to_vec(),
        }
    }
}

/// The canonical text that is hashed (the reference's `stringify`).
pub fn canonical_text(kind: ItemKind, item: &Item) -> String {
    let mut copy = JsValue::from_json(item);
    match kind {
        ItemKind::Event => normalize::event(&mut copy),
        ItemKind::Access => normalize::access(&mut copy),
    }
    stable_text::stable_text(&copy)
}

/// The unique key of this version of the item: `EVENT:0:<id>:<modified>`, with the deletion
/// time standing in for `modified` when there is none.
pub fn integrity_key(kind: ItemKind, item: &Item) -> String {
    let field = |name: &str| item.get(name).map(JsValue::from_json);
    let version = match field("modified") {
        None | Some(JsValue::Null) => field("deleted"),
        modified => modified,
    };
    format!(
        "{}{}:{}",
        kind.prefix(),
        to_js_string(field("id").as_ref()),
        to_js_string(version.as_ref())
    )
}

/// The integrity value with the core's default algorithm, e.g. `EVENT:0:sha256-<base64>`.
pub fn compute(kind: ItemKind, item: &Item) -> String {
    compute_with(kind, item, Algorithm::Sha256)
}

/// The integrity value the core stores with this item: for a history copy, the one its
/// head had at that version (see [`check`]).
pub fn compute_as_stored(kind: ItemKind, item: &Item) -> String {
    match history_head(kind, item) {
        Some(as_head) => compute(kind, &as_head),
        None => compute(kind, item),
    }
}

/// The integrity value with a chosen algorithm (the core's `integrity:algorithm` setting).
pub fn compute_with(kind: ItemKind, item: &Item, algorithm: Algorithm) -> String {
    let digest = algorithm.digest(&canonical_text(kind, item));
    format!(
        "{}{}-{}",
        kind.prefix(),
        algorithm.name(),
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// What an item's stored `integrity` says about its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    Valid,
    /// No `integrity` stored (the core had integrity off, or the item was altered on purpose).
    Absent,
    Mismatch {
        stored: String,
        computed: String,
    },
    /// Made with an algorithm pryv-backup cannot recompute (`sha1`, `md5`).
    Unsupported {
        stored: String,
    },
}

/// A history copy (an event with `headId`) carries the hash the core made of it as of its
/// head: the same fields under the head's id. This is that view of it, to check against.
fn history_head(kind: ItemKind, item: &Item) -> Option<Item> {
    let head_id = item.get("headId")?.as_str()?;
    if kind != ItemKind::Event {
        return None;
    }
    let mut as_head = item.clone();
    let fields = as_head.as_object_mut()?;
    fields.insert(
        "id".to_string(),
        serde_json::Value::String(head_id.to_string()),
    );
    fields.remove("headId");
    Some(as_head)
}

/// Recomputes the integrity with the algorithm named in the stored value and compares.
pub fn check(kind: ItemKind, item: &Item) -> Check {
    let stored = match item.get("integrity") {
        None | Some(serde_json::Value::Null) => return Check::Absent,
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let named = stored
        .strip_prefix(kind.prefix())
        .and_then(|rest| rest.split_once('-'))
        .map(|(name, _)| name);
    let algorithm = match named {
        Some(name) => match Algorithm::from_name(name) {
            Some(algorithm) => algorithm,
            None if matches!(name, "sha1" | "md5") => return Check::Unsupported { stored },
            None => Algorithm::Sha256,
        },
        None => Algorithm::Sha256,
    };
    let computed = match history_head(kind, item) {
        Some(as_head) => compute_with(kind, &as_head, algorithm),
        None => compute_with(kind, item, algorithm),
    };
    if computed == stored {
        Check::Valid
    } else {
        Check::Mismatch { stored, computed }
    }
}
