//! The platform-wide registry (rqlite or PostgreSQL `platform_kv`), as the archive carries
//! it: which rows are backed up, whose they are, how hashed PII mode names users, and the
//! index rows rebuilt for archives that lack them.

pub mod entries;
mod index;
pub(crate) mod owners;
mod pii;

pub use entries::{item_from_row, row_from_item};
pub use index::{is_index_row, IndexRebuild, DEFAULT_CORE_ID};
pub(crate) use owners::PlatformOwners;
pub use pii::{looks_like_token, pii_token};
