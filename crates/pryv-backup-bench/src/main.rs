//! `pryv-backup-bench`: generates benchmark platforms and fingerprints databases.

use anyhow::Context;
use clap::{Parser, Subcommand};
use postgres::{Client, NoTls};

use pryv_backup_bench::digest::table_digests;
use pryv_backup_bench::generate::{generate, Options};
use pryv_backup_bench::profile::profile_export;
use pryv_backup_bench::touch::touch_events;

/// Benchmark support for pryv-backup (see scripts/bench.sh and docs/performance.md).
#[derive(Parser)]
#[command(name = "pryv-backup-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fill an EMPTY PostgreSQL database with a realistic, deterministic Pryv.io platform.
    Generate {
        /// libpq URL of the target database (e.g. postgresql://postgres@127.0.0.1:5432/bench).
        #[arg(long)]
        pg: String,
        #[arg(long, default_value_t = 100)]
        users: usize,
        /// Regular events in total (attachment and series events come on top).
        #[arg(long, default_value_t = 100_000)]
        events: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Share of the events owned by the first, very large user.
        #[arg(long, default_value_t = 0.5)]
        big_user_share: f64,
        /// Total attachment bytes.
        #[arg(long, default_value_t = 16 * 1024 * 1024)]
        attachment_bytes: u64,
        #[arg(long, default_value_t = 100_000)]
        series_points: u64,
        #[arg(long, default_value_t = 50_000)]
        audit_rows: u64,
    },
    /// Change ~PERCENT % of the live events (content, modified, integrity), as an app would.
    Touch {
        #[arg(long)]
        pg: String,
        #[arg(long, default_value_t = 1)]
        percent: u32,
    },
    /// Export every user with the library's PostgreSQL engine to JSON + gzip in memory,
    /// timing each stage (DB read and row mapping, JSON, gzip, attachment reads).
    ProfileExport {
        #[arg(long)]
        pg: String,
    },
    /// Print each table's row count and md5 of its sorted rows (to compare two databases).
    Digest {
        #[arg(long)]
        pg: String,
    },
}

fn connect(url: &str) -> anyhow::Result<Client> {
    Client::connect(url, NoTls).with_context(|| format!("cannot connect to {url}"))
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Generate {
            pg,
            users,
            events,
            seed,
            big_user_share,
            attachment_bytes,
            series_points,
            audit_rows,
        } => {
            let options = Options {
                users,
                events,
                seed,
                big_user_share,
                attachment_bytes,
                series_points,
                audit_rows,
            };
            let mut client = connect(&pg)?;
            let summary = generate(&mut client, &options)?;
            for step in &summary.steps {
                println!(
                    "{:<18} {:>10} rows {:>8.2} s",
                    step.name,
                    step.rows,
                    step.elapsed.as_secs_f64()
                );
            }
            println!(
                "{:<18} {:>15} {:>8.2} s",
                "total",
                "",
                summary.total_elapsed().as_secs_f64()
            );
        }
        Command::Touch { pg, percent } => {
            let mut client = connect(&pg)?;
            println!("{} events changed", touch_events(&mut client, percent)?);
        }
        Command::ProfileExport { pg } => {
            let p = profile_export(&pg)?;
            let secs = |d: std::time::Duration| d.as_secs_f64();
            let share = |d: std::time::Duration| 100.0 * secs(d) / secs(p.total).max(1e-9);
            println!(
                "users {}  items {}  total {:.2} s",
                p.users,
                p.items,
                secs(p.total)
            );
            for (name, d) in [
                ("engine (DB read + rows to items)", p.engine()),
                ("JSON serialization", p.json),
                ("gzip (default level)", p.gzip),
                ("attachment reads", p.attachments),
            ] {
                println!("  {name:<34} {:>8.2} s {:>5.1} %", secs(d), share(d));
            }
            println!(
                "  JSON {:.1} MB -> gzip {:.1} MB; attachments {:.1} MB",
                p.json_bytes as f64 / 1e6,
                p.gzip_bytes as f64 / 1e6,
                p.attachment_bytes as f64 / 1e6
            );
        }
        Command::Digest { pg } => {
            let mut client = connect(&pg)?;
            for d in table_digests(&mut client)? {
                println!("{}\t{}\t{}", d.table, d.rows, d.md5);
            }
        }
    }
    Ok(())
}
