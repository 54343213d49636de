//! The user local directory rule shared by the SQLite engine and the filesystem file engine.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// `<root>/<last char>/<second-to-last>/<third-to-last>/<userId>/`, the core's rule.
///
/// Refuses user ids that could leave `root` or that the core itself refuses (shorter than 3).
pub fn user_local_dir(root: &Path, user_id: &str) -> Result<PathBuf> {
    check_path_component("userId", user_id)?;
    let tail: Vec<char> = user_id.chars().rev().take(3).collect();
    if tail.len() < 3 {
        return Err(Error::Other(format!(
            "userId {user_id:?} is shorter than 3 characters: the core cannot store such a user"
        )));
    }
    // The core slices UTF-16 units; outside the BMP a char is two units, so the rules differ.
    if tail.iter().any(|c| *c == '.' || (*c as u32) > 0xFFFF) {
        return Err(Error::Other(format!(
            "userId {user_id:?} ends with characters that cannot name a user directory"
        )));
    }
    let mut dir = root.to_path_buf();
    for c in tail {
        dir.push(c.to_string());
    }
    dir.push(user_id);
    Ok(dir)
}

/// Refuses anything that is not exactly one plain path component (ids become file names).
pub fn check_path_component(what: &str, value: &str) -> Result<()> {
    let bad = value.is_empty()
        || value == "."
        || value == ".."
        || value.chars().any(|c| c == '/' || c == '\\' || c == '\0');
    if bad {
        return Err(Error::Other(format!(
            "{what} {value:?} cannot be used as a file name (empty, '.', '..' or contains a path separator); \
             the backup or the install holds an invalid id"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_user_dir_follows_the_core_rule() {
        let dir = user_local_dir(Path::new("/base"), "cjx1bobxyzab0002").unwrap();
        assert_eq!(dir, Path::new("/base/2/0/0/cjx1bobxyzab0002"));
    }

    #[test]
    fn sqlite_user_dir_refuses_escaping_ids() {
        for id in ["..", "a/b/c", "ab", "x\\..", "abc..", "", "../../etc"] {
            assert!(user_local_dir(Path::new("/base"), id).is_err(), "{id}");
        }
    }
}
