//! The ctldb suite: every test body runs against SQLite, MariaDB and PostgreSQL.

use std::collections::HashSet;

use ctlstore_ctldb::{
    Ctldb, CtldbError, CtldbOptions, Mutation, MutationRequest, SecretHashScheme, WriterOverride,
};
use ctlstore_ledger::{BEGIN_MARKER, COMMIT_MARKER, LedgerEntry};
use ctlstore_schema::{
    FamilyName, Field, FieldName, FieldType, SchemaError, Table, TableName, Value, WriterName,
    WriterSecret,
};
use ctlstore_testkit::{Backend, TestDb, backend_tests};
use serde_json::{Value as Json, json};

backend_tests!(
    schema_changes_are_ledger_entries,
    upserts_and_deletes_match_the_ledger,
    cookies_compare_and_set,
    stale_check_cookie_applies_nothing,
    bad_input_is_a_typed_error_naming_the_field,
    concurrent_appenders_keep_one_gapless_order,
    writers_register_and_authenticate,
    clear_and_drop_tables,
    migrations_are_idempotent,
    writer_rate_limits_are_shared_and_rolled_back,
    limits_are_stored,
    batches_apply_in_order,
    a_failing_batch_in_a_group_leaves_the_others,
);

fn family() -> FamilyName {
    FamilyName::new("family1").expect("valid")
}

fn name(t: &str) -> TableName {
    TableName::new(t).expect("valid")
}

fn all_types_table(t: &str) -> Table {
    let fields: Vec<(String, String)> = [
        ("id", "integer"),
        ("name", "string"),
        ("body", "text"),
        ("data", "binary"),
        ("tag", "bytestring"),
        ("score", "decimal"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    Table::from_wire("family1", t, &fields, &["id".into(), "name".into()]).expect("valid table")
}

async fn setup(backend: Backend) -> (TestDb, Ctldb) {
    let db = TestDb::create(backend).await;
    let ctldb = Ctldb::connect(&db.url, CtldbOptions::default())
        .await
        .expect("connect to the ctldb");
    ctldb.create_family(&family()).await.expect("create family");
    (db, ctldb)
}

fn writer() -> WriterName {
    WriterName::new("writer1").expect("valid")
}

async fn register(ctldb: &Ctldb) {
    let secret = WriterSecret::new("secret1").expect("valid");
    ctldb
        .register_writer(&writer(), &secret, SecretHashScheme::Sha256Hex)
        .await
        .expect("register");
}

fn upsert(table: &str, values: Json) -> Mutation {
    Mutation {
        table: table.into(),
        delete: false,
        values: values.as_object().cloned().expect("object"),
    }
}

fn delete(table: &str, values: Json) -> Mutation {
    Mutation {
        table: table.into(),
        delete: true,
        values: values.as_object().cloned().expect("object"),
    }
}

fn request(mutations: Vec<Mutation>) -> MutationRequest {
    MutationRequest {
        family: family(),
        writer: writer(),
        cookie: None,
        check_cookie: None,
        mutations,
        rate_limit: None,
    }
}

async fn whole_ledger(ctldb: &Ctldb) -> Vec<LedgerEntry> {
    ctldb.ledger_after(0, 1_000_000).await.expect("read ledger")
}

/// Applies the ledger's SQLite text to a fresh in-memory SQLite database, the way a reflector
/// would, and returns the rows of `table` ordered by its key. Independent of the ctldb code.
fn replay(ledger: &[LedgerEntry], table: &str, order_by: &str) -> Vec<Vec<Value>> {
    let conn = rusqlite::Connection::open_in_memory().expect("sqlite");
    let mut in_batch = false;
    for entry in ledger {
        match entry.statement.as_str() {
            BEGIN_MARKER => {
                assert!(!in_batch, "nested BEGIN at seq {}", entry.seq);
                conn.execute_batch("BEGIN").expect("begin");
                in_batch = true;
            }
            COMMIT_MARKER => {
                assert!(in_batch, "COMMIT without BEGIN at seq {}", entry.seq);
                conn.execute_batch("COMMIT").expect("commit");
                in_batch = false;
            }
            sql => conn
                .execute_batch(sql)
                .unwrap_or_else(|e| panic!("seq {}: {e}: {sql}", entry.seq)),
        }
    }
    assert!(!in_batch, "ledger ends inside a batch");
    ctlstore_testkit::rows_of(&conn, &format!("SELECT * FROM {table} ORDER BY {order_by}"))
}

async fn schema_changes_are_ledger_entries(backend: Backend) {
    let (db, ctldb) = setup(backend).await;
    let table = all_types_table("table1");
    ctldb.create_table(&table).await.expect("create table");
    let found = ctldb
        .reload_table(&family(), &name("table1"))
        .await
        .expect("discover");
    assert_eq!(*found, table, "the catalog gives back the table as created");

    assert!(matches!(
        ctldb.create_table(&table).await,
        Err(CtldbError::TableExists)
    ));
    assert!(matches!(
        ctldb.create_family(&family()).await,
        Err(CtldbError::FamilyExists)
    ));
    let orphan = Table::from_wire(
        "nofamily",
        "table1",
        &[("a".into(), "string".into())],
        &["a".into()],
    )
    .expect("valid");
    assert!(matches!(
        ctldb.create_table(&orphan).await,
        Err(CtldbError::FamilyNotFound(_))
    ));

    let new_fields = vec![
        Field {
            name: FieldName::new("extra").expect("valid"),
            field_type: FieldType::Integer,
        },
        Field {
            name: FieldName::new("extra_blob").expect("valid"),
            field_type: FieldType::Bytestring,
        },
    ];
    ctldb
        .add_fields(&family(), &name("table1"), &new_fields)
        .await
        .expect("add fields");
    let again = ctldb
        .add_fields(&family(), &name("table1"), &new_fields[..1])
        .await;
    assert!(matches!(again, Err(CtldbError::ColumnExists(f)) if f == "extra"));
    let missing = ctldb
        .add_fields(&family(), &name("nosuchtable"), &new_fields)
        .await;
    assert!(matches!(missing, Err(CtldbError::TableNotFound(_))));
    let grown = ctldb
        .reload_table(&family(), &name("table1"))
        .await
        .expect("discover");
    assert_eq!(grown.fields.len(), 8);
    assert_eq!(
        grown.field("extra_blob").map(|f| f.field_type),
        Some(FieldType::Bytestring)
    );

    let ledger: Vec<String> = whole_ledger(&ctldb)
        .await
        .into_iter()
        .map(|e| e.statement)
        .collect();
    assert_eq!(
        ledger,
        [
            r#"CREATE TABLE family1___table1 ("id" INTEGER, "name" VARCHAR(191), "body" TEXT, "data" BLOB, "tag" BLOB(255), "score" REAL, PRIMARY KEY("id","name"));"#,
            r#"ALTER TABLE family1___table1 ADD COLUMN "extra" INTEGER"#,
            r#"ALTER TABLE family1___table1 ADD COLUMN "extra_blob" BLOB(255)"#,
        ]
    );
    db.cleanup().await;
}

async fn upserts_and_deletes_match_the_ledger(backend: Backend) {
    let (db, ctldb) = setup(backend).await;
    register(&ctldb).await;
    ctldb
        .create_table(&all_types_table("table1"))
        .await
        .expect("create");
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

async fn cookies_compare_and_set(backend: Backend) {
    let (db, ctldb) = setup(backend).await;
    register(&ctldb).await;
    ctldb
        .create_table(&all_types_table("table1"))
        .await
        .expect("create");
    let initial = ctldb.cookie(&writer()).await.expect("cookie");
    assert_eq!(
        initial, b"d3JpdGVyMWvvyLhIjKvjOx0M5y3UgjITxDifKeSscYpRbLUKk7iS",
        "ctlstore's initial cookie"
    );
    let row = json!({"id": 1, "name": "a", "body": "x", "data": null, "tag": null, "score": 0});
    let mut req = request(vec![upsert("table1", row.clone())]);
    req.cookie = Some(b"offset-1".to_vec());
    req.check_cookie = Some(initial.clone());
    ctldb
        .apply_mutations(&req)
        .await
        .expect("CAS from the initial cookie");
    assert_eq!(ctldb.cookie(&writer()).await.expect("cookie"), b"offset-1");
    // Without a new cookie the cookie stays; without a check any cookie is accepted.
    ctldb
        .apply_mutations(&request(vec![upsert("table1", row)]))
        .await
        .expect("no cookie");
    assert_eq!(ctldb.cookie(&writer()).await.expect("cookie"), b"offset-1");
    ctldb.set_cookie(&writer(), b"offset-2").await.expect("set");
    assert_eq!(ctldb.cookie(&writer()).await.expect("cookie"), b"offset-2");
    assert!(matches!(
        ctldb.set_cookie(&writer(), &[0; 1025]).await,
        Err(CtldbError::CookieTooLong)
    ));
    let stranger = WriterName::new("nobody").expect("valid");
    assert!(matches!(
        ctldb.cookie(&stranger).await,
        Err(CtldbError::WriterNotFound)
    ));
    assert!(matches!(
        ctldb.set_cookie(&stranger, b"x").await,
        Err(CtldbError::WriterNotFound)
    ));
    db.cleanup().await;
}

async fn stale_check_cookie_applies_nothing(backend: Backend) {
    let (db, ctldb) = setup(backend).await;
    register(&ctldb).await;
    ctldb
        .create_table(&all_types_table("table1"))
        .await
        .expect("create");
    ctldb.set_cookie(&writer(), b"current").await.expect("set");
    let seq_before = ctldb.max_seq().await.expect("seq");
    let rows = |i: i64| json!({"id": i, "name": "n", "body": null, "data": null, "tag": null, "score": null});
    let mut req = request(vec![upsert("table1", rows(1)), upsert("table1", rows(2))]);
    req.check_cookie = Some(b"stale".to_vec());
    req.cookie = Some(b"next".to_vec());
    assert!(matches!(
        ctldb.apply_mutations(&req).await,
        Err(CtldbError::CookieConflict)
    ));
    assert_eq!(
        ctldb.max_seq().await.expect("seq"),
        seq_before,
        "no ledger entry of the batch"
    );
    assert!(
        ctldb
            .rows(&family(), &name("table1"))
            .await
            .expect("rows")
            .is_empty(),
        "no row of the batch"
    );
    assert_eq!(
        ctldb.cookie(&writer()).await.expect("cookie"),
        b"current",
        "cookie untouched"
    );

    // A batch whose second statement fails in the database rolls back the first.
    let mut req = request(vec![upsert("table1", rows(1)), upsert("table1", rows(2))]);
    req.writer = WriterName::new("unregistered").expect("valid");
    assert!(matches!(
        ctldb.apply_mutations(&req).await,
        Err(CtldbError::WriterNotFound)
    ));
    assert_eq!(ctldb.max_seq().await.expect("seq"), seq_before);
    db.cleanup().await;
}

async fn bad_input_is_a_typed_error_naming_the_field(backend: Backend) {
    let (db, ctldb) = setup(backend).await;
    register(&ctldb).await;
    ctldb
        .create_table(&all_types_table("table1"))
        .await
        .expect("create");
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

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn concurrent_appenders_keep_one_gapless_order(backend: Backend) {
    let (db, ctldb) = setup(backend).await;
    register(&ctldb).await;
    ctldb
        .create_table(&all_types_table("table1"))
        .await
        .expect("create");
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

async fn writers_register_and_authenticate(backend: Backend) {
    let (db, ctldb) = setup(backend).await;
    let secret = WriterSecret::new("secret1").expect("valid");
    for scheme in [SecretHashScheme::Sha256Hex, SecretHashScheme::Argon2id] {
        let w = WriterName::new(&format!("writer-{scheme:?}")).expect("valid");
        ctldb
            .register_writer(&w, &secret, scheme)
            .await
            .expect("register");
        ctldb
            .register_writer(&w, &secret, scheme)
            .await
            .expect("same secret again is fine");
        let other = WriterSecret::new("another").expect("valid");
        assert!(matches!(
            ctldb.register_writer(&w, &other, scheme).await,
            Err(CtldbError::WriterExists)
        ));
        ctldb
            .authenticate(&w, "secret1")
            .await
            .expect("right secret");
        ctldb
            .authenticate(&w, "secret1")
            .await
            .expect("right secret, cached");
        assert!(matches!(
            ctldb.authenticate(&w, "wrong").await,
            Err(CtldbError::WriterNotFound)
        ));
    }
    let nobody = WriterName::new("nobody").expect("valid");
    assert!(matches!(
        ctldb.authenticate(&nobody, "secret1").await,
        Err(CtldbError::WriterNotFound)
    ));
    db.cleanup().await;
}

async fn clear_and_drop_tables(backend: Backend) {
    let (db, ctldb) = setup(backend).await;
    register(&ctldb).await;
    ctldb
        .create_table(&all_types_table("table1"))
        .await
        .expect("create");
    let row = json!({"id": 1, "name": "a", "body": null, "data": null, "tag": null, "score": null});
    ctldb
        .apply_mutations(&request(vec![upsert("table1", row)]))
        .await
        .expect("apply");
    ctldb
        .clear_table(&family(), &name("table1"))
        .await
        .expect("clear");
    assert!(
        ctldb
            .rows(&family(), &name("table1"))
            .await
            .expect("rows")
            .is_empty()
    );
    ctldb
        .drop_table(&family(), &name("table1"))
        .await
        .expect("drop");
    assert!(matches!(
        ctldb.table(&family(), &name("table1")).await,
        Err(CtldbError::TableNotFound(_))
    ));
    let ledger: Vec<String> = whole_ledger(&ctldb)
        .await
        .into_iter()
        .map(|e| e.statement)
        .collect();
    assert_eq!(
        ledger[2..],
        [
            "DELETE FROM family1___table1".to_string(),
            "DROP TABLE IF EXISTS family1___table1".to_string()
        ]
    );
    db.cleanup().await;
}

async fn migrations_are_idempotent(backend: Backend) {
    let (db, ctldb) = setup(backend).await;
    register(&ctldb).await;
    // Several processes starting at once on one ctldb.
    let mut opens = Vec::new();
    for _ in 0..4 {
        let url = db.url.clone();
        opens.push(tokio::spawn(async move {
            Ctldb::connect(&url, CtldbOptions::default())
                .await
                .map(|_| ())
        }));
    }
    for o in opens {
        o.await.expect("task").expect("reopen");
    }
    let again = Ctldb::connect(&db.url, CtldbOptions::default())
        .await
        .expect("reopen");
    assert!(
        again.family_exists(&family()).await.expect("family"),
        "data survives reopening"
    );
    again
        .authenticate(&writer(), "secret1")
        .await
        .expect("writer survives reopening");
    db.cleanup().await;
}

async fn writer_rate_limits_are_shared_and_rolled_back(backend: Backend) {
    let (db, ctldb) = setup(backend).await;
    register(&ctldb).await;
    ctldb
        .create_table(&all_types_table("table1"))
        .await
        .expect("create");
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
    let (db, ctldb) = setup(backend).await;
    register(&ctldb).await;
    ctldb
        .create_table(&all_types_table("table1"))
        .await
        .expect("create");
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

async fn batches_apply_in_order(backend: Backend) {
    let (db, ctldb) = setup(backend).await;
    register(&ctldb).await;
    ctldb
        .create_table(&all_types_table("table1"))
        .await
        .expect("create");
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
    let (db, ctldb) = setup(backend).await;
    register(&ctldb).await;
    ctldb
        .create_table(&all_types_table("table1"))
        .await
        .expect("create");
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
