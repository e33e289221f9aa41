//! Ordering: concurrent appenders, batches in order, and group commit's per-batch failures.

use super::*;

backend_tests!(
    concurrent_appenders_keep_one_gapless_order,
    batches_apply_in_order,
    a_failing_batch_in_a_group_leaves_the_others,
);

async fn concurrent_appenders_keep_one_gapless_order(backend: Backend) {
    let (db, ctldb) = setup_with_table1(backend).await;
    let start = ctldb.max_seq().await.expect("seq");
    const TASKS: i64 = 8;
    const BATCHES: i64 = 12;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));

    // A tailer reads `seq > last` while appends run: if a higher seq could commit before a
    // lower one, it would observe a gap.
    let tailer = {
        let (ctldb, done) = (ctldb.clone(), done.clone());
        tokio::spawn(async move {
            let mut last = start;
            let mut seen = 0usize;
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                for e in ctldb.ledger_after(last, 50).await.expect("tail") {
                    assert_eq!(e.seq, last + 1, "gap observed after seq {last}");
                    last = e.seq;
                    seen += 1;
                }
                if finished && ctldb.max_seq().await.expect("seq") == last {
                    return seen;
                }
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        })
    };
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let ctldb = ctldb.clone();
        tasks.push(tokio::spawn(async move {
            let mut applied = Vec::new();
            for b in 0..BATCHES {
                let id = t * 1000 + b;
                let rows = (0..3)
                    .map(|i| upsert("table1", json!({"id": id, "name": format!("r{i}"), "body": format!("task {t} batch {b}"), "data": null, "tag": null, "score": null})))
                    .collect();
                applied.push((ctldb.apply_mutations(&request(rows)).await.expect("apply"), t, b));
            }
            applied
        }));
    }
    let mut batches = Vec::new();
    for task in tasks {
        batches.extend(task.await.expect("task"));
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = tailer.await.expect("tailer");
    let ledger = ctldb.ledger_after(start, 1_000_000).await.expect("ledger");
    assert_eq!(seen, ledger.len());
    assert_eq!(
        ledger.len() as i64,
        TASKS * BATCHES * 5,
        "BEGIN + 3 + COMMIT per batch"
    );
    let seqs: HashSet<i64> = ledger.iter().map(|e| e.seq).collect();
    assert_eq!(seqs.len(), ledger.len(), "no duplicate seq");
    assert_eq!(
        ledger.last().map(|e| e.seq),
        Some(start + ledger.len() as i64),
        "no gap"
    );
    // Each batch occupies a contiguous run: no interleaving.
    for (applied, t, b) in batches {
        let first = (applied.last_seq - start - 5) as usize;
        let run = &ledger[first..first + 5];
        assert_eq!(run[0].statement, BEGIN_MARKER);
        assert_eq!(run[4].statement, COMMIT_MARKER);
        for e in &run[1..4] {
            assert!(
                e.statement.contains(&format!("'task {t} batch {b}'")),
                "{}",
                e.statement
            );
        }
    }
    db.cleanup().await;
}

async fn batches_apply_in_order(backend: Backend) {
    let (db, ctldb) = setup_with_table1(backend).await;
    ctldb
        .create_table(&all_types_table("table2"))
        .await
        .expect("create");
    let r = |t: &str, id: i64, body: &str| {
        upsert(
            t,
            json!({"id": id, "name": "k", "body": body, "data": null, "tag": null, "score": null}),
        )
    };
    let d = |t: &str, id: i64| delete(t, json!({"id": id, "name": "k"}));
    // Repeated keys, deletes between upserts, two tables interleaved: one statement may carry a
    // run of upserts, but the outcome must be exactly the ledger's order.
    let batch = vec![
        r("table1", 1, "a"),
        r("table1", 1, "b"),
        r("table1", 2, "x"),
        d("table1", 2),
        r("table1", 2, "y"),
        r("table2", 1, "other"),
        r("table1", 3, "c"),
        r("table1", 4, "d"),
        d("table1", 4),
        r("table1", 1, "final"),
    ];
    ctldb.apply_mutations(&request(batch)).await.expect("apply");
    let many: Vec<Mutation> = (0..100).map(|i| r("table1", 100 + i, "bulk")).collect();
    ctldb
        .apply_mutations(&request(many))
        .await
        .expect("a full batch");
    let rows = ctldb.rows(&family(), &name("table1")).await.expect("rows");
    let bodies: Vec<(Value, Value)> = rows
        .iter()
        .take(3)
        .map(|r| (r[0].clone(), r[2].clone()))
        .collect();
    assert_eq!(
        bodies,
        [
            (Value::Integer(1), Value::Text("final".into())),
            (Value::Integer(2), Value::Text("y".into())),
            (Value::Integer(3), Value::Text("c".into())),
        ]
    );
    assert_eq!(rows.len(), 103);
    let replayed = replay(
        &whole_ledger(&ctldb).await,
        "family1___table1",
        r#""id", "name""#,
    );
    assert_eq!(replayed, rows, "the ctldb copy equals the ledger replayed");
    db.cleanup().await;
}

async fn a_failing_batch_in_a_group_leaves_the_others(backend: Backend) {
    let (db, ctldb) = setup_with_table1(backend).await;
    ctldb
        .set_cookie(&writer(), b"current")
        .await
        .expect("cookie");
    let start = ctldb.max_seq().await.expect("seq");
    // Concurrent batches are committed in groups; half of them fail their cookie check.
    let mut tasks = Vec::new();
    for i in 0..40i64 {
        let ctldb = ctldb.clone();
        tasks.push(tokio::spawn(async move {
            let row = json!({"id": i, "name": "n", "body": null, "data": null, "tag": null, "score": null});
            let mut req = request(vec![upsert("table1", row.clone()), upsert("table1", json!({"id": i, "name": "m", "body": null, "data": null, "tag": null, "score": null}))]);
            if i % 2 == 0 {
                req.check_cookie = Some(b"stale".to_vec());
            }
            (i, ctldb.apply_mutations(&req).await)
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let (i, result) = t.await.expect("task");
        match result {
            Ok(_) => {
                assert_eq!(i % 2, 1, "batch {i} should have failed");
                ok += 1;
            }
            Err(e) => {
                assert_eq!(i % 2, 0, "batch {i} should have applied: {e}");
                assert!(matches!(e, CtldbError::CookieConflict), "{e}");
            }
        }
    }
    assert_eq!(ok, 20);
    let rows = ctldb.rows(&family(), &name("table1")).await.expect("rows");
    assert_eq!(
        rows.len(),
        40,
        "two rows from each of the 20 successful batches"
    );
    assert!(
        rows.iter()
            .all(|r| matches!(r[0], Value::Integer(i) if i % 2 == 1))
    );
    let ledger = ctldb.ledger_after(start, 10_000).await.expect("ledger");
    assert_eq!(
        ledger.len(),
        20 * 4,
        "BEGIN, 2 rows, COMMIT per successful batch, nothing of the failed"
    );
    let seqs: Vec<i64> = ledger.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (start + 1..=start + 80).collect::<Vec<_>>(),
        "contiguous"
    );
    for batch in ledger.chunks(4) {
        assert_eq!(
            (batch[0].statement.as_str(), batch[3].statement.as_str()),
            (BEGIN_MARKER, COMMIT_MARKER)
        );
    }
    db.cleanup().await;
}
