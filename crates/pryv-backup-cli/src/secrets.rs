//! Secrets come from files or the environment, never from the command line.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use pryv_backup::archive::FileSealer;
use pryv_backup::crypto::Pryvbke1;
use zeroize::Zeroizing;

use crate::flags::DecryptArgs;

pub const PASSPHRASE_ENV: &str = "PRYV_BACKUP_PASSPHRASE";
pub const KEY_PASSPHRASE_ENV: &str = "PRYV_BACKUP_PRIVATE_KEY_PASSPHRASE";

/// A secret from a file (its trailing newline dropped) or else from an environment variable.
pub fn read_secret(file: Option<&Path>, env: &str) -> Result<Option<Zeroizing<String>>> {
    if let Some(file) = file {
        let text = Zeroizing::new(
            std::fs::read_to_string(file)
                .with_context(|| format!("reading the secret file {}", file.display()))?,
        );
        let trimmed = text.trim_end_matches(['\n', '\r']);
        if trimmed.is_empty() {
            bail!("the secret file {} is empty", file.display());
        }
        return Ok(Some(Zeroizing::new(trimmed.to_string())));
    }
    Ok(std::env::var(env)
        .ok()
        .filter(|s| !s.is_empty())
        .map(Zeroizing::new))
}

pub fn refuse_inline(value: &Option<String>, flag: &str) -> Result<()> {
    if value.is_some() {
        bail!(
            "{flag} takes no secret on the command line (it would show in `ps` and shell history): \
             put it in a file and use {flag}-file, or set {PASSPHRASE_ENV}"
        );
    }
    Ok(())
}

/// The key to open an encrypted backup whose `encryption.json` is `envelope`.
pub fn opener(envelope: &serde_json::Value, args: &DecryptArgs) -> Result<Arc<dyn FileSealer>> {
    let mode = envelope
        .get("mode")
        .and_then(|m| m.as_str())
        .unwrap_or("unknown");
    let sealer = match mode {
        "hybrid" => {
            let Some(key_file) = &args.private_key else {
                bail!("this backup is encrypted for a recipient key (hybrid mode): give --private-key <PEM>");
            };
            let pem = Zeroizing::new(
                std::fs::read_to_string(key_file).with_context(|| format!("reading the private key {}", key_file.display()))?,
            );
            let key_pass = read_secret(args.private_key_passphrase_file.as_deref(), KEY_PASSPHRASE_ENV)?;
            Pryvbke1::open_with_private_key(envelope, &pem, key_pass.as_deref().map(String::as_str))?
        }
        "symmetric" => {
            let Some(pass) = read_secret(args.decrypt_passphrase_file.as_deref(), PASSPHRASE_ENV)? else {
                bail!("this backup is encrypted with a passphrase: give --decrypt-passphrase-file <FILE> or set {PASSPHRASE_ENV}");
            };
            Pryvbke1::open_with_passphrase(envelope, &pass)?
        }
        other => bail!("encryption.json has an unknown mode {other:?}: this tool knows 'symmetric' and 'hybrid'"),
    };
    Ok(Arc::new(sealer))
}
