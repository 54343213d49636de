//! The library's modules import downward only, in the order the layering comment at the top
//! of src/lib.rs lists them, and no two files of one folder import each other. A circle
//! makes a module impossible to understand, test or move without the ones above it.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A file's code without its unit tests (lib.rs allows them to reach higher).
fn code_of(path: &Path) -> String {
    let text = read(path);
    match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Every `.rs` file under `path` (itself when it is a file).
fn rust_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
        let entry = entry.expect("a readable folder entry");
        files.extend(
            rust_files(&entry.path())
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "rs")),
        );
    }
    files.sort();
    files
}

/// The first segment of each path that follows `prefix::` in `code`, braces included:
/// `crate::{a::B, c}` gives `a` and `c`.
fn first_segments(code: &str, prefix: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let pattern = format!("{prefix}::");
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(&pattern) {
        let before = rest[..at].chars().last();
        rest = &rest[at + pattern.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let Some(group) = rest.strip_prefix('{') else {
            found.push(ident(rest));
            continue;
        };
        let (mut depth, mut start) = (0, 0);
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    found.push(ident(&group[start..i]));
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    found.push(ident(&group[start..i]));
                    start = i + 1;
                }
                _ => {}
            }
        }
    }
    found.retain(|s| !s.is_empty());
    found
}

/// The top-level modules: a file or a folder of src/ other than lib.rs.
fn modules() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(src())
        .expect("src/ readable")
        .map(|e| e.expect("a readable entry").path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            match name.strip_suffix(".rs") {
                Some("lib") => None,
                Some(module) => Some(module.to_string()),
                None if p.is_dir() => Some(name),
                None => None,
            }
        })
        .collect();
    names.sort();
    names
}

/// The modules in the order lib.rs's numbered layering list names them (in backquotes).
fn layers(modules: &[String]) -> Vec<String> {
    let lib = read(&src().join("lib.rs"));
    let list: Vec<&str> = lib
        .lines()
        .map_while(|l| l.strip_prefix("//!"))
        .skip_while(|l| !l.trim_start().starts_with("1."))
        .take_while(|l| !l.trim_start().starts_with("One exception"))
        .collect();
    let mut order = Vec::new();
    for line in list {
        for (i, quoted) in line.split('`').enumerate() {
            if i % 2 == 1 && modules.iter().any(|m| m == quoted) && !order.contains(&quoted) {
                order.push(quoted);
            }
        }
    }
    order.into_iter().map(String::from).collect()
}

/// The one module outside the layers (lib.rs says why): the crate-wide error.
const OUTSIDE_THE_LAYERS: &str = "error";

#[test]
fn every_module_imports_only_modules_listed_below_it_in_lib_rs() {
    let modules = modules();
    let order = layers(&modules);
    let unlisted: Vec<_> = modules
        .iter()
        .filter(|m| !order.contains(m) && *m != OUTSIDE_THE_LAYERS)
        .collect();
    assert!(
        unlisted.is_empty(),
        "src/lib.rs's layering list misses {unlisted:?}: place each in its layer"
    );
    let rank = |m: &str| order.iter().position(|o| o == m);
    let mut upward = Vec::new();
    for module in &order {
        let path = src().join(module);
        let path = if path.is_dir() {
            path
        } else {
            path.with_extension("rs")
        };
        for file in rust_files(&path) {
            for used in first_segments(&code_of(&file), "crate") {
                if let (Some(used_rank), Some(own)) = (rank(&used), rank(module)) {
                    if used_rank > own {
                        upward.push(format!(
                            "{} uses `{used}`, listed above `{module}`",
                            file.strip_prefix(src()).unwrap_or(&file).display()
                        ));
                    }
                }
            }
        }
    }
    assert!(upward.is_empty(), "imports upward:\n{}", upward.join("\n"));
}

/// Known circles not broken yet: PostgreSQL's engine-trait methods (connection.rs) hand the
/// work to export.rs and import.rs, which take the engine. Remove a pair once it is broken.
const KNOWN_CIRCLES: &[&str] = &[
    "engines/postgres: connection.rs and export.rs",
    "engines/postgres: connection.rs and import.rs",
];

#[test]
fn no_two_files_of_a_folder_import_each_other() {
    let mut circles = Vec::new();
    for file in rust_files(&src()) {
        let Some(folder) = file.parent() else {
            continue;
        };
        let name = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if name == "mod" || folder == src() {
            continue;
        }
        // Files of the folder this one names through `super::`.
        let mut uses = BTreeSet::new();
        for sibling in first_segments(&code_of(&file), "super") {
            if sibling != name && folder.join(format!("{sibling}.rs")).is_file() {
                uses.insert(sibling);
            }
        }
        for sibling in &uses {
            let back = first_segments(&code_of(&folder.join(format!("{sibling}.rs"))), "super");
            if name < sibling.as_str() && back.iter().any(|b| b == name) {
                circles.push(format!(
                    "{}: {name}.rs and {sibling}.rs",
                    folder.strip_prefix(src()).unwrap_or(folder).display()
                ));
            }
        }
    }
    circles.retain(|c| !KNOWN_CIRCLES.contains(&c.as_str()));
    assert!(
        circles.is_empty(),
        "files importing each other:\n{}",
        circles.join("\n")
    );
}
