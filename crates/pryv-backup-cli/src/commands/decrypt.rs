//! `decrypt`: writes a plaintext copy of an encrypted backup, generation by generation.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use pryv_backup::archive::{ArchiveReader, Backend};
use pryv_backup::{chain, crypto};

use super::shared::{locate, require_backup};
use crate::exit;
use crate::flags::DecryptArgs;
use crate::output::print_json;
use crate::secrets;

#[derive(Args, Debug)]
pub struct DecryptCommandArgs {
    /// The encrypted backup directory, or `s3://bucket/prefix`.
    #[arg(env = crate::flags::REPOSITORY_ENV)]
    pub dir: PathBuf,
    /// Where to write the plaintext copy (must not exist or be empty). `--output` too, as
    /// in the other commands.
    #[arg(long, visible_alias = "output", value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub secrets: DecryptArgs,
}

pub fn run(args: &DecryptCommandArgs, json: bool) -> Result<u8> {
    let (dir, out) = (args.dir.as_path(), args.out.as_path());
    let (backend, local) = locate(dir)?;
    if !backend.is_local() {
        bail!(
            "decrypt works on a local directory: copy {} here first (e.g. `aws s3 sync`)",
            dir.display()
        );
    }
    require_backup(&backend, &local, dir)?;
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
        let sealer = secrets::opener(&envelope, &args.secrets)?;
        let report = crypto::decrypt_tree(src, dst, sealer.as_ref())
            .with_context(|| format!("decrypting {} into {}", src.display(), dst.display()))?;
        let prefix = dst.strip_prefix(out).unwrap_or(Path::new(""));
        files.extend(report.files.into_iter().map(|f| prefix.join(f)));
    }
    // Each copied record made true of the copy: clear, linked to the copied manifests.
    chain::relink_clear_copy(out)?;
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
