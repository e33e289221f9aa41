//! JSON numbers and booleans sent for fields of another type: the ledger carries them as
//! ctlstore's `SQLQuote` writes them (a number as Go formats a float64, a boolean as
//! `true`/`false`, both bare), the ctldb stores what ctlstore's MySQL ctldb stores, and a host
//! replaying the ledger stores what ctlstore's hosts store.

use super::*;

backend_tests!(numbers_and_booleans_are_spelled_as_ctlstore_spells_them);

fn scalars_table() -> Table {
    let fields: Vec<(String, String)> = [
        ("k", "integer"),
        ("s", "string"),
        ("t", "text"),
        ("i", "integer"),
        ("d", "decimal"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    Table::from_wire("family1", "scalars", &fields, &["k".into()]).expect("valid table")
}

fn string_key_table() -> Table {
    let fields = [("name", "string"), ("v", "integer")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect::<Vec<_>>();
    Table::from_wire("family1", "skeys", &fields, &["name".into()]).expect("valid table")
}

async fn numbers_and_booleans_are_spelled_as_ctlstore_spells_them(backend: Backend) {
    let (db, ctldb) = setup(backend).await;
    register(&ctldb).await;
    ctldb
        .create_table(&scalars_table())
        .await
        .expect("create scalars");
    ctldb
        .create_table(&string_key_table())
        .await
        .expect("create skeys");
    let start = ctldb.max_seq().await.expect("head");
    let cases = [
        (
            json!({"k": 1, "s": 5, "t": 5.5, "i": true, "d": false}),
            r#"REPLACE INTO family1___scalars ("k","s","t","i","d") VALUES(1,5,5.5,true,false)"#,
        ),
        (
            json!({"k": 2, "s": 1e21, "t": true, "i": 7, "d": true}),
            r#"REPLACE INTO family1___scalars ("k","s","t","i","d") VALUES(2,1000000000000000000000,true,7,true)"#,
        ),
        (
            // Go decodes every JSON number into a float64: 2^53 + 1 is written as 2^53.
            json!({"k": 3, "s": 9007199254740993i64, "t": -0.0, "i": 5.0, "d": 0.1}),
            r#"REPLACE INTO family1___scalars ("k","s","t","i","d") VALUES(3,9007199254740992,-0,5,0.1)"#,
        ),
    ];
    for (values, _) in &cases {
        ctldb
            .apply_mutations(&request(vec![upsert("scalars", values.clone())]))
            .await
            .expect("apply");
    }
    ctldb
        .apply_mutations(&request(vec![
            upsert("skeys", json!({"name": 5, "v": 1})),
            upsert("skeys", json!({"name": "6", "v": 2})),
        ]))
        .await
        .expect("string keys");
    ctldb
        .apply_mutations(&request(vec![delete("skeys", json!({"name": 5}))]))
        .await
        .expect("delete by a number");
    let ledger = ctldb.ledger_after(start, 1000).await.expect("ledger");
    let statements: Vec<&str> = ledger.iter().map(|e| e.statement.as_str()).collect();
    let mut expected: Vec<&str> = cases.iter().map(|(_, sql)| *sql).collect();
    expected.extend([
        BEGIN_MARKER,
        r#"REPLACE INTO family1___skeys ("name","v") VALUES(5,1)"#,
        r#"REPLACE INTO family1___skeys ("name","v") VALUES('6',2)"#,
        COMMIT_MARKER,
        r#"DELETE FROM family1___skeys WHERE "name" = 5"#,
    ]);
    assert_eq!(
        statements, expected,
        "ctlstore's ledger text, byte for byte"
    );

    // The ctldb holds what ctlstore's MySQL ctldb holds: the literal's text in a text column
    // (`-0` is the integer 0 to MySQL and SQLite alike).
    let text = |s: &str| Value::Text(s.into());
    let rows = ctldb.rows(&family(), &name("scalars")).await.expect("rows");
    assert_eq!(
        rows,
        [
            vec![
                Value::Integer(1),
                text("5"),
                text("5.5"),
                Value::Integer(1),
                Value::Real(0.0)
            ],
            vec![
                Value::Integer(2),
                text("1000000000000000000000"),
                text("1"),
                Value::Integer(7),
                Value::Real(1.0)
            ],
            vec![
                Value::Integer(3),
                text("9007199254740992"),
                text("0"),
                Value::Integer(5),
                Value::Real(0.1)
            ],
        ]
    );
    // Hosts store what SQLite's text affinity makes of the literal: the same text, except where
    // SQLite reads the number as a REAL (above 2^63 here) and writes it back in its own form,
    // as ctlstore's hosts do.
    let whole = whole_ledger(&ctldb).await;
    let mut replayed = replay(&whole, "family1___scalars", r#""k""#);
    assert_eq!(replayed[1][1], text("1.0e+21"));
    replayed[1][1] = text("1000000000000000000000");
    assert_eq!(replayed, rows);
    let key_rows = vec![vec![text("6"), Value::Integer(2)]];
    assert_eq!(
        ctldb.rows(&family(), &name("skeys")).await.expect("rows"),
        key_rows
    );
    assert_eq!(replay(&whole, "family1___skeys", r#""name""#), key_rows);
    db.cleanup().await;
}
