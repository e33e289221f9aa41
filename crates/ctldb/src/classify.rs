//! What a driver error means for the caller, per backend: [`CtldbError::Unavailable`] (retry
//! later), [`CtldbError::Rejected`] (the data broke a constraint) or [`CtldbError::Internal`].
//!
//! Each backend says it its own way: SQLite by numeric extended result codes (`1299` is
//! `SQLITE_CONSTRAINT_NOTNULL`; never an SQLSTATE), MySQL/MariaDB by error numbers (with an
//! SQLSTATE as a fallback), PostgreSQL by SQLSTATE (class 22 data exception, 23 integrity
//! violation, 08 connection exception, ...). The decisions are pure functions of those codes and
//! messages, tested below; [`classify`] only reads them out of the driver's error.

use sqlx::mysql::MySqlDatabaseError;
use sqlx::postgres::PgDatabaseError;

use crate::CtldbError;
use crate::error::{Cause, DbFault};

/// What an error means, before the driver's error is wrapped.
#[derive(Debug, PartialEq, Eq)]
enum Class {
    Unavailable,
    /// The transaction was aborted for another's sake: run it again.
    Aborted,
    Rejected {
        field: Option<String>,
    },
    /// A unique index (or key) already has the value.
    Duplicate {
        field: Option<String>,
    },
    Internal,
}

/// Classifies a driver error, keeping it as the source.
pub(crate) fn classify(e: sqlx::Error) -> CtldbError {
    let class = class_of(&e);
    let reason = match &e {
        sqlx::Error::Database(db) => db.message().to_string(),
        other => other.to_string(),
    };
    let source = DbFault::new(Cause::Driver(e));
    match class {
        Class::Unavailable => CtldbError::Unavailable { source },
        Class::Aborted => CtldbError::Aborted {
            attempts: 1,
            source,
        },
        Class::Rejected { field } => CtldbError::Rejected {
            field,
            reason,
            source,
        },
        Class::Duplicate { field } => CtldbError::Duplicate {
            field,
            reason,
            source,
        },
        Class::Internal => CtldbError::Internal { source },
    }
}

/// `result.db()?`: a driver result in this crate's terms (there is deliberately no
/// `From<sqlx::Error> for CtldbError`: the driver is not part of the API).
pub(crate) trait DbResult<T> {
    fn db(self) -> Result<T, CtldbError>;
}

impl<T> DbResult<T> for Result<T, sqlx::Error> {
    fn db(self) -> Result<T, CtldbError> {
        self.map_err(classify)
    }
}

fn class_of(e: &sqlx::Error) -> Class {
    match e {
        sqlx::Error::Database(db) => {
            let message = db.message();
            if let Some(my) = db.try_downcast_ref::<MySqlDatabaseError>() {
                return mysql(my.number(), my.code().unwrap_or_default(), message);
            }
            if let Some(pg) = db.try_downcast_ref::<PgDatabaseError>() {
                return postgres(pg.code(), pg.column(), pg.detail());
            }
            // SQLite: the extended result code, as decimal text.
            match db.code().and_then(|c| c.parse::<i32>().ok()) {
                Some(code) => sqlite(code, message),
                None => Class::Internal,
            }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed => Class::Unavailable,
        _ => Class::Internal,
    }
}

/// SQLite by extended result code (the primary code is its low byte).
fn sqlite(code: i32, message: &str) -> Class {
    const CONSTRAINT_COMMITHOOK: i32 = 531;
    const CONSTRAINT_CHECK: i32 = 275;
    const CONSTRAINT_PRIMARYKEY: i32 = 1555;
    const CONSTRAINT_UNIQUE: i32 = 2067;
    match code & 0xff {
        19 if code == CONSTRAINT_UNIQUE || code == CONSTRAINT_PRIMARYKEY => Class::Duplicate {
            field: sqlite_column(message),
        },
        // CONSTRAINT (not null, unique, primary key, check, foreign key, trigger, datatype),
        // MISMATCH (a non-integer rowid), TOOBIG.
        19 if code != CONSTRAINT_COMMITHOOK => Class::Rejected {
            // CHECK names the constraint or its expression, not a column.
            field: (code != CONSTRAINT_CHECK)
                .then(|| sqlite_column(message))
                .flatten(),
        },
        20 | 18 => Class::Rejected { field: None },
        // BUSY, LOCKED, NOMEM, IOERR, FULL, CANTOPEN, PROTOCOL: the database cannot do it now.
        5 | 6 | 7 | 10 | 13 | 14 | 15 => Class::Unavailable,
        _ => Class::Internal,
    }
}

/// `NOT NULL constraint failed: fam___items.name` (or `UNIQUE ... failed: t.a, t.b`): `name`
/// (the first column).
fn sqlite_column(message: &str) -> Option<String> {
    let (_, columns) = message.split_once(": ")?;
    let first = columns.split(", ").next()?;
    let column = first.rsplit('.').next()?;
    (!column.is_empty()).then(|| column.to_string())
}

/// MySQL and MariaDB by error number, then by SQLSTATE class.
fn mysql(number: u16, sqlstate: &str, message: &str) -> Class {
    match number {
        // Deadlock (also how Galera reports a certification conflict or a brute-force abort),
        // lock wait timeout.
        1213 | 1205 => Class::Aborted,
        // Duplicate entry for a unique key.
        1062 | 1586 | 1022 => Class::Duplicate {
            field: mysql_column(message),
        },
        // Not null, no default, foreign keys, too long, out of range, truncated
        // or invalid values, CHECK (MySQL 3819, MariaDB 4025).
        1048 | 1364 | 1169 | 1216 | 1217 | 1451 | 1452 | 1406 | 1264 | 1690 | 1265 | 1292
        | 1366 | 1367 | 1300 | 3819 | 4025 => Class::Rejected {
            field: mysql_column(message),
        },
        // Too many connections, server shutdown, aborted or killed connection, network errors,
        // interrupted or timed-out statement, read-only server
        // (a failover in progress), out of memory or disk.
        1040
        | 1203
        | 1226
        | 1053
        | 1152
        | 1158..=1161
        | 1927
        | 1317
        | 1969
        | 3024
        | 1290
        | 1836
        | 1021
        | 1037
        | 1038
        | 1041
        | 1135
        // A Galera node outside the primary component (no quorum, or still joining).
        | 1047 => Class::Unavailable,
        _ => sqlstate_class(sqlstate, || mysql_column(message)),
    }
}

/// `Column 'name' cannot be null`, `Data too long for column 'name' at row 1`: `name`.
fn mysql_column(message: &str) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    let start = lower.find("column '")? + "column '".len();
    let end = message[start..].find('\'')?;
    Some(message[start..start + end].to_string())
}

/// PostgreSQL by SQLSTATE.
fn postgres(code: &str, column: Option<&str>, detail: Option<&str>) -> Class {
    match code {
        // Serialization failure, deadlock.
        "40001" | "40P01" => Class::Aborted,
        // Admin or crash shutdown, cannot connect now, statement timeout, lock not available,
        // read-only transaction (a standby after failover).
        "57P01" | "57P02" | "57P03" | "57014" | "55P03" | "25006" => Class::Unavailable,
        "23505" => Class::Duplicate {
            field: column
                .map(String::from)
                .or_else(|| detail.and_then(postgres_key_column)),
        },
        _ => sqlstate_class(code, || {
            column
                .map(String::from)
                .or_else(|| detail.and_then(postgres_key_column))
        }),
    }
}

/// `Key (id)=(1) already exists.` (or `Key (a, b)=...`): `id` (the first column).
fn postgres_key_column(detail: &str) -> Option<String> {
    let start = detail.find("Key (")? + "Key (".len();
    let end = detail[start..].find(')')?;
    let first = detail[start..start + end].split(", ").next()?;
    Some(first.trim_matches('"').to_string())
}

/// The SQLSTATE classes every backend agrees on: 22 (data exception) and 23 (integrity
/// constraint) are the data's fault; 08 (connection exception) and 53 (insufficient resources)
/// mean unavailable.
fn sqlstate_class(sqlstate: &str, field: impl FnOnce() -> Option<String>) -> Class {
    match sqlstate.get(..2) {
        Some("22" | "23") => Class::Rejected { field: field() },
        Some("08" | "53") => Class::Unavailable,
        _ => Class::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(field: Option<&str>) -> Class {
        Class::Rejected {
            field: field.map(String::from),
        }
    }

    fn duplicate(field: Option<&str>) -> Class {
        Class::Duplicate {
            field: field.map(String::from),
        }
    }

    #[test]
    fn sqlite_codes() {
        let not_null = "NOT NULL constraint failed: fam___items.name";
        assert_eq!(sqlite(1299, not_null), rejected(Some("name")));
        let unique = "UNIQUE constraint failed: fam___t.a, fam___t.b";
        assert_eq!(sqlite(2067, unique), duplicate(Some("a")));
        assert_eq!(
            sqlite(1555, "UNIQUE constraint failed: t.id"),
            duplicate(Some("id"))
        );
        assert_eq!(
            sqlite(275, "CHECK constraint failed: \"score\" < 100"),
            rejected(None)
        );
        assert_eq!(sqlite(19, "constraint failed"), rejected(None));
        assert_eq!(sqlite(20, "datatype mismatch"), rejected(None));
        assert_eq!(sqlite(18, "string or blob too big"), rejected(None));
        for busy in [5, 261, 517, 773, 6, 262, 10, 266, 3338, 13, 14] {
            assert_eq!(
                sqlite(busy, "database is locked"),
                Class::Unavailable,
                "{busy}"
            );
        }
        assert_eq!(sqlite(531, "constraint failed"), Class::Internal);
        assert_eq!(sqlite(1, "no such table: x"), Class::Internal);
        assert_eq!(
            sqlite(11, "database disk image is malformed"),
            Class::Internal
        );
    }

    #[test]
    fn mysql_numbers() {
        assert_eq!(
            mysql(1048, "23000", "Column 'name' cannot be null"),
            rejected(Some("name"))
        );
        assert_eq!(
            mysql(
                1406,
                "22001",
                "Data too long for column 'family_name' at row 1"
            ),
            rejected(Some("family_name"))
        );
        assert_eq!(
            mysql(1264, "22003", "Out of range value for column 'x' at row 1"),
            rejected(Some("x"))
        );
        assert_eq!(
            mysql(1062, "23000", "Duplicate entry '1' for key 'PRIMARY'"),
            duplicate(None)
        );
        assert_eq!(
            mysql(4025, "23000", "CONSTRAINT `c` failed for `db`.`t`"),
            rejected(None)
        );
        for n in [1040, 1053, 1927, 1290] {
            assert_eq!(mysql(n, "HY000", "x"), Class::Unavailable, "{n}");
        }
        for n in [1205, 1213] {
            assert_eq!(mysql(n, "40001", "Deadlock found"), Class::Aborted, "{n}");
        }
        assert_eq!(
            mysql(1146, "42S02", "Table 'x' doesn't exist"),
            Class::Internal
        );
        assert_eq!(
            mysql(9999, "22007", "x"),
            rejected(None),
            "SQLSTATE fallback"
        );
        assert_eq!(mysql(9999, "08S01", "x"), Class::Unavailable);
    }

    #[test]
    fn postgres_sqlstates() {
        assert_eq!(
            postgres("23502", Some("name"), None),
            rejected(Some("name"))
        );
        assert_eq!(
            postgres("23505", None, Some("Key (id, k)=(1, 2) already exists.")),
            duplicate(Some("id"))
        );
        assert_eq!(postgres("23514", None, None), rejected(None));
        assert_eq!(postgres("22001", None, None), rejected(None));
        for code in ["57P01", "57P03", "08006", "08001", "53300", "25006"] {
            assert_eq!(postgres(code, None, None), Class::Unavailable, "{code}");
        }
        for code in ["40001", "40P01"] {
            assert_eq!(postgres(code, None, None), Class::Aborted, "{code}");
        }
        assert_eq!(postgres("42P01", None, None), Class::Internal);
        assert_eq!(postgres("XX000", None, None), Class::Internal);
    }

    #[test]
    fn driver_errors() {
        assert_eq!(class_of(&sqlx::Error::PoolTimedOut), Class::Unavailable);
        assert_eq!(class_of(&sqlx::Error::PoolClosed), Class::Unavailable);
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(class_of(&sqlx::Error::Io(reset)), Class::Unavailable);
        assert_eq!(class_of(&sqlx::Error::RowNotFound), Class::Internal);
        assert!(classify(sqlx::Error::PoolTimedOut).is_unavailable());
    }
}
