//! Constraints the executive does not model: a table changed by hand on the ctldb (a column made
//! NOT NULL, a CHECK added) keeps being written through the executive, and a row that breaks such
//! a constraint is the request's fault, on every backend: 400 naming the column where the
//! database names it, never a 500, and nothing of the batch in the ledger.

use ctlstore_testkit::{Backend, TestDb, TestExecutive, backend_tests};
use reqwest::StatusCode;
use serde_json::json;

use super::{register_items, row};

backend_tests!(constraint_violations_are_the_requests_fault);

/// Makes `fam___items.name` NOT NULL and adds `CHECK (score < 100)`, as an operator would.
async fn constrain_by_hand(db: &TestDb) {
    match db.backend {
        // SQLite cannot add a constraint to a table: rebuild it with the same columns.
        Backend::Sqlite => {
            db.execute(
                r#"ALTER TABLE fam___items RENAME TO items_before;
                CREATE TABLE fam___items ("id" INTEGER, "name" VARCHAR(191) NOT NULL, "data" BLOB,
                    "score" REAL CHECK ("score" < 100), PRIMARY KEY("id"));
                INSERT INTO fam___items SELECT * FROM items_before;
                DROP TABLE items_before;"#,
            )
            .await
        }
        Backend::Mysql => {
            db.execute(
                "ALTER TABLE fam___items MODIFY `name` VARCHAR(191) NOT NULL, \
                 ADD CONSTRAINT score_small CHECK (`score` < 100)",
            )
            .await
        }
        Backend::Postgres => {
            db.execute(
                r#"ALTER TABLE fam___items ALTER COLUMN "name" SET NOT NULL,
                ADD CONSTRAINT score_small CHECK ("score" < 100)"#,
            )
            .await
        }
    }
}

async fn constraint_violations_are_the_requests_fault(backend: Backend) {
    let db = TestDb::create(backend).await;
    let s = TestExecutive::start(&db.url).await;
    let w = register_items(&s).await;
    w.mutate_ok("fam", &json!({"mutations": [row(1, "before")]}))
        .await;
    constrain_by_hand(&db).await;
    let head = s.head().await;

    let null_name =
        json!({"table": "items", "values": {"id": 2, "name": null, "data": null, "score": 1}});
    let got = w
        .mutate("fam", &json!({"mutations": [row(3, "fine"), null_name]}))
        .await;
    assert_eq!(got.0, StatusCode::BAD_REQUEST, "NOT NULL: {}", got.1);
    assert_eq!(
        got.1["field"], "name",
        "NOT NULL names the column: {}",
        got.1
    );
    assert!(
        got.1["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{}",
        got.1
    );

    let big_score =
        json!({"table": "items", "values": {"id": 4, "name": "x", "data": null, "score": 1000}});
    let got = w.mutate("fam", &json!({"mutations": [big_score]})).await;
    assert_eq!(got.0, StatusCode::BAD_REQUEST, "CHECK: {}", got.1);

    assert_eq!(
        s.head().await,
        head,
        "a refused batch leaves no ledger entry"
    );
    // The refusals broke nothing: the next good write goes through.
    w.mutate_ok("fam", &json!({"mutations": [row(5, "after")]}))
        .await;
    assert_eq!(s.head().await, head + 1);
    s.stop().await;
    db.cleanup().await;
}
