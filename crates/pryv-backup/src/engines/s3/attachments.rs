//! Attachments as objects `<keyPrefix><userId>/<eventId>/<fileId>`, restored through a
//! staging prefix outside every user's prefix so that a failed restore leaves nothing behind.

use std::collections::BTreeSet;
use std::io::{self, Read};

use rand::Rng;

use crate::config;
use crate::engine::{AttachmentImport, AttachmentStore};
use crate::engines::filesystem::check_path_component;
use crate::s3::{Bucket, S3Settings};
use crate::{Error, Result};

/// Staged restores go to `<keyPrefix>.pryv-backup-staging/<userId>-<random>/<eventId>/<fileId>`:
/// outside every user's prefix (the core lists only `<keyPrefix><userId>/`), and named after
/// the user so that leftovers of a crash say whose they were.
const STAGING_DIR: &str = ".pryv-backup-staging";

/// The S3 file engine, configured by `storages:engines:s3`.
#[derive(Clone)]
pub struct S3Attachments {
    bucket: Bucket,
    key_prefix: String,
}

impl S3Attachments {
    /// Opens the bucket the core's settings name (credentials as the core uses them: both
    /// given, else the environment's).
    pub fn connect(settings: &config::S3Settings) -> Result<Self> {
        let bucket = Bucket::connect(&S3Settings {
            bucket: settings.bucket.clone(),
            region: Some(settings.region.clone()).filter(|r| !r.is_empty()),
            endpoint: settings
                .endpoint
                .as_ref()
                .map(|url| url.with_credentials().to_string()),
            access_key_id: settings.access_key_id.clone(),
            secret_access_key: settings.secret_access_key.clone(),
            path_style: settings.force_path_style,
        })?;
        Self::new(bucket, &settings.key_prefix)
    }

    /// `key_prefix` is prepended verbatim to every key, as the core does.
    pub fn new(bucket: Bucket, key_prefix: &str) -> Result<Self> {
        // Our S3 client normalises keys (drops a leading `/`, refuses empty segments): with
        // such a prefix we would not address the objects the core writes.
        if key_prefix.starts_with('/') || key_prefix.contains("//") {
            return Err(Error::Other(format!(
                "storages:engines:s3:keyPrefix {key_prefix:?} starts with '/' or holds '//': \
                 pryv-backup cannot address such keys"
            )));
        }
        Ok(S3Attachments {
            bucket,
            key_prefix: key_prefix.to_string(),
        })
    }

    /// `<keyPrefix><userId>`: the user's objects are the keys below it (`.../`).
    fn user_prefix(&self, user_id: &str) -> Result<String> {
        check_path_component("userId", user_id)?;
        Ok(format!("{}{user_id}", self.key_prefix))
    }
}

/// `<eventId>/<fileId>`, the part of a key below the user's (or the staging) prefix.
fn file_name(event_id: &str, file_id: &str) -> Result<String> {
    check_path_component("eventId", event_id)?;
    check_path_component("attachment fileId", file_id)?;
    Ok(format!("{event_id}/{file_id}"))
}

impl AttachmentStore for S3Attachments {
    fn describe(&self) -> String {
        format!("S3 attachments in {}", self.bucket.url(&self.key_prefix))
    }

    fn read(
        &self,
        user_id: &str,
        event_id: &str,
        file_id: &str,
    ) -> Result<Box<dyn Read + Send + '_>> {
        let key = format!(
            "{}/{}",
            self.user_prefix(user_id)?,
            file_name(event_id, file_id)?
        );
        match self.bucket.get(&key)? {
            Some(body) => Ok(body),
            // Reported like a missing file, which engines skip with a warning as the core does.
            None => Err(Error::Io {
                path: self.bucket.url(&key),
                source: io::Error::new(io::ErrorKind::NotFound, "no such object"),
            }),
        }
    }

    fn begin_user_import(
        &self,
        user_id: &str,
        overwrite: bool,
    ) -> Result<Box<dyn AttachmentImport + '_>> {
        let user_prefix = self.user_prefix(user_id)?;
        let staging = format!(
            "{}{STAGING_DIR}/{user_id}-{:016x}",
            self.key_prefix,
            rand::thread_rng().gen::<u64>()
        );
        Ok(Box::new(S3AttachmentImport {
            store: self,
            user_prefix,
            staging,
            overwrite,
            staged: BTreeSet::new(),
        }))
    }
}

/// A staged restore: what is still in `staged` is deleted when it is dropped.
struct S3AttachmentImport<'a> {
    store: &'a S3Attachments,
    user_prefix: String,
    staging: String,
    overwrite: bool,
    /// `<eventId>/<fileId>` of every object uploaded under `staging`.
    staged: BTreeSet<String>,
}

impl AttachmentImport for S3AttachmentImport<'_> {
    fn write(&mut self, event_id: &str, file_id: &str, data: &mut dyn Read) -> Result<()> {
        let name = file_name(event_id, file_id)?;
        if self.staged.contains(&name) {
            return Err(Error::Other(format!(
                "attachment {file_id} of event {event_id} appears twice in the backup"
            )));
        }
        let mut upload = self
            .store
            .bucket
            .create(&format!("{}/{name}", self.staging))?;
        io::copy(data, &mut upload).map_err(|source| Error::Io {
            path: upload.url(),
            source,
        })?;
        upload.finish()?;
        self.staged.insert(name);
        Ok(())
    }

    /// Checks for clashes, copies every staged object to its place (server side), then,
    /// with overwrite, deletes the user's objects that were not restored; the staged
    /// objects go when `self` is dropped. Copies come first because the base engine has
    /// already committed rows that name these files.
    fn commit(self: Box<Self>) -> Result<()> {
        if self.staged.is_empty() && !self.overwrite {
            return Ok(());
        }
        let bucket = &self.store.bucket;
        let below = format!("{}/", self.user_prefix);
        let (replaced, stale): (Vec<String>, Vec<String>) = bucket
            .list(&self.user_prefix)?
            .into_iter()
            .partition(|key| {
                key.strip_prefix(&below)
                    .is_some_and(|name| self.staged.contains(name))
            });
        if !self.overwrite {
            if let Some(first) = replaced.first() {
                return Err(Error::Other(format!(
                    "{} attachment(s) of the backup already exist, e.g. {}; restore with \
                     overwrite to replace the user's attachments",
                    replaced.len(),
                    bucket.url(first)
                )));
            }
        }
        for name in &self.staged {
            bucket.copy(
                &format!("{}/{name}", self.staging),
                &format!("{}/{name}", self.user_prefix),
            )?;
        }
        if self.overwrite {
            for key in &stale {
                bucket.delete(key)?;
            }
        }
        Ok(())
    }
}

impl Drop for S3AttachmentImport<'_> {
    fn drop(&mut self) {
        let bucket = &self.store.bucket;
        for (done, name) in self.staged.iter().enumerate() {
            if let Err(e) = bucket.delete(&format!("{}/{name}", self.staging)) {
                // Best effort: one warning, not one per object of a store that is down.
                tracing::warn!(
                    "could not delete {} staged attachment(s) under {}/ ({e}); they are \
                     not part of any user and can be removed by hand",
                    self.staged.len() - done,
                    bucket.url(&self.staging)
                );
                return;
            }
        }
    }
}
