//! Ledger retention: the horizon is recorded and never moves back, pruning deletes exactly the
//! entries at or below it (in batches), and the age bound reads `leader_ts` on every backend.

use super::*;

backend_tests!(
    pruning_deletes_through_the_horizon_and_records_it,
    the_age_bound_reads_leader_ts,
);

async fn write_some(ctldb: &Ctldb, batches: i64) {
    for i in 0..batches {
        ctldb
            .apply_mutations(&request(vec![
                upsert("table1", json!({"id": i, "name": "a", "body": null, "data": null, "tag": null, "score": 1})),
                upsert("table1", json!({"id": i, "name": "b", "body": null, "data": null, "tag": null, "score": 2})),
            ]))
            .await
            .expect("mutate");
    }
}

async fn pruning_deletes_through_the_horizon_and_records_it(backend: Backend) {
    let (db, ctldb) = setup_with_table1(backend).await;
    write_some(&ctldb, 30).await;
    let before = whole_ledger(&ctldb).await;
    let head = ctldb.max_seq().await.expect("head");
    assert_eq!(ctldb.ledger_horizon().await.expect("horizon"), 0);
    let through = head - 40;

    let preview = ctldb.prune_preview(through).await.expect("preview");
    let below: Vec<_> = before.iter().filter(|e| e.seq <= through).collect();
    assert_eq!(preview.entries, below.len() as i64);
    assert_eq!(preview.first, below.first().map(|e| e.seq));
    assert_eq!(
        whole_ledger(&ctldb).await,
        before,
        "a preview deletes nothing"
    );

    // Batches of 7 seqs: several transactions, progress after each.
    let mut calls = Vec::new();
    let report = ctldb
        .prune_ledger(through, 7, |deleted, at| calls.push((deleted, at)))
        .await
        .expect("prune");
    assert_eq!(report.entries, below.len() as i64);
    assert!(calls.len() > 1, "{calls:?}");
    assert_eq!(calls.last().map(|c| c.1), Some(through));
    let after = whole_ledger(&ctldb).await;
    let kept: Vec<_> = before.into_iter().filter(|e| e.seq > through).collect();
    assert_eq!(
        after, kept,
        "exactly the entries above the horizon are kept"
    );
    assert_eq!(ctldb.ledger_horizon().await.expect("horizon"), through);

    // The horizon never moves back, and a lower prune deletes nothing.
    let again = ctldb
        .prune_ledger(through - 10, 7, |_, _| {})
        .await
        .expect("prune");
    assert_eq!(again.entries, 0);
    assert_eq!(ctldb.ledger_horizon().await.expect("horizon"), through);
    // Appends go on above it.
    write_some(&ctldb, 1).await;
    assert!(ctldb.max_seq().await.expect("head") > head);
    db.cleanup().await;
}

async fn the_age_bound_reads_leader_ts(backend: Backend) {
    let (db, ctldb) = setup_with_table1(backend).await;
    write_some(&ctldb, 3).await;
    let head = ctldb.max_seq().await.expect("head");
    // Everything was written within the last hour, and (clocks agreeing) all of it is older
    // than nothing.
    let hour = std::time::Duration::from_secs(3600);
    assert_eq!(ctldb.newest_seq_older_than(hour).await.expect("age"), None);
    // leader_ts has whole seconds: two of them pass for sure.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let second = std::time::Duration::from_secs(1);
    assert_eq!(
        ctldb.newest_seq_older_than(second).await.expect("age"),
        Some(head),
        "every entry is older than a second now"
    );
    db.cleanup().await;
}
