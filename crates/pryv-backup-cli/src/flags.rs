//! Flag groups several commands share, each defined once and flattened into the commands
//! that take it. The global flags (`-v`, `-q`, `--json`, `--metrics-file`) are on `cli::Cli`.

use std::path::{Path, PathBuf};

use clap::Args;

/// The backup location every command takes when none is given, as restic's
/// RESTIC_REPOSITORY: a backup, a folder of backups or an `s3://bucket/prefix`.
pub const REPOSITORY_ENV: &str = "PRYV_BACKUP_REPOSITORY";

/// The one backup a command takes, given as an argument (`restore DIR`, `backup DIR`, the
/// shape every command has) or by the flag bin/backup.js has for it (`-r DIR`, `--output DIR`):
/// the flag wins over a location from PRYV_BACKUP_REPOSITORY; both given on the command line
/// is bad usage (`Err`, the refusal's text). A positional equal to the variable's value is
/// taken as coming from it (clap does not say where a value came from).
pub fn one_location<'a>(
    positional: Option<&'a Path>,
    flag: Option<&'a Path>,
    flag_name: &str,
) -> Result<&'a Path, String> {
    match (positional, flag) {
        (Some(location), Some(flagged)) => {
            let from_env =
                std::env::var_os(REPOSITORY_ENV).is_some_and(|v| v == location.as_os_str());
            if from_env {
                Ok(flagged)
            } else {
                Err(format!(
                    "two backups given ({} and {flag_name} {}): give one, as an argument or \
                     with {flag_name}",
                    location.display(),
                    flagged.display()
                ))
            }
        }
        (Some(one), None) | (None, Some(one)) => Ok(one),
        // clap requires one of them.
        (None, None) => Ok(Path::new(".")),
    }
}

/// Where `--passphrase-command` is read from when not given.
pub const PASSPHRASE_COMMAND_ENV: &str = "PRYV_BACKUP_PASSPHRASE_COMMAND";

/// Where the install and its configuration are.
#[derive(Args, Debug, Clone)]
pub struct ConfigArgs {
    /// The core's install directory (the one holding config/).
    #[arg(long, env = "PRYV_CORE_DIR", default_value = ".")]
    pub core_dir: PathBuf,
    /// The core's configuration file, read instead of config/${NODE_ENV}-config.yml, as the
    /// core's own --config (repeatable: later files win).
    #[arg(long = "config", value_name = "FILE")]
    pub config_files: Vec<PathBuf>,
    /// Users processed at once (default: the number of cores).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// How a new backup is encrypted (not at all when none is given).
#[derive(Args, Debug)]
pub struct SealArgs {
    /// Encrypt for the holder of this RSA private key (recommended: this host cannot
    /// decrypt its own backups).
    #[arg(long, value_name = "PEM", conflicts_with = "encrypt_passphrase_file")]
    pub recipient_pubkey: Option<PathBuf>,
    /// Encrypt with the passphrase in this file (or --passphrase-command, or
    /// PRYV_BACKUP_PASSPHRASE).
    #[arg(long, value_name = "FILE")]
    pub encrypt_passphrase_file: Option<PathBuf>,
}

/// How to open an encrypted backup.
#[derive(Args, Debug, Clone, Default)]
pub struct DecryptArgs {
    /// The backup's passphrase, in this file (or --passphrase-command, or
    /// PRYV_BACKUP_PASSPHRASE).
    #[arg(long, value_name = "FILE")]
    pub decrypt_passphrase_file: Option<PathBuf>,
    /// A command printing the backup passphrase on its stdout (its trailing newline
    /// dropped), as restic's --password-command: `pass show pryv/backup`, `systemd-creds cat
    /// pass`, a vault client. Run with `sh -c CMD` (quote it as for a shell; it is run at
    /// most once, only when a passphrase is needed), stdin and stderr left to it. Used to
    /// open a backup and to encrypt one; a passphrase file given wins over it, and it over
    /// PRYV_BACKUP_PASSPHRASE. A command that fails or prints nothing stops the run (exit
    /// 1, its exit status named); what it prints is never shown.
    #[arg(
        long,
        value_name = "CMD",
        env = PASSPHRASE_COMMAND_ENV,
        hide_env_values = true
    )]
    pub passphrase_command: Option<String>,
    /// The recipient's RSA private key (PEM, PKCS#8 or PKCS#1).
    #[arg(long, value_name = "PEM")]
    pub private_key: Option<PathBuf>,
    /// The private key's passphrase, in this file (or PRYV_BACKUP_PRIVATE_KEY_PASSPHRASE).
    #[arg(long, value_name = "FILE")]
    pub private_key_passphrase_file: Option<PathBuf>,
}
