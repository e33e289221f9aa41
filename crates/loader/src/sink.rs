//! The executive side: the writer, the family, the tables, and applying batches with the
//! writer's cookie as the compare-and-set that makes them exactly once.
//!
//! Every batch is sent with `check_cookie` = the cookie the loader last saw and `cookie` = the
//! position after the batch, so the executive applies it only if nobody moved the writer since;
//! a batch whose answer was lost (a timeout) is recognised on retry by the cookie being ours.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ctlstore_client::{
    Client, ClientError, Mutation, MutationBatch, TableSchema, WriterCredentials,
};
use ctlstore_schema::FieldType;
use serde_json::Value as Json;

use crate::change::{Change, Item, Op, Raw, RowChange, SourceTable, TableShape};
use crate::error::LoaderError;
use crate::metrics;
use crate::position::Position;
use crate::table_map::{TableMap, Target};
use crate::types::{MAX_STRING_CHARS, convert};

/// Backoff for answers that retrying fixes (429, 503, no answer).
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

pub struct Sink {
    client: Client,
    writer: WriterCredentials,
    family: String,
    create_tables: bool,
    map: TableMap,
    /// The mapping in force per source table, with the shape it was made for.
    targets: HashMap<SourceTable, (TableShape, Arc<Target>)>,
    /// The cookie as the executive holds it now (what the next batch checks).
    cookie: Vec<u8>,
    /// Every field of each ctlstore table written, so an upsert made for an older shape of
    /// the source table still names them all (as NULL).
    table_fields: HashMap<String, Vec<String>>,
    /// Keys sent by the initial copy, per ctlstore table, for the sweep at its end.
    copied_keys: HashMap<String, HashSet<String>>,
}

/// What applying a batch led to.
pub enum Applied {
    Done(Position),
    /// Another loader moved the writer's cookie: the position it holds now.
    Moved(Option<Position>),
}

impl Sink {
    pub fn new(
        client: Client,
        writer: WriterCredentials,
        family: String,
        create_tables: bool,
        map: TableMap,
    ) -> Sink {
        Sink {
            client,
            writer,
            family,
            create_tables,
            map,
            targets: HashMap::new(),
            cookie: Vec::new(),
            copied_keys: HashMap::new(),
            table_fields: HashMap::new(),
        }
    }

    /// Registers the writer and creates the family (both idempotent), then reads the
    /// position from the cookie.
    pub async fn start(&mut self) -> Result<Option<Position>, LoaderError> {
        retry("register the writer", || {
            self.client.register_writer(&self.writer)
        })
        .await?;
        retry("create the family", || async {
            match self.client.create_family(&self.family).await {
                Err(e) if e.status() == Some(409) => Ok(()),
                other => other,
            }
        })
        .await?;
        self.targets.clear();
        self.read_position().await
    }

    /// The position of the last cookie seen (what is applied, as far as this loader knows).
    pub fn applied(&self) -> Option<Position> {
        Position::from_cookie(&self.cookie).ok().flatten()
    }

    async fn read_position(&mut self) -> Result<Option<Position>, LoaderError> {
        self.cookie = retry("read the writer's cookie", || {
            self.client.cookie(&self.writer)
        })
        .await?;
        Position::from_cookie(&self.cookie)
            .map_err(|e| LoaderError::Halt(format!("writer {}: {e}", self.writer.name)))
    }

    /// The ctlstore table for `shape`, created or extended as needed; refuses a dropped or
    /// retyped column and a changed key.
    async fn target(&mut self, shape: &TableShape) -> Result<Arc<Target>, LoaderError> {
        if let Some((known, target)) = self.targets.get(&shape.table)
            && known == shape
        {
            return Ok(target.clone());
        }
        let source = &shape.table;
        let table_name = self.map.table_name(source);
        ctlstore_schema::TableName::new(&table_name).map_err(|e| {
            LoaderError::Halt(format!(
                "source table {source} maps to ctlstore table '{table_name}', which is not a valid name ({e}); set `table = \"...\"` in [tables.\"{source}\"] of the --config file"
            ))
        })?;
        let existing = self.table_schema(&table_name).await?;
        let target = self
            .map
            .plan(shape, existing.as_ref().map(|s| s.key_fields.as_slice()))
            .map_err(LoaderError::Halt)?;
        match existing {
            None if !self.create_tables => {
                return Err(LoaderError::Halt(format!(
                    "ctlstore table {}.{} (for source table {source}) does not exist and --create-tables is false",
                    self.family, target.table
                )));
            }
            None => {
                let definition = target.definition();
                retry("create a table", || async {
                    match self
                        .client
                        .create_table(&self.family, &target.table, &definition)
                        .await
                    {
                        Err(e) if e.status() == Some(409) => Ok(()),
                        other => other,
                    }
                })
                .await
                .map_err(|e| {
                    halt_on_refusal(e, &format!("create table {}.{}", self.family, target.table))
                })?;
                tracing::info!(source = %source, table = %target.table, fields = target.fields.len(), "created ctlstore table");
                let fields = target.fields.iter().map(|f| f.name.clone()).collect();
                self.table_fields.insert(target.table.clone(), fields);
            }
            Some(schema) => {
                let previous = self
                    .targets
                    .get(source)
                    .map(|(shape, target)| (shape.complete, target.clone()));
                let fields = self.reconcile(shape, &target, &schema, previous).await?;
                self.table_fields.insert(target.table.clone(), fields);
            }
        }
        let target = Arc::new(target);
        self.targets
            .insert(source.clone(), (shape.clone(), target.clone()));
        Ok(target)
    }

    async fn table_schema(&self, table: &str) -> Result<Option<TableSchema>, LoaderError> {
        retry("read a table's schema", || async {
            match self.client.table_schema(&self.family, table).await {
                Ok(schema) => Ok(Some(schema)),
                Err(e) if e.status() == Some(404) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// An existing table against the source: same key, every field still there with its
    /// type, new columns added as fields. Returns the table's fields.
    ///
    /// A field with no column is a dropped (or newly excluded) column when this session saw a
    /// complete shape with it before: the loader stops. Otherwise the change is older than the
    /// field (a replay after a restart, a schemaless event): the field is written as NULL.
    async fn reconcile(
        &self,
        shape: &TableShape,
        target: &Target,
        schema: &TableSchema,
        previous: Option<(bool, Arc<Target>)>,
    ) -> Result<Vec<String>, LoaderError> {
        let source = &shape.table;
        let table = format!("{}.{}", self.family, target.table);
        if schema.key_fields != target.key {
            return Err(LoaderError::Halt(format!(
                "ctlstore table {table} has key {:?} but source table {source} maps to key {:?}; they must agree",
                schema.key_fields, target.key
            )));
        }
        for (field, ty) in &schema.fields {
            match target.field(field) {
                None if !(shape.complete
                    && previous
                        .as_ref()
                        .is_some_and(|(complete, p)| *complete && p.field(field).is_some())) =>
                {
                    tracing::debug!(source = %source, field, "field has no column in this change: written as NULL");
                }
                None => {
                    return Err(LoaderError::Halt(format!(
                        "source table {source} no longer has a column for field '{field}' of {table} (dropped or excluded); ctlstore cannot drop fields, so the loader stops rather than lose it. Drop or recreate the table, or map a column to it"
                    )));
                }
                Some(f) if f.field_type.api_name() != ty => {
                    return Err(LoaderError::Halt(format!(
                        "column for field '{field}' of {table} changed type in source table {source}: it maps to {} now, the field is {ty}; override it with `types = {{ ... = \"{ty}\" }}` or recreate the table",
                        f.field_type.api_name()
                    )));
                }
                Some(_) => {}
            }
        }
        let new: Vec<(String, String)> = target
            .fields
            .iter()
            .filter(|f| !schema.fields.iter().any(|(name, _)| name == &f.name))
            .map(|f| (f.name.clone(), f.field_type.api_name().to_string()))
            .collect();
        let mut fields: Vec<String> = schema.fields.iter().map(|(name, _)| name.clone()).collect();
        if new.is_empty() {
            return Ok(fields);
        }
        if !self.create_tables {
            return Err(LoaderError::Halt(format!(
                "source table {source} has new columns {:?} and --create-tables is false; exclude them in the configuration or allow the loader to add fields",
                new.iter().map(|(n, _)| n).collect::<Vec<_>>()
            )));
        }
        retry("add fields", || {
            self.client.add_fields(&self.family, &target.table, &new)
        })
        .await
        .map_err(|e| halt_on_refusal(e, &format!("add fields to {table}")))?;
        tracing::info!(source = %source, table = %table, fields = ?new, "added fields");
        fields.extend(new.into_iter().map(|(name, _)| name));
        Ok(fields)
    }

    /// The executive's mutation for one row change.
    async fn mutation(
        &mut self,
        change: &RowChange,
        item: &Item,
    ) -> Result<(String, Mutation, String), LoaderError> {
        let target = self.target(&change.shape).await?;
        let bad = |field: &str, reason: String| {
            LoaderError::Halt(format!(
                "{} of {}: field '{field}' of {}.{}: {reason}",
                item.mark, change.shape.table, self.family, target.table
            ))
        };
        let mut key = Vec::with_capacity(target.key.len());
        for name in &target.key {
            let f = target
                .field(name)
                .ok_or_else(|| bad(name, "key field missing".into()))?;
            let value = convert(&change.values[f.column], f.kind, f.field_type)
                .map_err(|e| bad(name, e))?;
            if value.is_null() {
                return Err(bad(name, "the key is null".into()));
            }
            if f.field_type == FieldType::String
                && value
                    .as_str()
                    .is_some_and(|s| s.chars().count() > MAX_STRING_CHARS)
            {
                return Err(bad(
                    name,
                    format!("a string key is at most {MAX_STRING_CHARS} characters"),
                ));
            }
            key.push(value);
        }
        let key_text = Json::Array(key.clone()).to_string();
        let mut values = serde_json::Map::new();
        let fields: Vec<_> = match change.op {
            Op::Upsert => target.fields.iter().collect(),
            Op::Delete => target
                .fields
                .iter()
                .filter(|f| target.key.contains(&f.name))
                .collect(),
        };
        let mut stored: Option<ctlstore_client::Row> = None;
        for f in fields {
            let raw = &change.values[f.column];
            let value = if *raw == Raw::Unchanged {
                // PostgreSQL leaves an unchanged TOASTed value out of an update: the value
                // ctlstore holds is still the right one.
                if stored.is_none() {
                    let row = retry("read a row for an unchanged value", || {
                        self.client.row(&self.family, &target.table, &key)
                    })
                    .await?;
                    stored = Some(row.unwrap_or_default());
                }
                stored
                    .as_ref()
                    .and_then(|r| r.get(&f.name))
                    .cloned()
                    .unwrap_or(Json::Null)
            } else {
                convert(raw, f.kind, f.field_type)
                    .map_err(|e| bad(&f.name, format!("{e} (row key {key_text})")))?
            };
            values.insert(f.name.clone(), value);
        }
        let mutation = Mutation {
            table: target.table.clone(),
            delete: change.op == Op::Delete,
            values,
        };
        Ok((target.table.clone(), mutation, key_text))
    }

    /// Applies the row changes of `items` as one batch that moves the position from `before`
    /// to after the last item. When a change cannot be mapped, the whole transactions before
    /// it are still applied, so the halt's position is exactly the bad change.
    pub async fn apply_rows(
        &mut self,
        items: &[Item],
        before: Option<&Position>,
    ) -> Result<Applied, LoaderError> {
        let mut mutations = Vec::with_capacity(items.len());
        let mut copied = Vec::new();
        let copying = items
            .last()
            .is_some_and(|i| matches!(i.mark, crate::position::Mark::PostgresCopy { .. }));
        for (index, item) in items.iter().enumerate() {
            if let Change::Row(change) = &item.change {
                match self.mutation(change, item).await {
                    Ok((table, mutation, key)) => {
                        if copying {
                            copied.push((table, key));
                        }
                        mutations.push(mutation);
                    }
                    Err(e) => {
                        if index > 0
                            && items[index - 1].ends_transaction
                            && let Applied::Moved(p) = self
                                .send(&items[..index], mutations, copied, before)
                                .await?
                        {
                            return Ok(Applied::Moved(p));
                        }
                        return Err(e);
                    }
                }
            }
        }
        self.send(items, mutations, copied, before).await
    }

    async fn send(
        &mut self,
        items: &[Item],
        mutations: Vec<Mutation>,
        copied: Vec<(String, String)>,
        before: Option<&Position>,
    ) -> Result<Applied, LoaderError> {
        // Folded over every item: a Kafka batch may hold several partitions' messages.
        let mut after = before.cloned();
        for item in items {
            after = Some(Position::after(after.as_ref(), &item.mark));
        }
        let (Some(last), Some(after)) = (items.last(), after) else {
            return Ok(Applied::Done(before.cloned().unwrap_or(Position::File(0))));
        };
        let mut mutations = mutations;
        for m in mutations.iter_mut().filter(|m| !m.delete) {
            for field in self.table_fields.get(&m.table).into_iter().flatten() {
                if !m.values.contains_key(field) {
                    m.values.insert(field.clone(), Json::Null);
                }
            }
        }
        let cookie = after
            .to_cookie()
            .map_err(|e| LoaderError::Halt(e.to_string()))?;
        let batch = MutationBatch {
            mutations,
            cookie: Some(cookie.clone()),
            check_cookie: (!self.cookie.is_empty()).then(|| self.cookie.clone()),
        };
        let body = batch
            .to_json()
            .map_err(|e| LoaderError::Halt(e.to_string()))?;
        let outcome = retry("apply a batch", || {
            self.client
                .mutate_json(&self.writer, &self.family, body.clone())
        })
        .await;
        match outcome {
            Ok(()) => {}
            Err(LoaderError::Executive(e)) if e.status() == Some(409) => {
                // Either our own earlier attempt was applied and its answer lost, or another
                // loader moved the writer.
                let now = self.read_position().await?;
                if self.cookie == cookie {
                    tracing::info!(position = %after, "batch was already applied (its answer was lost)");
                } else {
                    metrics::cookie_conflict();
                    return Ok(Applied::Moved(now));
                }
            }
            Err(LoaderError::Executive(e)) => {
                return Err(LoaderError::Halt(format!(
                    "the executive refused the batch ending at {} ({} rows): {e}",
                    last.mark,
                    items.len()
                )));
            }
            Err(e) => return Err(e),
        }
        self.cookie = cookie;
        for (table, key) in copied {
            self.copied_keys.entry(table).or_default().insert(key);
        }
        Ok(Applied::Done(after))
    }

    /// Clears a table (a source TRUNCATE) and moves the position past it. Needs the executive's
    /// destructive changes enabled.
    pub async fn truncate(
        &mut self,
        table: &SourceTable,
        item: &Item,
        before: Option<&Position>,
    ) -> Result<Applied, LoaderError> {
        let name = match self.targets.get(table) {
            Some((_, target)) => target.table.clone(),
            None => self.map.table_name(table),
        };
        if let Some(applied) = self.check_unmoved().await? {
            return Ok(applied);
        }
        let outcome = retry("clear a table", || async {
            match self.client.clear_table(&self.family, &name).await {
                Err(e) if e.status() == Some(404) => Ok(()),
                other => other,
            }
        })
        .await;
        if let Err(e) = outcome {
            return Err(LoaderError::Halt(format!(
                "TRUNCATE of source table {table} at {}: the executive would not clear {}.{name} ({e}); start the executive with -enable-destructive-schema-changes, or clear the table by hand and set the writer's cookie past {}",
                item.mark, self.family, item.mark
            )));
        }
        tracing::info!(source = %table, table = %name, at = %item.mark, "cleared table (source TRUNCATE)");
        self.set_position(Position::after(before, &item.mark)).await
    }

    /// The end of the initial copy: deletes every row the copy did not send, then records the
    /// position the stream starts from.
    pub async fn finish_copy(
        &mut self,
        tables: &[Arc<TableShape>],
        item: &Item,
        batch_rows: usize,
    ) -> Result<Applied, LoaderError> {
        for shape in tables {
            // Creates a table the copy found empty.
            let target = self.target(shape).await?;
            let copied = self.copied_keys.remove(&target.table).unwrap_or_default();
            let mut stale = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let page = retry("read rows for the copy's sweep", || {
                    self.client.rows_page(
                        &self.family,
                        &target.table,
                        &[],
                        Some(1000),
                        after.as_deref(),
                    )
                })
                .await?;
                for row in page.rows {
                    let key: Vec<Json> = target
                        .key
                        .iter()
                        .map(|k| row.get(k).cloned().unwrap_or(Json::Null))
                        .collect();
                    if !copied.contains(&Json::Array(key.clone()).to_string()) {
                        let values = target.key.iter().cloned().zip(key).collect();
                        stale.push(Mutation {
                            table: target.table.clone(),
                            delete: true,
                            values,
                        });
                    }
                }
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            if !stale.is_empty() {
                tracing::info!(table = %target.table, rows = stale.len(), "deleting rows the source deleted before its snapshot");
            }
            for chunk in stale.chunks(batch_rows.max(1)) {
                let batch = MutationBatch {
                    mutations: chunk.to_vec(),
                    cookie: Some(self.cookie.clone()),
                    check_cookie: (!self.cookie.is_empty()).then(|| self.cookie.clone()),
                };
                retry("delete rows the copy did not see", || {
                    self.client.mutate(&self.writer, &self.family, &batch)
                })
                .await
                .map_err(|e| halt_on_refusal(e, "the copy's sweep"))?;
            }
        }
        self.set_position(Position::after(None, &item.mark)).await
    }

    /// `Some(Moved)` when the cookie is no longer the one last seen.
    async fn check_unmoved(&mut self) -> Result<Option<Applied>, LoaderError> {
        let seen = self.cookie.clone();
        let now = self.read_position().await?;
        if self.cookie != seen {
            metrics::cookie_conflict();
            return Ok(Some(Applied::Moved(now)));
        }
        Ok(None)
    }

    /// Records a position with no rows to go with it (after a TRUNCATE or the copy).
    async fn set_position(&mut self, position: Position) -> Result<Applied, LoaderError> {
        if let Some(applied) = self.check_unmoved().await? {
            return Ok(applied);
        }
        let cookie = position
            .to_cookie()
            .map_err(|e| LoaderError::Halt(e.to_string()))?;
        retry("set the writer's cookie", || {
            self.client.set_cookie(&self.writer, &cookie)
        })
        .await?;
        self.cookie = cookie;
        Ok(Applied::Done(position))
    }
}

fn halt_on_refusal(e: LoaderError, what: &str) -> LoaderError {
    match e {
        LoaderError::Executive(e) => {
            LoaderError::Halt(format!("{what}: the executive refused: {e}"))
        }
        other => other,
    }
}

/// Runs `call` until it succeeds or fails in a way retrying cannot fix. Rate limits (429)
/// and an unavailable ctldb (503) wait as the executive asks (`Retry-After`), else with
/// capped exponential backoff and jitter; nothing is dropped while waiting.
pub async fn retry<T, F, Fut>(what: &str, mut call: F) -> Result<T, LoaderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ClientError>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut attempts = 0u32;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_transient() => {
                attempts += 1;
                let reason = match e.status() {
                    Some(429) => "rate_limited",
                    Some(_) => "unavailable",
                    None => "unreachable",
                };
                metrics::retry(reason);
                let wait = match &e {
                    ClientError::Api {
                        retry_after: Some(s),
                        ..
                    } => Duration::from_secs(*s).min(MAX_BACKOFF),
                    _ => jitter(backoff),
                };
                if attempts == 1 || attempts.is_multiple_of(10) {
                    tracing::warn!(what, error = %e, attempts, wait_ms = wait.as_millis() as u64, "executive not accepting; retrying");
                }
                tokio::time::sleep(wait).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(e) => return Err(LoaderError::Executive(e)),
        }
    }
}

/// Between half and all of `d`, so loaders that failed together do not retry together.
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    d / 2 + d.mul_f64(f64::from(nanos % 1000) / 2000.0)
}
