//! The hook through which the archive applies a per-file outermost layer (encryption).
//! The archive does not know how files are sealed; the crypto module, above it, implements this.

use std::io::{self, Read, Write};

/// A writer whose end must be marked: [`SealedWrite::finish`] writes what remains (last
/// frame, tag) and flushes. Dropping without finishing leaves an incomplete file.
pub trait SealedWrite: Write + Send {
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// Seals every file of a backup (after gzip) and opens them again.
pub trait FileSealer: Send + Sync {
    /// The cleartext `encryption.json` written at the backup root (key model, wrapped key or
    /// KDF parameters; never user data).
    fn envelope(&self) -> serde_json::Value;

    /// Names the key a reader needs, when that can be said in the clear (the recipient's
    /// public key in hybrid mode); `None` for a passphrase.
    fn key_id(&self) -> Option<String> {
        None
    }

    /// Wraps a destination so that only sealed bytes reach it.
    fn seal<'a>(&self, out: Box<dyn Write + Send + 'a>) -> io::Result<Box<dyn SealedWrite + 'a>>;

    /// Wraps a sealed source so that reads yield the plaintext; authentication failures are
    /// `io::ErrorKind::InvalidData` errors.
    fn open<'a>(&self, input: Box<dyn Read + Send + 'a>) -> io::Result<Box<dyn Read + Send + 'a>>;
}
