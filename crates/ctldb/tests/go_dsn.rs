//! Go MySQL DSNs against a real MariaDB: the forms ctlstore's command lines use must connect.

use ctlstore_ctldb::Ctldb;
use ctlstore_testkit::{Backend, TestDb, mysql_test};

/// `root@tcp(host:port)/db` for a `mysql://root@host:port/db` test URL, with `password_part`
/// spliced in after the user (`""` or `":"`).
fn dsn_with(url: &str, password_part: &str) -> String {
    let rest = url.trim_start_matches("mysql://");
    let (user, rest) = rest.split_once('@').expect("test URL has a user");
    let user = user.split(':').next().unwrap_or(user);
    let (host, db) = rest.split_once('/').expect("test URL has a database");
    format!("{user}{password_part}@tcp({host})/{db}")
}

mysql_test! {
    /// ctlstore's executive needs `root:@tcp(...)` for a passwordless user; ours must accept
    /// it too (it used to send an empty password: "Access denied (using password: YES)").
    async fn an_empty_password_connects() {
        let db = TestDb::create(Backend::Mysql).await;
        for form in [":", ""] {
            let dsn = format!("{}?collation=utf8mb4_unicode_ci&parseTime=true&timeout=5s", dsn_with(&db.url, form));
            let ctldb = Ctldb::connect(&dsn, Default::default())
                .await
                .unwrap_or_else(|e| panic!("{dsn}: {e}"));
            ctldb.close().await;
        }
    }
}
