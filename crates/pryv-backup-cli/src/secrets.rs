//! Secrets come from files, a passphrase command or the environment, never from the
//! command line.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::{bail, Context, Result};
use pryv_backup::archive::{ArchiveReader, Backend, FileSealer};
use pryv_backup::chain::{ChainIndex, EncryptionRecord};
use pryv_backup::crypto::Pryvbke1;
use zeroize::Zeroizing;

use crate::flags::{DecryptArgs, PASSPHRASE_COMMAND_ENV};

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

/// The backup passphrase: from `file`, else from what `command` prints, else from
/// PRYV_BACKUP_PASSPHRASE.
pub fn read_passphrase(
    file: Option<&Path>,
    command: Option<&str>,
) -> Result<Option<Zeroizing<String>>> {
    match (file, command) {
        (None, Some(command)) => Ok(Some(passphrase_from_command(command)?)),
        _ => read_secret(file, PASSPHRASE_ENV),
    }
}

/// What the passphrase command printed, kept for the rest of the run: a run may need the
/// passphrase several times (to encrypt an increment, to open each earlier generation), and
/// the command may ask a person or a vault each time it runs.
static FROM_COMMAND: OnceLock<Zeroizing<String>> = OnceLock::new();

/// Runs `command` with `sh -c` and takes its stdout, trailing newline dropped. Neither the
/// command (it may carry a secret) nor its output is ever shown; its own stderr goes to ours.
fn passphrase_from_command(command: &str) -> Result<Zeroizing<String>> {
    if let Some(pass) = FROM_COMMAND.get() {
        return Ok(pass.clone());
    }
    let what = format!("the passphrase command (--passphrase-command or {PASSPHRASE_COMMAND_ENV})");
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("{what} could not be started"))?;
    let stdout = Zeroizing::new(output.stdout);
    if !output.status.success() {
        bail!(
            "{what} failed ({}; its stderr, if any, is above): no passphrase, nothing was done",
            output.status
        );
    }
    let Ok(text) = std::str::from_utf8(&stdout) else {
        bail!("{what} printed something that is not UTF-8 text: no passphrase, nothing was done");
    };
    let pass = text.strip_suffix('\n').unwrap_or(text);
    let pass = pass.strip_suffix('\r').unwrap_or(pass);
    if pass.is_empty() {
        bail!("{what} printed nothing on its stdout: no passphrase, nothing was done");
    }
    let pass = Zeroizing::new(pass.to_string());
    Ok(FROM_COMMAND.get_or_init(|| pass).clone())
}

/// A file holding a secret (passphrase, private key) that other users of the machine can
/// read: said on stderr, with the command that fixes it. Used all the same.
fn warn_if_readable_by_others(file: &Path) {
    use std::collections::HashSet;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::{Mutex, PoisonError};
    // Once per file and run: a chain opens the key for each of its generations.
    static WARNED: Mutex<Option<HashSet<std::path::PathBuf>>> = Mutex::new(None);
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
    let first = WARNED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashSet::new)
        .insert(file.to_path_buf());
    if !first {
        return;
    }
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
            let Some(pass) = read_passphrase(args.decrypt_passphrase_file.as_deref(), args.passphrase_command.as_deref())? else {
                bail!("this backup is encrypted with a passphrase: give --decrypt-passphrase-file <FILE> or --passphrase-command <CMD>, or set {PASSPHRASE_ENV}");
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
        || args.passphrase_command.is_some()
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
/// (either flag, the passphrase command, or the environment), which must open its newest
/// generation.
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
    let command = decrypt.passphrase_command.as_deref();
    let encrypt = read_passphrase(encrypt_file, command)?;
    let given = read_passphrase(decrypt.decrypt_passphrase_file.as_deref(), command)?;
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
