//! With attachments outside PostgreSQL (an AttachmentStore), the engine reads them from the
//! store on export and stages them on import, committed only after the database.

mod postgres_support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use postgres_support::*;
use pryv_backup::engine::{AttachmentImport, AttachmentStore, Engine, ImportOptions};
use pryv_backup::engines::postgres::PgEngine;
use pryv_backup::{Error, Result};

/// Files at `<root>/<user>/<event>/<file>`; an import stages into `<root>/.staging/<user>`.
struct DirStore {
    root: PathBuf,
}

impl AttachmentStore for DirStore {
    fn describe(&self) -> String {
        format!("directory {}", self.root.display())
    }

    fn read(
        &self,
        user_id: &str,
        event_id: &str,
        file_id: &str,
    ) -> Result<Box<dyn Read + Send + '_>> {
        let path = self.root.join(user_id).join(event_id).join(file_id);
        Ok(Box::new(
            std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?,
        ))
    }

    fn begin_user_import(
        &self,
        user_id: &str,
        overwrite: bool,
    ) -> Result<Box<dyn AttachmentImport + '_>> {
        let staging = self.root.join(".staging").join(user_id);
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
        Ok(Box::new(Staged {
            staging,
            target: self.root.join(user_id),
            overwrite,
        }))
    }
}

struct Staged {
    staging: PathBuf,
    target: PathBuf,
    overwrite: bool,
}

impl AttachmentImport for Staged {
    fn write(&mut self, event_id: &str, file_id: &str, data: &mut dyn Read) -> Result<()> {
        let dir = self.staging.join(event_id);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = dir.join(file_id);
        let mut file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        std::io::copy(data, &mut file).map_err(|e| Error::io(&path, e))?;
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<()> {
        if self.overwrite || !self.target.exists() {
            let _ = std::fs::remove_dir_all(&self.target);
            std::fs::rename(&self.staging, &self.target).map_err(|e| Error::io(&self.target, e))?;
        }
        Ok(())
    }
}

fn files_under(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn postgres_attachments_in_a_store_travel_with_the_user() {
    // Source: the dataset, with its attachment bytes moved to a directory store.
    let mut source_db = testbed::pg_database();
    insert_dataset(source_db.client());
    let source_dir = testbed::data_dir();
    for row in source_db
        .client()
        .query("SELECT user_id, event_id, file_id, string_agg(data, '' ORDER BY seq) FROM attachment_files GROUP BY 1, 2, 3", &[])
        .unwrap()
    {
        let (u, e, f): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        let dir = source_dir.path().join(&u).join(&e);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(f), row.get::<_, Vec<u8>>(3)).unwrap();
    }
    source_db
        .client()
        .batch_execute("DELETE FROM attachment_files")
        .unwrap();
    let store = Arc::new(DirStore {
        root: source_dir.path().to_path_buf(),
    });
    let source = PgEngine::connect(source_db.conn_str(), Some(store)).unwrap();
    assert!(source.describe().contains("with attachments in directory"));
    let users = export_all(&source);
    assert_eq!(users[0].1.attachments["cuser0alice01-f1"].1, big_file());

    let target_db = testbed::pg_database();
    let target_dir = testbed::data_dir();
    let target_store = Arc::new(DirStore {
        root: target_dir.path().to_path_buf(),
    });
    let target = PgEngine::connect(target_db.conn_str(), Some(target_store)).unwrap();
    let (alice, data) = &users[0];

    // A failing import leaves neither rows nor files.
    let failing = FailingSource::new(data, 600);
    assert!(target
        .import_user(alice, &failing, &ImportOptions::default())
        .is_err());
    assert!(!target_dir.path().join(&alice.user_id).exists());

    for (user, data) in &users {
        target
            .import_user(user, data, &ImportOptions::default())
            .unwrap();
    }
    let without_staging = |root: &Path| {
        files_under(root)
            .into_iter()
            .filter(|(p, _)| !p.starts_with(".staging"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        without_staging(source_dir.path()),
        without_staging(target_dir.path())
    );
    // Every table but the platform's (not restored here) is identical.
    assert_same(
        &without(dump(&mut source_db.connect()), &["platform_kv"]),
        &without(dump(&mut target_db.connect()), &["platform_kv"]),
    );
}
