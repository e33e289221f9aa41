//! Row mutations: what the ctldb and the ledger hold, and typed refusals.

use super::*;

backend_tests!(
    upserts_and_deletes_match_the_ledger,
    bad_input_is_a_typed_error_naming_the_field,
);

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn upserts_and_deletes_match_the_ledger(backend: Backend) {
    let (db, ctldb) = setup_with_table1(backend).await;
    let nasty = if backend == Backend::Postgres {
        "quote ' and 𨅝".to_string()
    } else {
        "a\u{0}b ' 𨅝".to_string()
    };
    let row = |id: i64, name: &str, body: Json| json!({"id": id, "name": name, "body": body, "data": "3q2+7w==", "tag": "AAE=", "score": 1.5});
    let batch = vec![
        upsert("table1", row(1, "one", json!("first"))),
        upsert("table1", row(2, "two", json!(nasty))),
        upsert("table1", row(9007199254740993, "big", json!(null))),
        upsert("table1", row(3, "three", json!("\\d"))),
    ];
    let applied = ctldb.apply_mutations(&request(batch)).await.expect("apply");
    assert_eq!(applied.entries, 6, "BEGIN + 4 + COMMIT");
    let single = ctldb
        .apply_mutations(&request(vec![upsert(
            "table1",
            row(1, "one", json!("replaced")),
        )]))
        .await
        .expect("apply");
    assert_eq!(single.entries, 1, "one mutation is one bare statement");
    assert_eq!(single.last_seq, applied.last_seq + 1);
    ctldb
        .apply_mutations(&request(vec![
            delete("table1", json!({"id": 3, "name": "three"})),
            delete("table1", json!({"id": 404, "name": "none"})),
        ]))
        .await
        .expect("delete");

    let rows = ctldb.rows(&family(), &name("table1")).await.expect("rows");
    let ids: Vec<&Value> = rows.iter().map(|r| &r[0]).collect();
    assert_eq!(
        ids,
        [
            &Value::Integer(1),
            &Value::Integer(2),
            &Value::Integer(9007199254740993)
        ]
    );
    assert_eq!(rows[0][2], Value::Text("replaced".into()));
    assert_eq!(rows[1][2], Value::Text(nasty.clone()));
    assert_eq!(rows[2][2], Value::Null);
    assert_eq!(rows[0][3], Value::Bytes(vec![0xde, 0xad, 0xbe, 0xef]));
    assert_eq!(rows[0][4], Value::Bytes(vec![0, 1]));
    assert_eq!(rows[0][5], Value::Real(1.5));

    // A host replaying the ledger gets the same table as the ctldb holds.
    let ledger = whole_ledger(&ctldb).await;
    let mut replayed = replay(&ledger, "family1___table1", r#""id", "name""#);
    // The ledger carries a NUL string as a blob literal (ctlstore's rule): compare its bytes.
    for r in &mut replayed {
        if let Value::Bytes(b) = &r[2] {
            r[2] = Value::Text(String::from_utf8(b.clone()).expect("utf-8"));
        }
    }
    assert_eq!(replayed, rows);
    let kinds: Vec<&str> = ledger
        .iter()
        .map(|e| e.statement.split(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(
        kinds,
        [
            "CREATE", "---", "REPLACE", "REPLACE", "REPLACE", "REPLACE", "---", "REPLACE", "---",
            "DELETE", "DELETE", "---"
        ]
    );
    for e in &ledger {
        assert_eq!(
            e.leader_ts.len(),
            19,
            "leader_ts in ctlstore's layout: {:?}",
            e.leader_ts
        );
    }
    db.cleanup().await;
}

async fn bad_input_is_a_typed_error_naming_the_field(backend: Backend) {
    let (db, ctldb) = setup_with_table1(backend).await;
    let seq_before = ctldb.max_seq().await.expect("seq");
    let good =
        json!({"id": 1, "name": "a", "body": null, "data": null, "tag": null, "score": null});
    let with = |k: &str, v: Json| {
        let mut o = good.clone();
        o[k] = v;
        o
    };
    let cases: Vec<(Mutation, &str)> = vec![
        (upsert("table1", with("id", json!("one"))), "id"),
        (upsert("table1", with("id", json!(1.5))), "id"),
        (upsert("table1", with("name", json!(null))), "name"),
        (
            upsert("table1", with("name", json!("x".repeat(192)))),
            "name",
        ),
        (
            upsert("table1", with("tag", json!(base64_of(&[1u8; 256])))),
            "tag",
        ),
        (upsert("table1", with("data", json!("not base64!"))), "data"),
        (
            upsert("table1", with("body", json!({"an": "object"}))),
            "body",
        ),
        (upsert("table1", with("zzz", json!(1))), "zzz"),
        (upsert("table1", json!({"id": 1, "name": "a"})), "body"),
        (upsert("table1", with("bad-name", json!(1))), "field"),
        (upsert("nosuchtable", good.clone()), "table"),
        (upsert("bad__table", good.clone()), "table"),
        (delete("table1", json!({"id": 1})), "name"),
    ];
    for (m, field) in cases {
        let label = format!("{m:?}");
        // Each bad mutation rides behind a good one: the whole batch must be refused.
        let err = ctldb
            .apply_mutations(&request(vec![upsert("table1", good.clone()), m]))
            .await
            .expect_err(&label);
        assert_eq!(err.field(), Some(field), "{label}: {err}");
    }
    let mut unknown_family = request(vec![upsert("table1", good.clone())]);
    unknown_family.family = FamilyName::new("nofamily").expect("valid");
    assert!(matches!(
        ctldb.apply_mutations(&unknown_family).await,
        Err(CtldbError::TableNotFound(_))
    ));
    assert!(matches!(
        ctldb.apply_mutations(&request(vec![])).await,
        Err(CtldbError::NoMutations)
    ));
    let many = (0..101).map(|_| upsert("table1", good.clone())).collect();
    assert!(matches!(
        ctldb.apply_mutations(&request(many)).await,
        Err(CtldbError::TooManyMutations { .. })
    ));
    let huge = vec![
        upsert("table1", with("body", json!("x".repeat(500 * 1024)))),
        upsert("table1", with("body", json!("y".repeat(500 * 1024)))),
    ];
    ctldb
        .apply_mutations(&request(huge))
        .await
        .expect("two large rows are fine");
    let seq_after_huge = ctldb.max_seq().await.expect("seq");
    let too_big = with("body", json!("x".repeat(513 * 1024)));
    let err = ctldb
        .apply_mutations(&request(vec![upsert("table1", too_big)]))
        .await
        .expect_err("oversized");
    assert!(
        matches!(&err, CtldbError::Schema(SchemaError::Value(_))),
        "{err}"
    );
    assert_eq!(ctldb.max_seq().await.expect("seq"), seq_after_huge);
    assert_eq!(
        seq_after_huge,
        seq_before + 4,
        "only the valid batch reached the ledger"
    );
    db.cleanup().await;
}
