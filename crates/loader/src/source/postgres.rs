//! `postgres://…?publication=P&slot=S`: native logical replication with `pgoutput`.
//!
//! On first start (no position in the cookie, an unfinished copy, or a slot that is gone) it
//! creates the slot, copies the publication's tables from the snapshot the slot exported, then
//! deletes the ctlstore rows the copy did not see and streams from the slot's consistent point.
//! Afterwards it resumes from the slot, skipping what the cookie covers; the slot's confirmed
//! LSN moves only once the executive has acknowledged the batch carrying it.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ctlstore_source_postgres::{
    ConnectConfig, Event, Lsn, ReplicationClient, ReplicationStream, SnapshotReader, SourceError,
    Table, Value,
};
use tokio::sync::mpsc;

use super::Next;
use crate::change::{Change, Item, Op, Raw, RowChange, SourceColumn, SourceTable, TableShape};
use crate::error::LoaderError;
use crate::position::{Mark, Position, WHOLE_TRANSACTION};
use crate::status::{Phase, Status};
use crate::types::postgres_kind;

/// `--source postgres://…`, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct PostgresSpec {
    /// The connection URL without the loader's own parameters.
    pub url: String,
    pub publication: String,
    pub slot: String,
}

impl PostgresSpec {
    pub fn parse(text: &str) -> Result<PostgresSpec, String> {
        let (base, _) = text.split_once('?').unwrap_or((text, ""));
        let mut publication = None;
        let mut slot = None;
        let mut rest = Vec::new();
        for (key, value) in ctlstore_source_postgres::query_params(text) {
            match key.as_str() {
                "publication" => publication = Some(value),
                "slot" => slot = Some(value),
                _ => rest.push(format!("{key}={value}")),
            }
        }
        let url = if rest.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        ConnectConfig::from_url(&url).map_err(|e| e.to_string())?;
        let publication = publication
            .filter(|p| !p.is_empty())
            .ok_or("a postgres:// source needs ?publication=NAME")?;
        let slot = slot
            .filter(|s| !s.is_empty())
            .ok_or("a postgres:// source needs &slot=NAME (created if missing)")?;
        Ok(PostgresSpec {
            url,
            publication,
            slot,
        })
    }
}

/// Rows buffered between the copy and the loader.
const COPY_BUFFER: usize = 4096;

pub struct PostgresSource {
    spec: PostgresSpec,
    config: ConnectConfig,
    /// Held open (and idle) while the copy reads its snapshot.
    client: Option<ReplicationClient>,
    copy: Option<mpsc::Receiver<Result<Item, LoaderError>>>,
    /// The copy's last item (its end) was handed on.
    copy_finished: bool,
    stream: Option<ReplicationStream>,
    status: Status,
    shapes: HashMap<u32, Arc<TableShape>>,
    transaction: Option<Transaction>,
    /// The newest change, held until the next one or the commit says whether it ends its
    /// transaction.
    held: Option<Item>,
    ready: VecDeque<Item>,
    /// The end of the last commit seen: confirmed when everything read is applied.
    last_commit_end: Option<Lsn>,
    /// Commits read and not yet confirmed: (commit LSN, end LSN). Confirming a commit's end
    /// makes the server skip that transaction after a reconnect.
    commits: VecDeque<(u64, Lsn)>,
}

struct Transaction {
    lsn: u64,
    rows: u64,
    committed_at: SystemTime,
}

fn source_error(e: SourceError) -> LoaderError {
    match e {
        SourceError::SlotActive { .. } => {
            LoaderError::Busy(format!("{e}; another loader holds it, waiting"))
        }
        SourceError::Io(_) | SourceError::ConnectionClosed => LoaderError::Source(e.to_string()),
        // 57P01..57P03: the server is shutting down or starting; 53300: too many connections.
        SourceError::Server { ref code, .. } if code.starts_with("57P") || code == "53300" => {
            LoaderError::Source(e.to_string())
        }
        other => LoaderError::Halt(format!("PostgreSQL source: {other}")),
    }
}

impl PostgresSource {
    pub async fn open(
        spec: &PostgresSpec,
        position: Option<&Position>,
        status: &Status,
    ) -> Result<PostgresSource, LoaderError> {
        let config =
            ConnectConfig::from_url(&spec.url).map_err(|e| LoaderError::Config(e.to_string()))?;
        let mut client = ReplicationClient::connect(&config)
            .await
            .map_err(source_error)?;
        // The slot is only "active" while it streams, not while a copy runs from its
        // snapshot: a session lock on the replication connection keeps a second loader from
        // dropping it mid-copy. It goes with the connection, so a killed loader releases it.
        let key =
            ctlstore_source_postgres::quote_literal(&format!("ctlstore-loader/{}", spec.slot));
        let locked = client
            .simple_query(&format!("SELECT pg_try_advisory_lock(hashtext({key}))"))
            .await
            .map_err(source_error)?;
        if locked
            .first()
            .and_then(|r| r.first())
            .and_then(|v| v.as_deref())
            != Some("t")
        {
            return Err(LoaderError::Busy(format!(
                "replication slot \"{}\" is in use by another loader; waiting",
                spec.slot
            )));
        }
        let slot = client.slot(&spec.slot).await.map_err(source_error)?;
        if let Some(pid) = slot.as_ref().and_then(|s| s.active_pid) {
            return Err(LoaderError::Busy(format!(
                "replication slot \"{}\" is in use by server process {pid} (another loader?); waiting",
                spec.slot
            )));
        }
        let resumable = matches!(position, Some(Position::Postgres { .. })) && slot.is_some();
        let mut source = PostgresSource {
            spec: spec.clone(),
            config,
            client: None,
            copy: None,
            copy_finished: false,
            stream: None,
            status: status.clone(),
            shapes: HashMap::new(),
            transaction: None,
            held: None,
            ready: VecDeque::new(),
            last_commit_end: None,
            commits: VecDeque::new(),
        };
        if resumable {
            source.stream = Some(
                client
                    .start(&spec.slot, &spec.publication, Lsn(0))
                    .await
                    .map_err(source_error)?,
            );
            tracing::info!(slot = %spec.slot, publication = %spec.publication, "streaming from the replication slot");
            return Ok(source);
        }
        if slot.is_some() {
            // A slot with no finished copy behind it: its snapshot is gone, so copy afresh.
            tracing::info!(slot = %spec.slot, "dropping the replication slot to copy again from a new snapshot");
            client.drop_slot(&spec.slot).await.map_err(source_error)?;
        } else if matches!(position, Some(Position::Postgres { .. })) {
            tracing::warn!(slot = %spec.slot, "the replication slot is gone: copying the publication again from a new snapshot (rows deleted meanwhile are removed after the copy)");
        }
        let created = client.create_slot(&spec.slot).await.map_err(source_error)?;
        tracing::info!(slot = %spec.slot, consistent_point = %created.consistent_point, "created the replication slot; copying the publication's tables");
        status.phase(Phase::Copying, None);
        let (tx, rx) = mpsc::channel(COPY_BUFFER);
        tokio::spawn(copy(
            source.config.clone(),
            spec.publication.clone(),
            created.snapshot_name,
            created.consistent_point,
            tx,
        ));
        source.client = Some(client);
        source.copy = Some(rx);
        Ok(source)
    }

    pub async fn next(&mut self, wait: Duration) -> Result<Next, LoaderError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Ok(Next::Item(item));
            }
            if let Some(copy) = &mut self.copy {
                match tokio::time::timeout_at(deadline, copy.recv()).await {
                    Err(_) => return Ok(Next::Idle),
                    Ok(Some(Ok(item))) => {
                        self.copy_finished |= matches!(item.change, Change::CopyFinished { .. });
                        return Ok(Next::Item(item));
                    }
                    Ok(Some(Err(e))) => return Err(e),
                    Ok(None) if !self.copy_finished => {
                        // The copy task died without saying why: streaming now would record
                        // the copy as done. Start again.
                        return Err(LoaderError::Source("the initial copy stopped early".into()));
                    }
                    Ok(None) => {
                        // The copy is done (its last item was the end of the copy): stream.
                        self.copy = None;
                        let client = self.client.take().ok_or_else(|| {
                            LoaderError::Source("the replication connection is gone".into())
                        })?;
                        self.stream = Some(
                            client
                                .start(&self.spec.slot, &self.spec.publication, Lsn(0))
                                .await
                                .map_err(source_error)?,
                        );
                        continue;
                    }
                }
            }
            let Some(stream) = &mut self.stream else {
                return Err(LoaderError::Source(
                    "the replication stream is not running".into(),
                ));
            };
            // `next` is cancel-safe: a timeout loses nothing.
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Err(_) => return Ok(Next::Idle),
                Ok(Err(e)) => return Err(source_error(e)),
                Ok(Ok(None)) => {
                    return Err(LoaderError::Source(
                        "PostgreSQL ended the replication stream".into(),
                    ));
                }
                Ok(Ok(Some(event))) => self.handle(event)?,
            }
        }
    }

    fn handle(&mut self, event: Event) -> Result<(), LoaderError> {
        match event {
            Event::Begin {
                final_lsn,
                commit_time_micros,
                ..
            } => {
                self.transaction = Some(Transaction {
                    lsn: final_lsn.0,
                    rows: 0,
                    committed_at: unix_micros(commit_time_micros),
                });
            }
            Event::Relation(table) => {
                let shape = shape(&table);
                self.shapes.insert(table.oid, Arc::new(shape));
            }
            Event::Insert { relation, new } => self.row(relation, Op::Upsert, new)?,
            Event::Update { relation, old, new } => {
                if let Some(old) = old {
                    let shape = self.shape(relation)?;
                    let key_changed = shape.columns.iter().enumerate().any(|(i, c)| {
                        c.is_key && old.get(i) != new.get(i) && old.get(i) != Some(&Value::Null)
                    });
                    if key_changed {
                        self.row(relation, Op::Delete, old)?;
                    }
                }
                self.row(relation, Op::Upsert, new)?;
            }
            Event::Delete { relation, old } => self.row(relation, Op::Delete, old)?,
            Event::Truncate { relations, .. } => {
                for relation in relations {
                    let table = self.shape(relation)?.table.clone();
                    self.push(Change::Truncate(table))?;
                }
            }
            Event::Commit {
                commit_lsn,
                end_lsn,
                ..
            } => {
                self.commits.push_back((commit_lsn.0, end_lsn));
                if let Some(mut last) = self.held.take() {
                    last.ends_transaction = true;
                    if let Mark::Postgres { row, .. } = &mut last.mark {
                        *row = WHOLE_TRANSACTION;
                    }
                    self.ready.push_back(last);
                }
                self.transaction = None;
                self.last_commit_end = Some(end_lsn);
            }
            Event::Other => {}
        }
        Ok(())
    }

    fn shape(&self, relation: u32) -> Result<Arc<TableShape>, LoaderError> {
        self.shapes.get(&relation).cloned().ok_or_else(|| {
            LoaderError::Source(format!(
                "a change to relation {relation} came before its description"
            ))
        })
    }

    fn row(&mut self, relation: u32, op: Op, tuple: Vec<Value>) -> Result<(), LoaderError> {
        let shape = self.shape(relation)?;
        let values = tuple
            .into_iter()
            .map(|v| match v {
                Value::Null => Raw::Null,
                Value::UnchangedToast => Raw::Unchanged,
                Value::Text(t) => Raw::Text(t),
            })
            .collect();
        self.push(Change::Row(RowChange { shape, op, values }))
    }

    fn push(&mut self, change: Change) -> Result<(), LoaderError> {
        let transaction = self
            .transaction
            .as_mut()
            .ok_or_else(|| LoaderError::Source("a change outside a transaction".into()))?;
        transaction.rows += 1;
        let item = Item {
            change,
            mark: Mark::Postgres {
                lsn: transaction.lsn,
                row: transaction.rows,
            },
            ends_transaction: false,
            committed_at: Some(transaction.committed_at),
        };
        if let Some(previous) = self.held.replace(item) {
            self.ready.push_back(previous);
        }
        Ok(())
    }

    /// Confirms to the slot what is applied, so the server can recycle WAL. When nothing read
    /// is pending, everything seen so far is applied (or had nothing for us).
    pub fn applied(&mut self, position: &Position, idle: bool) {
        let Some(stream) = &mut self.stream else {
            return;
        };
        let nothing_pending =
            idle && self.ready.is_empty() && self.held.is_none() && self.transaction.is_none();
        if nothing_pending {
            self.commits.clear();
            if let Some(end) = self.last_commit_end {
                stream.confirm(end);
            }
        } else if let Position::Postgres { lsn, rows } = position {
            let mut end = None;
            while let Some(&(commit, commit_end)) = self.commits.front() {
                if commit < *lsn || (commit == *lsn && *rows == WHOLE_TRANSACTION) {
                    end = Some(commit_end);
                    self.commits.pop_front();
                } else {
                    break;
                }
            }
            if let Some(end) = end {
                stream.confirm(end);
            }
        }
        self.status.backlog(self.ready.len() as u64);
    }
}

fn unix_micros(micros: i64) -> SystemTime {
    if micros >= 0 {
        UNIX_EPOCH + Duration::from_micros(micros as u64)
    } else {
        UNIX_EPOCH
    }
}

fn shape(table: &Table) -> TableShape {
    TableShape {
        table: SourceTable {
            schema: Some(table.schema.clone()),
            name: table.name.clone(),
        },
        columns: table
            .columns
            .iter()
            .map(|c| {
                let (kind, max_chars) = postgres_kind(c.type_oid, c.type_modifier);
                SourceColumn {
                    name: c.name.clone(),
                    kind,
                    max_chars,
                    type_name: if c.type_name.is_empty() {
                        format!("oid {}", c.type_oid)
                    } else {
                        c.type_name.clone()
                    },
                    is_key: c.is_key,
                }
            })
            .collect(),
        complete: true,
    }
}

/// The initial copy, on its own task: every row of every published table as of the slot's
/// snapshot, then the end of the copy. Progress: a log line per 10 % of each table.
async fn copy(
    config: ConnectConfig,
    publication: String,
    snapshot: String,
    consistent_point: Lsn,
    tx: mpsc::Sender<Result<Item, LoaderError>>,
) {
    let outcome = copy_tables(&config, &publication, &snapshot, consistent_point, &tx).await;
    if let Err(e) = outcome {
        let _ = tx.send(Err(e)).await;
    }
}

async fn copy_tables(
    config: &ConnectConfig,
    publication: &str,
    snapshot: &str,
    consistent_point: Lsn,
    tx: &mpsc::Sender<Result<Item, LoaderError>>,
) -> Result<(), LoaderError> {
    let started = Instant::now();
    let mut reader = SnapshotReader::begin(config, Some(snapshot))
        .await
        .map_err(source_error)?;
    let tables = reader
        .publication_tables(publication)
        .await
        .map_err(source_error)?;
    let mark = Mark::PostgresCopy {
        consistent_lsn: consistent_point.0,
    };
    let mut copied = Vec::new();
    let mut total_rows = 0u64;
    for table in &tables {
        let estimate = reader.estimated_rows(table).await.map_err(source_error)?;
        let shape = Arc::new(shape(table));
        let bar = progress_bar(&shape.table.to_string(), estimate);
        let mut rows = 0u64;
        let mut cursor = reader.copy_table(table).await.map_err(source_error)?;
        while let Some(tuple) = cursor.next_row().await.map_err(source_error)? {
            rows += 1;
            let values = tuple
                .into_iter()
                .map(|v| match v {
                    Value::Text(t) => Raw::Text(t),
                    _ => Raw::Null,
                })
                .collect();
            let item = Item {
                change: Change::Row(RowChange {
                    shape: shape.clone(),
                    op: Op::Upsert,
                    values,
                }),
                mark: mark.clone(),
                ends_transaction: true,
                committed_at: None,
            };
            if tx.send(Ok(item)).await.is_err() {
                return Ok(());
            }
            bar.inc(1);
            if estimate > 0 && rows.is_multiple_of((estimate / 10).max(1)) {
                tracing::info!(table = %shape.table, rows, estimated = estimate, percent = (rows * 100 / estimate).min(100), "copying");
            }
        }
        bar.finish_and_clear();
        tracing::info!(table = %shape.table, rows, "copied");
        total_rows += rows;
        copied.push(shape.clone());
    }
    reader.finish().await.map_err(source_error)?;
    tracing::info!(
        tables = copied.len(),
        rows = total_rows,
        seconds = started.elapsed().as_secs_f64(),
        "initial copy read"
    );
    let end = Item {
        change: Change::CopyFinished { tables: copied },
        mark: Mark::Postgres {
            lsn: consistent_point.0,
            row: WHOLE_TRANSACTION,
        },
        ends_transaction: true,
        committed_at: None,
    };
    let _ = tx.send(Ok(end)).await;
    Ok(())
}

/// A bar on a terminal; nothing otherwise (the log lines carry the progress).
fn progress_bar(table: &str, total: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:40}] {pos}/~{len} rows {per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar.set_message(format!("copying {table}"));
    bar
}
