//! The backup directory format written by open-pryv.io's bin/backup.js (format version 1),
//! see docs/archive-format.md. Knows nothing of databases: it reads and writes items.
//!
//! By concern: `layout` (names and paths), `output` (one file written atomically through
//! gzip and the sealer), `writer`, `input` + `jsonl` (one file read back, guarded),
//! `reader`, `manifest` (its user entries spooled by `user_entries`), `verify` and `summary`.

mod backend;
mod error;
mod input;
mod jsonl;
pub mod layout;
mod manifest;
pub(crate) mod output;
mod reader;
mod sealer;
mod summary;
mod user_entries;
mod verify;
mod writer;

pub use backend::{Backend, ChangeLock, S3_SCHEME};
pub use error::ArchiveError;
pub use input::digest as file_digest;
pub use jsonl::{JsonlLines, MAX_LINE_BYTES};
pub use manifest::{
    FileEntry, Manifest, ManifestInfo, SmallMap, UserManifest, WriterInfo, FORMAT_VERSION,
    RECORD_FIELD, TOOL_NAME,
};
pub use reader::{ArchiveReader, Items, UserReader};
pub use sealer::{FileSealer, SealedWrite};
pub use summary::{summary, Summary};
pub use user_entries::{EncodedEntry, UserEntries, UserEntriesBuilder};
pub use verify::{verify, verify_in, FileProblem, VerifyReport};
pub use writer::{
    ArchiveWriter, JsonlWriter, UserWriter, WriterOptions, DEFAULT_MAX_CHUNK_SIZE,
    MISSING_ATTACHMENTS,
};

/// Reads JSONL items from any byte stream (gzip or not): the reader the archive uses, for
/// tools and fuzzing.
pub fn read_jsonl(
    input: Box<dyn std::io::Read + Send>,
    name: &std::path::Path,
    gzip: bool,
) -> JsonlLines {
    let input = if gzip {
        input::gunzip(input, name)
    } else {
        input
    };
    JsonlLines::new(input, name)
}
