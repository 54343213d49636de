//! Hashed PII mode (`platform:piiMode: hashed`): the tokens the core stores in place of
//! usernames and unique values. Backups carry rows as stored; this is for checking and for
//! building test data, never applied to rows on their way through.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Fields compared without case by the core.
const CASE_INSENSITIVE_FIELDS: [&str; 1] = ["email"];

/// `hex(HMAC-SHA-256(pepper, field ‖ 0x00 ‖ normalized value))`, the value trimmed (as
/// JavaScript's `trim` does) and lower-cased for case-insensitive fields.
/// Fails only if the HMAC implementation refuses the key (it takes any length).
pub fn pii_token(pepper: &[u8], field: &str, value: &str) -> Result<String, String> {
    let trimmed = value.trim_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
    let normalized = if CASE_INSENSITIVE_FIELDS.contains(&field) {
        trimmed.to_lowercase()
    } else {
        trimmed.to_string()
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(pepper).map_err(|e| format!("PII pepper: {e}"))?;
    mac.update(field.as_bytes());
    mac.update(&[0]);
    mac.update(normalized.as_bytes());
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// Whether a stored name or value looks like a token (64 lowercase hex digits).
pub fn looks_like_token(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_normalize_like_the_core() {
        let pepper = [7u8; 32];
        let pii_token = |f: &str, v: &str| super::pii_token(&pepper, f, v).unwrap();
        let t = pii_token("email", " Alice@Example.COM\n");
        assert_eq!(t, pii_token("email", "alice@example.com"));
        assert_ne!(t, pii_token("username", "alice@example.com"));
        assert_ne!(
            pii_token("username", "Alice"),
            pii_token("username", "alice")
        );
        assert!(looks_like_token(&t));
        assert!(!looks_like_token("alice"));
    }
}
