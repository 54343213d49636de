//! Streaming encryption of one file: the header first, then one frame per 64 KiB of
//! plaintext; the last, shorter frame is written by `finish`. An empty input is the header
//! alone, as in the reference.

use std::io::{self, Write};

use aes_gcm::aead::AeadInPlace;
use aes_gcm::Aes256Gcm;
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroize;

use super::format::{encode_header, file_cipher, frame_nonce, DataKey, CHUNK, SALT_LEN, TAG_LEN};
use crate::archive::SealedWrite;

/// Bytes before the plaintext in `frame`: the payload length prefix.
const PREFIX: usize = 4;

pub(crate) struct SealWriter<'a> {
    out: Box<dyn Write + Send + 'a>,
    cipher: Aes256Gcm,
    /// Length prefix then up to CHUNK plaintext bytes (encrypted in place when full).
    frame: Vec<u8>,
    index: u64,
    /// Set when writing to `out` failed: the file is broken, nothing more may be written.
    broken: bool,
}

impl<'a> SealWriter<'a> {
    pub(crate) fn new(mut out: Box<dyn Write + Send + 'a>, data_key: &DataKey) -> io::Result<Self> {
        let mut salt = [0u8; SALT_LEN];
        OsRng.fill_bytes(&mut salt);
        out.write_all(&encode_header(&salt, CHUNK))?;
        let mut frame = Vec::with_capacity(PREFIX + CHUNK + TAG_LEN);
        frame.extend_from_slice(&[0; PREFIX]);
        Ok(SealWriter {
            out,
            cipher: file_cipher(data_key, &salt),
            frame,
            index: 0,
            broken: false,
        })
    }

    fn check_usable(&self) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other(
                "an earlier write of this encrypted file failed",
            ));
        }
        Ok(())
    }

    /// Encrypts the buffered plaintext as the next frame and writes it out.
    fn emit_frame(&mut self) -> io::Result<()> {
        let plain_len = self.frame.len() - PREFIX;
        let nonce = frame_nonce(self.index);
        let tag = self
            .cipher
            .encrypt_in_place_detached((&nonce).into(), b"", &mut self.frame[PREFIX..])
            .map_err(|_| io::Error::other("AES-GCM encryption failed"))?;
        self.frame.extend_from_slice(&tag);
        let payload_len = (plain_len + TAG_LEN) as u32;
        self.frame[..PREFIX].copy_from_slice(&payload_len.to_be_bytes());
        self.broken = true;
        self.out.write_all(&self.frame)?;
        self.broken = false;
        self.frame.truncate(PREFIX);
        self.index += 1;
        Ok(())
    }
}

impl Write for SealWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.check_usable()?;
        let room = PREFIX + CHUNK - self.frame.len();
        let taken = room.min(buf.len());
        self.frame.extend_from_slice(&buf[..taken]);
        if self.frame.len() == PREFIX + CHUNK {
            self.emit_frame()?;
        }
        Ok(taken)
    }

    /// Flushes what is already framed; a partial frame stays buffered until `finish`
    /// (emitting it now would make a short frame in the middle of the file).
    fn flush(&mut self) -> io::Result<()> {
        self.check_usable()?;
        self.out.flush()
    }
}

impl SealedWrite for SealWriter<'_> {
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.check_usable()?;
        if self.frame.len() > PREFIX {
            self.emit_frame()?;
        }
        self.out.flush()
    }
}

impl Drop for SealWriter<'_> {
    fn drop(&mut self) {
        // The buffer may still hold plaintext (unfinished file).
        self.frame.zeroize();
    }
}
