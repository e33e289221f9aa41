//! The PostgreSQL source, against a private cluster with `wal_level=logical` (never the
//! shared server): the initial copy and the stream, every mapped type, a schema change, a
//! TRUNCATE; 20 SIGKILLs under a steady stream of transactions; two loaders on one writer.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ctlstore_reader::Value;
use ctlstore_source_postgres::{ConnectConfig, PgConnection};
use ctlstore_testkit::{Lcg, PgCluster, TestExecutive};
use serde_json::Value as Json;

use crate::support::*;

async fn cluster() -> PgCluster {
    tokio::task::spawn_blocking(|| {
        PgCluster::start_with(&[
            ("wal_level", "logical"),
            ("max_replication_slots", "10"),
            ("max_wal_senders", "10"),
            ("wal_sender_timeout", "5s"),
        ])
    })
    .await
    .expect("start a private PostgreSQL cluster")
}

async fn origin(cluster: &PgCluster) -> PgConnection {
    let config = ConnectConfig::from_url(&cluster.url).expect("cluster URL");
    PgConnection::connect(&config)
        .await
        .expect("connect to the origin")
}

async fn sql(conn: &mut PgConnection, statements: &str) {
    conn.simple_query(statements)
        .await
        .unwrap_or_else(|e| panic!("{statements}: {e}"));
}

fn source(cluster: &PgCluster, slot: &str) -> String {
    format!("{}?publication=pub&slot={slot}", cluster.url)
}

async fn status(http: &reqwest::Client, bind: &str) -> Option<Json> {
    http.get(format!("http://{bind}/status"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()
}

/// Waits until the ledger's rows for `table` (built into an LDB) number `rows`.
async fn wait_rows(ex: &TestExecutive, table: &str, rows: usize, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let host = host(ex).await;
        let have = host
            .reader
            .rows_by_key_prefix_values(FAMILY, table, &[])
            .map(|r| r.len())
            .unwrap_or(0);
        if have == rows {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{table}: {have} rows in the LDB, waiting for {rows}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_then_streams_every_type_and_change() {
    let pg = cluster().await;
    let mut db = origin(&pg).await;
    sql(&mut db, "CREATE TABLE items (id int8 PRIMARY KEY, name varchar(40), note text, price float8, amount numeric(10,2), active bool, data bytea, uid uuid, doc jsonb, at timestamptz, small int2);
        CREATE TABLE labels (code text PRIMARY KEY, label text);
        CREATE PUBLICATION pub FOR TABLE items, labels;
        INSERT INTO items VALUES (1, 'naïve 𨅝', repeat('x', 300), 1.5, 12.34, true, '\\x0001ff'::bytea, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": [1, 2]}', '2024-01-02 03:04:05+00', 7);
        INSERT INTO items (id) VALUES (2);
        INSERT INTO labels VALUES ('gone', 'deleted before the loader starts');
        DELETE FROM labels;").await;
    let (_db, ex) = executive().await;
    let bind = format!("127.0.0.1:{}", ctlstore_testkit::free_port());
    let src = source(&pg, "items_slot");
    let mut loader_child = spawn(loader(&ex, &["--source", &src, "--metrics-bind", &bind]));
    wait_rows(&ex, "items", 2, Duration::from_secs(60)).await;

    // The copy: every type, NULLs.
    let host1 = host(&ex).await;
    let rows = host1.rows("items");
    let one = &rows[0];
    assert_eq!(one["name"], Value::Text("naïve 𨅝".into()));
    assert_eq!(one["note"], Value::Text("x".repeat(300)));
    assert_eq!(one["price"], Value::Real(1.5));
    assert_eq!(one["amount"], Value::Real(12.34));
    assert_eq!(one["active"], Value::Integer(1));
    assert_eq!(one["data"], Value::Bytes(vec![0, 1, 255]));
    assert_eq!(
        one["uid"],
        Value::Text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into())
    );
    assert_eq!(one["doc"], Value::Text("{\"a\": [1, 2]}".into()));
    assert_eq!(one["small"], Value::Integer(7));
    let copied_at = one["at"].clone();
    assert!(
        matches!(&copied_at, Value::Text(t) if t.starts_with("2024-01-02")),
        "{copied_at:?}"
    );
    assert!(
        rows[1]
            .iter()
            .filter(|(k, _)| *k != "id")
            .all(|(_, v)| *v == Value::Null),
        "{:?}",
        rows[1]
    );
    assert!(host1.rows("labels").is_empty());

    // The stream: the same types, an update, a key change, a delete, a multi-row
    // transaction, a new column, a TRUNCATE.
    sql(&mut db, "INSERT INTO items VALUES (3, 'naïve 𨅝', repeat('x', 300), 1.5, 12.34, true, '\\x0001ff'::bytea, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": [1, 2]}', '2024-01-02 03:04:05+00', 7)").await;
    sql(
        &mut db,
        "UPDATE items SET name = 'two', active = false WHERE id = 2",
    )
    .await;
    sql(&mut db, "BEGIN; INSERT INTO items (id, name) VALUES (10, 'ten'), (11, 'eleven'), (12, 'twelve'); UPDATE items SET id = 13 WHERE id = 12; DELETE FROM items WHERE id = 11; COMMIT").await;
    sql(
        &mut db,
        "ALTER TABLE items ADD COLUMN extra int4; INSERT INTO items (id, extra) VALUES (20, 99)",
    )
    .await;
    sql(&mut db, "INSERT INTO labels VALUES ('a', 'A'), ('b', 'B'); TRUNCATE labels; INSERT INTO labels VALUES ('c', 'C')").await;
    wait_rows(&ex, "labels", 1, Duration::from_secs(30)).await;
    wait_rows(&ex, "items", 6, Duration::from_secs(30)).await;
    let host2 = host(&ex).await;
    let rows = host2.rows("items");
    let ids: Vec<&Value> = rows.iter().map(|r| &r["id"]).collect();
    assert_eq!(
        ids,
        [1, 2, 3, 10, 13, 20]
            .map(Value::Integer)
            .iter()
            .collect::<Vec<_>>()
    );
    let three = &rows[2];
    for column in [
        "name", "note", "price", "amount", "active", "data", "uid", "doc", "small",
    ] {
        assert_eq!(
            three[column], rows[0][column],
            "{column}: streamed as copied"
        );
    }
    assert_eq!(three["at"], copied_at);
    assert_eq!(rows[1]["name"], Value::Text("two".into()));
    assert_eq!(rows[1]["active"], Value::Integer(0));
    assert_eq!(rows[4]["name"], Value::Text("twelve".into()));
    assert_eq!(rows[5]["extra"], Value::Integer(99));
    assert_eq!(rows[0]["extra"], Value::Null);
    assert_eq!(host2.rows("labels")[0]["code"], Value::Text("c".into()));

    // The multi-row transaction is in one ledger batch (whole transactions may share one):
    // 3 inserts, the key change as a delete and an upsert, the delete.
    let batch = batches(&ex)
        .await
        .into_iter()
        .find(|b| b.iter().any(|s| s.contains("'ten'")))
        .expect("the batch");
    for part in [
        "(11,'eleven'",
        "(12,'twelve'",
        "\"id\" = 12",
        "(13,'twelve'",
        "\"id\" = 11",
    ] {
        assert!(
            batch.iter().any(|s| s.contains(part)),
            "{part} missing from {batch:#?}"
        );
    }

    let http = reqwest::Client::new();
    let report = status(&http, &bind).await.expect("status");
    assert_eq!(report["phase"], "streaming", "{report}");
    assert!(
        report["applied_position"]
            .as_str()
            .unwrap_or_default()
            .starts_with("lsn "),
        "{report}"
    );

    // The slot's confirmed position follows what is applied.
    let confirmed = db.simple_query("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'items_slot'").await.expect("slot");
    assert!(
        confirmed[0][0].as_deref().is_some_and(|l| l != "0/0"),
        "{confirmed:?}"
    );
    loader_child.kill().await.expect("stop");
    drop(pg);
}

/// Waits until `table` exists in ctlstore (the loader's copy is done).
async fn wait_table(ex: &TestExecutive, table: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while host(ex)
        .await
        .reader
        .rows_by_key_prefix_values(FAMILY, table, &[])
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{table} never created"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every origin row as ctlstore holds it: (id, tx, val).
async fn origin_rows(db: &mut PgConnection) -> Vec<(i64, String, i64)> {
    db.simple_query("SELECT id, tx, val FROM events ORDER BY id")
        .await
        .expect("read the origin")
        .into_iter()
        .map(|r| {
            let text = |i: usize| r[i].clone().unwrap_or_default();
            (
                text(0).parse().unwrap_or(-1),
                text(1),
                text(2).parse().unwrap_or(-1),
            )
        })
        .collect()
}

fn ldb_rows(host: &Host) -> Vec<(i64, String, i64)> {
    host.rows("events")
        .into_iter()
        .map(|r| {
            let int = |v: &Value| if let Value::Integer(i) = v { *i } else { -1 };
            let tx = if let Value::Text(t) = &r["tx"] {
                t.clone()
            } else {
                String::new()
            };
            (int(&r["id"]), tx, int(&r["val"]))
        })
        .collect()
}

/// Each transaction's tag is in exactly one ledger batch, as many times as it wrote rows.
async fn each_transaction_once(
    ex: &TestExecutive,
    upserts_per_tx: &std::collections::BTreeMap<u64, usize>,
) {
    let batches = batches(ex).await;
    for (tx, upserts) in upserts_per_tx {
        let tag = format!("'tx-{tx:05}'");
        let holding: Vec<&Vec<String>> = batches
            .iter()
            .filter(|b| b.iter().any(|s| s.contains(&tag)))
            .collect();
        assert_eq!(
            holding.len(),
            1,
            "transaction {tx} is in {} batches",
            holding.len()
        );
        let count = holding[0].iter().filter(|s| s.contains(&tag)).count();
        assert_eq!(
            count, *upserts,
            "transaction {tx}: {count} upserts in the ledger, {upserts} in the origin"
        );
    }
}

/// Runs `count` origin transactions of 1–4 changes each; returns the upserts per transaction.
async fn write_transactions(
    db: &mut PgConnection,
    rng: &mut Lcg,
    first: u64,
    count: u64,
    pause: Duration,
) -> std::collections::BTreeMap<u64, usize> {
    let mut upserts = std::collections::BTreeMap::new();
    for tx in first..first + count {
        let mut statements = vec!["BEGIN".to_string()];
        let mut n = 0;
        for _ in 0..=rng.below(3) {
            let id = rng.below(60) as i64;
            match rng.below(4) {
                0 => statements.push(format!("DELETE FROM events WHERE id = {id}")),
                _ => {
                    n += 1;
                    statements.push(format!(
                        "INSERT INTO events VALUES ({id}, 'tx-{tx:05}', {v}) ON CONFLICT (id) DO UPDATE SET tx = excluded.tx, val = excluded.val",
                        v = rng.below(1000)
                    ))
                }
            }
        }
        statements.push("COMMIT".into());
        sql(db, &statements.join("; ")).await;
        upserts.insert(tx, n);
        tokio::time::sleep(pause).await;
    }
    upserts.retain(|_, n| *n > 0);
    upserts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_sigkills_lose_and_repeat_nothing() {
    let pg = cluster().await;
    let mut db = origin(&pg).await;
    sql(&mut db, "CREATE TABLE events (id int8 PRIMARY KEY, tx text NOT NULL, val int8); CREATE PUBLICATION pub FOR TABLE events").await;
    let (_db, ex) = executive().await;
    let src = source(&pg, "crash_slot");
    let args = [
        "--source",
        src.as_str(),
        "--metrics-bind",
        "",
        "--batch-window",
        "20ms",
    ];
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    eprintln!("seed {seed}");
    let mut rng = Lcg(seed);

    let mut child = spawn(loader(&ex, &args));
    // Transactions from here on are streamed, not copied: each must be one batch.
    wait_table(&ex, "events").await;
    let writer_pg_url = pg.url.clone();
    let writer = tokio::spawn(async move {
        let config = ConnectConfig::from_url(&writer_pg_url).expect("URL");
        let mut conn = PgConnection::connect(&config).await.expect("connect");
        let mut rng = Lcg(seed ^ 0x5eed);
        write_transactions(&mut conn, &mut rng, 0, 400, Duration::from_millis(15)).await
    });
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100 + rng.below(500))).await;
        child.kill().await.expect("SIGKILL the loader");
        child = spawn(loader(&ex, &args));
    }
    let upserts = writer.await.expect("the origin writer");
    let expected = origin_rows(&mut db).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let got = ldb_rows(&host(&ex).await);
        if got == expected {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the LDB never equalled the origin:\nldb    {got:?}\norigin {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    each_transaction_once(&ex, &upserts).await;
    child.kill().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_loaders_on_one_writer_apply_everything_once() {
    let pg = cluster().await;
    let mut db = origin(&pg).await;
    sql(&mut db, "CREATE TABLE events (id int8 PRIMARY KEY, tx text NOT NULL, val int8); CREATE PUBLICATION pub FOR TABLE events").await;
    let (_db, ex) = executive().await;
    let src = source(&pg, "shared_slot");
    let binds = [0, 1].map(|_| format!("127.0.0.1:{}", ctlstore_testkit::free_port()));
    let mut first = spawn(loader(
        &ex,
        &["--source", &src, "--metrics-bind", &binds[0]],
    ));
    let mut second = spawn(loader(
        &ex,
        &["--source", &src, "--metrics-bind", &binds[1]],
    ));
    // One streams; the other waits for the slot, and says so.
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (active, waiting) = loop {
        let a = status(&http, &binds[0]).await.unwrap_or_default();
        let b = status(&http, &binds[1]).await.unwrap_or_default();
        if a["phase"] == "streaming" && b["phase"] == "waiting" {
            break (0, b);
        }
        if b["phase"] == "streaming" && a["phase"] == "waiting" {
            break (1, a);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected one streaming, one waiting: {a} {b}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        waiting["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("in use"),
        "{waiting}"
    );
    let mut rng = Lcg(7);
    let mut upserts = write_transactions(&mut db, &mut rng, 0, 50, Duration::from_millis(5)).await;
    // The active one goes; the other takes over from the cookie.
    if active == 0 {
        first.kill().await.expect("kill")
    } else {
        second.kill().await.expect("kill")
    }
    upserts.extend(write_transactions(&mut db, &mut rng, 50, 50, Duration::from_millis(5)).await);
    let expected = origin_rows(&mut db).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while ldb_rows(&host(&ex).await) != expected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the LDB never equalled the origin"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    each_transaction_once(&ex, &upserts).await;
    let _ = first.kill().await;
    let _ = second.kill().await;
}

/// A column dropped or retyped at the origin stops the loader, saying which and why, and
/// `/healthz` reports it; nothing after it is applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_and_retyped_columns_halt_with_a_message() {
    let pg = cluster().await;
    let mut db = origin(&pg).await;
    sql(&mut db, "CREATE TABLE dropping (id int8 PRIMARY KEY, note text); CREATE TABLE retyping (id int8 PRIMARY KEY, n int4);
        CREATE PUBLICATION pub_drop FOR TABLE dropping; CREATE PUBLICATION pub_retype FOR TABLE retyping;
        INSERT INTO dropping VALUES (1, 'one'); INSERT INTO retyping VALUES (1, 1)").await;
    let (_db, ex) = executive().await;
    let http = reqwest::Client::new();
    for (publication, change, message) in [
        (
            "pub_drop",
            "ALTER TABLE dropping DROP COLUMN note; INSERT INTO dropping VALUES (2)",
            "no longer has a column for field 'note'",
        ),
        (
            "pub_retype",
            "ALTER TABLE retyping ALTER COLUMN n TYPE text; INSERT INTO retyping VALUES (2, 'two')",
            "changed type",
        ),
    ] {
        let bind = format!("127.0.0.1:{}", ctlstore_testkit::free_port());
        let src = format!(
            "{}?publication={publication}&slot={publication}_slot",
            pg.url
        );
        let mut child = spawn(loader(&ex, &["--source", &src, "--metrics-bind", &bind]));
        eventually(
            Duration::from_secs(60),
            "the loader streaming",
            async || {
                status(&http, &bind)
                    .await
                    .is_some_and(|s| s["phase"] == "streaming")
            },
        )
        .await;
        sql(&mut db, change).await;
        eventually(Duration::from_secs(30), "the loader to halt", async || {
            status(&http, &bind)
                .await
                .is_some_and(|s| s["phase"] == "halted")
        })
        .await;
        let health = http
            .get(format!("http://{bind}/healthz"))
            .send()
            .await
            .expect("healthz");
        assert_eq!(health.status(), 503);
        let body: Json = health.json().await.expect("JSON");
        assert!(
            body["reason"]
                .as_str()
                .unwrap_or_default()
                .contains(message),
            "{body}"
        );
        child.kill().await.expect("stop");
    }
    let rows = host(&ex).await.rows("dropping");
    assert_eq!(rows.len(), 1, "the row after the drop is not applied");
}
