//! What several commands do the same way: load the install, size the worker pool, find a
//! backup (local or S3), open it with its secrets, and seal a new one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use pryv_backup::archive::{ArchiveReader, Backend, FileSealer};
use pryv_backup::chain;
use pryv_backup::crypto::Pryvbke1;
use pryv_backup::install::{Install, InstallSources};
use pryv_backup::s3::S3Settings;

use crate::errors::NoBackup;
use crate::flags::{ConfigArgs, DecryptArgs, SealArgs};
use crate::secrets;

pub fn install(config: &ConfigArgs, overrides: Vec<(String, String)>) -> Result<Install> {
    Install::load(&InstallSources {
        core_dir: config.core_dir.clone(),
        node_env: std::env::var("NODE_ENV").ok(),
        files: config.config_files.clone(),
        env: std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, _)| k.contains("__"))
            .collect(),
        overrides,
    })
    .context("reading the Pryv.io configuration")
}

pub fn jobs(config: &ConfigArgs) -> usize {
    config.jobs.unwrap_or_else(default_jobs)
}

/// One user per core.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The sealer of a new backup, when encryption was asked for (`secrets_args` carries the
/// passphrase command).
pub fn new_sealer(
    args: &SealArgs,
    secrets_args: &DecryptArgs,
) -> Result<Option<Arc<dyn FileSealer>>> {
    if let Some(pem_file) = &args.recipient_pubkey {
        let pem = std::fs::read_to_string(pem_file)
            .with_context(|| format!("reading {}", pem_file.display()))?;
        return Ok(Some(Arc::new(Pryvbke1::for_recipient(&pem)?)));
    }
    let pass = secrets::read_passphrase(
        args.encrypt_passphrase_file.as_deref(),
        secrets_args.passphrase_command.as_deref(),
    )?;
    Ok(match pass {
        Some(pass) => Some(Arc::new(Pryvbke1::with_passphrase(&pass)?)),
        None => None,
    })
}

/// Where a backup is: a local directory, or `s3://bucket/prefix` reached with the usual AWS
/// environment (path-style requests unless AWS_VIRTUAL_HOSTED_STYLE_REQUEST=true).
pub fn locate(location: &Path) -> Result<(Backend, PathBuf)> {
    let virtual_hosted = std::env::var("AWS_VIRTUAL_HOSTED_STYLE_REQUEST")
        .is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    Ok(Backend::locate(location, |bucket| S3Settings {
        bucket: bucket.to_string(),
        path_style: !virtual_hosted,
        ..S3Settings::default()
    })?)
}

/// Opens the base backup of `dir` on its own, when there is one: a wrong passphrase or key
/// then fails with its own type (and exit code), where reading a whole chain reports it as
/// that chain's text.
pub fn check_base_opens(backend: &Backend, dir: &Path, secrets_args: &DecryptArgs) -> Result<()> {
    if backend.is_file(&dir.join(pryv_backup::archive::layout::MANIFEST))? {
        open_reader(backend, dir, secrets_args)?;
    }
    Ok(())
}

/// Why `dir` (given as `location`) could not be opened as a backup: a folder of backups is
/// said to be one, with the command that lists them.
pub fn no_backup_at(backend: &Backend, dir: &Path, location: &Path) -> NoBackup {
    if backend.holds_backups(dir).unwrap_or(false) {
        NoBackup {
            text: format!(
                "{} is a folder of backups, not a backup: `pryv-backup list {}` shows them; give one of them",
                dir.display(),
                location.display()
            ),
            folder_of_backups: true,
        }
    } else if backend.is_local() && !dir.exists() {
        NoBackup {
            text: format!(
                "there is no backup at {}: no such folder (check the path, or \
                 PRYV_BACKUP_REPOSITORY when no location was given)",
                dir.display()
            ),
            folder_of_backups: false,
        }
    } else {
        NoBackup {
            text: format!(
                "{} holds no complete backup (no manifest.json; `pryv-backup list {}` tells what it holds)",
                dir.display(),
                location.display()
            ),
            folder_of_backups: false,
        }
    }
}

/// A command that reads one backup stops at once when `dir` holds none (exit 10).
pub fn require_backup(backend: &Backend, dir: &Path, location: &Path) -> Result<()> {
    if backend.is_file(&dir.join(pryv_backup::archive::layout::MANIFEST))? {
        return Ok(());
    }
    Err(no_backup_at(backend, dir, location).into())
}

/// A command over a folder of backups stops at once when the folder does not exist (exit
/// 10): a mistyped location would otherwise read as an empty one. An existing folder without
/// backups is not an error (before the first backup, say); nor is an S3 prefix, which has no
/// existence of its own.
pub fn require_folder(backend: &Backend, dir: &Path) -> Result<()> {
    if !backend.is_local() || dir.exists() {
        return Ok(());
    }
    Err(NoBackup {
        text: format!("{} does not exist: no backup there", dir.display()),
        folder_of_backups: false,
    }
    .into())
}

/// Opens a backup and its increments (the state `as_of` a time, when given), checking
/// that it is complete and that the secrets open it.
pub fn open_chain(
    location: &Path,
    as_of: Option<u64>,
    secrets_args: &DecryptArgs,
    json: bool,
) -> Result<(PathBuf, chain::Chain)> {
    let (backend, dir) = locate(location)?;
    check_base_opens(&backend, &dir, secrets_args)?;
    let chain = chain::Chain::open(&backend, &dir, &|dir| {
        open_reader(&backend, dir, secrets_args).map_err(|e| e.to_string())
    })?
    .with_context(|| no_backup_at(&backend, &dir, location))?;
    secrets::warn_if_clear(chain.index(), secrets_args);
    let Some(time_ms) = as_of else {
        return Ok((dir, chain));
    };
    let all = chain.generation_count();
    let chain = chain.as_of(time_ms)?;
    if !json {
        info!(
            "taking the state as of {}: {} of {all} generation(s)",
            crate::when::for_people(time_ms),
            chain.generation_count()
        );
    }
    Ok((dir, chain))
}

/// Opens a backup directory (or one generation of it), asking for the key when encrypted.
pub fn open_reader(
    backend: &Backend,
    dir: &Path,
    secrets_args: &DecryptArgs,
) -> Result<ArchiveReader> {
    let sealer = match ArchiveReader::envelope_in(backend, dir)? {
        Some(envelope) => Some(secrets::opener(&envelope, secrets_args)?),
        None => None,
    };
    Ok(ArchiveReader::open_in(backend, dir, sealer)?)
}

/// Tells the operator that an earlier run's unfinished output in `dir` was removed to write anew.
pub fn tell_if_replaced(writer: &pryv_backup::archive::ArchiveWriter, dir: &std::path::Path) {
    if writer.replaced_unfinished() {
        info!(
            "replacing an unfinished backup left by an earlier run in {} (it had no manifest.json)",
            dir.display()
        );
    }
}
