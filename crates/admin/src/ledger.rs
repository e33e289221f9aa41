//! `ctlstore ledger tail [--after SEQ] [-n N] [--follow]`, `ctlstore ledger status` and
//! `ctlstore ledger prune --dry-run|--yes`, over the executive's feed (`GET /ledger`), health
//! (`GET /healthz`) and `POST /ledger/prune`.
//!
//! `tail` prints the entries after `--after` (by default the last `-n` entries) up to the head,
//! then stops, or with `--follow` keeps long-polling and prints entries as they commit, until
//! interrupted. With `--json` each entry is one JSON line: `{"seq", "leader_ts", "statement"}`.

use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand};
use ctlstore_client::{Client, LedgerEntry, PruneRequest};
use serde_json::json;

use crate::output::{Output, aligned};
use crate::{AdminError, Common};

/// How long one long-poll of `--follow` waits for an entry.
const FOLLOW_WAIT: Duration = Duration::from_secs(25);
/// Entries per page.
const PAGE: u32 = 1000;

#[derive(Debug, Args)]
pub struct LedgerArgs {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    verb: LedgerVerb,
}

#[derive(Debug, Subcommand)]
enum LedgerVerb {
    /// Print ledger entries: the last few, or those after --after; --follow waits for more.
    Tail {
        /// Print the entries after this seq (default: the last --lines entries).
        #[arg(long, value_name = "SEQ")]
        after: Option<i64>,
        /// How many of the newest entries to print when --after is not given.
        #[arg(short = 'n', long, default_value_t = 10)]
        lines: i64,
        /// Keep waiting for new entries and print them as they commit (until Ctrl-C).
        #[arg(short, long)]
        follow: bool,
    },
    /// The ledger's head seq, its newest entry's time and the ctldb behind it.
    Status,
    /// Delete the entries below the retention horizon once: the lower of what --retention
    /// keeps and the oldest snapshot at --snapshot-url minus --margin entries (each defaults to
    /// the executive's own setting). Hosts below the horizon must then bootstrap.
    Prune {
        /// Only print what would be deleted.
        #[arg(long, conflicts_with = "yes", required_unless_present = "yes")]
        dry_run: bool,
        /// Delete (pruning cannot be undone).
        #[arg(long)]
        yes: bool,
        /// Keep entries committed within DURATION (168h) or the newest ENTRIES (1000000).
        #[arg(long, value_name = "DURATION|ENTRIES")]
        retention: Option<String>,
        /// Where the snapshots are (the supervisor's --snapshot-url).
        #[arg(long, value_name = "URL")]
        snapshot_url: Option<String>,
        /// Entries kept below the oldest snapshot's seq.
        #[arg(long, value_name = "ENTRIES")]
        margin: Option<i64>,
    },
}

pub async fn run(args: LedgerArgs) -> Result<(), AdminError> {
    let client = args.common.client()?;
    let out = args.common.output();
    match args.verb {
        LedgerVerb::Tail {
            after,
            lines,
            follow,
        } => tail(&client, out, after, lines, follow).await,
        LedgerVerb::Status => status(&client, out).await,
        LedgerVerb::Prune {
            dry_run,
            yes: _,
            retention,
            snapshot_url,
            margin,
        } => {
            let request = PruneRequest {
                dry_run,
                retention,
                snapshot_url,
                margin,
            };
            prune(&client, out, &request).await
        }
    }
}

async fn prune(client: &Client, out: Output, request: &PruneRequest) -> Result<(), AdminError> {
    let done = client.prune_ledger(request).await?;
    let oldest = done
        .oldest_snapshot
        .map_or_else(|| "none".to_string(), |s| s.to_string());
    out.result(&json!(done), || {
        let verb = if done.dry_run { "would delete" } else { "deleted" };
        let range = match done.first_seq {
            Some(first) if done.entries > 0 => format!(" (seqs {first}..={})", done.through),
            _ => String::new(),
        };
        format!(
            "{verb} {} entries{range}\nhorizon {} -> {} (head {}; retention {} keeps above {}; oldest snapshot {oldest} at {}, margin {})",
            done.entries,
            done.horizon_before,
            done.through,
            done.head,
            done.retention,
            done.keep_bound,
            done.snapshot_url,
            done.margin,
        )
    });
    Ok(())
}

async fn tail(
    client: &Client,
    out: Output,
    after: Option<i64>,
    lines: i64,
    follow: bool,
) -> Result<(), AdminError> {
    let head = client.ledger(i64::MAX - 1, Some(1), None).await?.head;
    let mut after = match after {
        Some(seq) if seq < 0 => {
            return Err(AdminError::Usage("--after must not be negative".into()));
        }
        Some(seq) => seq,
        None => (head - lines.max(0)).max(0),
    };
    if !out.json {
        out.result(&json!(null), || {
            aligned(&["SEQ", "LEADER_TS", "STATEMENT"], &[])
        });
    }
    loop {
        let wait = follow.then_some(FOLLOW_WAIT);
        let page = client.ledger(after, Some(PAGE), wait).await?;
        for entry in &page.entries {
            print_entry(out, entry);
            after = entry.seq;
        }
        // Without --follow, stop at the head seen at the start (or at the end of the ledger).
        let caught_up = page.entries.is_empty() || after >= head;
        if !follow && caught_up {
            return Ok(());
        }
    }
}

fn print_entry(out: Output, entry: &LedgerEntry) {
    out.record(&json!(entry), || {
        format!("{}  {}  {}", entry.seq, entry.leader_ts, entry.statement)
    });
}

/// Seconds since a ledger timestamp (UTC `YYYY-MM-DD HH:MM:SS`), if it parses.
pub(crate) fn age_seconds(leader_ts: &str) -> Option<f64> {
    let at = ctlstore_ldb_layout::parse_timestamp(leader_ts)?;
    Some(
        SystemTime::now()
            .duration_since(at)
            .unwrap_or_default()
            .as_secs_f64(),
    )
}

async fn status(client: &Client, out: Output) -> Result<(), AdminError> {
    let health = client.healthz().await?;
    let head = health.ledger_head;
    let newest = if head > 0 {
        client
            .ledger(head - 1, Some(1), None)
            .await?
            .entries
            .into_iter()
            .next()
    } else {
        None
    };
    let leader_ts = newest.as_ref().map(|e| e.leader_ts.clone());
    let age = leader_ts.as_deref().and_then(age_seconds);
    let json = json!({
        "head": head,
        "newest_leader_ts": leader_ts,
        "newest_age_seconds": age,
        "ctldb": health.ctldb,
        "dialect": health.dialect,
        "status": health.status,
    });
    out.result(&json, || {
        let newest = match (&leader_ts, age) {
            (Some(ts), Some(age)) => format!("{ts} UTC ({} ago)", seconds_text(age)),
            (Some(ts), None) => ts.clone(),
            _ => "none".into(),
        };
        aligned(
            &["HEAD", "NEWEST ENTRY", "CTLDB"],
            &[vec![
                head.to_string(),
                newest,
                format!("{} ({})", health.ctldb, health.dialect),
            ]],
        )
    });
    Ok(())
}

/// `3.2s`, `5m 2s`, `2h 3m`: an age for people.
pub(crate) fn seconds_text(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 60.0 {
        return format!("{s:.1}s");
    }
    let whole = s as u64;
    if whole < 3600 {
        return format!("{}m {}s", whole / 60, whole % 60);
    }
    format!("{}h {}m", whole / 3600, (whole % 3600) / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_well() {
        assert_eq!(seconds_text(3.21), "3.2s");
        assert_eq!(seconds_text(302.0), "5m 2s");
        assert_eq!(seconds_text(7380.0), "2h 3m");
        assert!(age_seconds("2020-01-02 03:04:05").is_some_and(|a| a > 0.0));
        assert!(age_seconds("yesterday").is_none());
    }
}
