//! One function per subcommand: parse-free glue between the arguments and the library.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::CommandFactory;
use pryv_backup::archive::{
    self, ArchiveReader, ArchiveWriter, Backend, FileSealer, WriterOptions,
};
use pryv_backup::crypto::{self, Pryvbke1};
use pryv_backup::install::{Install, InstallSources};
use pryv_backup::restore::{OnSuccess, RestoreOptions};
use pryv_backup::s3::S3Settings;
use pryv_backup::{backup, chain, demo, restore};

use crate::args::{BackupArgs, Cli, Command, ConfigArgs, DecryptArgs, RestoreArgs, SealArgs};
use crate::exit;
use crate::metrics::{self, Metrics};
use crate::output::{print_json, UserBar};
use crate::secrets;

pub fn run(cli: Cli, overrides: Vec<(String, String)>) -> Result<u8> {
    let Some(path) = cli.metrics_file.clone() else {
        return dispatch(cli, overrides, &mut Metrics::default());
    };
    let (command, location) = what(&cli.command);
    let run = metrics::Run {
        command,
        location,
        started: Instant::now(),
    };
    let mut measured = Metrics::default();
    let result = dispatch(cli, overrides, &mut measured);
    let code = *result.as_ref().unwrap_or(&exit::ERROR);
    if let Err(e) = metrics::write(&path, &run, code, &measured) {
        eprintln!("warning: the metrics file was not written: {e:#}");
    }
    result
}

/// The command's name and the backup location it works on, for metric labels.
fn what(command: &Command) -> (&'static str, String) {
    let shown = |p: &Path| p.display().to_string();
    match command {
        Command::Backup(args) => ("backup", shown(&args.output)),
        Command::Restore(args) => ("restore", shown(&args.dir)),
        Command::Inspect { dir, .. } => ("inspect", shown(dir)),
        Command::Verify { dir, .. } => ("verify", shown(dir)),
        Command::Decrypt { dir, .. } => ("decrypt", shown(dir)),
        Command::Drill { dir, .. } => ("drill", shown(dir)),
        Command::Prune { dir, .. } => ("prune", shown(dir)),
        Command::Consolidate { output, .. } => ("consolidate", shown(output)),
        Command::Demo { .. } => ("demo", String::new()),
        Command::Completions { .. } => ("completions", String::new()),
        Command::Man => ("man", String::new()),
    }
}

fn dispatch(cli: Cli, overrides: Vec<(String, String)>, metrics: &mut Metrics) -> Result<u8> {
    if let Err(e) = refuse_inline_secrets(&cli.command) {
        eprintln!("error: {e:#}");
        return Ok(exit::USAGE);
    }
    let json = cli.json;
    match cli.command {
        Command::Backup(args) => run_backup(args, overrides, json, metrics),
        Command::Restore(args) => run_restore(args, overrides, json, metrics),
        Command::Inspect { dir, secrets } => run_inspect(&dir, &secrets, json),
        Command::Verify { dir, secrets } => run_verify(&dir, &secrets, json, metrics),
        Command::Drill {
            dir,
            as_of,
            secrets,
        } => run_drill(&dir, as_of, &secrets, json, metrics),
        Command::Consolidate {
            dir,
            output,
            as_of,
            secrets,
            seal,
        } => run_consolidate(&dir, &output, as_of, &secrets, &seal, json, metrics),
        Command::Prune {
            dir,
            keep_last,
            keep_hourly,
            keep_daily,
            keep_weekly,
            keep_monthly,
            keep_yearly,
            keep_within,
            yes,
            secrets,
        } => {
            let policy = pryv_backup::prune::Policy {
                keep_last,
                keep_hourly,
                keep_daily,
                keep_weekly,
                keep_monthly,
                keep_yearly,
                keep_within_ms: keep_within,
            };
            run_prune(&dir, &policy, yes, &secrets, json, metrics)
        }
        Command::Decrypt { dir, out, secrets } => run_decrypt(&dir, &out, &secrets, json),
        Command::Demo { dir } => run_demo(dir.as_deref(), json),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "pryv-backup", &mut out);
            print!("{}", String::from_utf8_lossy(&out));
            Ok(exit::OK)
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut out)?;
            print!("{}", String::from_utf8_lossy(&out));
            Ok(exit::OK)
        }
    }
}

/// A secret given on the command line stops the command before it reads or writes anything.
fn refuse_inline_secrets(command: &Command) -> Result<()> {
    let decrypt = match command {
        Command::Backup(args) => {
            secrets::refuse_inline(&args.seal.encrypt_passphrase, "--encrypt-passphrase")?;
            &args.decrypt
        }
        Command::Restore(args) => &args.decrypt,
        Command::Inspect { secrets, .. }
        | Command::Verify { secrets, .. }
        | Command::Drill { secrets, .. }
        | Command::Prune { secrets, .. }
        | Command::Decrypt { secrets, .. } => secrets,
        Command::Consolidate { secrets, seal, .. } => {
            secrets::refuse_inline(&seal.encrypt_passphrase, "--encrypt-passphrase")?;
            secrets
        }
        Command::Demo { .. } | Command::Completions { .. } | Command::Man => return Ok(()),
    };
    secrets::refuse_inline(&decrypt.decrypt_passphrase, "--decrypt-passphrase")
}

fn install(config: &ConfigArgs, overrides: Vec<(String, String)>) -> Result<Install> {
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

fn jobs(config: &ConfigArgs) -> usize {
    config.jobs.unwrap_or_else(default_jobs)
}

/// One user per core.
fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The sealer of a new backup, when encryption was asked for.
fn new_sealer(args: &SealArgs) -> Result<Option<Arc<dyn FileSealer>>> {
    if let Some(pem_file) = &args.recipient_pubkey {
        let pem = std::fs::read_to_string(pem_file)
            .with_context(|| format!("reading {}", pem_file.display()))?;
        return Ok(Some(Arc::new(Pryvbke1::for_recipient(&pem)?)));
    }
    let pass = secrets::read_secret(
        args.encrypt_passphrase_file.as_deref(),
        secrets::PASSPHRASE_ENV,
    )?;
    Ok(match pass {
        Some(pass) => Some(Arc::new(Pryvbke1::with_passphrase(&pass)?)),
        None => None,
    })
}

/// Where a backup is: a local directory, or `s3://bucket/prefix` reached with the usual AWS
/// environment (path-style requests unless AWS_VIRTUAL_HOSTED_STYLE_REQUEST=true).
fn locate(location: &Path) -> Result<(Backend, PathBuf)> {
    let virtual_hosted = std::env::var("AWS_VIRTUAL_HOSTED_STYLE_REQUEST")
        .is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    Ok(Backend::locate(location, |bucket| S3Settings {
        bucket: bucket.to_string(),
        path_style: !virtual_hosted,
        ..S3Settings::default()
    })?)
}

/// Opens a backup and its increments (the state `as_of` a time, when given), checking
/// that it is complete and that the secrets open it.
fn open_chain(
    location: &Path,
    as_of: Option<u64>,
    secrets_args: &DecryptArgs,
    json: bool,
) -> Result<(PathBuf, chain::Chain)> {
    let (backend, dir) = locate(location)?;
    let chain = chain::Chain::open(&backend, &dir, &|dir| {
        open_reader(&backend, dir, secrets_args).map_err(|e| e.to_string())
    })?
    .with_context(|| {
        format!(
            "{} holds no complete backup (no manifest.json)",
            dir.display()
        )
    })?;
    let Some(time_ms) = as_of else {
        return Ok((dir, chain));
    };
    let all = chain.generation_count();
    let chain = chain.as_of(time_ms)?;
    if !json {
        eprintln!(
            "taking the state as of {time_ms} ms: {} of {all} generation(s)",
            chain.generation_count()
        );
    }
    Ok((dir, chain))
}

/// Opens a backup directory (or one generation of it), asking for the key when encrypted.
fn open_reader(backend: &Backend, dir: &Path, secrets_args: &DecryptArgs) -> Result<ArchiveReader> {
    let sealer = match ArchiveReader::envelope_in(backend, dir)? {
        Some(envelope) => Some(secrets::opener(&envelope, secrets_args)?),
        None => None,
    };
    Ok(ArchiveReader::open_in(backend, dir, sealer)?)
}

fn run_backup(
    args: BackupArgs,
    overrides: Vec<(String, String)>,
    json: bool,
    metrics: &mut Metrics,
) -> Result<u8> {
    if args.max_chunk_size == 0 {
        bail!("--max-chunk-size must be at least 1 (MB)");
    }
    let install = install(&args.config, overrides)?;
    let target = install.target();
    if !json {
        eprintln!("reading {target}");
    }
    let engine = install.engine()?;
    let sealer = new_sealer(&args.seal)?;
    let (backend, output) = locate(&args.output)?;
    // Two backups into one output would mix their files: the second stops here.
    if backend.is_local() {
        install.check_output(&output)?;
    }
    let _lock = backend.lock_output(&output)?;

    // An incremental backup adds a generation beside the previous ones; it never rewrites them.
    // The previous generations open with the passphrase this one is encrypted with, unless
    // told otherwise.
    let mut previous_secrets = args.decrypt.clone();
    if previous_secrets.decrypt_passphrase_file.is_none() {
        previous_secrets.decrypt_passphrase_file = args.seal.encrypt_passphrase_file.clone();
    }
    let (output_dir, previous) = if args.incremental {
        match chain::Chain::open(&backend, &output, &|dir| {
            open_reader(&backend, dir, &previous_secrets).map_err(|e| format!("{e:#}"))
        })
        .with_context(|| {
            format!(
                "an incremental backup starts from the manifests of the previous one in {}, \
                 which could not be read (nothing was written)",
                output.display()
            )
        })? {
            Some(chain) => (chain.next_generation_dir()?, Some(chain.latest_state())),
            None => {
                eprintln!(
                    "no previous backup in {}: running a full backup",
                    output.display()
                );
                (output.clone(), None)
            }
        }
    } else {
        (output.clone(), None)
    };

    let writer = ArchiveWriter::create(
        &output_dir,
        WriterOptions {
            compress: !args.no_compress,
            max_chunk_size: args.max_chunk_size * 1024 * 1024,
            sealer,
            backend,
            empty_files: previous.is_none(),
        },
    )?;
    let bar = UserBar::new("backing up", json);
    let report = backup::run(
        engine.as_ref(),
        writer,
        &backup::BackupOptions {
            users: args.user.clone(),
            previous,
            include_ephemeral: args.include_ephemeral,
            jobs: jobs(&args.config),
            engine_name: install.engine_name(),
            domain: install.domain(),
            core_version: install.core_version(),
            pii_key: install.config.pii_key.clone(),
            clock_skew: args.clock_skew,
            hook: None,
        },
        &bar,
    )?;
    drop(bar);
    metrics.set(
        "users",
        "Users in the last run's backup.",
        report.users.len() as f64,
    );
    metrics.set(
        "items",
        "Items in the last run's backup.",
        report.items as f64,
    );
    metrics.set(
        "attachments",
        "Attachment files in the last run's backup.",
        report.attachments as f64,
    );
    metrics.set(
        "bytes",
        "Bytes of the users' files in the last run's backup.",
        report.bytes as f64,
    );
    metrics.set(
        "missing_attachments",
        "Attachments listed by events but gone from the store during the last run.",
        report.missing_attachments.len() as f64,
    );
    if json {
        print_json(
            &serde_json::json!({ "output": output_dir, "install": target, "report": report }),
        )?;
    } else {
        println!(
            "{} backup of {} user(s) written to {} ({} items, {} attachments, {} platform entries)",
            report.backup_type,
            report.users.len(),
            output_dir.display(),
            report.items,
            report.attachments,
            report.platform_entries
        );
        if !report.missing_attachments.is_empty() {
            println!(
                "warning: {} attachment file(s) listed by events were not in the store (deleted \
                 while the backup ran, or lost); the events are backed up, these files are not:",
                report.missing_attachments.len()
            );
            for m in &report.missing_attachments {
                println!(
                    "  - user {} ({}): event {}, file {}",
                    m.username, m.user_id, m.event_id, m.file_id
                );
            }
        }
    }
    Ok(exit::OK)
}

fn run_restore(
    args: RestoreArgs,
    overrides: Vec<(String, String)>,
    json: bool,
    metrics: &mut Metrics,
) -> Result<u8> {
    let on_success = match (&args.delete_on_success, &args.move_on_success) {
        (true, _) => OnSuccess::Delete,
        (false, Some(path)) => OnSuccess::MoveTo(path.clone()),
        (false, None) => OnSuccess::Keep,
    };
    let (dir, chain) = open_chain(&args.dir, args.as_of, &args.decrypt, json)?;
    // The backup is checked (present, complete, secrets right) before the install is touched.
    let install = install(&args.config, overrides)?;
    let target = install.target();
    if !json {
        eprintln!("restoring into {target}");
    }
    let engine = install.engine()?;
    let bar = UserBar::new("restoring", json);
    let report = restore::run(
        engine.as_ref(),
        &chain,
        &dir,
        &RestoreOptions {
            users: args.user.clone(),
            overwrite: args.overwrite,
            skip_conflicts: args.skip_conflicts,
            verify_integrity: args.verify_integrity,
            jobs: jobs(&args.config),
            on_success,
            pii_key: install.config.pii_key.clone(),
            core_id: install.config.core_id.clone(),
        },
        &bar,
    )?;
    drop(bar);
    metrics.set(
        "users",
        "Users restored by the last run.",
        report.restored.len() as f64,
    );
    let not_restored = report.failed.len()
        + report.rolled_back.len()
        + report.skipped.len()
        + report.incomplete.len();
    metrics.set(
        "failed_users",
        "Users the last run did not restore: failed, rolled back, skipped or incomplete.",
        not_restored as f64,
    );
    if json {
        let mut value = serde_json::to_value(&report)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("install".into(), serde_json::to_value(&target)?);
        }
        print_json(&value)?;
    } else {
        print_restore_report(&report);
    }
    Ok(if report.aborted {
        exit::ERROR
    } else if report.is_complete() {
        exit::OK
    } else {
        exit::PARTIAL
    })
}

fn print_restore_report(report: &restore::RestoreReport) {
    if report.aborted {
        println!(
            "Restore aborted before writing anything: {} conflict(s)",
            report.conflicts.len()
        );
        for c in &report.conflicts {
            println!("  - {} ({}): {}", c.user.username, c.user.user_id, c.reason);
        }
        println!(
            "Use --overwrite to replace existing users, or --skip-conflicts to restore the others."
        );
        return;
    }
    println!("Restore report:");
    println!("  restored: {}", report.restored.len());
    for u in &report.restored {
        println!("    - {} ({})", u.username, u.user_id);
    }
    for (title, list) in [
        ("skipped (conflict)", &report.skipped),
        ("rolled back (integrity)", &report.rolled_back),
        ("failed (rolled back)", &report.failed),
        (
            "INCOMPLETE (committed; restore again with --overwrite)",
            &report.incomplete,
        ),
    ] {
        if !list.is_empty() {
            println!("  {title}: {}", list.len());
            for u in list {
                println!(
                    "    - {} ({}): {}",
                    u.user.username, u.user.user_id, u.reason
                );
            }
        }
    }
    match &report.platform_error {
        Some(e) => println!("  platform entries NOT restored: {e}"),
        None => println!("  platform entries: {}", report.platform_entries),
    }
    if let Some(e) = &report.finish_error {
        println!("  the restore did NOT end well: {e}");
    }
    if let Some(d) = &report.backup_disposition {
        println!("  backup {d}");
    }
}

/// The base backup's summary, then one line (or JSON entry) per increment.
fn run_inspect(location: &Path, secrets_args: &DecryptArgs, json: bool) -> Result<u8> {
    let (backend, dir) = locate(location)?;
    let dir = dir.as_path();
    let reader = open_reader(&backend, dir, secrets_args)?;
    let mut summary = archive::summary(reader.manifest());
    let mut increments = Vec::new();
    for increment in chain::increment_dirs(&backend, dir)? {
        let name = increment
            .strip_prefix(dir)
            .unwrap_or(&increment)
            .display()
            .to_string();
        if !backend.is_file(&increment.join("manifest.json"))? {
            summary.text.push_str(&format!(
                "{name}: incomplete (no manifest.json), ignored by restores\n"
            ));
            increments.push(serde_json::json!({ "dir": name, "complete": false }));
            continue;
        }
        let manifest = open_reader(&backend, &increment, secrets_args)?
            .manifest()
            .clone();
        let changed: u64 = manifest.users.iter().flat_map(|u| u.stats.values()).sum();
        summary.text.push_str(&format!(
            "{name}: {} backup made at {} ms, {} user(s), {changed} changed item(s) and attachment(s)\n",
            manifest.backup_type,
            manifest.backup_timestamp,
            manifest.users.len()
        ));
        increments.push(serde_json::json!({
            "dir": name,
            "complete": true,
            "backupType": manifest.backup_type,
            "backupTimestamp": manifest.backup_timestamp,
            "userCount": manifest.users.len(),
        }));
    }
    if let Some(object) = summary.json.as_object_mut() {
        object.insert("increments".into(), serde_json::Value::Array(increments));
    }
    if json {
        print_json(&summary.json)?;
    } else {
        print!("{}", summary.text);
    }
    Ok(exit::OK)
}

/// Verifies the base backup and each of its increments (every generation a restore reads).
fn run_verify(
    location: &Path,
    secrets_args: &DecryptArgs,
    json: bool,
    metrics: &mut Metrics,
) -> Result<u8> {
    let (backend, dir) = locate(location)?;
    let dir = dir.as_path();
    let mut generations = vec![(dir.to_path_buf(), String::new())];
    let mut incomplete = Vec::new();
    for increment in chain::increment_dirs(&backend, dir)? {
        let prefix = format!(
            "{}/",
            increment.strip_prefix(dir).unwrap_or(&increment).display()
        );
        if backend.is_file(&increment.join("manifest.json"))? {
            generations.push((increment, prefix));
        } else {
            incomplete.push(prefix);
        }
    }
    let mut total = archive::VerifyReport::default();
    for (generation, prefix) in &generations {
        let sealer = match ArchiveReader::envelope_in(&backend, generation)? {
            Some(envelope) => Some(secrets::opener(&envelope, secrets_args)?),
            None => None,
        };
        let report = archive::verify_in(&backend, generation, sealer)
            .with_context(|| format!("verifying {}", generation.display()))?;
        total.users_checked += report.users_checked;
        total.files_checked += report.files_checked;
        total.items_checked += report.items_checked;
        total.attachments_checked += report.attachments_checked;
        total
            .problems
            .extend(report.problems.into_iter().map(|mut p| {
                if Path::new(&p.path).is_relative() {
                    p.path = format!("{prefix}{}", p.path);
                }
                p
            }));
    }
    metrics.set(
        "users",
        "User backups the last run checked.",
        total.users_checked as f64,
    );
    metrics.set(
        "items",
        "Items the last run checked.",
        total.items_checked as f64,
    );
    metrics.set(
        "files",
        "Files the last run checked.",
        total.files_checked as f64,
    );
    metrics.set(
        "problems",
        "Files or folders the last run found damaged.",
        total.problems.len() as f64,
    );
    let problems: Vec<_> = total
        .problems
        .iter()
        .map(|p| serde_json::json!({ "path": p.path, "problems": p.problems }))
        .collect();
    if json {
        print_json(&serde_json::json!({
            "ok": total.is_ok(),
            "generations": generations.len(),
            "users": total.users_checked,
            "files": total.files_checked,
            "items": total.items_checked,
            "attachments": total.attachments_checked,
            "problems": problems,
            "incompleteIncrements": incomplete,
            "enginesTried": [],
        }))?;
    } else {
        println!(
            "checked {} generation(s): {} user backup(s), {} file(s), {} item(s), {} attachment(s)",
            generations.len(),
            total.users_checked,
            total.files_checked,
            total.items_checked,
            total.attachments_checked
        );
        for p in &total.problems {
            println!("PROBLEM {}:", p.path);
            for line in &p.problems {
                println!("  - {line}");
            }
        }
        for prefix in &incomplete {
            println!(
                "note: {prefix} is an incomplete increment (no manifest.json): restores ignore it"
            );
        }
        println!(
            "{}",
            if total.is_ok() {
                "backup OK: its files are intact (no engine was tried: `pryv-backup drill` \
                 restores it into a scratch SQLite platform)"
            } else {
                "backup DAMAGED: see the problems above"
            }
        );
    }
    Ok(if total.is_ok() { exit::OK } else { exit::ERROR })
}

fn run_drill(
    location: &Path,
    as_of: Option<u64>,
    secrets_args: &DecryptArgs,
    json: bool,
    metrics: &mut Metrics,
) -> Result<u8> {
    let (dir, chain) = open_chain(location, as_of, secrets_args, json)?;
    let bar = UserBar::new("drilling", json);
    let report = pryv_backup::drill::run(&chain, &dir, default_jobs(), &bar)?;
    drop(bar);
    metrics.set(
        "users",
        "Users the last drill restored and checked.",
        report.restored as f64,
    );
    metrics.set(
        "failed_users",
        "Users the last drill found damaged.",
        report.damaged.len() as f64,
    );
    if json {
        print_json(&serde_json::json!({ "ok": report.is_ok(), "report": report }))?;
    } else {
        println!("drill of {} into {}", location.display(), report.target);
        println!(
            "{} of {} user(s) restored with every check passed, {} platform entries",
            report.restored, report.users, report.platform_entries
        );
        for d in &report.damaged {
            println!(
                "DAMAGED {} ({}): {}",
                d.user.username, d.user.user_id, d.reason
            );
        }
        for d in &report.engine_limits {
            println!(
                "NOT STORABLE IN {} {} ({}): {}",
                d.engine_limit.unwrap_or("the target").to_uppercase(),
                d.user.username,
                d.user.user_id,
                d.reason
            );
        }
        if let Some(e) = &report.platform_error {
            println!("platform entries NOT restored: {e}");
        }
        let limited: Vec<&str> = report
            .engine_limits
            .iter()
            .filter_map(|d| d.engine_limit)
            .collect();
        if report.is_ok() {
            println!("drill OK: this backup restores into the SQLite engine (PostgreSQL and InfluxDB not tried)");
        } else if report.damaged.is_empty() && report.platform_error.is_none() {
            println!(
                "drill FAILED: {} user(s) cannot go into the {} engine; their files check out (a restore into another engine was not tried)",
                limited.len(),
                limited.first().copied().unwrap_or("SQLite")
            );
        } else {
            println!("drill FAILED: see above");
        }
    }
    Ok(if report.is_ok() {
        exit::OK
    } else {
        exit::ERROR
    })
}

fn run_consolidate(
    location: &Path,
    output: &Path,
    as_of: Option<u64>,
    secrets_args: &DecryptArgs,
    seal: &SealArgs,
    json: bool,
    metrics: &mut Metrics,
) -> Result<u8> {
    let (_, chain) = open_chain(location, as_of, secrets_args, json)?;
    let (backend, out) = locate(output)?;
    let _lock = backend.lock_output(&out)?;
    let writer = ArchiveWriter::create(
        &out,
        WriterOptions {
            sealer: new_sealer(seal)?,
            backend,
            ..WriterOptions::default()
        },
    )?;
    let bar = UserBar::new("consolidating", json);
    let report = pryv_backup::consolidate::run(&chain, writer, &bar)?;
    drop(bar);
    metrics.set(
        "users",
        "Users in the last consolidated backup.",
        report.users as f64,
    );
    metrics.set(
        "items",
        "Items in the last consolidated backup.",
        report.items as f64,
    );
    if json {
        print_json(&serde_json::json!({ "output": out, "report": report }))?;
    } else {
        println!(
            "{} generation(s) of {} merged into the full backup {}: {} user(s), {} items, {} attachments, {} platform entries",
            report.generations,
            location.display(),
            out.display(),
            report.users,
            report.items,
            report.attachments,
            report.platform_entries
        );
    }
    Ok(exit::OK)
}

fn run_prune(
    location: &Path,
    policy: &pryv_backup::prune::Policy,
    apply: bool,
    secrets_args: &DecryptArgs,
    json: bool,
    metrics: &mut Metrics,
) -> Result<u8> {
    let (backend, dir) = locate(location)?;
    let report = pryv_backup::prune::run(&backend, &dir, policy, apply, &|d| {
        open_reader(&backend, d, secrets_args).map_err(|e| format!("{e:#}"))
    })?;
    metrics.set(
        "kept",
        "Backups (generations) the last prune kept.",
        report.kept.len() as f64,
    );
    metrics.set(
        "removed",
        "Backups (generations) the last prune removed, or would remove in a dry run.",
        report.removed.len() as f64,
    );
    if json {
        print_json(&report)?;
        return Ok(exit::OK);
    }
    for g in &report.kept {
        println!(
            "keep   {} ({} ms): {}",
            g.dir.display(),
            g.backup_timestamp,
            g.kept_by.join(", ")
        );
    }
    for g in &report.removed {
        let verb = if apply { "removed" } else { "remove" };
        println!("{verb} {} ({} ms)", g.dir.display(), g.backup_timestamp);
    }
    for (dir, why) in &report.skipped {
        println!("left alone {}: {why}", dir.display());
    }
    if apply {
        println!(
            "{} generation(s) kept, {} removed ({} files)",
            report.kept.len(),
            report.removed.len(),
            report.files_removed
        );
    } else {
        println!(
            "dry run: {} generation(s) would be removed, nothing was; run again with --yes to remove them",
            report.removed.len()
        );
    }
    Ok(exit::OK)
}

fn run_decrypt(dir: &Path, out: &Path, secrets_args: &DecryptArgs, json: bool) -> Result<u8> {
    if !locate(dir)?.0.is_local() {
        bail!(
            "decrypt works on a local directory: copy {} here first (e.g. `aws s3 sync`)",
            dir.display()
        );
    }
    if ArchiveReader::envelope(dir)?.is_none() {
        bail!(
            "{} is not encrypted (no encryption.json): nothing to decrypt",
            dir.display()
        );
    }
    // The base, then each increment into the same place of the copy: every generation has
    // its own key (its own encryption.json).
    let mut generations = vec![(dir.to_path_buf(), out.to_path_buf())];
    for gen_dir in chain::increment_dirs(&Backend::Local, dir)? {
        let name = gen_dir
            .strip_prefix(dir)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| gen_dir.clone());
        generations.push((gen_dir, out.join(name)));
    }
    let mut files = Vec::new();
    for (src, dst) in &generations {
        let Some(envelope) = ArchiveReader::envelope(src)? else {
            bail!(
                "{} is not encrypted while its base is: refusing to mix clear and sealed generations",
                src.display()
            );
        };
        let sealer = secrets::opener(&envelope, secrets_args)?;
        let report = crypto::decrypt_tree(src, dst, sealer.as_ref())
            .with_context(|| format!("decrypting {}", src.display()))?;
        let prefix = dst.strip_prefix(out).unwrap_or(Path::new(""));
        files.extend(report.files.into_iter().map(|f| prefix.join(f)));
    }
    if json {
        print_json(&serde_json::json!({ "out": out, "files": files }))?;
    } else {
        println!(
            "decrypted {} file(s) of {} generation(s) into {}",
            files.len(),
            generations.len(),
            out.display()
        );
    }
    Ok(exit::OK)
}

fn run_demo(dir: Option<&Path>, json: bool) -> Result<u8> {
    let report = demo::run(dir)?;
    if json {
        print_json(&report)?;
    } else {
        print!("{report}");
    }
    Ok(if report.identical {
        exit::OK
    } else {
        exit::ERROR
    })
}
