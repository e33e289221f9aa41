//! The loop: read changes, pack them into batches on transaction boundaries, apply, report.
//! Around it, reconnection: a source or executive that goes away is waited for and the loop
//! resumes from the writer's cookie; a problem retrying cannot fix halts the loader, which
//! stays up to say why on `/healthz`.

use std::future::Future;
use std::time::{Duration, Instant};

use ctlstore_client::{Client, WriterCredentials};

use crate::Config;
use crate::change::{Change, Item};
use crate::error::LoaderError;
use crate::metrics;
use crate::position::Position;
use crate::sink::{Applied, Sink};
use crate::source::{Next, Source};
use crate::status::{Phase, Status};

const MAX_RECONNECT_BACKOFF: Duration = Duration::from_secs(10);
/// How long to wait for the source when no batch is waiting to be sent.
const IDLE_WAIT: Duration = Duration::from_millis(500);

/// How one pass of the loop ended.
enum Ended {
    /// The source has no more (a file).
    Finished,
    /// Another loader moved the cookie: resume from the new position.
    Moved,
}

/// Runs the loader until `shutdown` completes; `Err` only for a startup problem (flags,
/// configuration, the status address).
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), LoaderError> {
    // The recorder first: metrics recorded before it exists are lost.
    ctlstore_telemetry::prometheus();
    let status = Status::new(config.source.kind());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = match config.metrics_bind {
        Some(bind) => {
            let mut stop = stop_rx.clone();
            let listener_status = status.clone();
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .map_err(|e| LoaderError::Config(format!("--metrics-bind {bind}: {e}")))?;
            tracing::info!(addr = %bind, "loader status on /healthz, /status, /metrics");
            let tls = config.metrics_tls.clone();
            Some(tokio::spawn(async move {
                let app = crate::status::router(listener_status);
                let _ = ctlstore_serve::serve_tls(listener, app, tls, async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            }))
        }
        None => None,
    };
    let client = Client::with_tls(
        &config.executive_url,
        ctlstore_client::DEFAULT_TIMEOUT,
        &config.tls,
    )
    .map_err(|e| LoaderError::Config(format!("--executive-url: {e}")))?
    .with_admin_token(config.admin_token.clone());
    let writer = WriterCredentials::new(&config.writer_name, &config.writer_secret);
    let sink = Sink::new(
        client,
        writer,
        config.family.clone(),
        config.create_tables,
        config.tables.clone(),
    );
    let outcome = tokio::select! {
        outcome = supervise(&config, sink, &status) => outcome,
        _ = shutdown => Ok(()),
    };
    let _ = stop_tx.send(true);
    if let Some(server) = server {
        let _ = server.await;
    }
    outcome
}

/// Restarts the loop after failures that waiting fixes; parks after a halt.
async fn supervise(config: &Config, mut sink: Sink, status: &Status) -> Result<(), LoaderError> {
    let mut backoff = Duration::from_millis(200);
    loop {
        match load(config, &mut sink, status).await {
            Ok(Ended::Finished) => {
                status.phase(Phase::Finished, None);
                tracing::info!("source read to its end; every change is applied");
                return Ok(());
            }
            Ok(Ended::Moved) => {
                tracing::warn!(
                    "another loader is writing as writer {}; resuming from its position",
                    config.writer_name
                );
                metrics::restart("cookie_moved");
            }
            Err(LoaderError::Config(reason)) => return Err(LoaderError::Config(reason)),
            Err(e @ (LoaderError::Halt(_) | LoaderError::Executive(_))) => {
                // The executive's refusals that reach here are the ones retrying cannot fix
                // (a wrong secret, a name it will not take).
                let reason = match e {
                    LoaderError::Halt(reason) => reason,
                    other => other.to_string(),
                };
                if let Some(applied) = sink.applied() {
                    status.position(applied.to_string());
                }
                tracing::error!(%reason, "loader halted: fix the cause and restart it");
                status.phase(Phase::Halted, Some(reason));
                return std::future::pending().await;
            }
            Err(e) => {
                let busy = matches!(e, LoaderError::Busy(_));
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "loader waiting");
                status.phase(Phase::Waiting, Some(e.to_string()));
                metrics::restart(if busy { "busy" } else { "source" });
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_RECONNECT_BACKOFF);
                continue;
            }
        }
        backoff = Duration::from_millis(200);
    }
}

/// One pass: resume from the cookie and load until something stops it.
async fn load(config: &Config, sink: &mut Sink, status: &Status) -> Result<Ended, LoaderError> {
    let mut position = sink.start().await?;
    if let Some(p) = &position {
        if p.source_kind() != config.source.kind() {
            return Err(LoaderError::Halt(format!(
                "writer {}'s cookie holds a {} position ({p}) but this loader reads a {} source; use another writer for this source",
                config.writer_name,
                p.source_kind(),
                config.source.kind()
            )));
        }
        status.position(p.to_string());
    }
    tracing::info!(position = %position.as_ref().map(|p| p.to_string()).unwrap_or_else(|| "none (from the start)".into()), "loader resuming");
    let mut source = Source::open(&config.source, position.as_ref(), status).await?;
    if status.report().phase != Phase::Copying {
        status.phase(Phase::Streaming, None);
    }
    let mut batch = Batch::default();
    loop {
        let wait = match batch.due(config.batch_window) {
            Some(due) => due.saturating_duration_since(Instant::now()),
            None => IDLE_WAIT,
        };
        let next = if wait.is_zero() {
            Next::Idle
        } else {
            source.next(wait).await?
        };
        match next {
            Next::Item(item) => {
                if position.as_ref().is_some_and(|p| p.covers(&item.mark)) {
                    continue;
                }
                status.read(item.mark.to_string(), batch.len() as u64 + 1);
                match &item.change {
                    Change::Row(_) => {
                        let pushed = batch.push(item, config.batch_rows);
                        if pushed.split {
                            tracing::info!(
                                rows = config.batch_rows,
                                "source transaction larger than --batch-rows: split"
                            );
                            metrics::split();
                            status.split();
                        }
                        for mut ready in pushed.send {
                            if !flush(sink, &mut source, status, &mut position, &mut ready).await? {
                                return Ok(Ended::Moved);
                            }
                        }
                    }
                    Change::Truncate(table) => {
                        let table = table.clone();
                        if !flush_all(sink, &mut source, status, &mut position, &mut batch).await? {
                            return Ok(Ended::Moved);
                        }
                        match sink.truncate(&table, &item, position.as_ref()).await? {
                            Applied::Done(p) => position = Some(p),
                            Applied::Moved(_) => return Ok(Ended::Moved),
                        }
                    }
                    Change::CopyFinished { tables } => {
                        let tables = tables.clone();
                        if !flush_all(sink, &mut source, status, &mut position, &mut batch).await? {
                            return Ok(Ended::Moved);
                        }
                        match sink.finish_copy(&tables, &item, config.batch_rows).await? {
                            Applied::Done(p) => {
                                tracing::info!(position = %p, "initial copy complete; streaming");
                                status.phase(Phase::Streaming, None);
                                position = Some(p);
                            }
                            Applied::Moved(_) => return Ok(Ended::Moved),
                        }
                        if let Some(p) = &position {
                            source.applied(p, true).await?;
                        }
                    }
                }
            }
            Next::Idle => {
                if !batch.whole.is_empty() {
                    if !flush(sink, &mut source, status, &mut position, &mut batch.whole).await? {
                        return Ok(Ended::Moved);
                    }
                } else if batch.open.is_empty()
                    && let Some(p) = &position
                {
                    source.applied(p, true).await?;
                }
            }
            Next::End => {
                if !flush_all(sink, &mut source, status, &mut position, &mut batch).await? {
                    return Ok(Ended::Moved);
                }
                return Ok(Ended::Finished);
            }
        }
    }
}

/// Whole transactions waiting to be sent, and the one still arriving.
#[derive(Default)]
struct Batch {
    whole: Vec<Item>,
    open: Vec<Item>,
    since: Option<Instant>,
}

impl Batch {
    fn len(&self) -> usize {
        self.whole.len() + self.open.len()
    }

    /// When the waiting transactions must be sent.
    fn due(&self, window: Duration) -> Option<Instant> {
        (!self.whole.is_empty()).then(|| self.since.unwrap_or_else(Instant::now) + window)
    }

    /// Adds a change; returns the batches to send now, in order. A transaction joins the
    /// waiting ones when it ends, if it fits beside them (else they go first); one that grows
    /// past `max` rows is split, after the waiting ones are sent.
    fn push(&mut self, item: Item, max: usize) -> Pushed {
        let ends = item.ends_transaction;
        let mut pushed = Pushed::default();
        self.open.push(item);
        if self.open.len() > max {
            if !self.whole.is_empty() {
                pushed.send.push(std::mem::take(&mut self.whole));
            }
            let rest = self.open.split_off(max);
            pushed.send.push(std::mem::replace(&mut self.open, rest));
            pushed.split = true;
            return pushed;
        }
        if ends {
            if self.whole.len() + self.open.len() > max {
                pushed.send.push(std::mem::take(&mut self.whole));
            }
            if self.whole.is_empty() {
                self.since = Some(Instant::now());
            }
            self.whole.append(&mut self.open);
            if self.whole.len() >= max {
                pushed.send.push(std::mem::take(&mut self.whole));
            }
        }
        pushed
    }
}

#[derive(Default)]
struct Pushed {
    send: Vec<Vec<Item>>,
    split: bool,
}

/// Sends everything, the open transaction included (the source ended, or a TRUNCATE must be
/// ordered after it).
async fn flush_all(
    sink: &mut Sink,
    source: &mut Source,
    status: &Status,
    position: &mut Option<Position>,
    batch: &mut Batch,
) -> Result<bool, LoaderError> {
    let mut whole = std::mem::take(&mut batch.whole);
    let mut open = std::mem::take(&mut batch.open);
    Ok(flush(sink, source, status, position, &mut whole).await?
        && flush(sink, source, status, position, &mut open).await?)
}

/// Applies `items` (emptying it). `false` when another loader moved the cookie.
async fn flush(
    sink: &mut Sink,
    source: &mut Source,
    status: &Status,
    position: &mut Option<Position>,
    items: &mut Vec<Item>,
) -> Result<bool, LoaderError> {
    if items.is_empty() {
        return Ok(true);
    }
    let started = Instant::now();
    let batch = std::mem::take(items);
    match sink.apply_rows(&batch, position.as_ref()).await? {
        Applied::Done(p) => {
            metrics::applied(batch.len(), started.elapsed().as_secs_f64());
            let committed_at = batch.last().and_then(|i| i.committed_at);
            status.applied(p.to_string(), batch.len(), 0, committed_at);
            source.applied(&p, false).await?;
            *position = Some(p);
            Ok(true)
        }
        Applied::Moved(_) => Ok(false),
    }
}
