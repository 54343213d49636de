//! Where each piece of a backup lives, relative to the backup root, and the checks that keep
//! names read from an archive inside it.

use std::path::{Path, PathBuf};

use super::ArchiveError;
use crate::model::Collection;

pub const MANIFEST: &str = "manifest.json";
pub const USER_MANIFEST: &str = "user-manifest.json";
pub const ENVELOPE: &str = "encryption.json";
/// pryv-backup's clear record of a generation's place in its chain (see docs/archive-format.md).
pub const CHAIN_RECORD: &str = "chain.json";
/// Written first by a run and removed once its manifest is written: a folder holding it and
/// no manifest is that run's unfinished output, which a later run may replace.
pub const IN_PROGRESS: &str = ".pryv-backup-in-progress";
pub const USERS_DIR: &str = "users";
pub const PLATFORM_DIR: &str = "platform";
pub const REGISTER_DIR: &str = "register";
pub const ATTACHMENTS_DIR: &str = "attachments";
pub const ACCOUNT: &str = "account";

/// `<base>.jsonl.gz` or `<base>.jsonl`.
pub fn jsonl_name(base: &str, compressed: bool) -> String {
    if compressed {
        format!("{base}.jsonl.gz")
    } else {
        format!("{base}.jsonl")
    }
}

/// Events and audit are split into numbered chunk files in their own folder.
pub fn is_chunked(collection: Collection) -> bool {
    matches!(collection, Collection::Events | Collection::Audit)
}

/// The `n`th chunk (from 1) of a chunked collection: `events-0001.jsonl.gz`.
pub fn chunk_name(collection: Collection, n: usize, compressed: bool) -> String {
    jsonl_name(&format!("{}-{n:04}", collection.name()), compressed)
}

/// Path, relative to the user's folder, of a non-chunked collection's single file.
pub fn single_file(collection: Collection, compressed: bool) -> PathBuf {
    let name = jsonl_name(collection.name(), compressed);
    match collection {
        Collection::Series => Path::new("series").join(name),
        _ => PathBuf::from(name),
    }
}

pub fn user_dir(root: &Path, user_id: &str) -> Result<PathBuf, ArchiveError> {
    Ok(root.join(USERS_DIR).join(safe_name("user id", user_id)?))
}

/// Refuses a name that could point outside its folder: empty, `.`/`..`, path separators,
/// NUL, or anything a platform would read as absolute or as a drive.
pub fn safe_name<'a>(what: &'static str, name: &'a str) -> Result<&'a str, ArchiveError> {
    let bad = name.is_empty()
        || name == "."
        || name == ".."
        || name.contains(['/', '\\', '\0', ':'])
        || name.chars().any(char::is_control);
    if bad {
        return Err(ArchiveError::UnsafeName {
            what,
            name: name.to_string(),
        });
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_escape_are_refused() {
        for bad in [
            "", ".", "..", "../x", "a/b", "a\\b", "/etc", "a\0b", "C:x", "a\nb",
        ] {
            assert!(safe_name("test", bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "cjx1alicexyz0001",
            "att-0001-1",
            "events-0001.jsonl.gz",
            "a..b",
        ] {
            assert!(safe_name("test", good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn file_names_follow_format_v1() {
        assert_eq!(
            chunk_name(Collection::Events, 3, true),
            "events-0003.jsonl.gz"
        );
        assert_eq!(
            chunk_name(Collection::Audit, 12345, false),
            "audit-12345.jsonl"
        );
        assert_eq!(
            single_file(Collection::Series, true),
            Path::new("series/series.jsonl.gz")
        );
        assert_eq!(
            single_file(Collection::PasswordResets, false),
            Path::new("passwordResets.jsonl")
        );
    }
}
