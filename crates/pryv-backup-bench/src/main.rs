//! `pryv-backup-bench`: generates benchmark platforms and fingerprints databases.

use anyhow::Context;
use clap::{Parser, Subcommand};
use postgres::{Client, NoTls};

use pryv_backup_bench::digest::table_digests;
use pryv_backup_bench::generate::{generate, Options};
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
        Command::Digest { pg } => {
            let mut client = connect(&pg)?;
            for d in table_digests(&mut client)? {
                println!("{}\t{}\t{}", d.table, d.rows, d.md5);
            }
        }
    }
    Ok(())
}
