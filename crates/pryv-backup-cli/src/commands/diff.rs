//! `diff`: what changed between two states of backups, user by user.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use pryv_backup::chain::Chain;
use pryv_backup::diff::{self, Changes, DiffOptions, DiffReport, UserDiff};

use super::shared::open_chain;
use crate::exit;
use crate::flags::DecryptArgs;

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The state compared from: LOCATION[@GEN] (see above).
    #[arg(value_name = "A")]
    pub a: String,
    /// The state compared to: LOCATION[@GEN].
    #[arg(value_name = "B")]
    pub b: String,
    /// List the ids of the items added, changed and deleted, and of the attachments
    /// (--json always lists them).
    #[arg(long)]
    pub items: bool,
    /// Exit 1 when the states differ, as `git diff --exit-code` (0 when they do not).
    #[arg(long)]
    pub exit_code: bool,
    #[command(flatten)]
    pub secrets: DecryptArgs,
}

/// Which state of a backup a side is.
#[derive(Debug, PartialEq)]
enum Pick {
    Latest,
    /// A generation by name: `base`, `0001`, `increments/0001`.
    Generation(String),
    /// The state as of a time (ms).
    AsOf(u64),
}

/// `LOCATION[@GEN]`: split at the last `@`; an empty GEN is the latest state (so a location
/// holding `@` is given with a trailing one). GEN: `base`, an increment's number or folder
/// (`0001`, `increments/0001`), else a time as `--as-of` takes it.
fn parse_side(text: &str) -> Result<(PathBuf, Pick), String> {
    let Some((location, generation)) = text.rsplit_once('@') else {
        return Ok((PathBuf::from(text), Pick::Latest));
    };
    if location.is_empty() {
        return Err(format!("{text:?} names no backup before its @"));
    }
    let is_number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let pick = match generation {
        "" => Pick::Latest,
        "base" | "." => Pick::Generation(generation.into()),
        g if g.starts_with("increments/") => Pick::Generation(g.into()),
        // 13 digits are milliseconds; any other number is an increment's.
        g if is_number(g) && g.len() != 13 => Pick::Generation(g.into()),
        g => Pick::AsOf(crate::when::parse_millis(g).map_err(|e| {
            format!(
                "{text:?}: after @ comes base, an increment (0001 or increments/0001) or a \
                 time: {e}"
            )
        })?),
    };
    Ok((PathBuf::from(location), pick))
}

/// One side, opened as its pick asks, and how it is described.
fn open_side(text: &str, args: &DiffArgs, json: bool) -> Result<(Chain, serde_json::Value)> {
    let (location, pick) = parse_side(text).map_err(anyhow::Error::msg)?;
    let as_of = match pick {
        Pick::AsOf(time) => Some(time),
        _ => None,
    };
    let (_, chain) = open_chain(&location, as_of, &args.secrets, json)?;
    let chain = match &pick {
        Pick::Generation(name) => chain.up_to(name)?,
        _ => chain,
    };
    let newest = chain.generation_count() - 1;
    let (_, written) = chain.generation(newest).context("a chain has its base")?;
    let described = serde_json::json!({
        "location": location,
        "asOf": as_of,
        "generation": chain.index().generations[newest].name,
        "generationTimestamp": written,
    });
    Ok((chain, described))
}

pub fn run(args: &DiffArgs, json: bool) -> Result<u8> {
    let (a, a_described) = open_side(&args.a, args, json)?;
    let (b, b_described) = open_side(&args.b, args, json)?;
    let options = DiffOptions {
        ids: args.items || json,
    };
    // Printed user by user as compared (--json too, by hand), so that no more than one
    // user's differences are held.
    let report = if json {
        print!("{{\n\"a\": {a_described},\n\"b\": {b_described},\n\"users\": [");
        let mut first = true;
        let report = diff::diff(&a, &b, options, &mut |user| {
            let sep = if std::mem::take(&mut first) { "" } else { "," };
            let line = serde_json::to_string(user)
                .map_err(|e| pryv_backup::Error::Other(format!("cannot print the report: {e}")))?;
            print!("{sep}\n{line}");
            Ok(())
        })?;
        let mut rest = serde_json::to_value(&report)?;
        if let Some(object) = rest.as_object_mut() {
            object.insert("differ".into(), report.differ().into());
        }
        let fields: Vec<String> = rest
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{}: {v}", serde_json::Value::from(k.as_str())))
            .collect();
        println!("\n],\n{}\n}}", fields.join(",\n"));
        report
    } else {
        println!("a: {}", side_line(&args.a, &a_described));
        println!("b: {}", side_line(&args.b, &b_described));
        let report = diff::diff(&a, &b, options, &mut |user| {
            print!("{}", user_text(user, args.items));
            Ok(())
        })?;
        print!("{}", summary_text(&report));
        report
    };
    Ok(if args.exit_code && report.differ() {
        exit::ERROR
    } else {
        exit::OK
    })
}

fn side_line(given: &str, described: &serde_json::Value) -> String {
    let time = described["generationTimestamp"].as_u64().unwrap_or(0);
    let generation = match described["generation"].as_str() {
        Some(pryv_backup::chain::BASE_NAME) | None => "the base".to_string(),
        Some(name) => format!("up to {name}"),
    };
    format!(
        "{given} ({generation}, made {})",
        crate::when::for_people(time)
    )
}

/// `events 1 added, 2 changed`: the non-zero counts.
fn counts(name: &str, changes: &Changes) -> String {
    let parts: Vec<String> = [
        (changes.added, "added"),
        (changes.changed, "changed"),
        (changes.deleted, "deleted"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    format!("{name} {}", parts.join(", "))
}

fn user_text(user: &UserDiff, with_ids: bool) -> String {
    let mut parts: Vec<String> = user
        .collections
        .iter()
        .map(|(name, c)| counts(name, c))
        .collect();
    if user.account_changed {
        parts.push("account changed".into());
    }
    let (added, removed) = (&user.attachments_added, &user.attachments_removed);
    if !added.is_empty() || !removed.is_empty() {
        parts.push(format!(
            "attachments {} added, {} removed",
            added.len(),
            removed.len()
        ));
    }
    let mut text = format!(
        "{} ({}): {}\n",
        user.username,
        user.user_id,
        parts.join("; ")
    );
    if with_ids {
        for (name, changes) in &user.collections {
            let Some(ids) = &changes.ids else { continue };
            for (what, list) in [
                ("added", &ids.added),
                ("changed", &ids.changed),
                ("deleted", &ids.deleted),
            ] {
                if !list.is_empty() {
                    text.push_str(&format!("  {name} {what}: {}\n", list.join(" ")));
                }
            }
        }
        for (what, list) in [("added", added), ("removed", removed)] {
            if !list.is_empty() {
                text.push_str(&format!("  attachments {what}: {}\n", list.join(" ")));
            }
        }
    }
    text
}

fn summary_text(report: &DiffReport) -> String {
    let mut text = String::new();
    let names = |users: &[pryv_backup::model::UserRef]| -> String {
        let shown: Vec<String> = users
            .iter()
            .map(|u| format!("{} ({})", u.username, u.user_id))
            .collect();
        shown.join(", ")
    };
    if !report.users_added.is_empty() {
        text.push_str(&format!("users added: {}\n", names(&report.users_added)));
    }
    if !report.users_gone.is_empty() {
        text.push_str(&format!("users gone: {}\n", names(&report.users_gone)));
    }
    if !report.differ() {
        text.push_str(&format!(
            "no difference: {} user(s), the same in both\n",
            report.users_compared
        ));
        return text;
    }
    let mut totals: Vec<String> = report
        .totals
        .iter()
        .map(|(name, c)| counts(name, c))
        .collect();
    if report.accounts_changed > 0 {
        totals.push(format!("{} account(s) changed", report.accounts_changed));
    }
    if report.attachments_added + report.attachments_removed > 0 {
        totals.push(format!(
            "attachments {} added, {} removed",
            report.attachments_added, report.attachments_removed
        ));
    }
    text.push_str(&format!(
        "{} of {} user(s) held by both differ{}{}; {} user(s) added, {} gone\n",
        report.users_changed,
        report.users_compared,
        if totals.is_empty() { "" } else { ": " },
        totals.join("; "),
        report.users_added.len(),
        report.users_gone.len()
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::{parse_side, Pick};
    use std::path::PathBuf;

    #[test]
    fn a_side_is_a_location_and_an_optional_generation() {
        let side = |t: &str| parse_side(t).unwrap();
        assert_eq!(side("/b/x"), (PathBuf::from("/b/x"), Pick::Latest));
        assert_eq!(side("/b/x@"), (PathBuf::from("/b/x"), Pick::Latest));
        assert_eq!(
            side("/b/x@base"),
            (PathBuf::from("/b/x"), Pick::Generation("base".into()))
        );
        assert_eq!(
            side("s3://bucket/p@0001"),
            (
                PathBuf::from("s3://bucket/p"),
                Pick::Generation("0001".into())
            )
        );
        assert_eq!(
            side("/b/x@increments/0002"),
            (
                PathBuf::from("/b/x"),
                Pick::Generation("increments/0002".into())
            )
        );
        assert_eq!(
            side("/b/x@1763990000000"),
            (PathBuf::from("/b/x"), Pick::AsOf(1_763_990_000_000))
        );
        assert_eq!(
            side("/b/pryv@host@2025-11-24"),
            (PathBuf::from("/b/pryv@host"), Pick::AsOf(1_763_942_400_000))
        );
        assert_eq!(
            side("/b/pryv@host@"),
            (PathBuf::from("/b/pryv@host"), Pick::Latest)
        );
        assert!(parse_side("/b/x@yesterday")
            .unwrap_err()
            .contains("after @"));
        assert!(parse_side("@base").is_err());
    }
}
