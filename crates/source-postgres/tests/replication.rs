//! Against a real private PostgreSQL cluster: the initial copy from an exported snapshot, the
//! decoded change stream, confirmed positions surviving a reconnect, and a busy slot.

mod support;

use ctlstore_source_postgres::{
    Event, Lsn, ReplicationClient, SnapshotReader, SourceError, Table, Tuple, Value,
};
use std::time::Duration;
use support::{Cluster, next_transactions};

const ITEMS_DDL: &str = "CREATE TABLE items (
    id bigint PRIMARY KEY, small int2, medium int4, flag bool, ratio float8,
    amount numeric(12,2), body text, label varchar(20), blob bytea, uid uuid, doc jsonb,
    at timestamptz, note text)";

/// Columns in table order, for SELECTs whose text we compare with the copy and the stream.
const ITEMS_COLUMNS: &str =
    "id, small, medium, flag, ratio, amount, body, label, blob, uid, doc, at, note";

fn to_tuple(row: &[Option<String>]) -> Tuple {
    row.iter()
        .map(|v| v.clone().map(Value::Text).unwrap_or(Value::Null))
        .collect()
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_from_snapshot_then_stream_changes() {
    let cluster = Cluster::start().await;
    cluster
        .sql(&format!(
            "{ITEMS_DDL};
             CREATE TABLE tags (name text NOT NULL, n int);
             CREATE UNIQUE INDEX tags_name ON tags (name);
             ALTER TABLE tags REPLICA IDENTITY USING INDEX tags_name;
             CREATE TABLE unpublished (x int);
             CREATE PUBLICATION pub_items FOR TABLE items, tags;
             INSERT INTO items VALUES
               (1, -32768, 2147483647, true, 1.5, 12.50, 'plain', 'label one',
                '\\x00ff00'::bytea, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{{\"k\": [1, 2]}}',
                '2024-02-29 12:34:56.789+00', 'Grüße, 世界 🚀'),
               (2, NULL, NULL, false, -0.25, 0, E'tab\\there\\nnewline\\\\', '', '\\x'::bytea,
                NULL, 'null', NULL, NULL);
             INSERT INTO tags VALUES ('pre', 1);
             ANALYZE items;"
        ))
        .await;
    let pre_slot_items: Vec<Tuple> = cluster
        .sql(&format!("SELECT {ITEMS_COLUMNS} FROM items ORDER BY id"))
        .await
        .iter()
        .map(|r| to_tuple(r))
        .collect();
    assert_eq!(
        pre_slot_items[0][8],
        text("\\x00ff00"),
        "bytea with zero bytes"
    );
    assert_eq!(pre_slot_items[0][12], text("Grüße, 世界 🚀"));

    let mut repl = ReplicationClient::connect(&cluster.config)
        .await
        .expect("replication connection");
    let slot = repl.create_slot("e2e_slot").await.expect("create the slot");
    assert!(slot.consistent_point > Lsn(0));
    assert!(!slot.snapshot_name.is_empty());

    // Changes after the slot: the stream has them, the snapshot must not.
    let mut origin = cluster.connect().await;
    for sql in [
        "INSERT INTO items (id, body, amount, at) VALUES (3, 'after the slot', 99.99, '2030-01-01 00:00:00+00')",
        "UPDATE items SET body = 'changed' WHERE id = 1",
        "DELETE FROM items WHERE id = 2",
        "INSERT INTO unpublished VALUES (1)",
        "BEGIN; INSERT INTO tags VALUES ('a', 1), ('b', 2); UPDATE items SET label = 'x' WHERE id = 3; COMMIT",
    ] {
        origin
            .execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    // The copy, inside the exported snapshot.
    let mut reader = SnapshotReader::begin(&cluster.config, Some(&slot.snapshot_name))
        .await
        .expect("begin on the exported snapshot");
    let tables = reader
        .publication_tables("pub_items")
        .await
        .expect("publication tables");
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["items", "tags"]);
    let items = tables[0].clone();
    let tags = tables[1].clone();
    assert_eq!(items.schema, "public");
    let types: Vec<&str> = items.columns.iter().map(|c| c.type_name.as_str()).collect();
    assert_eq!(
        types,
        [
            "bigint",
            "smallint",
            "integer",
            "boolean",
            "double precision",
            "numeric(12,2)",
            "text",
            "character varying(20)",
            "bytea",
            "uuid",
            "jsonb",
            "timestamp with time zone",
            "text"
        ]
    );
    let keys: Vec<bool> = items.columns.iter().map(|c| c.is_key).collect();
    assert_eq!(keys.iter().filter(|k| **k).count(), 1);
    assert!(keys[0], "the primary key is the key");
    assert_eq!(
        tags.columns
            .iter()
            .map(|c| (c.name.as_str(), c.is_key))
            .collect::<Vec<_>>(),
        [("name", true), ("n", false)],
        "without a primary key, the replica identity index is the key"
    );
    assert_eq!(reader.estimated_rows(&items).await.expect("estimate"), 2);

    let mut copied = Vec::new();
    let count = reader
        .copy_rows(&items, |row| copied.push(row))
        .await
        .expect("copy items");
    assert_eq!(count, 2);
    assert_eq!(
        copied, pre_slot_items,
        "the copy shows exactly the rows from before the slot"
    );
    let mut copy = reader.copy_table(&tags).await.expect("copy tags");
    assert_eq!(
        copy.next_row().await.expect("row"),
        Some(vec![text("pre"), text("1")])
    );
    assert_eq!(copy.next_row().await.expect("end"), None);
    reader
        .finish()
        .await
        .expect("commit the snapshot transaction");

    // TRUNCATE is not MVCC-safe (a snapshot taken before it sees the table empty) and, like a
    // schema change, takes a lock the copy would hold up: both come after the copy.
    // The ALTER makes the stream describe the table again.
    // (One statement per call: several in one simple query share a transaction.)
    for sql in [
        "TRUNCATE tags",
        "ALTER TABLE items ADD COLUMN extra int",
        "INSERT INTO items (id, extra) VALUES (4, 42)",
    ] {
        origin
            .execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let expected_row3 = to_tuple(
        &cluster
            .sql(&format!("SELECT {ITEMS_COLUMNS} FROM items WHERE id = 3"))
            .await[0],
    );

    let mut stream = repl
        .start("e2e_slot", "pub_items", slot.consistent_point)
        .await
        .expect("start");
    let txns = next_transactions(&mut stream, 6).await;

    // 1: the insert, preceded by the table's description.
    let [
        begin,
        Event::Relation(relation),
        Event::Insert { relation: oid, new },
        commit,
    ] = &txns[0][..]
    else {
        panic!("unexpected first transaction: {:?}", txns[0]);
    };
    assert_eq!(*oid, items.oid);
    assert_eq!(
        relation_shape(relation),
        relation_shape(&items),
        "pgoutput and the catalog agree"
    );
    assert_eq!(new[0], text("3"));
    assert_eq!(new[6], text("after the slot"));
    assert_eq!(new[5], text("99.99"));
    assert_eq!(
        new[11],
        text("2030-01-01 00:00:00+00"),
        "timestamptz printed as the copy prints it"
    );
    let (
        Event::Begin {
            final_lsn,
            commit_time_micros: begin_time,
            ..
        },
        Event::Commit {
            commit_lsn,
            end_lsn,
            commit_time_micros,
        },
    ) = (begin, commit)
    else {
        panic!("not begin/commit: {begin:?} {commit:?}");
    };
    assert_eq!(final_lsn, commit_lsn);
    assert!(end_lsn > commit_lsn);
    assert!(*commit_lsn >= slot.consistent_point);
    assert_eq!(begin_time, commit_time_micros);
    let now_micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_micros() as i64;
    assert!(
        (now_micros - commit_time_micros).abs() < 300_000_000,
        "commit time is a Unix time"
    );

    // 2: the update (key unchanged, so no old tuple).
    let [
        _,
        Event::Update {
            relation: oid,
            old: None,
            new,
        },
        _,
    ] = &txns[1][..]
    else {
        panic!("unexpected second transaction: {:?}", txns[1]);
    };
    assert_eq!(*oid, items.oid);
    assert_eq!((&new[0], &new[6]), (&text("1"), &text("changed")));
    assert_eq!(new[8], text("\\x00ff00"));
    assert_eq!(new[12], text("Grüße, 世界 🚀"));

    // 3: the delete, with a key-only old tuple.
    let [_, Event::Delete { relation: oid, old }, _] = &txns[2][..] else {
        panic!("unexpected third transaction: {:?}", txns[2]);
    };
    assert_eq!(*oid, items.oid);
    assert_eq!(old[0], text("2"));
    assert!(
        old[1..].iter().all(|v| *v == Value::Null),
        "key-only tuple: {old:?}"
    );

    // 4: one transaction, several changes, in order; the row matches a SELECT's text.
    let [
        Event::Begin { final_lsn, .. },
        Event::Relation(tags_relation),
        Event::Insert { new: a, .. },
        Event::Insert { new: b, .. },
        Event::Update { new: row3, .. },
        Event::Commit { commit_lsn, .. },
    ] = &txns[3][..]
    else {
        panic!("unexpected fourth transaction: {:?}", txns[3]);
    };
    assert_eq!(final_lsn, commit_lsn);
    assert_eq!(tags_relation.oid, tags.oid);
    assert_eq!(
        (a, b),
        (&vec![text("a"), text("1")], &vec![text("b"), text("2")])
    );
    assert_eq!(
        row3, &expected_row3,
        "the stream prints values as SELECT does"
    );

    // 5: TRUNCATE (the server may describe the table again first: truncation gives it a new
    // relfilenode, which invalidates its cached description).
    let without_relations: Vec<&Event> = txns[4]
        .iter()
        .filter(|e| !matches!(e, Event::Relation(_)))
        .collect();
    let [
        _,
        Event::Truncate {
            relations,
            cascade: false,
            restart_identity: false,
        },
        _,
    ] = &without_relations[..]
    else {
        panic!("unexpected fifth transaction: {:?}", txns[4]);
    };
    assert_eq!(relations, &vec![tags.oid]);

    // 6: after ALTER TABLE ADD COLUMN, a new Relation message first.
    let [_, Event::Relation(altered), Event::Insert { new, .. }, _] = &txns[5][..] else {
        panic!("unexpected sixth transaction: {:?}", txns[5]);
    };
    assert_eq!(altered.oid, items.oid);
    let last = altered.columns.last().expect("columns");
    assert_eq!(
        (last.name.as_str(), last.type_name.as_str()),
        ("extra", "integer")
    );
    assert_eq!((&new[0], new.last()), (&text("4"), Some(&text("42"))));

    stream.close().await.expect("close the stream");
}

/// What both the catalog and pgoutput say about a table's columns.
fn relation_shape(table: &Table) -> Vec<(String, u32, String, i32, bool)> {
    table
        .columns
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                c.type_oid,
                c.type_name.clone(),
                c.type_modifier,
                c.is_key,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmed_position_survives_reconnect() {
    let cluster = Cluster::start().await;
    cluster
        .sql("CREATE TABLE t (id int PRIMARY KEY); CREATE PUBLICATION p FOR TABLE t")
        .await;
    let mut repl = ReplicationClient::connect(&cluster.config)
        .await
        .expect("connect");
    repl.create_slot("confirm_slot").await.expect("create slot");
    let mut stream = repl
        .start("confirm_slot", "p", Lsn(0))
        .await
        .expect("start");
    cluster.sql("INSERT INTO t VALUES (1)").await;
    cluster.sql("INSERT INTO t VALUES (2)").await;
    let txns = next_transactions(&mut stream, 2).await;
    let commit_end = |txn: &[Event]| match txn.last() {
        Some(Event::Commit { end_lsn, .. }) => *end_lsn,
        other => panic!("not a commit: {other:?}"),
    };
    let first_end = commit_end(&txns[0]);
    assert!(commit_end(&txns[1]) > first_end);

    // Confirm only the first transaction.
    stream.confirm(first_end);
    stream.confirm(Lsn(1)); // never moves back
    assert_eq!(stream.confirmed(), first_end);
    stream.send_status().await.expect("status update");
    stream.close().await.expect("close");

    let mut observer = ReplicationClient::connect(&cluster.config)
        .await
        .expect("connect");
    let info = observer
        .slot("confirm_slot")
        .await
        .expect("slot")
        .expect("the slot exists");
    assert_eq!(
        info.confirmed_flush,
        Some(first_end),
        "the server recorded what we confirmed"
    );
    assert_eq!(info.plugin, "pgoutput");
    assert!(
        observer
            .slot("no_such_slot")
            .await
            .expect("query")
            .is_none()
    );
    observer.close().await.expect("close");

    // Restarting from the slot redelivers the unconfirmed transaction, not the confirmed one.
    cluster.sql("INSERT INTO t VALUES (3)").await;
    let repl = ReplicationClient::connect(&cluster.config)
        .await
        .expect("connect");
    let mut stream = repl
        .start("confirm_slot", "p", Lsn(0))
        .await
        .expect("restart");
    let txns = next_transactions(&mut stream, 2).await;
    let inserted: Vec<&Value> = txns
        .iter()
        .flatten()
        .filter_map(|e| match e {
            Event::Insert { new, .. } => new.first(),
            _ => None,
        })
        .collect();
    assert_eq!(inserted, [&text("2"), &text("3")]);
    for txn in &txns {
        let Some(Event::Commit { commit_lsn, .. }) = txn.last() else {
            panic!("no commit")
        };
        assert!(
            *commit_lsn >= first_end,
            "redelivered a confirmed transaction"
        );
    }
    stream.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_slot_is_reported_as_active() {
    let cluster = Cluster::start().await;
    cluster
        .sql("CREATE TABLE t (id int PRIMARY KEY); CREATE PUBLICATION p FOR TABLE t")
        .await;
    let mut repl = ReplicationClient::connect(&cluster.config)
        .await
        .expect("connect");
    repl.create_slot("busy_slot").await.expect("create slot");
    let stream = repl.start("busy_slot", "p", Lsn(0)).await.expect("start");

    let mut observer = ReplicationClient::connect(&cluster.config)
        .await
        .expect("connect");
    let holder = observer
        .slot("busy_slot")
        .await
        .expect("slot")
        .expect("exists")
        .active_pid;
    assert!(holder.is_some(), "the slot is active");

    let second = ReplicationClient::connect(&cluster.config)
        .await
        .expect("connect");
    match second.start("busy_slot", "p", Lsn(0)).await {
        Err(SourceError::SlotActive { slot, pid }) => {
            assert_eq!(slot, "busy_slot");
            assert_eq!(pid, holder);
            let message = SourceError::SlotActive { slot, pid }.to_string();
            assert!(
                message.contains("in use by another connection"),
                "{message}"
            );
        }
        Err(other) => panic!("expected SlotActive, got {other}"),
        Ok(_) => panic!("two connections streamed from one slot"),
    }
    match observer.drop_slot("busy_slot").await {
        Err(SourceError::SlotActive { pid, .. }) => assert_eq!(pid, holder),
        other => panic!("expected SlotActive from DROP, got {other:?}"),
    }

    // Once the holder is gone, the slot can be dropped (the walsender exits asynchronously).
    stream.close().await.expect("close");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match observer.drop_slot("busy_slot").await {
            Ok(()) => break,
            Err(SourceError::SlotActive { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("drop the released slot: {e}"),
        }
    }
    assert!(observer.slot("busy_slot").await.expect("query").is_none());
}

/// The server cuts a walsender whose client stays silent for `wal_sender_timeout`; the stream
/// answers keepalives even while the caller keeps cancelling `next()` on a short timer, and
/// cancelled calls lose no data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalives_are_answered_and_next_is_cancel_safe() {
    let cluster = Cluster::start_with(&[("wal_sender_timeout", "2s")]).await;
    cluster
        .sql("CREATE TABLE t (id int PRIMARY KEY, body text); CREATE PUBLICATION p FOR TABLE t")
        .await;
    let mut repl = ReplicationClient::connect(&cluster.config)
        .await
        .expect("connect");
    repl.create_slot("keepalive_slot")
        .await
        .expect("create slot");
    let mut stream = repl
        .start("keepalive_slot", "p", Lsn(0))
        .await
        .expect("start");

    // Idle for three timeouts, cancelling next() every 50 ms.
    let idle_until = tokio::time::Instant::now() + Duration::from_secs(6);
    while tokio::time::Instant::now() < idle_until {
        tokio::select! {
            event = stream.next() => panic!("nothing was written, yet the stream gave {event:?}"),
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }

    // Rows arriving while next() keeps being cancelled on a 1 ms timer all come through, in
    // order. Large values make messages span several reads.
    let writer_config = cluster.config.clone();
    let writer = tokio::spawn(async move {
        let mut conn = ctlstore_source_postgres::PgConnection::connect(&writer_config).await?;
        for id in 1..=40 {
            conn.execute(&format!(
                "INSERT INTO t VALUES ({id}, repeat('x', {id} * 1000))"
            ))
            .await?;
        }
        Ok::<(), SourceError>(())
    });
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while seen.len() < 40 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} rows arrived",
            seen.len()
        );
        tokio::select! {
            event = stream.next() => match event.expect("stream") {
                Some(Event::Insert { new, .. }) => {
                    let id: usize = new[0].as_text().expect("id").parse().expect("number");
                    assert_eq!(new[1].as_text().map(str::len), Some(id * 1000));
                    seen.push(id);
                }
                Some(_) => {}
                None => panic!("the server ended the stream"),
            },
            () = tokio::time::sleep(Duration::from_millis(1)) => {}
        }
    }
    writer.await.expect("writer task").expect("inserts");
    assert_eq!(seen, (1..=40).collect::<Vec<_>>());
    assert!(
        !cluster.pg.log().contains("replication timeout"),
        "the server timed the stream out"
    );
    stream.close().await.expect("close");
}
