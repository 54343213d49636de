//! PRYVBKE1: the per-file encryption of bin/backup.js backups (see docs/archive-format.md, "Encryption").
//!
//! - `format`: the bytes of one encrypted file (magic, header, frames, nonces).
//! - `keys`: the data key behind a backup (passphrase or RSA-wrapped) and its envelope.
//! - `writer` / `reader`: streaming seal and open, one 64 KiB frame in memory at most.
//! - `sealer`: [`Pryvbke1`], the [`crate::archive::FileSealer`] the archive uses.
//! - `tree`: [`decrypt_tree`], a plaintext mirror of a whole encrypted backup.

mod format;
mod keys;
mod reader;
mod sealer;
mod tree;
mod writer;

pub use sealer::Pryvbke1;
pub use tree::{decrypt_tree, read_envelope, DecryptReport, ENVELOPE_FILE};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CryptoError {
    /// encryption.json is missing a field, has a wrong value, or asks for unsupported crypto.
    #[error("invalid encryption.json: {0}")]
    Envelope(String),
    /// The secret given does not fit the backup's key model (passphrase vs private key).
    #[error("{0}")]
    WrongKeyModel(String),
    /// A PEM key could not be used; the message says why and what to do.
    #[error("{0}")]
    Key(String),
    /// The private key is readable but is not the one this backup was encrypted for.
    #[error(
        "the private key does not match this backup: the wrapped data key in encryption.json \
         cannot be unwrapped with it (use the private key matching the public key the backup \
         was made with)"
    )]
    WrongPrivateKey,
    /// One file of a backup could not be decrypted.
    #[error("cannot decrypt {path}: {reason}")]
    File { path: String, reason: String },
    /// A directory given to `decrypt_tree` is not acceptable (the message says why).
    #[error("{0}")]
    Directory(String),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A signal asked the run to stop.
    #[error(transparent)]
    Interrupted(#[from] crate::interrupt::Interrupted),
}

impl CryptoError {
    fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        CryptoError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}
