//! The initial copy: a repeatable-read transaction pinned to the replication slot's exported
//! snapshot, so the copied rows are exactly the state the slot's stream continues from. Also
//! reads which tables the publication covers and their columns.

use crate::connection::PgConnection;
use crate::copy_text::decode_line;
use crate::table::{quote_ident, quote_literal};
use crate::wire;
use crate::{Column, ConnectConfig, SourceError, Table, Tuple};
use bytes::{Buf, BytesMut};
use std::collections::HashMap;

/// A read-only transaction for copying a publication's tables.
pub struct SnapshotReader {
    conn: PgConnection,
    server_version: u32,
    /// Publication row filters (PostgreSQL 15+), by table oid, applied to the copy as the
    /// server applies them to the stream.
    row_filters: HashMap<u32, String>,
}

impl SnapshotReader {
    /// Connects and opens `BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY`, then, given a
    /// snapshot name (from [`crate::ReplicationClient::create_slot`]), adopts it with
    /// `SET TRANSACTION SNAPSHOT`. The snapshot only exists while the replication connection
    /// that exported it stays open and idle.
    pub async fn begin(
        config: &ConnectConfig,
        snapshot: Option<&str>,
    ) -> Result<SnapshotReader, SourceError> {
        let mut conn = PgConnection::connect(config).await?;
        let server_version = server_version_num(&mut conn).await?;
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
        if let Some(name) = snapshot {
            conn.execute(&format!("SET TRANSACTION SNAPSHOT {}", quote_literal(name)))
                .await?;
        }
        Ok(SnapshotReader {
            conn,
            server_version,
            row_filters: HashMap::new(),
        })
    }

    /// The tables in `publication` (from `pg_publication_tables`), ordered by schema and name,
    /// each with its columns. Key columns: the primary key, else the replica identity index,
    /// else none. On PostgreSQL 15+, publication column lists and row filters are honoured.
    pub async fn publication_tables(
        &mut self,
        publication: &str,
    ) -> Result<Vec<Table>, SourceError> {
        let pub_lit = quote_literal(publication);
        let filter_column = if self.server_version >= 150_000 {
            "pt.rowfilter"
        } else {
            "NULL::text"
        };
        let rows = self
            .conn
            .simple_query(&format!(
                "SELECT c.oid, n.nspname, c.relname, {filter_column} \
                 FROM pg_publication_tables pt \
                 JOIN pg_namespace n ON n.nspname = pt.schemaname \
                 JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename \
                 WHERE pt.pubname = {pub_lit} ORDER BY n.nspname, c.relname"
            ))
            .await?;
        let mut tables = Vec::with_capacity(rows.len());
        for row in rows {
            let [oid, schema, name, filter] =
                <[Option<String>; 4]>::try_from(row).map_err(|_| {
                    SourceError::protocol("pg_publication_tables row has the wrong width")
                })?;
            let oid: u32 = oid
                .and_then(|o| o.parse().ok())
                .ok_or_else(|| SourceError::protocol("pg_class.oid is not a number"))?;
            let schema = schema.unwrap_or_default();
            let name = name.unwrap_or_default();
            let columns = self.columns(oid, publication, &schema, &name).await?;
            match filter {
                Some(f) => self.row_filters.insert(oid, f),
                None => self.row_filters.remove(&oid),
            };
            tables.push(Table {
                oid,
                schema,
                name,
                columns,
            });
        }
        Ok(tables)
    }

    async fn columns(
        &mut self,
        oid: u32,
        publication: &str,
        schema: &str,
        name: &str,
    ) -> Result<Vec<Column>, SourceError> {
        let not_generated = if self.server_version >= 120_000 {
            "AND a.attgenerated = ''"
        } else {
            ""
        };
        // pg_publication_tables.attnames (15+) lists the published columns: all of them unless
        // the publication has a column list.
        let column_list = if self.server_version >= 150_000 {
            format!(
                "AND EXISTS (SELECT 1 FROM pg_publication_tables pt \
                 WHERE pt.pubname = {} AND pt.schemaname = {} AND pt.tablename = {} \
                 AND a.attname = ANY(pt.attnames))",
                quote_literal(publication),
                quote_literal(schema),
                quote_literal(name)
            )
        } else {
            String::new()
        };
        let rows = self
            .conn
            .simple_query(&format!(
                "SELECT a.attname, a.atttypid, format_type(a.atttypid, a.atttypmod), a.atttypmod, \
                 COALESCE(a.attnum = ANY(k.indkey), false) \
                 FROM pg_attribute a \
                 LEFT JOIN LATERAL (SELECT i.indkey FROM pg_index i \
                   WHERE i.indrelid = a.attrelid AND (i.indisprimary OR i.indisreplident) \
                   ORDER BY i.indisprimary DESC LIMIT 1) k ON true \
                 WHERE a.attrelid = {oid} AND a.attnum > 0 AND NOT a.attisdropped {not_generated} {column_list} \
                 ORDER BY a.attnum"
            ))
            .await?;
        rows.into_iter()
            .map(|row| {
                let bad = || SourceError::protocol("pg_attribute row is malformed");
                let [name, type_oid, type_name, typmod, key] =
                    <[Option<String>; 5]>::try_from(row).map_err(|_| bad())?;
                Ok(Column {
                    name: name.ok_or_else(bad)?,
                    type_oid: type_oid.and_then(|t| t.parse().ok()).ok_or_else(bad)?,
                    type_name: type_name.unwrap_or_default(),
                    type_modifier: typmod.and_then(|t| t.parse().ok()).ok_or_else(bad)?,
                    is_key: key.as_deref() == Some("t"),
                })
            })
            .collect()
    }

    /// The planner's row estimate (`pg_class.reltuples`), for progress reports; 0 when the
    /// table was never analysed.
    pub async fn estimated_rows(&mut self, table: &Table) -> Result<u64, SourceError> {
        let rows = self
            .conn
            .simple_query(&format!(
                "SELECT reltuples::float8 FROM pg_class WHERE oid = {}",
                table.oid
            ))
            .await?;
        let estimate: f64 = rows
            .first()
            .and_then(|row| row.first().cloned().flatten())
            .and_then(|text| text.parse().ok())
            .unwrap_or(0.0);
        // Saturating float-to-int conversion; negative (-1: never analysed) becomes 0.
        Ok(estimate.max(0.0).round() as u64)
    }

    /// Starts copying `table` (its columns, in order) and returns a cursor over the rows. The
    /// rows stream from the server; at most one network read is buffered. Dropping the cursor
    /// early is allowed: the rest of the copy is read and discarded before the next request.
    pub async fn copy_table(&mut self, table: &Table) -> Result<TableCopy<'_>, SourceError> {
        let columns: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let filter = self
            .row_filters
            .get(&table.oid)
            .map(|f| format!(" WHERE {f}"))
            .unwrap_or_default();
        let sql = format!(
            "COPY (SELECT {} FROM {}{filter}) TO STDOUT",
            columns.join(", "),
            table.qualified_name()
        );
        self.conn.send_query(&sql).await?;
        let msg = self.conn.read_message().await?;
        match msg.tag {
            b'H' => {}
            b'E' => {
                let error = SourceError::from(wire::parse_error_fields(&msg.body)?);
                // Read up to ReadyForQuery so the connection stays usable.
                while self.conn.read_message().await?.tag != b'Z' {}
                self.conn.mark_ready();
                return Err(error);
            }
            other => {
                return Err(SourceError::protocol(format!(
                    "expected CopyOutResponse, got message '{}'",
                    other as char
                )));
            }
        }
        Ok(TableCopy {
            conn: &mut self.conn,
            pending: BytesMut::new(),
            state: CopyState::Streaming,
            rows: 0,
            error: None,
        })
    }

    /// Copies every row of `table`, calling `on_row` for each, and returns how many there were.
    /// For an async consumer, use [`SnapshotReader::copy_table`] and [`TableCopy::next_row`].
    pub async fn copy_rows(
        &mut self,
        table: &Table,
        mut on_row: impl FnMut(Tuple),
    ) -> Result<u64, SourceError> {
        let mut copy = self.copy_table(table).await?;
        while let Some(row) = copy.next_row().await? {
            on_row(row);
        }
        Ok(copy.rows())
    }

    /// Runs other SQL inside the snapshot transaction.
    pub async fn simple_query(
        &mut self,
        sql: &str,
    ) -> Result<Vec<Vec<Option<String>>>, SourceError> {
        self.conn.simple_query(sql).await
    }

    /// Commits the (read-only) transaction and closes the connection, releasing the snapshot.
    pub async fn finish(mut self) -> Result<(), SourceError> {
        self.conn.execute("COMMIT").await?;
        self.conn.close().await
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CopyState {
    Streaming,
    /// CopyDone seen; waiting for CommandComplete and ReadyForQuery.
    Ending,
    Done,
}

/// Rows of one table being copied; see [`SnapshotReader::copy_table`].
pub struct TableCopy<'a> {
    conn: &'a mut PgConnection,
    /// Received bytes not yet forming a whole line.
    pending: BytesMut,
    state: CopyState,
    rows: u64,
    error: Option<SourceError>,
}

impl TableCopy<'_> {
    /// The next row, or `None` once the table is done. Cancel-safe.
    pub async fn next_row(&mut self) -> Result<Option<Tuple>, SourceError> {
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let line = self.pending.split_to(end + 1);
                self.rows += 1;
                return decode_line(&line[..end]).map(Some);
            }
            if self.state == CopyState::Done {
                if !self.pending.is_empty() {
                    return Err(SourceError::protocol(
                        "COPY data ended in the middle of a row",
                    ));
                }
                return match self.error.take() {
                    Some(error) => Err(error),
                    None => Ok(None),
                };
            }
            let msg = self.conn.read_message().await?;
            match (self.state, msg.tag) {
                (CopyState::Streaming, b'd') => self.pending.extend_from_slice(msg.body.chunk()),
                (CopyState::Streaming, b'c') => self.state = CopyState::Ending,
                (_, b'E') => {
                    self.error = Some(wire::parse_error_fields(&msg.body)?.into());
                    self.state = CopyState::Ending;
                }
                (CopyState::Ending, b'C') => {}
                (_, b'Z') => {
                    self.conn.mark_ready();
                    self.state = CopyState::Done;
                }
                (_, other) => {
                    return Err(SourceError::protocol(format!(
                        "unexpected message '{}' during COPY",
                        other as char
                    )));
                }
            }
        }
    }

    /// Rows returned so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }
}

async fn server_version_num(conn: &mut PgConnection) -> Result<u32, SourceError> {
    let rows = conn.simple_query("SHOW server_version_num").await?;
    rows.first()
        .and_then(|row| row.first().cloned().flatten())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| SourceError::protocol("SHOW server_version_num gave no number"))
}
