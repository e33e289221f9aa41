//! How the ctldb's errors are classified, through its API and on real databases: a constraint
//! the data breaks is `Rejected` naming the column (SQLite says so by numeric extended result
//! codes, MySQL by error numbers, PostgreSQL by SQLSTATE), a database that cannot be reached is
//! `Unavailable` within the acquire timeout, and the driver's error stays reachable as the
//! source.

use std::error::Error as _;
use std::time::{Duration, Instant};

use super::*;

backend_tests!(
    a_broken_constraint_is_rejected_naming_the_column,
    a_closed_pool_is_unavailable
);

async fn a_broken_constraint_is_rejected_naming_the_column(backend: Backend) {
    let (db, ctldb) = setup_with_table1(backend).await;
    // An operator made `body` NOT NULL by hand: the executive's validation does not know.
    db.execute(match backend {
        Backend::Sqlite => {
            r#"ALTER TABLE family1___table1 RENAME TO before;
            CREATE TABLE family1___table1 ("id" INTEGER, "name" VARCHAR(191), "body" TEXT NOT NULL,
                "data" BLOB, "tag" BLOB(255), "score" REAL, PRIMARY KEY("id","name"));
            DROP TABLE before;"#
        }
        Backend::Mysql => "ALTER TABLE family1___table1 MODIFY `body` TEXT NOT NULL",
        Backend::Postgres => r#"ALTER TABLE family1___table1 ALTER COLUMN "body" SET NOT NULL"#,
    })
    .await;
    let row = json!({"id": 1, "name": "a", "body": null, "data": null, "tag": null, "score": 1});
    let e = ctldb
        .apply_mutations(&request(vec![upsert("table1", row)]))
        .await
        .expect_err("NOT NULL is enforced");
    match &e {
        CtldbError::Rejected { field, reason, .. } => {
            assert_eq!(field.as_deref(), Some("body"), "{e}");
            assert!(!reason.is_empty());
        }
        other => panic!("{backend:?}: expected Rejected, got {other:?}"),
    }
    assert_eq!(e.field(), Some("body"));
    assert!(
        e.source().is_some(),
        "the driver's error is kept as the source"
    );
    assert!(
        whole_ledger(&ctldb)
            .await
            .iter()
            .all(|l| !l.statement.contains("REPLACE")),
        "nothing of the refused batch in the ledger"
    );
    db.cleanup().await;
}

async fn a_closed_pool_is_unavailable(backend: Backend) {
    let (db, ctldb) = setup_with_table1(backend).await;
    ctldb.close().await;
    let ping = ctldb.ping().await.expect_err("a closed pool");
    assert!(ping.is_unavailable(), "{ping:?}");
    let row = json!({"id": 1, "name": "a", "body": "b", "data": null, "tag": null, "score": 1});
    let write = ctldb
        .apply_mutations(&request(vec![upsert("table1", row)]))
        .await
        .expect_err("a closed pool");
    assert!(write.is_unavailable(), "{write:?}");
    db.cleanup().await;
}

/// Nothing listens on the port: refused connections are retried until the acquire timeout, and
/// then the answer is `Unavailable`, not a hang and not an internal error.
#[tokio::test]
async fn an_unreachable_server_is_unavailable_within_the_acquire_timeout() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    for url in [
        format!("postgres://postgres@127.0.0.1:{port}/x"),
        format!("mysql://root@127.0.0.1:{port}/x"),
    ] {
        let started = Instant::now();
        let e = Ctldb::connect(&url, CtldbOptions::default())
            .await
            .err()
            .expect("nothing listens there");
        let took = started.elapsed();
        assert!(e.is_unavailable(), "{url}: {e:?}");
        assert!(e.to_string().contains("unavailable"), "{e}");
        assert!(
            took < Duration::from_secs(2),
            "{url}: answered after {took:?}"
        );
    }
}
