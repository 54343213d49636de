//! The bytes of one PRYVBKE1 file: `PRYVBKE1` | header length (u32 BE) | JSON header
//! `{"v":1,"salt":<base64>,"chunk":<n>}` | frames of `payload length (u32 BE) | ciphertext | tag`.

use aes_gcm::{Aes256Gcm, KeyInit};
use base64::Engine as _;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

pub(crate) const MAGIC: &[u8; 8] = b"PRYVBKE1";
/// Plaintext bytes per frame, as the reference writes them.
pub(crate) const CHUNK: usize = 64 * 1024;
pub(crate) const TAG_LEN: usize = 16;
pub(crate) const KEY_LEN: usize = 32;
pub(crate) const SALT_LEN: usize = 16;
const HKDF_INFO: &[u8] = b"pryv-backup-file-v1";
/// The reference's header is ~55 bytes; anything much larger is not a PRYVBKE1 header.
pub(crate) const MAX_HEADER_LEN: usize = 4096;
/// Upper bound on a header's `chunk`, so a corrupted header cannot make us allocate GBs.
pub(crate) const MAX_CHUNK: usize = 64 * 1024 * 1024;

pub(crate) type DataKey = Zeroizing<[u8; KEY_LEN]>;

/// The 12-byte nonce of frame `index`: 4 zero bytes then the index as u64 big-endian.
/// Reusing a nonce is safe from harm only because every file has its own key.
pub(crate) fn frame_nonce(index: u64) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&index.to_be_bytes());
    nonce
}

/// The per-file AES-256-GCM key: HKDF-SHA256 of the data key with the file's salt.
pub(crate) fn file_cipher(data_key: &DataKey, salt: &[u8]) -> Aes256Gcm {
    let mut file_key = Zeroizing::new([0u8; KEY_LEN]);
    // 32 bytes is far below HKDF-SHA256's 8160-byte limit: expand cannot fail.
    let _ = Hkdf::<Sha256>::new(Some(salt), data_key.as_ref()).expand(HKDF_INFO, file_key.as_mut());
    Aes256Gcm::new(file_key.as_ref().into())
}

/// Magic, header length and header, exactly as the reference writes them.
pub(crate) fn encode_header(salt: &[u8; SALT_LEN], chunk: usize) -> Vec<u8> {
    let salt = base64::engine::general_purpose::STANDARD.encode(salt);
    let json = format!(r#"{{"v":1,"salt":"{salt}","chunk":{chunk}}}"#);
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + json.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(json.len() as u32).to_be_bytes());
    out.extend_from_slice(json.as_bytes());
    out
}

pub(crate) struct FileHeader {
    pub salt: Vec<u8>,
    pub chunk: usize,
}

/// Parses the JSON header of a file (the bytes after the header length).
pub(crate) fn parse_header(json: &[u8]) -> Result<FileHeader, String> {
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| format!("file header is not valid JSON ({e})"))?;
    match value.get("v").and_then(|v| v.as_u64()) {
        Some(1) => {}
        _ => return Err(format!("unsupported file header version: {}", value["v"])),
    }
    let salt = value
        .get("salt")
        .and_then(|s| s.as_str())
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .filter(|s| !s.is_empty())
        .ok_or("file header has no valid base64 salt")?;
    let chunk = value
        .get("chunk")
        .and_then(|c| c.as_u64())
        .filter(|&c| c >= 1 && c <= MAX_CHUNK as u64)
        .ok_or_else(|| format!("file header has an invalid chunk size: {}", value["chunk"]))?;
    Ok(FileHeader {
        salt,
        chunk: chunk as usize,
    })
}
