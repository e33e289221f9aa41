//! The authorizer under which ledger SQL runs. Ledger statements come from the central database;
//! if that is compromised, this is what stands between it and code execution on every host.
//!
//! Allowed: reading anything in `main`; inserting, updating and deleting rows of `family___table`
//! tables; creating, altering and dropping `family___table` tables, and their indexes named
//! `family___table___index` (the executive's secondary indexes). Everything
//! else is refused: `ATTACH`/`DETACH`, `PRAGMA`, triggers, views, virtual tables, transaction
//! statements, savepoints, `ANALYZE`/`REINDEX`, temporary objects, and every function outside a
//! short list of deterministic ones (so `load_extension`, `readfile`, `random`, clock functions
//! are refused; ctlstore's ledger text calls no function, SQLite's `ALTER TABLE` calls a few).
//!
//! The authorizer is consulted when a statement is prepared, and only in ledger mode: our own
//! bookkeeping statements run with it switched off.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ctlstore_schema::{parse_ldb_index_name, parse_ldb_table_name};
use rusqlite::Connection;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};

/// Switches the policy on for ledger statements and records why one was refused.
#[derive(Clone, Default)]
pub(crate) struct Sandbox {
    ledger_mode: Arc<AtomicBool>,
    refusal: Arc<Mutex<Option<String>>>,
}

impl Sandbox {
    pub fn install(&self, conn: &Connection) -> rusqlite::Result<()> {
        let (mode, refusal) = (self.ledger_mode.clone(), self.refusal.clone());
        conn.authorizer(Some(move |ctx: AuthContext<'_>| {
            if !mode.load(Ordering::Relaxed) {
                return Authorization::Allow;
            }
            match judge(&ctx) {
                Ok(()) => Authorization::Allow,
                Err(why) => {
                    if let Ok(mut r) = refusal.lock() {
                        r.get_or_insert(why);
                    }
                    Authorization::Deny
                }
            }
        }))
    }

    /// Runs `f` with the policy on; returns why a statement was refused, if one was.
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> (T, Option<String>) {
        if let Ok(mut r) = self.refusal.lock() {
            *r = None;
        }
        self.ledger_mode.store(true, Ordering::Relaxed);
        let out = f();
        self.ledger_mode.store(false, Ordering::Relaxed);
        let refusal = self.refusal.lock().ok().and_then(|mut r| r.take());
        (out, refusal)
    }
}

/// Functions a ledger statement may call: deterministic and without side effects (so every host
/// computes the same row), including those SQLite's own `ALTER TABLE` rewrite of the schema
/// calls. Anything that touches files, extensions, randomness or the clock is not here.
const PURE_FUNCTIONS: &[&str] = &[
    "printf",
    "format",
    "substr",
    "substring",
    "length",
    "octet_length",
    "instr",
    "like",
    "glob",
    "lower",
    "upper",
    "trim",
    "ltrim",
    "rtrim",
    "replace",
    "coalesce",
    "ifnull",
    "nullif",
    "iif",
    "abs",
    "round",
    "typeof",
    "hex",
    "unhex",
    "quote",
    "char",
    "unicode",
    "min",
    "max",
    "sqlite_rename_column",
    "sqlite_rename_table",
    "sqlite_rename_test",
    "sqlite_rename_quotefix",
    "sqlite_drop_column",
];

fn family_table(name: &str) -> Result<(), String> {
    if parse_ldb_table_name(name).is_some() {
        Ok(())
    } else {
        Err(format!("table '{name}' is not a family___table table"))
    }
}

fn judge(ctx: &AuthContext<'_>) -> Result<(), String> {
    // Our own changelog triggers (created outside ledger mode) run inside ledger statements.
    if ctx
        .accessor
        .is_some_and(|a| a.starts_with(crate::change_triggers::TRIGGER_PREFIX))
    {
        return Ok(());
    }
    if let Some(db) = ctx.database_name
        && db != "main"
    {
        return Err(format!("database '{db}' is not the LDB"));
    }
    match ctx.action {
        AuthAction::Select | AuthAction::Read { .. } => Ok(()),
        // DDL writes the schema table itself; SQLite refuses direct writes to it unless
        // `writable_schema` is on, and that PRAGMA is refused below.
        AuthAction::Insert { table_name }
        | AuthAction::Delete { table_name }
        | AuthAction::Update { table_name, .. }
            if matches!(
                table_name,
                "sqlite_master" | "sqlite_schema" | "sqlite_sequence"
            ) =>
        {
            Ok(())
        }
        AuthAction::Insert { table_name }
        | AuthAction::Delete { table_name }
        | AuthAction::Update { table_name, .. } => family_table(table_name),
        AuthAction::CreateTable { table_name }
        | AuthAction::DropTable { table_name }
        | AuthAction::AlterTable { table_name, .. } => family_table(table_name),
        // The executive's secondary indexes (issue 18): `family___table___index` on its own
        // table, and no other index (SQLite's own `sqlite_autoindex_*` for a primary key are
        // made by CREATE TABLE, which reports no CreateIndex).
        AuthAction::CreateIndex {
            index_name,
            table_name,
        }
        | AuthAction::DropIndex {
            index_name,
            table_name,
        } => {
            family_table(table_name)?;
            let autoindex = index_name
                .strip_prefix("sqlite_autoindex_")
                .and_then(|rest| rest.strip_prefix(table_name))
                .and_then(|rest| rest.strip_prefix('_'))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if autoindex || parse_ldb_index_name(table_name, index_name).is_some() {
                Ok(())
            } else {
                Err(format!(
                    "index '{index_name}' is not named {table_name}___<index>"
                ))
            }
        }
        // CREATE INDEX builds the new index (SQLite reports it as a reindex of that index).
        AuthAction::Reindex { index_name }
            if index_name
                .rsplit_once(ctlstore_schema::LDB_TABLE_DELIMITER)
                .is_some_and(|(table, _)| {
                    parse_ldb_table_name(table).is_some()
                        && parse_ldb_index_name(table, index_name).is_some()
                }) =>
        {
            Ok(())
        }
        AuthAction::Pragma { pragma_name, .. } => {
            Err(format!("PRAGMA {pragma_name} is not allowed"))
        }
        AuthAction::Attach { filename } => Err(format!("ATTACH '{filename}' is not allowed")),
        AuthAction::Detach { .. } => Err("DETACH is not allowed".into()),
        AuthAction::Function { function_name }
            if PURE_FUNCTIONS.contains(&function_name.to_ascii_lowercase().as_str()) =>
        {
            Ok(())
        }
        AuthAction::Function { function_name } => {
            Err(format!("function {function_name}() is not allowed"))
        }
        AuthAction::CreateTrigger { .. } | AuthAction::CreateTempTrigger { .. } => {
            Err("triggers are not allowed".into())
        }
        AuthAction::CreateView { .. } | AuthAction::CreateTempView { .. } => {
            Err("views are not allowed".into())
        }
        AuthAction::Transaction { .. } | AuthAction::Savepoint { .. } => {
            Err("transaction statements are not allowed in the ledger".into())
        }
        other => Err(format!("{other:?} is not allowed")),
    }
}
