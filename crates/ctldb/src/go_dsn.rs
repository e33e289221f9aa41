//! Go's MySQL DSN, as ctlstore's command lines give it (go-sql-driver/mysql's grammar), turned
//! into connection options: the split, the defaults, and each parameter applied, checked or
//! refused by name.

use percent_encoding::percent_decode_str;
use sqlx::mysql::MySqlConnectOptions;

use crate::CtldbError;

/// Go's `[user[:password]@][net[(addr)]]/dbname[?params]`, split the way go-sql-driver/mysql
/// splits it: the database follows the *last* `/`, the credentials end at the last `@` before
/// it, and the user ends at the first `:`. So a password may hold `@`, `:`, `/` and `?`; a user
/// may not hold `:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GoDsn<'a> {
    pub user: Option<&'a str>,
    /// `None`: no `:` after the user. `Some("")` (`root:@tcp(...)`) is no password too: Go sends
    /// none, and ctlstore's executive needs that form for a passwordless user.
    pub password: Option<&'a str>,
    pub net: &'a str,
    pub addr: &'a str,
    pub dbname: &'a str,
    pub params: Vec<(&'a str, String)>,
}

impl<'a> GoDsn<'a> {
    pub(crate) fn parse(dsn: &'a str) -> Result<GoDsn<'a>, CtldbError> {
        let slash = dsn
            .rfind('/')
            .ok_or_else(|| go_dsn_error("missing '/dbname'"))?;
        let (left, right) = (&dsn[..slash], &dsn[slash + 1..]);
        let (dbname, query) = match right.split_once('?') {
            Some((d, q)) => (d, q),
            None => (right, ""),
        };
        let (credentials, address) = match left.rfind('@') {
            Some(at) => (Some(&left[..at]), &left[at + 1..]),
            None => (None, left),
        };
        let (user, password) = match credentials {
            Some(c) => match c.split_once(':') {
                Some((u, p)) => (Some(u), Some(p)),
                None => (Some(c), None),
            },
            None => (None, None),
        };
        let (net, addr) = match address.split_once('(') {
            Some((net, rest)) => (
                net,
                rest.strip_suffix(')')
                    .ok_or_else(|| go_dsn_error("unclosed '(' in the address"))?,
            ),
            None => (address, ""),
        };
        let mut params = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode_str(value)
                .decode_utf8()
                .map_err(|_| go_dsn_error(&format!("parameter '{key}' is not UTF-8")))?;
            params.push((key, value.into_owned()));
        }
        Ok(GoDsn {
            user,
            password,
            net,
            addr,
            dbname,
            params,
        })
    }

    fn options(&self) -> Result<MySqlConnectOptions, CtldbError> {
        // Go's driver uses TLS only when the DSN asks (`tls=`): so do we, now that sqlx can
        // (its own default, "preferred", would switch on TLS wherever the server offers it).
        let mut options = MySqlConnectOptions::new().ssl_mode(sqlx::mysql::MySqlSslMode::Disabled);
        if let Some(user) = self.user.filter(|u| !u.is_empty()) {
            options = options.username(user);
        }
        if let Some(password) = self.password.filter(|p| !p.is_empty()) {
            options = options.password(password);
        }
        match self.net {
            // Go's defaults: no network means tcp, no address means 127.0.0.1:3306.
            "tcp" | "tcp4" | "tcp6" | "" => {
                let addr = if self.addr.is_empty() {
                    "127.0.0.1:3306"
                } else {
                    self.addr
                };
                let (host, port) = split_host_port(addr)?;
                options = options.host(host).port(port);
            }
            "unix" => {
                let socket = if self.addr.is_empty() {
                    "/tmp/mysql.sock"
                } else {
                    self.addr
                };
                options = options.socket(socket);
            }
            other => return Err(go_dsn_error(&format!("unsupported network '{other}'"))),
        }
        if !self.dbname.is_empty() {
            let database = percent_decode_str(self.dbname).decode_utf8_lossy();
            options = options.database(&database);
        }
        for (key, value) in &self.params {
            options = apply_param(options, key, value)?;
        }
        Ok(options)
    }
}

fn go_dsn_error(why: &str) -> CtldbError {
    CtldbError::InvalidUrl(format!("MySQL DSN: {why}"))
}

fn split_host_port(addr: &str) -> Result<(&str, u16), CtldbError> {
    let port_of = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| go_dsn_error(&format!("port '{p}' is not a number")))
    };
    if let Some(rest) = addr.strip_prefix('[') {
        // [ipv6] or [ipv6]:port
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| go_dsn_error("unclosed '[' in the address"))?;
        return match after.strip_prefix(':') {
            Some(p) => Ok((host, port_of(p)?)),
            None if after.is_empty() => Ok((host, 3306)),
            None => Err(go_dsn_error(&format!("bad address '{addr}'"))),
        };
    }
    match addr.rsplit_once(':') {
        Some((host, p)) => Ok((host, port_of(p)?)),
        None => Ok((addr, 3306)),
    }
}

/// One DSN parameter. Those that change what we do are applied; those ctlstore's docs and
/// command lines use but that mean nothing to us are checked and accepted; anything else is
/// refused by name, so a setting never silently does nothing.
fn apply_param(
    options: MySqlConnectOptions,
    key: &str,
    value: &str,
) -> Result<MySqlConnectOptions, CtldbError> {
    let bad = |why: &str| go_dsn_error(&format!("parameter '{key}': {why}"));
    let go_bool = |v: &str| match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(bad(&format!("'{v}' is not a boolean"))),
    };
    let go_duration = |v: &str| {
        ctlstore_duration::parse(v)
            .map(|_| ())
            .map_err(|e| bad(&e.to_string()))
    };
    Ok(match key {
        // The connection is always utf8mb4 (ctlstore's data is); the collation is applied.
        "charset" => options,
        "collation" => options.collation(value),
        "tls" => {
            use sqlx::mysql::MySqlSslMode;
            let mode = match value {
                "skip-verify" => MySqlSslMode::Required,
                "preferred" => MySqlSslMode::Preferred,
                v => match go_bool(v) {
                    Ok(true) => MySqlSslMode::VerifyIdentity,
                    Ok(false) => MySqlSslMode::Disabled,
                    Err(_) => {
                        return Err(bad(&format!(
                            "'{v}' is not supported (true, false, skip-verify or preferred; named TLS configs are Go-only)"
                        )));
                    }
                },
            };
            options.ssl_mode(mode)
        }
        // We read timestamps ourselves and never send multi-statement queries; the session's
        // sql_mode and time zone are set on every connection (backend.rs) whatever is given.
        "parseTime"
        | "multiStatements"
        | "interpolateParams"
        | "allowNativePasswords"
        | "checkConnLiveness"
        | "columnsWithAlias" => {
            go_bool(value)?;
            options
        }
        // Connect, read and write deadlines: the ctldb's own acquire timeout bounds every
        // operation instead (CtldbOptions::acquire_timeout).
        "timeout" | "readTimeout" | "writeTimeout" => {
            go_duration(value)?;
            options
        }
        "sql_mode" | "loc" | "maxAllowedPacket" => options,
        other => {
            return Err(go_dsn_error(&format!(
                "parameter '{other}' is not supported (supported: charset, collation, tls, parseTime, timeout, readTimeout, writeTimeout, multiStatements, interpolateParams, allowNativePasswords, checkConnLiveness, columnsWithAlias, sql_mode, loc, maxAllowedPacket)"
            )));
        }
    })
}

/// A Go MySQL DSN as connection options.
pub(crate) fn parse_go_mysql_dsn(dsn: &str) -> Result<MySqlConnectOptions, CtldbError> {
    GoDsn::parse(dsn)?.options()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsn::{CtldbUrl, parse_ctldb_url};

    #[test]
    fn go_dsns() {
        let o = match parse_ctldb_url(
            "ctldb:ctldbpw@tcp(mysql:3306)/ctldb?collation=utf8mb4_unicode_ci&timeout=5s&sql_mode=%27NO_BACKSLASH_ESCAPES,ANSI_QUOTES%27",
        ) {
            Ok(CtldbUrl::Mysql(o)) => *o,
            other => panic!("not mysql: {other:?}"),
        };
        assert_eq!(o.get_host(), "mysql");
        assert_eq!(o.get_port(), 3306);
        assert_eq!(o.get_username(), "ctldb");
        assert_eq!(o.get_database(), Some("ctldb"));
        assert_eq!(o.get_collation(), Some("utf8mb4_unicode_ci"));

        let o = parse_go_mysql_dsn("root@tcp(127.0.0.1)/db").expect("dsn");
        assert_eq!((o.get_host(), o.get_port()), ("127.0.0.1", 3306));
        let o = parse_go_mysql_dsn("root@unix(/run/mysqld/mysqld.sock)/db").expect("dsn");
        assert!(o.get_socket().is_some());
        assert!(parse_go_mysql_dsn("root@tcp(host:xx)/db").is_err());
        assert!(parse_go_mysql_dsn("root@tcp(host:3306)").is_err());
    }

    /// The DSN grammar, split as go-sql-driver/mysql splits it.
    #[test]
    fn go_dsn_table() {
        type Row = (
            &'static str,
            Option<&'static str>,
            Option<&'static str>,
            &'static str,
            &'static str,
            &'static str,
        );
        let table: &[Row] = &[
            // dsn, user, password, net, addr, dbname
            (
                "root:@tcp(127.0.0.1:3306)/ctldb",
                Some("root"),
                Some(""),
                "tcp",
                "127.0.0.1:3306",
                "ctldb",
            ),
            (
                "root@tcp(127.0.0.1:3306)/ctldb",
                Some("root"),
                None,
                "tcp",
                "127.0.0.1:3306",
                "ctldb",
            ),
            (
                "u:p@ss@tcp(h:1)/d",
                Some("u"),
                Some("p@ss"),
                "tcp",
                "h:1",
                "d",
            ),
            (
                "u:p:a:ss@tcp(h:1)/d",
                Some("u"),
                Some("p:a:ss"),
                "tcp",
                "h:1",
                "d",
            ),
            (
                "u:p/a/ss@tcp(h:1)/d",
                Some("u"),
                Some("p/a/ss"),
                "tcp",
                "h:1",
                "d",
            ),
            (
                "u:p?x@tcp(h:1)/d?collation=utf8mb4_unicode_ci",
                Some("u"),
                Some("p?x"),
                "tcp",
                "h:1",
                "d",
            ),
            ("u:@/d", Some("u"), Some(""), "", "", "d"),
            ("/d", None, None, "", "", "d"),
            ("tcp(h)/", None, None, "tcp", "h", ""),
            (
                "u@unix(/var/run/mysqld/mysqld.sock)/d",
                Some("u"),
                None,
                "unix",
                "/var/run/mysqld/mysqld.sock",
                "d",
            ),
            (
                "u:pw@tcp([::1]:3307)/d",
                Some("u"),
                Some("pw"),
                "tcp",
                "[::1]:3307",
                "d",
            ),
        ];
        for &(dsn, user, password, net, addr, dbname) in table {
            let d = GoDsn::parse(dsn).unwrap_or_else(|e| panic!("{dsn}: {e}"));
            assert_eq!(
                (d.user, d.password, d.net, d.addr, d.dbname),
                (user, password, net, addr, dbname),
                "{dsn}"
            );
            parse_go_mysql_dsn(dsn).unwrap_or_else(|e| panic!("{dsn}: {e}"));
        }
    }

    #[test]
    fn go_dsn_options() {
        // An empty password is no password at all (what Go sends).
        let o = parse_go_mysql_dsn("root:@tcp(127.0.0.1:3306)/ctldb").expect("dsn");
        assert_eq!(o.get_username(), "root");
        let debug = format!("{o:?}");
        assert!(debug.contains("password: None"), "{debug}");
        let o = parse_go_mysql_dsn("u:p@ss:w/rd@tcp([::1]:3307)/db").expect("dsn");
        assert_eq!(
            (o.get_host(), o.get_port(), o.get_username()),
            ("::1", 3307, "u")
        );
        assert!(format!("{o:?}").contains("p@ss:w/rd"));
        let o = parse_go_mysql_dsn("u@tcp(h)/d").expect("dsn");
        assert_eq!((o.get_host(), o.get_port()), ("h", 3306));
        let o = parse_go_mysql_dsn("u@unix()/d").expect("dsn");
        assert_eq!(
            o.get_socket().map(|p| p.to_path_buf()),
            Some("/tmp/mysql.sock".into())
        );
        // The parameters ctlstore's docs use.
        let o = parse_go_mysql_dsn("u@tcp(h:1)/d?collation=utf8mb4_unicode_ci&parseTime=true&timeout=5s&readTimeout=30s&writeTimeout=30s&tls=false&multiStatements=true&sql_mode=%27NO_BACKSLASH_ESCAPES,ANSI_QUOTES%27").expect("dsn");
        assert_eq!(o.get_collation(), Some("utf8mb4_unicode_ci"));
        for tls in ["true", "skip-verify", "preferred", "false"] {
            parse_go_mysql_dsn(&format!("u@tcp(h:1)/d?tls={tls}")).expect(tls);
        }
        // Refused clearly, naming the parameter.
        for (dsn, named) in [
            ("u@tcp(h:1)/d?foo=bar", "'foo'"),
            ("u@tcp(h:1)/d?timeout=5", "'timeout'"),
            ("u@tcp(h:1)/d?parseTime=yes", "'parseTime'"),
            ("u@tcp(h:1)/d?tls=custom", "'tls'"),
            ("u@tcp(h:1)/d?clientFoundRows=true", "'clientFoundRows'"),
            ("u@bogus(h:1)/d", "'bogus'"),
        ] {
            let e = parse_go_mysql_dsn(dsn).expect_err(dsn).to_string();
            assert!(e.contains(named), "{dsn}: {e}");
        }
    }
}
