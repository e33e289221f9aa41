//! Ledger statements through the LDB writer: arbitrary statement text (and batch markers) fed
//! one entry at a time through `Ldb::apply` on a fresh LDB in a temporary directory, after a
//! prelude that creates two family tables and a row. Entries are the input split at NUL bytes.
//!
//! Invariants, checked after every entry:
//! - `Ldb::apply` never panics; the connection's transaction state matches `in_batch()`;
//! - the bookkeeping tables hold exactly what the writer put there: `_ldb_seq` one row with the
//!   applied seq, `_ldb_last_update` one row with the entry's timestamp; their DDL is unchanged;
//! - the schema holds only `family___table` tables (plus the bookkeeping tables and SQLite's
//!   own), explicit indexes only on family tables, and no trigger or view; nothing temporary;
//!   no attached database; the PRAGMA settings are those the writer set;
//! - no function outside the sandbox's list ran: canary functions registered under the names of
//!   `load_extension`, `readfile`, `writefile`, `random` and friends must never be called;
//! - a refused or failing entry leaves the LDB exactly as it was at the last committed batch;
//! - a statement whose first word is ATTACH, DETACH, PRAGMA, VACUUM, ANALYZE, REINDEX, BEGIN,
//!   COMMIT, END, ROLLBACK, SAVEPOINT or RELEASE, or that creates a trigger, view, virtual or
//!   temporary object, is refused.
#![no_main]

use std::sync::atomic::{AtomicBool, Ordering};

use ctlstore_ldb::{Ldb, LdbOptions};
use ctlstore_ldb_layout as layout;
use ctlstore_ledger::LedgerEntry;
use ctlstore_schema::parse_ldb_table_name;
use libfuzzer_sys::fuzz_target;
use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;

static CANARY: AtomicBool = AtomicBool::new(false);

const TS: &str = "2024-01-02 03:04:05";

/// Functions outside the sandbox's list. Registered on the LDB's connection (overriding SQLite's
/// own where they exist), so that calling one is visible.
const CANARIES: &[&str] = &[
    "fuzz_canary",
    "load_extension",
    "readfile",
    "writefile",
    "edit",
    "random",
    "randomblob",
    "date",
    "datetime",
    "julianday",
    "strftime",
    "unixepoch",
    "sqlite_version",
    "changes",
    "last_insert_rowid",
];

const PRELUDE: &[&str] = &[
    r#"CREATE TABLE fam___things ("k" INTEGER, "v" VARCHAR(191), "b" BLOB, PRIMARY KEY("k"));"#,
    r#"REPLACE INTO fam___things ("k","v","b") VALUES(1,'one',x'01')"#,
    r#"CREATE TABLE fam___users ("name" VARCHAR(191), PRIMARY KEY("name"));"#,
];

fn entry(seq: i64, statement: &str) -> LedgerEntry {
    LedgerEntry {
        seq,
        leader_ts: TS.to_string(),
        statement: statement.to_string(),
    }
}

fn install_canaries(conn: &Connection) {
    for name in CANARIES {
        for n_arg in 0..=3 {
            conn.create_scalar_function(*name, n_arg, FunctionFlags::SQLITE_UTF8, |_| {
                CANARY.store(true, Ordering::SeqCst);
                Ok(0i64)
            })
            .expect("register a canary");
        }
    }
}

fn strings(conn: &Connection, sql: &str) -> Vec<Vec<String>> {
    let mut stmt = conn.prepare(sql).expect("prepare a check");
    let n = stmt.column_count();
    let mut rows = stmt.query([]).expect("query a check");
    let mut out = Vec::new();
    while let Some(row) = rows.next().expect("step a check") {
        out.push(
            (0..n)
                .map(|i| match row.get_ref(i).expect("column") {
                    ValueRef::Null => "NULL".to_string(),
                    ValueRef::Integer(v) => format!("i{v}"),
                    ValueRef::Real(v) => format!("r{:x}", v.to_bits()),
                    ValueRef::Text(t) => format!("t{}", String::from_utf8_lossy(t)),
                    ValueRef::Blob(b) => format!("b{b:?}"),
                })
                .collect(),
        );
    }
    out.sort();
    out
}

/// Everything a ledger statement could change: the schema and every table's rows.
#[derive(Debug, PartialEq)]
struct State {
    schema: Vec<Vec<String>>,
    rows: Vec<(String, Vec<Vec<String>>)>,
}

fn state(conn: &Connection) -> State {
    let schema = strings(
        conn,
        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name",
    );
    let mut rows = Vec::new();
    for t in strings(
        conn,
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
    ) {
        let name = &t[0][1..]; // `strings` marks text with a leading `t`
        let quoted = name.replace('"', "\"\"");
        rows.push((
            name.to_string(),
            strings(conn, &format!("SELECT * FROM \"{quoted}\"")),
        ));
    }
    State { schema, rows }
}

/// The settings a ledger statement must not be able to change.
fn settings(conn: &Connection) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for pragma in [
        "journal_mode",
        "synchronous",
        "user_version",
        "application_id",
        "foreign_keys",
        "writable_schema",
        "recursive_triggers",
        "trusted_schema",
        "cell_size_check",
        "secure_delete",
        "auto_vacuum",
        "cache_size",
        "page_size",
        "temp_store",
        "query_only",
        "defer_foreign_keys",
        "ignore_check_constraints",
        "legacy_alter_table",
    ] {
        out.extend(strings(conn, &format!("PRAGMA {pragma}")));
    }
    out
}

fn check_always(ldb: &Ldb, boot_schema: &[Vec<String>], boot_settings: &[Vec<String>]) {
    let conn = ldb.connection();
    assert_eq!(
        conn.is_autocommit(),
        !ldb.in_batch(),
        "transaction state and batch state agree"
    );
    let seq_rows = strings(conn, "SELECT id, seq FROM _ldb_seq");
    assert_eq!(
        seq_rows,
        vec![vec!["i1".to_string(), format!("i{}", ldb.applied_seq())]],
        "_ldb_seq holds the applied seq and nothing else"
    );
    let update_rows = strings(conn, "SELECT name, timestamp FROM _ldb_last_update");
    assert_eq!(
        update_rows,
        vec![vec![
            "tledger".to_string(),
            format!("t{}", layout::go_timestamp(TS))
        ]],
        "_ldb_last_update holds the last entry's timestamp and nothing else"
    );
    for row in strings(conn, "SELECT type, name, tbl_name, sql FROM sqlite_master") {
        let (kind, name, table, sql) = (&row[0], &row[1][1..], &row[2][1..], &row[3]);
        let family = |t: &str| parse_ldb_table_name(t).is_some();
        let bookkeeping = |t: &str| t == layout::SEQ_TABLE || t == layout::LAST_UPDATE_TABLE;
        match kind.as_str() {
            "ttable" => assert!(
                family(name) || bookkeeping(name) || name.starts_with("sqlite_"),
                "table {name} is not a family table: {sql}"
            ),
            // Automatic indexes (no SQL) belong to their table's constraints.
            "tindex" => assert!(
                sql == "NULL" || family(table),
                "index {name} on {table}: {sql}"
            ),
            other => panic!("a {other} in the LDB: {name}: {sql}"),
        }
    }
    let bookkeeping_ddl: Vec<&Vec<String>> = boot_schema
        .iter()
        .filter(|r| r[1] == "t_ldb_seq" || r[1] == "t_ldb_last_update")
        .collect();
    let now = strings(
        conn,
        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name",
    );
    for r in bookkeeping_ddl {
        assert!(now.contains(r), "bookkeeping DDL changed: {r:?}");
    }
    assert!(
        strings(conn, "SELECT name FROM sqlite_temp_master").is_empty(),
        "temporary objects"
    );
    for db in strings(conn, "PRAGMA database_list") {
        assert!(
            db[1] == "tmain" || db[1] == "ttemp",
            "attached database {db:?}"
        );
    }
    assert_eq!(settings(conn), boot_settings, "a setting changed");
}

/// Whether the statement's first word (after whitespace and comments) makes it one the sandbox
/// must refuse whatever follows.
fn forbidden(sql: &str) -> bool {
    let mut s = sql.trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("--") {
            s = rest.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else if let Some(rest) = s.strip_prefix(';') {
            s = rest.trim_start();
        } else {
            break;
        }
    }
    let words: Vec<String> = s
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .take(3)
        .map(str::to_ascii_uppercase)
        .collect();
    let first = words.first().map(String::as_str).unwrap_or("");
    if matches!(
        first,
        "ATTACH"
            | "DETACH"
            | "PRAGMA"
            | "VACUUM"
            | "ANALYZE"
            | "REINDEX"
            | "BEGIN"
            | "COMMIT"
            | "END"
            | "ROLLBACK"
            | "SAVEPOINT"
            | "RELEASE"
    ) {
        return true;
    }
    first == "CREATE"
        && words[1..].iter().any(|w| {
            matches!(
                w.as_str(),
                "TRIGGER" | "VIEW" | "VIRTUAL" | "TEMP" | "TEMPORARY"
            )
        })
}

/// `FUZZ_VERBOSE=1`: print each statement and what `apply` said (to read a seed's results).
fn verbose() -> bool {
    static VERBOSE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *VERBOSE.get_or_init(|| std::env::var_os("FUZZ_VERBOSE").is_some())
}

fn scratch() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        tempfile::tempdir_in(shm).expect("tempdir")
    } else {
        tempfile::tempdir().expect("tempdir")
    }
}

fuzz_target!(|data: &[u8]| {
    let dir = scratch();
    let options = LdbOptions {
        wal_checkpoint_threshold: 0,
        ..LdbOptions::default()
    };
    let mut ldb = Ldb::open(dir.path().join("ldb.db"), options).expect("open the LDB");
    install_canaries(ldb.connection());
    let prelude: Vec<LedgerEntry> = PRELUDE
        .iter()
        .enumerate()
        .map(|(i, s)| entry(i as i64 + 1, s))
        .collect();
    ldb.apply(&prelude).expect("the prelude applies");
    let boot_schema = state(ldb.connection()).schema;
    let boot_settings = settings(ldb.connection());
    let mut committed = state(ldb.connection());
    check_always(&ldb, &boot_schema, &boot_settings);

    for (i, chunk) in data.split(|b| *b == 0).take(12).enumerate() {
        let statement = String::from_utf8_lossy(chunk);
        let seq = 10 + i as i64;
        CANARY.store(false, Ordering::SeqCst);
        let result = ldb.apply(&[entry(seq, &statement)]);
        if verbose() {
            eprintln!("{statement:?} => {result:?}");
        }
        assert!(
            !CANARY.load(Ordering::SeqCst),
            "a function outside the sandbox ran: {statement}"
        );
        check_always(&ldb, &boot_schema, &boot_settings);
        let now = state(ldb.connection());
        match result {
            Ok(applied) => {
                assert_eq!(applied.entries, 1);
                assert_eq!(ldb.applied_seq(), seq);
                assert!(
                    !forbidden(&statement),
                    "a forbidden statement was applied: {statement}"
                );
                if !ldb.in_batch() {
                    assert_eq!(ldb.seq(), seq);
                    committed = now;
                }
            }
            Err(e) => {
                assert!(!ldb.in_batch(), "an error closes the batch");
                assert!(!e.to_string().is_empty());
                assert_eq!(
                    now, committed,
                    "a failed entry left changes behind: {statement}: {e}"
                );
            }
        }
    }
    drop(ldb);
    drop(dir);
});
