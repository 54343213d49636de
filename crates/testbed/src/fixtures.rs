//! Where the test data is: `tests/fixtures/` of this repository (files written by open-pryv.io
//! itself; see its README). Tests read it from the repository only, so a fresh clone passes.

use std::path::{Path, PathBuf};

/// The repository's `tests/fixtures` folder.
pub fn fixtures_dir() -> PathBuf {
    // crates/testbed → the workspace root.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap_or_else(|| {
            panic!(
                "testbed: {} has no workspace root",
                env!("CARGO_MANIFEST_DIR")
            )
        });
    let dir = root.join("tests/fixtures");
    assert!(
        dir.join("README.md").is_file(),
        "testbed: the test data is missing from {} (part of the repository: restore it with git)",
        dir.display()
    );
    dir
}

/// A path inside the fixtures, e.g. `reference-archives/full-gz`.
pub fn fixture(relative: &str) -> PathBuf {
    fixtures_dir().join(relative)
}
