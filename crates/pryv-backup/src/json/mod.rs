//! JSON helpers shared by the engines and the integrity code.

mod borrowed;
mod js_number;

pub(crate) use borrowed::BorrowedStr;
pub use js_number::{js_number_text, number_from_f64, push_js_number};

use sha2::Digest;

/// Feeds a JSON value to a digest as its compact text and a newline: the line it is in a
/// JSONL file, so that a sequence of values hashes as the lines written.
pub(crate) fn digest_line(hasher: &mut sha2::Sha256, value: &serde_json::Value) {
    // Serializing a JSON value into memory cannot fail.
    hasher.update(serde_json::to_vec(value).unwrap_or_default());
    hasher.update(b"\n");
}
