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
use js_value::to_js_string;
pub(crate) use js_value::{JsValue, Text};

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
        self.value(kind, JsValue::from_json(item));
    }

    /// [`UserCheck::item`] on an item already in its JavaScript form (read from a row).
    pub(crate) fn value(&mut self, kind: ItemKind, value: JsValue<'_>) {
        // Kept for the message (borrowed: no copy).
        let id = match value.get("id") {
            Some(JsValue::String(id)) => Some(id.clone()),
            _ => None,
        };
        match check_value(kind, value) {
            Check::Valid => self.checked += 1,
            Check::Absent => {}
            Check::Unsupported { .. } => self.unsupported += 1,
            Check::Mismatch { stored, computed } => {
                self.mismatches += 1;
                if self.examples.len() < Self::MAX_EXAMPLES {
                    let id = id.as_deref().unwrap_or("?");
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
    /// Fields that never reach the hash: a check need not read them.
    pub fn unhashed_fields(self) -> &'static [&'static str] {
        match self {
            ItemKind::Event => normalize::EVENT_UNHASHED,
            ItemKind::Access => normalize::ACCESS_UNHASHED,
        }
    }

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
    canonical_text_of(kind, JsValue::from_json(item))
}

/// [`canonical_text`] of the item's JavaScript copy, which it normalises in place.
pub(crate) fn canonical_text_of(kind: ItemKind, mut copy: JsValue<'_>) -> String {
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
    let mut copy = JsValue::from_json(item);
    as_head(kind, &mut copy);
    hash_of(kind, copy, Algorithm::Sha256)
}

/// The integrity value with a chosen algorithm (the core's `integrity:algorithm` setting).
pub fn compute_with(kind: ItemKind, item: &Item, algorithm: Algorithm) -> String {
    hash_of(kind, JsValue::from_json(item), algorithm)
}

fn hash_of(kind: ItemKind, copy: JsValue<'_>, algorithm: Algorithm) -> String {
    let digest = algorithm.digest(&canonical_text_of(kind, copy));
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
/// head: the same fields under the head's id. This turns the copy into that view of it.
fn as_head(kind: ItemKind, copy: &mut JsValue<'_>) {
    if kind != ItemKind::Event {
        return;
    }
    let JsValue::Object(fields) = copy else {
        return;
    };
    let Some(at) = fields
        .iter()
        .position(|(k, v)| k == "headId" && matches!(v, JsValue::String(_)))
    else {
        return;
    };
    let (_, head_id) = fields.remove(at);
    match fields.iter_mut().find(|(k, _)| k == "id") {
        Some((_, id)) => *id = head_id,
        None => fields.push((Text::Borrowed("id"), head_id)),
    }
}

/// Recomputes the integrity with the algorithm named in the stored value and compares.
pub fn check(kind: ItemKind, item: &Item) -> Check {
    check_value(kind, JsValue::from_json(item))
}

/// [`check`] on the item's JavaScript copy.
pub(crate) fn check_value(kind: ItemKind, mut copy: JsValue<'_>) -> Check {
    let stored = match copy.get("integrity") {
        None | Some(JsValue::Null) => return Check::Absent,
        Some(JsValue::String(s)) => s.to_string(),
        Some(other) => stable_text::stable_text(other),
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
    as_head(kind, &mut copy);
    let computed = hash_of(kind, copy, algorithm);
    if computed == stored {
        Check::Valid
    } else {
        Check::Mismatch { stored, computed }
    }
}
