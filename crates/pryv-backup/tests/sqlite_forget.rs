//! `forget` on the backups of a SQLite install (issue 29): a chain (base and increment) and
//! its consolidation in one folder lose every trace of bob, every other user reads back
//! item for item as before, and every generation still verifies and restores.

use std::path::Path;

use pryv_backup::archive::{self, ArchiveReader, ArchiveWriter, Backend, WriterOptions};
use pryv_backup::chain::Chain;
use pryv_backup::consolidate;
use pryv_backup::engine::{Engine, UserSource};
use pryv_backup::engines::sqlite::SqliteEngine;
use pryv_backup::forget;
use pryv_backup::model::Collection;
use pryv_backup::progress::Silent;
use pryv_backup::restore::{self, RestoreOptions};

mod archive_support;

use archive_support::{back_up_next_generation, fill_with_sample, open_local_chain};

const BOB: &str = "cksamplebobby0002";

/// Every user but bob, with the text of each item of each collection and its account.
fn others(chain: &Chain) -> Vec<(String, Vec<String>)> {
    chain
        .users()
        .into_iter()
        .filter(|u| u.user_id != BOB)
        .map(|u| {
            let source = chain.user_source(&u.user_id).expect("user");
            let mut items = vec![format!("{:?}", source.account().expect("account"))];
            for c in Collection::ALL {
                items.extend(
                    source
                        .items(c)
                        .expect("items")
                        .map(|i| i.expect("item").to_string()),
                );
            }
            (u.user_id, items)
        })
        .collect()
}

/// Files under `dir` whose name or content (gunzipped) mentions bob.
fn traces_of_bob(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let text = if path.extension().is_some_and(|e| e == "gz") {
                archive::read_jsonl(Box::new(std::io::Cursor::new(bytes)), &path, true)
                    .map(|i| i.unwrap().to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                String::from_utf8_lossy(&bytes).into_owned()
            };
            let named = path.to_string_lossy().contains(BOB);
            if named || text.contains(BOB) || text.contains("\"bob\"") {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[test]
fn forget_on_sqlite_backups_leaves_no_trace_and_the_others_whole() {
    let source = tempfile::tempdir().unwrap();
    let engine = SqliteEngine::open_with_fs_attachments(source.path()).expect("source");
    fill_with_sample(&engine);
    let folder = tempfile::tempdir().unwrap();
    let (chain_dir, merged_dir) = (folder.path().join("chain"), folder.path().join("merged"));
    back_up_next_generation(&engine, &chain_dir, "sqlite");
    back_up_next_generation(&engine, &chain_dir, "sqlite");
    let writer = ArchiveWriter::create(&merged_dir, WriterOptions::default()).expect("archive");
    consolidate::run(&open_local_chain(&chain_dir), writer, &Silent).expect("consolidate");
    let before: Vec<_> = [&chain_dir, &merged_dir]
        .iter()
        .map(|d| others(&open_local_chain(d)))
        .collect();
    assert!(!traces_of_bob(folder.path()).is_empty());

    let report = forget::run(
        &Backend::Local,
        folder.path(),
        &["bob".to_string()],
        None,
        true,
        &|d| ArchiveReader::open(d, None).map_err(|e| e.to_string()),
    )
    .expect("forget");
    assert_eq!(report.backups.len(), 2, "{report:?}");
    assert!(report.damaged.is_empty() && report.skipped.is_empty());
    assert_eq!(traces_of_bob(folder.path()), Vec::<String>::new());

    for (dir, before) in [&chain_dir, &merged_dir].into_iter().zip(before) {
        let chain = open_local_chain(dir);
        assert_eq!(others(&chain), before, "{}", dir.display());
        for g in 0..chain.generation_count() {
            let root = chain.generation(g).unwrap().0;
            let verified = archive::verify(root, None).expect("verify");
            assert!(verified.is_ok(), "{}: {verified:?}", root.display());
        }
        let target = tempfile::tempdir().unwrap();
        let restored = SqliteEngine::open_with_fs_attachments(target.path()).expect("target");
        let report = restore::run(
            &restored,
            &chain,
            dir,
            &RestoreOptions {
                jobs: 2,
                ..Default::default()
            },
            &Silent,
        )
        .expect("restore");
        assert!(report.is_complete(), "{report:?}");
        assert_eq!(restored.users().unwrap().len(), 3);
    }
}
