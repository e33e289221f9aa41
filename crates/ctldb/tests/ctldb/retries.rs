//! Transactions the database aborts for another's sake are run again (issue 20). PostgreSQL
//! makes a deadlock on demand: another session holds a row our write needs, then asks for the
//! ledger lock our write holds. PostgreSQL's deadlock check fires first for the session that
//! waited first, ours, so our transaction is the one aborted (40P01); the other session then
//! commits, and our write, run again, succeeds: once.

use std::time::Duration;

use sqlx::Connection;

use super::*;

ctlstore_testkit::__postgres_backend_tests!(a_deadlocked_write_is_run_again_and_applied_once);

async fn a_deadlocked_write_is_run_again_and_applied_once(backend: Backend) {
    let (db, ctldb) = setup_with_table1(backend).await;
    let row = |body: &str| json!({"id": 1, "name": "a", "body": body, "data": null, "tag": null, "score": 1});
    ctldb
        .apply_mutations(&request(vec![upsert("table1", row("before"))]))
        .await
        .expect("first write");
    let head = whole_ledger(&ctldb).await.len();

    let mut other = sqlx::PgConnection::connect(&db.url).await.expect("connect");
    sqlx::query("SET deadlock_timeout = '5s'")
        .execute(&mut other)
        .await
        .expect("set");
    let mut tx = other.begin().await.expect("begin");
    sqlx::query(r#"SELECT 1 FROM family1___table1 WHERE "id" = 1 FOR UPDATE"#)
        .execute(&mut *tx)
        .await
        .expect("hold the row");
    let write = {
        let ctldb = ctldb.clone();
        tokio::spawn(async move {
            ctldb
                .apply_mutations(&request(vec![upsert("table1", row("after"))]))
                .await
        })
    };
    // Our write now holds the ledger lock and waits for the row.
    tokio::time::sleep(Duration::from_millis(300)).await;
    sqlx::query("UPDATE locks SET clock = clock + 1 WHERE id = 'ledger'")
        .execute(&mut *tx)
        .await
        .expect("the other session gets the ledger lock: our attempt was the deadlock's victim");
    tx.commit().await.expect("the other session commits");
    let applied = tokio::time::timeout(Duration::from_secs(30), write)
        .await
        .expect("the write finishes")
        .expect("task")
        .expect("the write succeeded after running again");
    let ledger = whole_ledger(&ctldb).await;
    assert_eq!(ledger.len(), head + 1, "one more entry: applied once");
    assert_eq!(ledger.last().map(|e| e.seq), Some(applied.last_seq));
    assert!(ledger[head].statement.contains("'after'"));
    db.cleanup().await;
}
