//! The data key of a backup and its cleartext envelope (encryption.json): either derived
//! from a passphrase with scrypt ("symmetric") or random and wrapped with RSA-OAEP-SHA256
//! ("hybrid").

use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, RsaPrivateKey, RsaPublicKey};
use serde_json::{json, Value};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::format::{DataKey, CHUNK, KEY_LEN, SALT_LEN};
use super::CryptoError;

const ALG: &str = "AES-256-GCM-CHUNKED";
const WRAP: &str = "RSA-OAEP-SHA256";
/// scrypt cost the reference uses: N = 2^14, r = 8, p = 1.
const SCRYPT_LOG_N: u8 = 14;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;
/// Node's scrypt refuses parameters needing more than 32 MiB by default, so the reference
/// cannot open such backups either; refusing them bounds our memory and time too.
const SCRYPT_MAX_MEM: u64 = 32 * 1024 * 1024;
const MIN_RSA_BITS: usize = 2048;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn scrypt_key(
    passphrase: &str,
    salt: &[u8],
    log_n: u8,
    r: u32,
    p: u32,
) -> Result<DataKey, CryptoError> {
    let params = scrypt::Params::new(log_n, r, p, KEY_LEN)
        .map_err(|e| CryptoError::Envelope(format!("invalid scrypt parameters ({e})")))?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    scrypt::scrypt(passphrase.as_bytes(), salt, &params, key.as_mut())
        .map_err(|e| CryptoError::Envelope(format!("scrypt failed ({e})")))?;
    Ok(key)
}

/// A new passphrase-derived data key and its envelope.
pub(crate) fn new_symmetric(passphrase: &str) -> Result<(DataKey, Value), CryptoError> {
    if passphrase.is_empty() {
        return Err(CryptoError::Key("the passphrase is empty".into()));
    }
    let mut salt = [0u8; SALT_LEN];
    OsRng.fill_bytes(&mut salt);
    let key = scrypt_key(passphrase, &salt, SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P)?;
    let envelope = json!({
        "v": 1, "alg": ALG, "chunk": CHUNK, "mode": "symmetric", "kdf": "scrypt",
        "salt": b64().encode(salt), "N": 1u32 << SCRYPT_LOG_N, "r": SCRYPT_R, "p": SCRYPT_P,
    });
    Ok((key, envelope))
}

/// Names a recipient key without revealing anything more than the public key does:
/// `sha256:` and the hex SHA-256 of its PKCS#1 DER encoding.
fn key_id(public: &RsaPublicKey) -> Result<String, CryptoError> {
    use sha2::Digest;
    let der = public
        .to_pkcs1_der()
        .map_err(|e| CryptoError::Key(format!("cannot encode the RSA public key ({e})")))?;
    Ok(format!(
        "sha256:{}",
        hex::encode(Sha256::digest(der.as_bytes()))
    ))
}

/// The [`key_id`] of a PEM public key.
pub(crate) fn public_key_id(public_key_pem: &str) -> Result<String, CryptoError> {
    key_id(&parse_public_key(public_key_pem)?)
}

/// A new random data key wrapped for the holder of the private key matching `public_key_pem`.
pub(crate) fn new_hybrid(public_key_pem: &str) -> Result<(DataKey, Value), CryptoError> {
    let public = parse_public_key(public_key_pem)?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    OsRng.fill_bytes(key.as_mut());
    let wrapped = public
        .encrypt(&mut OsRng, Oaep::new::<Sha256>(), key.as_ref())
        .map_err(|e| {
            CryptoError::Key(format!(
                "cannot wrap the data key with the public key ({e})"
            ))
        })?;
    let envelope = json!({
        "v": 1, "alg": ALG, "chunk": CHUNK, "mode": "hybrid", "wrap": WRAP,
        "wrappedKey": b64().encode(wrapped),
    });
    Ok((key, envelope))
}

/// Checks the fields common to both key models and returns the mode.
fn envelope_mode(envelope: &Value) -> Result<&str, CryptoError> {
    if !envelope.is_object() {
        return Err(CryptoError::Envelope("not a JSON object".into()));
    }
    if envelope.get("v").and_then(Value::as_u64) != Some(1) {
        return Err(CryptoError::Envelope(format!(
            "unsupported version v={} (this tool reads v=1)",
            envelope["v"]
        )));
    }
    if let Some(alg) = envelope.get("alg") {
        if alg.as_str() != Some(ALG) {
            return Err(CryptoError::Envelope(format!(
                "unsupported alg {alg} (expected {ALG})"
            )));
        }
    }
    envelope.get("mode").and_then(Value::as_str).ok_or_else(|| {
        CryptoError::Envelope("no \"mode\" (expected \"symmetric\" or \"hybrid\")".into())
    })
}

fn u32_field(envelope: &Value, name: &str) -> Result<u32, CryptoError> {
    envelope
        .get(name)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            CryptoError::Envelope(format!("\"{name}\" is missing or not a valid integer"))
        })
}

fn base64_field(envelope: &Value, name: &str) -> Result<Vec<u8>, CryptoError> {
    envelope
        .get(name)
        .and_then(Value::as_str)
        .and_then(|s| b64().decode(s).ok())
        .ok_or_else(|| CryptoError::Envelope(format!("\"{name}\" is missing or not valid base64")))
}

/// The data key of an existing passphrase-encrypted backup. A wrong passphrase cannot be
/// told apart here: it shows as an authentication failure on the first frame of a file.
pub(crate) fn open_symmetric(envelope: &Value, passphrase: &str) -> Result<DataKey, CryptoError> {
    match envelope_mode(envelope)? {
        "symmetric" => {}
        "hybrid" => return Err(CryptoError::WrongKeyModel(
            "this backup is encrypted for an RSA key pair (hybrid mode): give the private key, \
                 not a passphrase"
                .into(),
        )),
        other => return Err(CryptoError::Envelope(format!("unknown mode \"{other}\""))),
    }
    if let Some(kdf) = envelope.get("kdf") {
        if kdf.as_str() != Some("scrypt") {
            return Err(CryptoError::Envelope(format!(
                "unsupported kdf {kdf} (expected \"scrypt\")"
            )));
        }
    }
    let salt = base64_field(envelope, "salt")?;
    let n = u32_field(envelope, "N")?;
    let r = u32_field(envelope, "r")?;
    let p = u32_field(envelope, "p")?;
    if n < 2 || !n.is_power_of_two() || r == 0 || p == 0 {
        return Err(CryptoError::Envelope(format!(
            "invalid scrypt parameters N={n} r={r} p={p} (N must be a power of two, r and p positive)"
        )));
    }
    let memory = (u64::from(n) + u64::from(p) + 2).saturating_mul(128 * u64::from(r));
    if memory > SCRYPT_MAX_MEM {
        return Err(CryptoError::Envelope(format!(
            "scrypt parameters N={n} r={r} p={p} need more memory than the reference allows (32 MiB)"
        )));
    }
    scrypt_key(passphrase, &salt, n.trailing_zeros() as u8, r, p)
}

/// The data key of an existing hybrid backup, unwrapped with the recipient's private key,
/// and the [`key_id`] of that recipient.
pub(crate) fn open_hybrid(
    envelope: &Value,
    private_key_pem: &str,
    key_passphrase: Option<&str>,
) -> Result<(DataKey, String), CryptoError> {
    match envelope_mode(envelope)? {
        "hybrid" => {}
        "symmetric" => return Err(CryptoError::WrongKeyModel(
            "this backup is encrypted with a passphrase (symmetric mode): give the passphrase, \
                 not a private key"
                .into(),
        )),
        other => return Err(CryptoError::Envelope(format!("unknown mode \"{other}\""))),
    }
    if let Some(wrap) = envelope.get("wrap") {
        if wrap.as_str() != Some(WRAP) {
            return Err(CryptoError::Envelope(format!(
                "unsupported wrap {wrap} (expected \"{WRAP}\")"
            )));
        }
    }
    let wrapped = base64_field(envelope, "wrappedKey")?;
    let private = parse_private_key(private_key_pem, key_passphrase)?;
    let recipient = key_id(&private.to_public_key())?;
    if wrapped.len() != private.size() {
        return Err(CryptoError::WrongPrivateKey);
    }
    let key = Zeroizing::new(
        private
            .decrypt(Oaep::new::<Sha256>(), &wrapped)
            .map_err(|_| CryptoError::WrongPrivateKey)?,
    );
    let key: [u8; KEY_LEN] = key.as_slice().try_into().map_err(|_| {
        CryptoError::Envelope(format!(
            "the wrapped data key is {} bytes, expected {KEY_LEN}",
            key.len()
        ))
    })?;
    Ok((Zeroizing::new(key), recipient))
}

/// The PEM block labelled `label` in `text`, without surrounding text (OpenSSL may write
/// "Bag Attributes" lines before a key).
fn pem_block<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)?;
    let stop = start + text[start..].find(&end)? + end.len();
    Some(&text[start..stop])
}

fn parse_public_key(pem: &str) -> Result<RsaPublicKey, CryptoError> {
    let key = if let Some(block) = pem_block(pem, "PUBLIC KEY") {
        RsaPublicKey::from_public_key_pem(block).map_err(|e| match other_algorithm(block) {
            Some(algorithm) => not_rsa("public", &algorithm),
            None => CryptoError::Key(format!("cannot read the RSA public key (SPKI PEM): {e}")),
        })?
    } else if let Some(block) = pem_block(pem, "RSA PUBLIC KEY") {
        RsaPublicKey::from_pkcs1_pem(block).map_err(|e| {
            CryptoError::Key(format!("cannot read the RSA public key (PKCS#1 PEM): {e}"))
        })?
    } else if pem.contains("PRIVATE KEY-----") {
        return Err(CryptoError::Key(
            "expected the recipient's RSA PUBLIC key, got a private key: the backup host must not \
             hold the private key (extract the public key with `openssl pkey -pubout`)"
                .into(),
        ));
    } else {
        return Err(CryptoError::Key(
            "not an RSA public key in PEM form (expected \"-----BEGIN PUBLIC KEY-----\")".into(),
        ));
    };
    if key.size() * 8 < MIN_RSA_BITS {
        return Err(CryptoError::Key(format!(
            "the RSA public key has {} bits; at least {MIN_RSA_BITS} are required",
            key.size() * 8
        )));
    }
    Ok(key)
}

fn parse_private_key(pem: &str, passphrase: Option<&str>) -> Result<RsaPrivateKey, CryptoError> {
    if let Some(block) = pem_block(pem, "ENCRYPTED PRIVATE KEY") {
        let passphrase = passphrase.ok_or_else(|| {
            CryptoError::Key("the private key is encrypted: its passphrase is required".into())
        })?;
        RsaPrivateKey::from_pkcs8_encrypted_pem(block, passphrase.as_bytes()).map_err(|e| {
            CryptoError::Key(format!(
                "cannot decrypt the private key: wrong key passphrase or unsupported key encryption ({e})"
            ))
        })
    } else if let Some(block) = pem_block(pem, "PRIVATE KEY") {
        RsaPrivateKey::from_pkcs8_pem(block).map_err(|e| match other_algorithm(block) {
            Some(algorithm) => not_rsa("private", &algorithm),
            None => CryptoError::Key(format!("cannot read the RSA private key (PKCS#8 PEM): {e}")),
        })
    } else if let Some(block) = pem_block(pem, "RSA PRIVATE KEY") {
        if block.contains("Proc-Type: 4,ENCRYPTED") {
            return Err(CryptoError::Key(
                "legacy-encrypted PKCS#1 private keys are not supported: convert it with \
                 `openssl pkcs8 -topk8 -v2 aes-256-cbc -in old.pem -out new.pem`"
                    .into(),
            ));
        }
        RsaPrivateKey::from_pkcs1_pem(block).map_err(|e| {
            CryptoError::Key(format!("cannot read the RSA private key (PKCS#1 PEM): {e}"))
        })
    } else if pem_block(pem, "EC PRIVATE KEY").is_some() {
        Err(not_rsa("private", "EC (elliptic curve)"))
    } else {
        Err(CryptoError::Key(
            "not an RSA private key in PEM form (expected \"-----BEGIN PRIVATE KEY-----\", \
             \"-----BEGIN ENCRYPTED PRIVATE KEY-----\" or \"-----BEGIN RSA PRIVATE KEY-----\")"
                .into(),
        ))
    }
}

/// The algorithm of a PKCS#8 or SPKI key in PEM form when it is not RSA. The RSA decoder's
/// own error then shows RSA's identifier as if it were the key's.
fn other_algorithm(block: &str) -> Option<String> {
    use rsa::pkcs8::der::Decode;
    // The private key's bytes are wiped when dropped.
    let (_, der) = rsa::pkcs8::SecretDocument::from_pem(block).ok()?;
    let oid = match rsa::pkcs8::PrivateKeyInfo::from_der(der.as_bytes()) {
        Ok(info) => info.algorithm.oid,
        Err(_) => {
            rsa::pkcs8::SubjectPublicKeyInfoRef::from_der(der.as_bytes())
                .ok()?
                .algorithm
                .oid
        }
    };
    if oid == rsa::pkcs1::ALGORITHM_OID {
        return None;
    }
    let name = match oid.to_string().as_str() {
        "1.2.840.10045.2.1" => "EC (elliptic curve)",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        "1.3.101.110" => "X25519",
        "1.2.840.10040.4.1" => "DSA",
        "1.2.840.113549.1.1.10" => "RSA-PSS",
        _ => return Some(format!("OID {oid}")),
    };
    Some(format!("{name}, OID {oid}"))
}

fn not_rsa(which: &str, algorithm: &str) -> CryptoError {
    CryptoError::Key(format!(
        "this {which} key is not an RSA key (its algorithm: {algorithm}): encrypted backups use RSA keys \
         (create a pair with `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out \
         backup.key.pem` and `openssl pkey -in backup.key.pem -pubout -out backup.pub.pem`)"
    ))
}
