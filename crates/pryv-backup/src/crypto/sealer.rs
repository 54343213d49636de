//! [`Pryvbke1`]: the backup-wide key material, sealing and opening every file of a backup.

use std::fmt;
use std::io::{self, Read, Write};

use serde_json::Value;

use super::format::DataKey;
use super::keys;
use super::reader::OpenReader;
use super::writer::SealWriter;
use super::CryptoError;
use crate::archive::{FileSealer, SealedWrite};

/// The PRYVBKE1 cipher of one backup: its data key (zeroized on drop) and the envelope to
/// write as `encryption.json`.
pub struct Pryvbke1 {
    data_key: DataKey,
    envelope: Value,
    /// The recipient's key id (hybrid mode), see [`FileSealer::key_id`].
    recipient: Option<String>,
}

impl Pryvbke1 {
    /// For a new backup: a data key derived with scrypt from `passphrase` and a random salt.
    pub fn with_passphrase(passphrase: &str) -> Result<Self, CryptoError> {
        let (data_key, envelope) = keys::new_symmetric(passphrase)?;
        Ok(Pryvbke1 {
            data_key,
            envelope,
            recipient: None,
        })
    }

    /// For a new backup: a random data key that only the holder of the private key matching
    /// `public_key_pem` (SPKI or PKCS#1 PEM, RSA >= 2048 bits) can unwrap.
    pub fn for_recipient(public_key_pem: &str) -> Result<Self, CryptoError> {
        let (data_key, envelope) = keys::new_hybrid(public_key_pem)?;
        Ok(Pryvbke1 {
            data_key,
            envelope,
            recipient: Some(keys::public_key_id(public_key_pem)?),
        })
    }

    /// For an existing passphrase-encrypted backup, from its `encryption.json`. A wrong
    /// passphrase is only detected when the first file is opened.
    pub fn open_with_passphrase(envelope: &Value, passphrase: &str) -> Result<Self, CryptoError> {
        let data_key = keys::open_symmetric(envelope, passphrase)?;
        Ok(Pryvbke1 {
            data_key,
            envelope: envelope.clone(),
            recipient: None,
        })
    }

    /// For an existing hybrid backup, from its `encryption.json` and the recipient's private
    /// key (PKCS#8, encrypted with `key_passphrase` or not, or PKCS#1 PEM). A wrong key is
    /// detected here.
    pub fn open_with_private_key(
        envelope: &Value,
        private_key_pem: &str,
        key_passphrase: Option<&str>,
    ) -> Result<Self, CryptoError> {
        let (data_key, recipient) = keys::open_hybrid(envelope, private_key_pem, key_passphrase)?;
        Ok(Pryvbke1 {
            data_key,
            envelope: envelope.clone(),
            recipient: Some(recipient),
        })
    }
}

impl fmt::Debug for Pryvbke1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pryvbke1")
            .field("mode", &self.envelope.get("mode"))
            .finish_non_exhaustive()
    }
}

impl FileSealer for Pryvbke1 {
    fn envelope(&self) -> Value {
        self.envelope.clone()
    }

    fn key_id(&self) -> Option<String> {
        self.recipient.clone()
    }

    fn seal<'a>(&self, out: Box<dyn Write + Send + 'a>) -> io::Result<Box<dyn SealedWrite + 'a>> {
        Ok(Box::new(SealWriter::new(out, &self.data_key)?))
    }

    fn open<'a>(&self, input: Box<dyn Read + Send + 'a>) -> io::Result<Box<dyn Read + Send + 'a>> {
        Ok(Box::new(OpenReader::new(input, &self.data_key)?))
    }
}
