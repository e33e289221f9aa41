//! Schema changes: DDL in the ledger, dropping and clearing tables, migrations.

use super::*;

backend_tests!(
    schema_changes_are_ledger_entries,
    clear_and_drop_tables,
    migrations_are_idempotent,
);

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

async fn clear_and_drop_tables(backend: Backend) {
    let (db, ctldb) = setup_with_table1(backend).await;
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

ctlstore_testkit::mysql_test! {
    /// MySQL runs DDL outside the ledger transaction (it would commit it). A caller that gives up
    /// while the DDL waits (the executive's handler timeout drops the request) must not leave the
    /// column in the ctldb without its ledger entry: hosts would then refuse the first upsert that
    /// names it. Here the ALTER waits for a metadata lock held by another session, the call is
    /// dropped, the lock is released, and the ALTER and its ledger entry both land.
    async fn a_dropped_ddl_call_still_reaches_the_ledger() {
        use sqlx::{Connection, Executor};
        let (db, ctldb) = setup(Backend::Mysql).await;
        ctldb.create_table(&all_types_table("table1")).await.expect("create table");
        let mut reader = sqlx::MySqlConnection::connect(&db.url).await.expect("second session");
        reader.execute("BEGIN").await.expect("begin");
        reader
            .execute("SELECT * FROM family1___table1")
            .await
            .expect("hold a metadata lock on the table");
        let extra = [Field {
            name: FieldName::new("extra").expect("valid"),
            field_type: FieldType::Integer,
        }];
        let (fam, table) = (family(), name("table1"));
        let call = ctldb.add_fields(&fam, &table, &extra);
        let given_up = tokio::time::timeout(std::time::Duration::from_millis(500), call).await;
        assert!(given_up.is_err(), "the ALTER waited for the lock");
        reader.execute("COMMIT").await.expect("release the lock");
        let alter = r#"ALTER TABLE family1___table1 ADD COLUMN "extra" INTEGER"#;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let column = ctldb
                .reload_table(&family(), &name("table1"))
                .await
                .expect("discover")
                .field("extra")
                .is_some();
            let ledger = whole_ledger(&ctldb).await;
            let entry = ledger.iter().any(|e| e.statement == alter);
            if column && entry {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "column in the ctldb: {column}, ALTER in the ledger: {entry}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        db.cleanup().await;
    }
}

ctlstore_testkit::mysql_test! {
    /// An executive killed between MySQL's (self-committing) `CREATE TABLE` and its ledger row
    /// leaves an intent behind (`ddl_intents.rs`); the next connect appends the missing row
    /// before anything can write to the table, and drops intents whose DDL never ran.
    async fn a_schema_change_left_without_its_ledger_row_is_repaired_at_connect() {
        use sqlx::{Connection, Executor};
        let (db, ctldb) = setup(Backend::Mysql).await;
        let head = whole_ledger(&ctldb).await.len();
        let create = r#"CREATE TABLE family1___lost ("id" INTEGER, PRIMARY KEY("id"));"#;
        let never = r#"CREATE TABLE family1___never ("id" INTEGER, PRIMARY KEY("id"));"#;
        let mut conn = sqlx::MySqlConnection::connect(&db.url).await.expect("connect");
        // What the killed executive left: both intents, and only the first DDL run.
        for (statement, table) in [(create, "family1___lost"), (never, "family1___never")] {
            sqlx::query("INSERT INTO ctlstore_ddl_intents (after_seq, statement, done_sql) SELECT COALESCE(MAX(seq), 0), ?, ? FROM ctlstore_dml_ledger")
                .bind(statement)
                .bind(format!("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '{table}'"))
                .execute(&mut conn)
                .await
                .expect("record the intent");
        }
        conn.execute("SET SESSION sql_mode = 'ANSI_QUOTES'").await.expect("mode");
        conn.execute(r#"CREATE TABLE family1___lost ("id" BIGINT, PRIMARY KEY("id"))"#)
            .await
            .expect("the DDL that ran");
        let restarted = Ctldb::connect(&db.url, CtldbOptions::default())
            .await
            .expect("connect again");
        let ledger = whole_ledger(&restarted).await;
        let added: Vec<&str> = ledger[head..].iter().map(|e| e.statement.as_str()).collect();
        assert_eq!(added, [create], "the missing row, once; nothing for the DDL that never ran");
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ctlstore_ddl_intents")
            .fetch_one(&mut conn)
            .await
            .expect("count");
        assert_eq!(left, 0, "every intent settled");
        assert_eq!(restarted.recover_ddl_intents().await.expect("again"), 0, "idempotent");
        drop(ctldb);
        db.cleanup().await;
    }
}
