//! Secrets come from files or the environment, never from the command line.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use pryv_backup::archive::{ArchiveReader, Backend, FileSealer};
use pryv_backup::chain::{ChainIndex, EncryptionRecord};
use pryv_backup::crypto::Pryvbke1;
use zeroize::Zeroizing;

use crate::flags::DecryptArgs;

pub const PASSPHRASE_ENV: &str = "PRYV_BACKUP_PASSPHRASE";
pub const KEY_PASSPHRASE_ENV: &str = "PRYV_BACKUP_PRIVATE_KEY_PASSPHRASE";

/// A secret from a file (its trailing newline dropped) or else from an environment variable.
pub fn read_secret(file: Option<&Path>, env: &str) -> Result<Option<Zeroizing<String>>> {
    if let Some(file) = file {
        warn_if_readable_by_others(file);
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

/// A file holding a secret (passphrase, private key) that other users of the machine can
/// read: said on stderr, with the command that fixes it. Used all the same.
fn warn_if_readable_by_others(file: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(metadata) = std::fs::metadata(file) else {
        // Reading it will say what is wrong.
        return;
    };
    let mode = metadata.permissions().mode() & 0o777;
    let readers = match (mode & 0o040 != 0, mode & 0o004 != 0) {
        (true, true) => "group and others",
        (true, false) => "its group",
        (false, true) => "others",
        (false, false) => return,
    };
    eprintln!(
        "warning: {} holds a secret but can be read by {readers} (mode {mode:04o}): \
         run `chmod 600 {}`",
        file.display(),
        file.display()
    );
}

/// `--a:b:c=value` configuration overrides holding a secret are refused as the secret
/// flags are: the command line shows in `ps` and `/proc/<pid>/cmdline`. The value is never
/// repeated.
pub fn refuse_secret_overrides(overrides: &[(String, String)]) -> Result<()> {
    for (key, value) in overrides {
        if let Some(why) = pryv_backup::config::secret_setting(key, value) {
            bail!(
                "--{key}=... is refused: {why}, and the command line shows in `ps` and shell \
                 history. Put it in the configuration file (--config) or in the environment \
                 variable {}",
                pryv_backup::config::env_name_of(key)
            );
        }
    }
    Ok(())
}

/// The refusal of a secret flag given on the command line.
pub fn refuse_inline(flag: &str) -> Result<()> {
    bail!(
        "{flag} takes no secret on the command line (it would show in `ps` and shell history): \
         put it in a file and use {flag}-file, or set {PASSPHRASE_ENV}"
    )
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
            warn_if_readable_by_others(key_file);
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

/// Whether a passphrase or a private key was given to read a backup.
pub fn key_given(args: &DecryptArgs) -> bool {
    args.decrypt_passphrase_file.is_some()
        || args.private_key.is_some()
        || std::env::var(PASSPHRASE_ENV).is_ok_and(|p| !p.is_empty())
}

/// A clear backup read with a passphrase or key: said, as the operator may think it sealed.
pub fn warn_if_clear(index: &ChainIndex, args: &DecryptArgs) {
    let flags = args.decrypt_passphrase_file.is_some() || args.private_key.is_some();
    if flags && index.encryption() == EncryptionRecord::NONE {
        eprintln!(
            "warning: {} is not encrypted: the passphrase or key given is not used (anyone who \
             can read its files can read its data)",
            index.dir.display()
        );
    }
}

/// The sealer of a new increment of `index`: the chain's own mode and key. `fresh` is the
/// sealer the sealing flags ask for. A passphrase chain takes the one passphrase given
/// (either flag, or the environment), which must open its newest generation.
pub fn increment_sealer(
    backend: &Backend,
    index: &ChainIndex,
    fresh: Option<Arc<dyn FileSealer>>,
    encrypt_file: Option<&Path>,
    decrypt: &DecryptArgs,
) -> Result<Option<Arc<dyn FileSealer>>> {
    const NOT_SUPPORTED: &str = "passphrase rotation is not supported (one chain has one \
        passphrase): give the chain's passphrase, or start a new chain with a full backup into \
        a new folder";
    if index.encryption() != "symmetric" {
        return Ok(fresh);
    }
    let encrypt = read_secret(encrypt_file, PASSPHRASE_ENV)?;
    let given = read_secret(decrypt.decrypt_passphrase_file.as_deref(), PASSPHRASE_ENV)?;
    let pass = match (encrypt, given) {
        (Some(e), Some(d)) if *e != *d => {
            bail!("the encryption and decryption passphrases differ: {NOT_SUPPORTED}")
        }
        (Some(p), _) | (None, Some(p)) => p,
        (None, None) => return Ok(fresh),
    };
    let newest = index
        .generations
        .last()
        .context("a chain has at least its base")?;
    let envelope = ArchiveReader::envelope_in(backend, &newest.dir)?
        .with_context(|| format!("{} has no encryption.json", newest.label()))?;
    let opener: Arc<dyn FileSealer> = Arc::new(Pryvbke1::open_with_passphrase(&envelope, &pass)?);
    if let Err(e) = ArchiveReader::open_in(backend, &newest.dir, Some(opener)) {
        bail!(
            "the passphrase given does not open {} of {} ({e}): {NOT_SUPPORTED}",
            newest.label(),
            index.dir.display()
        );
    }
    Ok(Some(Arc::new(Pryvbke1::with_passphrase(&pass)?)))
}
