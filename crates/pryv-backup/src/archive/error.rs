//! What can go wrong reading or writing a backup directory. Every message names the file
//! concerned and, when the operator can act, says what to do.

use std::io;
use std::path::Path;

use thiserror::Error;

use crate::model::InvalidItem;

#[derive(Debug, Error)]
pub enum ArchiveError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    /// The file exists but its content is not what format v1 says (bad gzip, bad JSON, ...).
    #[error("{path}: {message}")]
    Corrupt { path: String, message: String },
    /// A file the manifests list is not there.
    #[error("{path} is missing: the backup is damaged or was copied incompletely")]
    Missing { path: String },
    /// A name from the archive that could escape its directory.
    #[error("refusing unsafe {what} {name:?} (path separators, `..`, NUL and absolute paths are not allowed)")]
    UnsafeName { what: &'static str, name: String },
    /// The object store holding the backup failed or refused a request.
    #[error(transparent)]
    S3(#[from] crate::s3::S3Error),
    /// The local backup folder itself went away during the run (unmounted, removed): not
    /// damage of the files it held.
    #[error("the backup folder {path} is unreachable (it is gone: unmounted or removed during the run); the run stopped there: mount it back, then run again")]
    FolderGone { path: String },
    /// A link inside a backup: never followed (it could point at any file of the host).
    #[error("refusing {path}: it is a symbolic link, and links inside a backup are never followed (replace it with the file it points to)")]
    Link { path: String },
    /// An encrypted backup's manifest does not open with the secret given: the wrong
    /// passphrase or key (or a damaged manifest, which reads the same).
    #[error("cannot open {path} with the passphrase or key given: wrong passphrase or key? (or a damaged manifest: {reason})")]
    WrongSecret { path: String, reason: String },
    #[error("{0}")]
    Invalid(String),
    /// A signal asked the run to stop.
    #[error(transparent)]
    Interrupted(#[from] crate::interrupt::Interrupted),
}

/// Same messages as before the model had its own error: a corrupt file, or an invalid item.
impl From<InvalidItem> for ArchiveError {
    fn from(e: InvalidItem) -> Self {
        match e {
            InvalidItem::InFile { path, line, source } => ArchiveError::Corrupt {
                path,
                message: format!("line {line}: invalid JSON ({source})"),
            },
            InvalidItem::Text { source } => {
                ArchiveError::Invalid(format!("an item is not valid JSON ({source})"))
            }
        }
    }
}

impl ArchiveError {
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        if let Some(down) = crate::s3::S3Error::in_io(&source) {
            return ArchiveError::S3(down);
        }
        ArchiveError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// The store (or local folder) holding the backup cannot be reached: the whole run
    /// stops, no file of it is to be called damaged.
    pub fn is_unreachable(&self) -> bool {
        match self {
            ArchiveError::S3(e) => e.is_unreachable(),
            ArchiveError::FolderGone { .. } => true,
            _ => false,
        }
    }

    /// When the backup at `root` is a local folder whose manifest (read when it was opened)
    /// is no longer there: the folder is gone (unmounted, removed), and every file of it
    /// reads as missing, which is no damage of theirs.
    pub fn folder_gone(backend: &super::Backend, root: &Path) -> Option<Self> {
        let gone = backend.is_local() && !root.join(super::layout::MANIFEST).is_file();
        gone.then(|| ArchiveError::FolderGone {
            path: root.display().to_string(),
        })
    }

    pub(crate) fn link(path: &Path) -> Self {
        ArchiveError::Link {
            path: path.display().to_string(),
        }
    }

    pub(crate) fn corrupt(path: &Path, message: impl Into<String>) -> Self {
        ArchiveError::Corrupt {
            path: path.display().to_string(),
            message: message.into(),
        }
    }

    /// An error met while reading a file's content: gzip and decryption failures show as
    /// I/O errors of kinds that mean "bad content", which we report as corruption.
    pub(crate) fn reading(path: &Path, source: io::Error) -> Self {
        if let Some(down) = crate::s3::S3Error::in_io(&source) {
            return ArchiveError::S3(down);
        }
        match source.kind() {
            io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput => {
                ArchiveError::corrupt(path, format!("unreadable content ({source})"))
            }
            io::ErrorKind::UnexpectedEof => ArchiveError::corrupt(
                path,
                format!("truncated file ({source}); the backup was cut short or damaged"),
            ),
            _ => ArchiveError::io(path, source),
        }
    }
}
