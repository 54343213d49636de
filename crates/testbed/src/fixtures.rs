//! Where the shared fixtures are: files written by open-pryv.io itself, kept outside the repo.

use std::path::{Path, PathBuf};

/// The shared fixtures folder: `PRYV_BACKUP_FIXTURES` when set, otherwise the nearest
/// `shared/fixtures` beside the workspace or one of its parents (CI clones the repository
/// with `shared/` next to it). Panics with what to do when there is none.
pub fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PRYV_BACKUP_FIXTURES") {
        return PathBuf::from(dir);
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|dir| dir.join("shared/fixtures"))
        .find(|candidate| candidate.is_dir())
        .unwrap_or_else(|| {
            panic!(
                "the shared fixtures were not found in any parent of {} (shared/fixtures): \
                 set PRYV_BACKUP_FIXTURES to their folder",
                here.display()
            )
        })
}

/// A path inside the shared fixtures, e.g. `reference-archives/full-gz`.
pub fn fixture(relative: &str) -> PathBuf {
    fixtures_dir().join(relative)
}
