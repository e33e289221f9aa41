//! Writer rate limits and stored limits.

use super::*;

backend_tests!(
    writer_rate_limits_are_shared_and_rolled_back,
    limits_are_stored,
);

async fn writer_rate_limits_are_shared_and_rolled_back(backend: Backend) {
    let (db, ctldb) = setup_with_table1(backend).await;
    let other = Ctldb::connect(&db.url, CtldbOptions::default())
        .await
        .expect("second executive");
    let limit = ctlstore_ctldb::WriterRateLimit {
        period_seconds: 5,
        default_rows: 5,
        writer_override: WriterOverride::ReadInTransaction,
        now_unix: 1000,
    };
    let row = |i: i64| {
        upsert(
            "table1",
            json!({"id": i, "name": "n", "body": null, "data": null, "tag": null, "score": null}),
        )
    };
    let limited = |rows: Vec<Mutation>, now: i64| {
        let mut r = request(rows);
        r.rate_limit = Some(ctlstore_ctldb::WriterRateLimit {
            now_unix: now,
            ..limit
        });
        r
    };
    ctldb
        .apply_mutations(&limited(vec![row(1), row(2), row(3)], 1000))
        .await
        .expect("3 of 5");
    other
        .apply_mutations(&limited(vec![row(4), row(5)], 1001))
        .await
        .expect("5 of 5, via another executive");
    let seq = ctldb.max_seq().await.expect("seq");
    let err = other
        .apply_mutations(&limited(vec![row(6)], 1004))
        .await
        .expect_err("6 of 5");
    assert!(
        matches!(
            err,
            CtldbError::RateLimited {
                allowed: 5,
                period_seconds: 5
            }
        ),
        "{err}"
    );
    assert_eq!(
        ctldb.max_seq().await.expect("seq"),
        seq,
        "a refused batch leaves no trace"
    );
    ctldb
        .apply_mutations(&limited(vec![row(6)], 1005))
        .await
        .expect("next bucket");
    // An override of 120 rows a minute is 10 per 5-second bucket.
    ctldb
        .set_writer_limit(&writer(), 120)
        .await
        .expect("override");
    let ten: Vec<Mutation> = (10..20).map(row).collect();
    ctldb
        .apply_mutations(&limited(ten, 1010))
        .await
        .expect("10 of 10");
    assert!(matches!(
        ctldb.apply_mutations(&limited(vec![row(30)], 1011)).await,
        Err(CtldbError::RateLimited { allowed: 10, .. })
    ));
    assert_eq!(ctldb.delete_writer_usage_before(1010).await.expect("gc"), 2);
    db.cleanup().await;
}

async fn limits_are_stored(backend: Backend) {
    let (db, ctldb) = setup_with_table1(backend).await;
    let missing = ctldb
        .set_table_limit(&family(), &name("nosuch"), 1, 2)
        .await;
    assert!(matches!(missing, Err(CtldbError::TableNotFound(_))));
    ctldb
        .set_table_limit(&family(), &name("table1"), 100, 200)
        .await
        .expect("set");
    ctldb
        .set_table_limit(&family(), &name("table1"), 10, 20)
        .await
        .expect("replace");
    let limits = ctldb.table_limits().await.expect("read");
    assert_eq!(limits.len(), 1);
    assert_eq!(
        (limits[0].warn_size_bytes, limits[0].max_size_bytes),
        (10, 20)
    );
    ctldb
        .delete_table_limit(&family(), &name("table1"))
        .await
        .expect("delete");
    assert!(matches!(
        ctldb.delete_table_limit(&family(), &name("table1")).await,
        Err(CtldbError::LimitNotFound(_))
    ));
    let stranger = WriterName::new("nobody").expect("valid");
    assert!(matches!(
        ctldb.set_writer_limit(&stranger, 1).await,
        Err(CtldbError::LimitNotFound(_))
    ));
    ctldb.set_writer_limit(&writer(), 120).await.expect("set");
    assert_eq!(
        ctldb.writer_limits().await.expect("read"),
        vec![("writer1".to_string(), 120)]
    );
    ctldb.delete_writer_limit(&writer()).await.expect("delete");
    assert!(matches!(
        ctldb.delete_writer_limit(&writer()).await,
        Err(CtldbError::LimitNotFound(_))
    ));
    let row = json!({"id": 1, "name": "n", "body": "x".repeat(5000), "data": null, "tag": null, "score": null});
    ctldb
        .apply_mutations(&request(vec![upsert("table1", row)]))
        .await
        .expect("apply");
    let sizes = ctldb.table_sizes().await.expect("sizes");
    assert!(
        sizes.get("family1___table1").is_some_and(|s| *s > 0),
        "{sizes:?}"
    );
    assert!(
        !sizes.contains_key("mutators"),
        "only ctlstore tables: {sizes:?}"
    );
    db.cleanup().await;
}
