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

/// The rows of one table of the live install (`live-reference/source-db/<table>.jsonl`,
/// one JSON object per row, as PostgreSQL's `row_to_json` wrote them).
pub fn live_source_rows(table: &str) -> Vec<String> {
    let path = fixture(&format!("live-reference/source-db/{table}.jsonl"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("testbed: {}: {e}", path.display()))
        .lines()
        .map(str::to_string)
        .collect()
}

/// Inserts the live install's rows of `table` into a database that has the schema.
pub fn load_live_table(client: &mut postgres::Client, table: &str) {
    let sql = format!(
        "INSERT INTO {table} SELECT * FROM json_populate_record(NULL::{table}, $1::text::json)"
    );
    for row in live_source_rows(table) {
        client
            .execute(sql.as_str(), &[&row])
            .unwrap_or_else(|e| panic!("testbed: loading live {table}: {e}"));
    }
}

/// Copies the folder tree `from` into `to` (created if missing), so that tests work on a copy
/// of a fixture and never open it in place.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("creating {}: {e}", to.display()));
    let entries =
        std::fs::read_dir(from).unwrap_or_else(|e| panic!("reading {}: {e}", from.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("reading {}: {e}", from.display()));
        let target = to.join(entry.file_name());
        let is_dir = entry
            .file_type()
            .unwrap_or_else(|e| panic!("{}: {e}", entry.path().display()))
            .is_dir();
        if is_dir {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("copying {}: {e}", entry.path().display()));
        }
    }
}
