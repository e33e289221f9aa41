//! Applying a batch of row mutations: the write path that makes ctlstore's guarantees.
//!
//! Here, before any transaction: everything that can be checked without the database (names,
//! schemas, types, sizes, the rendered statement's length) is checked, the ledger text is
//! rendered and the ctldb statements are built, so a bad request never takes the ledger lock.
//! The batch then goes to the group committer (`commit.rs`), which runs it in a transaction
//! shared with the other batches queued meanwhile:
//! 1. begin (`BEGIN IMMEDIATE` on SQLite) and take the ledger lock, once per group (serializes
//!    appends: commit order = seq order);
//! 2. per batch, in arrival order, inside `SAVEPOINT ctlstore_batch` (when the group has more
//!    than one batch): count the rows against the writer's rate limit; check the writer exists
//!    (unless it authenticated through this handle or a cookie update will); compare-and-set the
//!    cookie (exactly-once for loaders that retry); apply the rows to the ctldb's copy (bound
//!    parameters, consecutive upserts of one table in one statement); append the ledger rows
//!    (`--- BEGIN`, statements, `--- COMMIT` when the batch has more than one mutation) in one
//!    insert, so they get consecutive seqs;
//! 3. a batch that fails is rolled back to its savepoint and answered with its error; the others
//!    go on. A group of one batch has no savepoint: its failure rolls the transaction back;
//! 4. commit once for the group, if any batch succeeded: that commit makes every successful
//!    batch durable (rows, ledger entries, cookie and usage together), and only then are they
//!    answered.
//!
//! Table size limits are checked by the executive before it calls in (from its cached sizes).

use std::sync::Arc;

use ctlstore_ledger::{self as render, BEGIN_MARKER, COMMIT_MARKER};
use ctlstore_schema::limits::{MAX_COOKIE_BYTES, MAX_DML_BYTES, MAX_MUTATIONS_PER_REQUEST};
use ctlstore_schema::{
    Dialect, FamilyName, FieldType, FieldValue, SchemaError, Table, TableName, Value, WriterName,
};
use serde_json::{Map, Value as Json};

use crate::commit::{Bound, Job};
use crate::limits::WriterRateLimit;
use crate::{Ctldb, CtldbError};

/// One mutation as the API carries it.
#[derive(Debug, Clone)]
pub struct Mutation {
    pub table: String,
    pub delete: bool,
    pub values: Map<String, Json>,
}

/// A batch for one family from one writer.
#[derive(Debug, Clone)]
pub struct MutationRequest {
    pub family: FamilyName,
    pub writer: WriterName,
    /// The new cookie; `None` leaves the cookie as it is.
    pub cookie: Option<Vec<u8>>,
    /// When set, the batch applies only if the writer's current cookie equals this.
    pub check_cookie: Option<Vec<u8>>,
    pub mutations: Vec<Mutation>,
    /// The writer's rate limit, enforced in the same transaction (so the budget is shared by
    /// every executive on this ctldb). `None` disables it.
    pub rate_limit: Option<WriterRateLimit>,
}

/// What a committed batch became.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppliedBatch {
    /// Seq of the last ledger entry of the batch.
    pub last_seq: i64,
    /// Ledger entries written, markers included.
    pub entries: usize,
}

/// A mutation checked against its table, with its ledger text rendered.
struct Prepared {
    table: Arc<Table>,
    delete: bool,
    /// Full row (upsert) or key (delete), in the order the statements expect: the ctldb binds
    /// each `value`, the ledger writes each as ctlstore spells it.
    values: Vec<FieldValue>,
    ledger: String,
}

impl Ctldb {
    /// Applies a batch atomically; see the module docs. The writer must have been authenticated.
    pub async fn apply_mutations(
        &self,
        request: &MutationRequest,
    ) -> Result<AppliedBatch, CtldbError> {
        if request.mutations.is_empty() {
            return Err(CtldbError::NoMutations);
        }
        if request.mutations.len() > MAX_MUTATIONS_PER_REQUEST {
            return Err(CtldbError::TooManyMutations {
                max: MAX_MUTATIONS_PER_REQUEST,
            });
        }
        let too_long = |c: &Option<Vec<u8>>| c.as_ref().is_some_and(|c| c.len() > MAX_COOKIE_BYTES);
        if too_long(&request.cookie) || too_long(&request.check_cookie) {
            return Err(CtldbError::CookieTooLong);
        }
        let mut prepared = Vec::with_capacity(request.mutations.len());
        for m in &request.mutations {
            prepared.push(self.prepare(&request.family, m).await?);
        }
        match self.commit_batch(request, &prepared).await {
            Err(CtldbError::Duplicate {
                field: None,
                reason,
                source,
            }) => {
                let field = self.duplicate_field(&prepared, &reason).await;
                Err(CtldbError::Duplicate {
                    field,
                    reason,
                    source,
                })
            }
            other => other,
        }
    }

    /// The first field of the unique index MySQL names in `Duplicate entry 'v' for key 'k'`
    /// (`table.k` in MySQL 8), so the answer names a field as on the other backends.
    async fn duplicate_field(&self, prepared: &[Prepared], reason: &str) -> Option<String> {
        let key = reason.rsplit_once("for key '")?.1.trim_end_matches('\'');
        let key = key.rsplit('.').next()?;
        for p in prepared {
            let t = &p.table;
            if let Ok(indexes) = self.indexes(&t.family, &t.name).await
                && let Some(index) = indexes
                    .iter()
                    .find(|i| ctlstore_schema::ldb_index_name(&t.ldb_name(), &i.name) == key)
            {
                return index.fields.first().map(|f| f.to_string());
            }
        }
        None
    }

    async fn prepare(&self, family: &FamilyName, m: &Mutation) -> Result<Prepared, CtldbError> {
        let table_name = TableName::new(&m.table)?;
        let mut table = self.table(family, &table_name).await?;
        let mut values = convert(&table, m);
        // The cached schema may predate a column another executive added: re-read it once.
        if matches!(
            values,
            Err(SchemaError::UnknownField { .. } | SchemaError::MissingField { .. })
        ) {
            table = self.reload_table(family, &table_name).await?;
            values = convert(&table, m);
        }
        let values = values?;
        if self.dialect() == Dialect::Postgres {
            refuse_nul_text(&table, &values, m.delete)?;
        }
        let ledger = if m.delete {
            render::delete_row(&table, &values)
        } else {
            render::upsert_row(&table, &values)
        };
        if render::statement_too_large(&ledger) {
            return Err(CtldbError::DmlTooLarge {
                table: table.ldb_name(),
                len: ledger.len(),
                limit: MAX_DML_BYTES,
            });
        }
        Ok(Prepared {
            table,
            delete: m.delete,
            values,
            ledger,
        })
    }

    async fn commit_batch(
        &self,
        request: &MutationRequest,
        prepared: &[Prepared],
    ) -> Result<AppliedBatch, CtldbError> {
        let dialect = self.dialect();
        let writer = request.writer.as_str();
        let cookie_sql = match (&request.cookie, &request.check_cookie) {
            (None, None) => None,
            (_, Some(_)) => Some(self.sql(
                "UPDATE mutators SET cookie = COALESCE(?, cookie), clock = clock + 1 WHERE writer = ? AND cookie = ?",
            )),
            (_, None) => Some(self.sql("UPDATE mutators SET cookie = COALESCE(?, cookie), clock = clock + 1 WHERE writer = ?")),
        };
        let writer_exists = self.sql("SELECT COUNT(*) FROM mutators WHERE writer = ?");
        // A writer that authenticated through this handle is known to exist; anyone else is
        // checked inside the transaction, so a batch never lands under an unknown writer.
        let check_writer = cookie_sql.is_none() && !self.is_verified(writer);
        let override_sql =
            self.sql("SELECT max_rows_per_minute FROM max_writer_rates WHERE writer_name = ?");
        let usage_upsert = self.sql(match dialect {
            Dialect::Sqlite => "INSERT INTO writer_usage (writer_name, bucket, amount) VALUES (?, ?, ?) \
                ON CONFLICT (writer_name, bucket) DO UPDATE SET amount = amount + excluded.amount RETURNING amount",
            Dialect::Mysql => "INSERT INTO writer_usage (writer_name, bucket, amount) VALUES (?, ?, ?) \
                ON DUPLICATE KEY UPDATE amount = amount + VALUES(amount)",
            Dialect::Postgres => "INSERT INTO writer_usage (writer_name, bucket, amount) VALUES (?, ?, ?) \
                ON CONFLICT (writer_name, bucket) DO UPDATE SET amount = writer_usage.amount + EXCLUDED.amount RETURNING amount",
        });
        let usage_read =
            self.sql("SELECT amount FROM writer_usage WHERE writer_name = ? AND bucket = ?");
        let rows = prepared.len() as i64;

        // The ledger rows of the batch, markers included, in order.
        let batched = prepared.len() > 1;
        let mut ledger: Vec<&str> = Vec::with_capacity(prepared.len() + 2);
        if batched {
            ledger.push(BEGIN_MARKER);
        }
        ledger.extend(prepared.iter().map(|p| p.ledger.as_str()));
        if batched {
            ledger.push(COMMIT_MARKER);
        }
        // One multi-row insert: the rows get consecutive seqs in this order (we hold the ledger
        // lock, so no other insert can interleave).
        let values = vec!["(?)"; ledger.len()].join(", ");
        let insert_ledger = self.sql(&format!(
            "INSERT INTO ctlstore_dml_ledger (statement) VALUES {values}{}",
            if dialect == Dialect::Mysql {
                ""
            } else {
                " RETURNING seq"
            }
        ));
        let statements: Vec<(String, Vec<Bound>)> = group_statements(prepared)
            .iter()
            .flat_map(|g| self.ctldb_statements(g))
            .collect();
        let entries = ledger.len();
        let job = Job {
            writer: writer.to_string(),
            cookie: request.cookie.clone(),
            check_cookie: request.check_cookie.clone(),
            rate_limit: request.rate_limit,
            rows,
            cookie_sql,
            check_writer,
            writer_exists,
            override_sql,
            usage_upsert,
            usage_read,
            statements,
            ledger: ledger.into_iter().map(String::from).collect(),
            insert_ledger,
        };
        let last_seq = self.inner.committer.submit(job).await?;
        Ok(AppliedBatch { last_seq, entries })
    }

    /// The statements that apply a group of prepared mutations (see [`group_statements`]) to
    /// the ctldb's own copy, with bound parameters (the ledger carries literals for the hosts;
    /// the system of record never depends on our escaping).
    ///
    /// Upserts replace the row with the same primary key and nothing else: a unique secondary
    /// index that another row already holds the value of refuses the write
    /// ([`CtldbError::Duplicate`]). So no `REPLACE INTO` here (it would delete that other row):
    /// SQLite and PostgreSQL `INSERT ... ON CONFLICT (key) DO UPDATE`; MySQL, whose `ON
    /// DUPLICATE KEY UPDATE` would update whichever row holds any unique value, deletes the
    /// keys and inserts. The ledger keeps ctlstore's `REPLACE INTO`: on hosts it meets no
    /// conflict the ctldb did not refuse first.
    fn ctldb_statements(&self, group: &[&Prepared]) -> Vec<(String, Vec<Bound>)> {
        let first = group[0];
        let t = &first.table;
        let quoted = |s: &str| {
            let mut out = String::new();
            render::push_quoted_identifier(&mut out, s);
            out
        };
        let table = quoted(&t.ldb_name());
        let key_match = format!(
            "({})",
            t.key_fields
                .iter()
                .map(|k| format!("{} = ?", quoted(k.as_str())))
                .collect::<Vec<_>>()
                .join(" AND ")
        );
        if first.delete {
            let values = group
                .iter()
                .flat_map(|p| bound(&p.values, t, true))
                .collect();
            return vec![(
                self.sql(&format!("DELETE FROM {table} WHERE {key_match}")),
                values,
            )];
        }
        let columns: Vec<String> = t.fields.iter().map(|f| quoted(f.name.as_str())).collect();
        let row = format!("({})", vec!["?"; columns.len()].join(", "));
        let rows = vec![row.as_str(); group.len()].join(", ");
        let insert = format!("INSERT INTO {table} ({}) VALUES {rows}", columns.join(", "));
        let row_values: Vec<Bound> = group
            .iter()
            .flat_map(|p| bound(&p.values, t, false))
            .collect();
        match self.dialect() {
            Dialect::Mysql => {
                let matches = vec![key_match.as_str(); group.len()].join(" OR ");
                let keys = group
                    .iter()
                    .flat_map(|p| {
                        t.key_fields.iter().filter_map(|k| {
                            let i = t.fields.iter().position(|f| &f.name == k)?;
                            Some(bind(&p.values[i].value, t.fields[i].field_type))
                        })
                    })
                    .collect();
                vec![
                    (
                        self.sql(&format!("DELETE FROM {table} WHERE {matches}")),
                        keys,
                    ),
                    (self.sql(&insert), row_values),
                ]
            }
            Dialect::Sqlite | Dialect::Postgres => {
                let keys: Vec<String> = t.key_fields.iter().map(|k| quoted(k.as_str())).collect();
                let updates: Vec<String> = t
                    .fields
                    .iter()
                    .filter(|f| !t.is_key(&f.name))
                    .map(|f| format!("{0} = EXCLUDED.{0}", quoted(f.name.as_str())))
                    .collect();
                let action = if updates.is_empty() {
                    "NOTHING".to_string()
                } else {
                    format!("UPDATE SET {}", updates.join(", "))
                };
                vec![(
                    self.sql(&format!(
                        "{insert} ON CONFLICT ({}) DO {action}",
                        keys.join(", ")
                    )),
                    row_values,
                )]
            }
        }
    }
}

/// A prepared row's (or key's, for a delete) values as bound parameters.
fn bound(values: &[FieldValue], t: &Table, delete: bool) -> Vec<Bound> {
    let fields: Vec<FieldType> = if delete {
        t.key_columns().map(|f| f.field_type).collect()
    } else {
        t.fields.iter().map(|f| f.field_type).collect()
    };
    values
        .iter()
        .zip(fields)
        .map(|(value, field_type)| bind(&value.value, field_type))
        .collect()
}

/// One value as a bound parameter; a NULL is typed by its column.
fn bind(value: &Value, field_type: FieldType) -> Bound {
    match (value, field_type) {
        (Value::Null, FieldType::Integer) => Bound::NullInt,
        (Value::Null, FieldType::Decimal) => Bound::NullReal,
        (Value::Null, FieldType::Binary | FieldType::Bytestring) => Bound::NullBytes,
        (Value::Null, _) => Bound::NullText,
        (Value::Integer(i), _) => Bound::Int(*i),
        (Value::Real(f), _) => Bound::Real(*f),
        (Value::Text(s), _) => Bound::Text(s.clone()),
        (Value::Bytes(b), _) => Bound::Bytes(b.clone()),
    }
}

/// Most rows in one multi-row upsert: keeps bound parameters far below every backend's limit.
const MAX_ROWS_PER_STATEMENT: usize = 100;

/// Splits a batch into runs that one statement can apply in order: consecutive upserts of one
/// table with distinct keys (PostgreSQL refuses to update a row twice in one statement, and a
/// repeated key must keep its order anyway); every delete alone.
fn group_statements(prepared: &[Prepared]) -> Vec<Vec<&Prepared>> {
    let mut groups: Vec<Vec<&Prepared>> = Vec::new();
    for p in prepared {
        let joins = groups.last().is_some_and(|g: &Vec<&Prepared>| {
            let head = g[0];
            !p.delete
                && !head.delete
                && Arc::ptr_eq(&head.table, &p.table)
                && g.len() < MAX_ROWS_PER_STATEMENT
                && g.iter().all(|q| key_of(q) != key_of(p))
        });
        match groups.last_mut() {
            Some(g) if joins => g.push(p),
            _ => groups.push(vec![p]),
        }
    }
    groups
}

fn key_of(p: &Prepared) -> Vec<&Value> {
    let t = &p.table;
    t.fields
        .iter()
        .zip(&p.values)
        .filter(|(f, _)| t.is_key(&f.name))
        .map(|(_, v)| &v.value)
        .collect()
}

fn convert(table: &Table, m: &Mutation) -> Result<Vec<FieldValue>, SchemaError> {
    if m.delete {
        table.delete_key(&m.values)
    } else {
        table.upsert_row(&m.values)
    }
}

/// PostgreSQL `text` cannot contain NUL; refuse rather than fail inside the transaction.
fn refuse_nul_text(table: &Table, values: &[FieldValue], delete: bool) -> Result<(), CtldbError> {
    let names: Vec<&str> = if delete {
        table.key_fields.iter().map(|k| k.as_str()).collect()
    } else {
        table.fields.iter().map(|f| f.name.as_str()).collect()
    };
    for (name, value) in names.into_iter().zip(values) {
        if let Value::Text(s) = &value.value
            && s.contains('\0')
        {
            return Err(CtldbError::Unsupported {
                field: name.to_string(),
                reason: "a PostgreSQL ctldb cannot store NUL characters in text".into(),
            });
        }
    }
    Ok(())
}
