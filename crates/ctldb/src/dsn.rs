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

use percent_encoding::percent_decode_str;
use sqlx::mysql::MySqlConnectOptions;
use sqlx::postgres::PgConnectOptions;

use crate::CtldbError;

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

/// Go's `[user[:password]@][net[(addr)]]/dbname[?params]` (go-sql-driver/mysql).
pub(crate) fn parse_go_mysql_dsn(dsn: &str) -> Result<MySqlConnectOptions, CtldbError> {
    let bad = |why: &str| CtldbError::InvalidUrl(format!("MySQL DSN: {why}"));
    let (main, params) = match dsn.split_once('?') {
        Some((m, p)) => (m, Some(p)),
        None => (dsn, None),
    };
    // The database name follows the last '/' that is not inside the address parentheses.
    let slash = main.rfind('/').ok_or_else(|| bad("missing '/dbname'"))?;
    let (before, database) = (&main[..slash], &main[slash + 1..]);
    let (credentials, address) = match before.rfind('@') {
        Some(at) => (Some(&before[..at]), &before[at + 1..]),
        None => (None, before),
    };
    let mut options = MySqlConnectOptions::new();
    if let Some(credentials) = credentials {
        let (user, password) = match credentials.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (credentials, None),
        };
        options = options.username(user);
        if let Some(password) = password {
            options = options.password(password);
        }
    }
    if !address.is_empty() {
        let (net, addr) = match address.split_once('(') {
            Some((net, rest)) => (
                net,
                rest.strip_suffix(')')
                    .ok_or_else(|| bad("unclosed '(' in address"))?,
            ),
            None => (address, ""),
        };
        match net {
            "tcp" | "tcp6" | "" => {
                let addr = if addr.is_empty() {
                    "127.0.0.1:3306"
                } else {
                    addr
                };
                let (host, port) = match addr.rsplit_once(':') {
                    Some((h, p)) if !h.ends_with(']') || p.parse::<u16>().is_ok() => (
                        h,
                        p.parse::<u16>().map_err(|_| bad("port is not a number"))?,
                    ),
                    _ => (addr, 3306),
                };
                let host = host.trim_start_matches('[').trim_end_matches(']');
                options = options.host(host).port(port);
            }
            "unix" => options = options.socket(addr),
            other => return Err(bad(&format!("unsupported network '{other}'"))),
        }
    }
    if !database.is_empty() {
        let database = percent_decode_str(database).decode_utf8_lossy();
        options = options.database(&database);
    }
    for pair in params
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode_str(value).decode_utf8_lossy();
        match key {
            "charset" => {
                if let Some(first) = value.split(',').next() {
                    options = options.charset(first);
                }
            }
            "collation" => options = options.collation(&value),
            // Handled by our own session setup or meaningless for sqlx; accepted for
            // compatibility with ctlstore's command lines.
            _ => {}
        }
    }
    Ok(options)
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

    #[test]
    fn go_dsns() {
        let o = match parse_ctldb_url(
            "ctldb:ctldbpw@tcp(mysql:3306)/ctldb?collation=utf8mb4_unicode_ci&timeout=5s&sql_mode=%27NO_BACKSLASH_ESCAPES,ANSI_QUOTES%27",
        ) {
            Ok(CtldbUrl::Mysql(o)) => o,
            other => panic!("not mysql: {other:?}"),
        };
        assert_eq!(o.get_host(), "mysql");
        assert_eq!(o.get_port(), 3306);
        assert_eq!(o.get_username(), "ctldb");
        assert_eq!(o.get_database(), Some("ctldb"));
        assert_eq!(o.get_collation(), Some("utf8mb4_unicode_ci"));

        let o = parse_go_mysql_dsn("root@tcp(127.0.0.1)/db").expect("dsn");
        assert_eq!((o.get_host(), o.get_port()), ("127.0.0.1", 3306));
        let o = parse_go_mysql_dsn("u:p@ss:w@rd@tcp([::1]:3307)/db").expect("dsn");
        assert_eq!(
            (o.get_host(), o.get_port(), o.get_username()),
            ("::1", 3307, "u")
        );
        let o = parse_go_mysql_dsn("root@unix(/run/mysqld/mysqld.sock)/db").expect("dsn");
        assert!(o.get_socket().is_some());
        assert!(parse_go_mysql_dsn("root@tcp(host:xx)/db").is_err());
        assert!(parse_go_mysql_dsn("root@tcp(host:3306)").is_err());
    }
}
