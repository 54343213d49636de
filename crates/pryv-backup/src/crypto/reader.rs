//! Streaming decryption of one file, frame by frame: at most one frame in memory.

use std::io::{self, Read};

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, Tag};
use zeroize::Zeroize;

use super::format::{
    file_cipher, frame_nonce, parse_header, DataKey, MAGIC, MAX_HEADER_LEN, TAG_LEN,
};

pub(crate) struct OpenReader<'a> {
    input: Box<dyn Read + Send + 'a>,
    cipher: Aes256Gcm,
    /// Largest valid payload (ciphertext + tag) of a frame, from the header's chunk size.
    max_payload: usize,
    /// The current frame's plaintext and how much of it was already returned.
    plain: Vec<u8>,
    pos: usize,
    index: u64,
    /// The error that stopped reading: repeated on every later read, never turned into EOF.
    failed: Option<(io::ErrorKind, String)>,
    done: bool,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Reads as many bytes as possible into `buf`, stopping early only at end of input.
fn read_full(input: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

impl<'a> OpenReader<'a> {
    /// Reads and checks the magic and header; fails on anything that is not PRYVBKE1.
    pub(crate) fn new(
        mut input: Box<dyn Read + Send + 'a>,
        data_key: &DataKey,
    ) -> io::Result<Self> {
        let mut start = [0u8; 12];
        let got = read_full(&mut input, &mut start)?;
        if got < MAGIC.len() || &start[..MAGIC.len()] != MAGIC {
            return Err(invalid(
                "not a PRYVBKE1 encrypted file (bad magic): the file is not encrypted, is damaged, \
                 or is not part of an encrypted backup"
                    .into(),
            ));
        }
        if got < start.len() {
            return Err(invalid(
                "truncated PRYVBKE1 file: it ends inside the header".into(),
            ));
        }
        let header_len = u32::from_be_bytes([start[8], start[9], start[10], start[11]]) as usize;
        if header_len > MAX_HEADER_LEN {
            return Err(invalid(format!(
                "corrupted PRYVBKE1 file: header length {header_len} is implausible"
            )));
        }
        let mut header = vec![0u8; header_len];
        if read_full(&mut input, &mut header)? < header_len {
            return Err(invalid(
                "truncated PRYVBKE1 file: it ends inside the header".into(),
            ));
        }
        let header =
            parse_header(&header).map_err(|e| invalid(format!("corrupted PRYVBKE1 file: {e}")))?;
        Ok(OpenReader {
            input,
            cipher: file_cipher(data_key, &header.salt),
            max_payload: header.chunk + TAG_LEN,
            plain: Vec::new(),
            pos: 0,
            index: 0,
            failed: None,
            done: false,
        })
    }

    /// Reads and authenticates the next frame into `plain`; false at a clean end of file.
    fn next_frame(&mut self) -> io::Result<bool> {
        let mut len = [0u8; 4];
        let got = read_full(&mut self.input, &mut len)?;
        if got == 0 {
            return Ok(false);
        }
        let frame = self.index;
        if got < len.len() {
            return Err(invalid(format!(
                "truncated file: it ends inside the length of frame {frame}"
            )));
        }
        let payload_len = u32::from_be_bytes(len) as usize;
        if !(TAG_LEN..=self.max_payload).contains(&payload_len) {
            return Err(invalid(format!(
                "corrupted file: frame {frame} claims {payload_len} bytes (valid: {TAG_LEN} to {})",
                self.max_payload
            )));
        }
        self.plain.zeroize();
        self.plain.resize(payload_len, 0);
        self.pos = 0;
        let got = read_full(&mut self.input, &mut self.plain)?;
        if got < payload_len {
            return Err(invalid(format!(
                "truncated file: it ends in the middle of frame {frame} ({got} of {payload_len} bytes)"
            )));
        }
        let tag_at = payload_len - TAG_LEN;
        let tag = Tag::clone_from_slice(&self.plain[tag_at..]);
        self.plain.truncate(tag_at);
        let nonce = frame_nonce(frame);
        if self
            .cipher
            .decrypt_in_place_detached((&nonce).into(), b"", &mut self.plain, &tag)
            .is_err()
        {
            self.plain.zeroize();
            return Err(invalid(if frame == 0 {
                "authentication failed on the first frame: wrong passphrase or private key, \
                 a file from another backup, or a corrupted file"
                    .to_string()
            } else {
                format!(
                    "authentication failed on frame {frame}: the file is corrupted, tampered with, \
                     or its frames were reordered"
                )
            }));
        }
        self.index += 1;
        Ok(true)
    }
}

impl Read for OpenReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some((kind, message)) = &self.failed {
            return Err(io::Error::new(*kind, message.clone()));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        // Loop because a (never written, but valid) frame may hold no plaintext.
        while self.pos == self.plain.len() {
            if self.done {
                return Ok(0);
            }
            match self.next_frame() {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return Ok(0);
                }
                Err(e) => {
                    self.failed = Some((e.kind(), e.to_string()));
                    return Err(e);
                }
            }
        }
        let n = buf.len().min(self.plain.len() - self.pos);
        buf[..n].copy_from_slice(&self.plain[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for OpenReader<'_> {
    fn drop(&mut self) {
        self.plain.zeroize();
    }
}
