//! Where the ctldb is: our URL forms and ctlstore's.
//!
//! Accepted, in order of precedence:
//! - `sqlite:PATH`, `sqlite://PATH`, `sqlite3:PATH` or a bare file path: embedded SQLite;
//! - `mysql://user:pass@host:port/db`: MySQL/MariaDB;
//! - `postgres://...` / `postgresql://...`: PostgreSQL;
//! - Go's MySQL DSN, as ctlstore takes it: `user:pass@tcp(host:port)/db?param=value&...`
//!   (also `@unix(/path/to.sock)` and no address at all, meaning 127.0.0.1:3306). Parameters
//!   ctlstore sets itself (`collation`, `sql_mode`, `timeout`, `parseTime`) are accepted; we set
//!   the session mode we need on every connection anyway.

use std::path::PathBuf;
use std::str::FromStr;

use sqlx::mysql::MySqlConnectOptions;
use sqlx::postgres::PgConnectOptions;

use crate::CtldbError;
use crate::go_dsn::parse_go_mysql_dsn;

/// A parsed ctldb location.
#[derive(Debug, Clone)]
pub enum CtldbUrl {
    Sqlite(PathBuf),
    Mysql(MySqlConnectOptions),
    Postgres(PgConnectOptions),
}

/// Parses any accepted form (see the module docs).
pub fn parse_ctldb_url(url: &str) -> Result<CtldbUrl, CtldbError> {
    let url = url.trim();
    if url.is_empty() {
        return Err(CtldbError::InvalidUrl("empty".into()));
    }
    for prefix in ["sqlite://", "sqlite3://", "sqlite:", "sqlite3:"] {
        if let Some(path) = url.strip_prefix(prefix) {
            let path = path.split('?').next().unwrap_or(path);
            if path.is_empty() {
                return Err(CtldbUrl::missing("sqlite URL has no path"));
            }
            return Ok(CtldbUrl::Sqlite(PathBuf::from(path)));
        }
    }
    if url.starts_with("mysql://") || url.starts_with("mariadb://") {
        let url = url.replacen("mariadb://", "mysql://", 1);
        return MySqlConnectOptions::from_str(&url)
            .map(CtldbUrl::Mysql)
            .map_err(|e| CtldbError::InvalidUrl(e.to_string()));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return PgConnectOptions::from_str(url)
            .map(CtldbUrl::Postgres)
            .map_err(|e| CtldbError::InvalidUrl(e.to_string()));
    }
    if url.contains("://") {
        let scheme = url.split("://").next().unwrap_or_default();
        return Err(CtldbError::InvalidUrl(format!(
            "unknown scheme '{scheme}' (use sqlite:PATH, mysql://, postgres:// or a Go MySQL DSN)"
        )));
    }
    if looks_like_go_dsn(url) {
        return parse_go_mysql_dsn(url).map(CtldbUrl::Mysql);
    }
    Ok(CtldbUrl::Sqlite(PathBuf::from(url)))
}

impl CtldbUrl {
    fn missing(what: &str) -> CtldbError {
        CtldbError::InvalidUrl(what.to_string())
    }
}

fn looks_like_go_dsn(dsn: &str) -> bool {
    dsn.contains("@tcp(")
        || dsn.contains("@unix(")
        || dsn.starts_with("tcp(")
        || dsn.starts_with("unix(")
        || dsn.contains("@/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert!(
            matches!(parse_ctldb_url("sqlite:/tmp/x.db"), Ok(CtldbUrl::Sqlite(p)) if p == std::path::Path::new("/tmp/x.db"))
        );
        assert!(
            matches!(parse_ctldb_url("sqlite:///tmp/x.db"), Ok(CtldbUrl::Sqlite(p)) if p == std::path::Path::new("/tmp/x.db"))
        );
        assert!(matches!(
            parse_ctldb_url("ctldb.db"),
            Ok(CtldbUrl::Sqlite(_))
        ));
        assert!(matches!(
            parse_ctldb_url("mysql://root@127.0.0.1:3306/ctldb"),
            Ok(CtldbUrl::Mysql(_))
        ));
        assert!(matches!(
            parse_ctldb_url("postgres://postgres@127.0.0.1/ctldb"),
            Ok(CtldbUrl::Postgres(_))
        ));
        assert!(matches!(
            parse_ctldb_url("redis://x"),
            Err(CtldbError::InvalidUrl(_))
        ));
        assert!(matches!(
            parse_ctldb_url(""),
            Err(CtldbError::InvalidUrl(_))
        ));
    }
}
