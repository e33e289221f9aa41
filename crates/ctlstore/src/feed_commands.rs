//! `ctlstore watch` and `ctlstore triggers`: this host's change feed (docs/watch.md,
//! docs/triggers.md), read from the LDB through the reader.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ctlstore_reader::{FeedEvent, Reader, ReaderError, feed_event_json};
use serde_json::Value as Json;

/// How long one blocking read of the feed waits before checking whether to stop.
const FEED_WAIT: Duration = Duration::from_secs(1);

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// FAMILY.TABLE
    pub table: String,
    /// Only rows whose leading key values are these (numbers or text).
    #[arg(long, num_args = 1.., value_name = "KEY")]
    pub prefix: Vec<String>,
    /// Start after this ledger seq (default: now, only new changes).
    #[arg(long)]
    pub after: Option<i64>,
    /// This host's LDB (its reflector runs with -change-feed N).
    #[arg(long, required_unless_present = "sidecar")]
    pub ldb: Option<PathBuf>,
    /// Through a sidecar (`GET /watch/{family}/{table}`) instead of the LDB.
    #[arg(long, conflicts_with = "ldb")]
    pub sidecar: Option<String>,
    /// Stop after this long without changes (default: never).
    #[arg(long)]
    pub timeout: Option<crate::goflags::GoDuration>,
}

fn prefix_json(prefix: &[String]) -> Vec<Json> {
    prefix
        .iter()
        .map(|p| {
            p.parse::<i64>()
                .map(Json::from)
                .unwrap_or_else(|_| Json::String(p.clone()))
        })
        .collect()
}

/// Prints one JSON line per batch: `{"seq": N, "changes": [{family, table, op, key, row}]}`;
/// a feed that no longer holds `--after` prints `{"error": ..., "since": S}` first.
pub fn watch(args: &WatchArgs, runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let Some(ldb) = &args.ldb else {
        let url = args.sidecar.as_deref().unwrap_or_default();
        return runtime.block_on(watch_sidecar(args, url));
    };
    let (family, table) = args
        .table
        .split_once('.')
        .ok_or_else(|| anyhow::anyhow!("'{}' is not FAMILY.TABLE", args.table))?;
    let reader = Reader::open(ldb)?;
    let after = match args.after {
        Some(after) => after,
        None => reader.last_sequence().unwrap_or(0),
    };
    let mut changes = reader
        .changes(after)
        .family(family)
        .table(table)
        .prefix(prefix_json(&args.prefix));
    if let Some(timeout) = args.timeout {
        changes = changes.timeout(timeout.0);
    }
    use std::io::Write;
    let stdout = std::io::stdout();
    for event in changes {
        let Some(line) = feed_event_json(&event) else {
            return Err(event
                .err()
                .map(anyhow::Error::from)
                .unwrap_or_else(|| anyhow::anyhow!("change feed")));
        };
        let mut out = stdout.lock();
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct TriggersArgs {
    /// This host's LDB (its reflector runs with -change-feed N).
    #[arg(long)]
    pub ldb: PathBuf,
    /// A directory of trigger files (replds' format; docs/triggers.md).
    #[arg(long)]
    pub triggers_dir: PathBuf,
}

/// Runs the triggers until a signal.
pub async fn triggers(
    args: &TriggersArgs,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let triggers = ctlstore_triggers::load_dir(&args.triggers_dir)?;
    let state_path = PathBuf::from(format!("{}.state", args.triggers_dir.display()));
    let state = ctlstore_triggers::State::load(&state_path)?;
    let reader = Reader::open(&args.ldb)?;
    let head = reader.last_sequence().unwrap_or(0);
    let known: Vec<i64> = triggers
        .iter()
        .filter_map(|t| state.handled.get(&t.name).copied())
        .collect();
    let after = known.iter().copied().min().unwrap_or(head);
    tracing::info!(
        triggers = triggers.len(),
        after,
        head,
        "triggers following the change feed"
    );
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    let follow = tokio::task::spawn_blocking(move || follow_feed(reader, after, tx));
    let options = ctlstore_triggers::Options {
        state_path,
        head,
        max_backoff: Duration::from_secs(60),
    };
    ctlstore_triggers::run(triggers, options, rx, shutdown).await?;
    follow.abort();
    Ok(())
}

/// Feeds batches to the runner until it goes away.
fn follow_feed(
    reader: Reader,
    mut after: i64,
    tx: tokio::sync::mpsc::Sender<ctlstore_triggers::Event>,
) {
    loop {
        let mut changes = reader.changes(after).timeout(FEED_WAIT);
        for event in changes.by_ref() {
            let event = match event {
                Ok(FeedEvent::Batch { seq, changes }) => {
                    ctlstore_triggers::Event::Batch(ctlstore_triggers::Batch {
                        seq,
                        changes: changes
                            .into_iter()
                            .map(|c| ctlstore_triggers::ChangedKey {
                                family: c.family,
                                table: c.table,
                                key: c.key,
                                op: c.op,
                            })
                            .collect(),
                    })
                }
                Ok(FeedEvent::Bootstrap { seq }) => {
                    tracing::warn!(
                        seq,
                        "the LDB was restored from a snapshot past the triggers' position: running every trigger once"
                    );
                    ctlstore_triggers::Event::Reset { seq }
                }
                Err(ReaderError::FeedNotRetained { after, since }) => {
                    tracing::warn!(
                        after,
                        since,
                        "the change feed no longer holds every change since the triggers last ran: running every trigger once"
                    );
                    ctlstore_triggers::Event::Reset { seq: since }
                }
                // A kind of event this build does not know: nothing to run.
                Ok(_) => continue,
                Err(ReaderError::FeedDisabled) => {
                    tracing::warn!(
                        "the LDB has no change feed (yet): start its reflector with -change-feed N"
                    );
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading the change feed");
                    std::thread::sleep(FEED_WAIT);
                    continue;
                }
            };
            if tx.blocking_send(event).is_err() {
                return;
            }
        }
        after = changes.position();
        if tx.is_closed() {
            return;
        }
    }
}

/// `watch --sidecar`: the sidecar's NDJSON stream, batch lines printed as they come (keepalives
/// are not printed; they reset `--timeout`).
async fn watch_sidecar(args: &WatchArgs, url: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let (family, table) = args
        .table
        .split_once('.')
        .ok_or_else(|| anyhow::anyhow!("'{}' is not FAMILY.TABLE", args.table))?;
    let base = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    let mut endpoint = reqwest::Url::parse(&format!(
        "{}/watch/{family}/{table}",
        base.trim_end_matches('/')
    ))
    .map_err(|e| anyhow::anyhow!("--sidecar {url}: {e}"))?;
    {
        let mut query = endpoint.query_pairs_mut();
        if let Some(after) = args.after {
            query.append_pair("after", &after.to_string());
        }
        if !args.prefix.is_empty() {
            query.append_pair(
                "prefix",
                &Json::Array(prefix_json(&args.prefix)).to_string(),
            );
        }
    }
    let mut response = reqwest::Client::new().get(endpoint.clone()).send().await?;
    if !response.status().is_success() {
        let status = response.status();
        anyhow::bail!(
            "{endpoint}: HTTP {status}: {}",
            response.text().await.unwrap_or_default()
        );
    }
    let mut buffer: Vec<u8> = Vec::new();
    loop {
        let chunk = match args.timeout {
            Some(timeout) => match tokio::time::timeout(timeout.0, response.chunk()).await {
                Ok(chunk) => chunk?,
                Err(_) => return Ok(()),
            },
            None => response.chunk().await?,
        };
        let Some(chunk) = chunk else { return Ok(()) };
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line);
            let value: Json = serde_json::from_str(text.trim()).unwrap_or(Json::Null);
            if value.get("keepalive").is_some() {
                continue;
            }
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
}
