//! The Kafka source against tansu, a Kafka-protocol broker (installed once per machine by
//! `.ci/install-tansu`): Debezium events with the schema block, keys, tombstones, a transaction,
//! two topics (one with two partitions), restarts and SIGKILLs.

use std::time::Duration;

use ctlstore_reader::Value;
use ctlstore_source_kafka::KafkaProducer;
use ctlstore_testkit::TansuBroker;
use serde_json::{Value as Json, json};

use crate::support::*;

fn envelope(table: &str, op: &str, row: Json, tx: Option<&str>) -> Vec<u8> {
    let fields = json!([
        {"field": "id", "type": "int64"},
        {"field": "tag", "type": "string", "optional": true},
        {"field": "n", "type": "int32", "optional": true},
    ]);
    let (before, after) = if op == "d" {
        (row, Json::Null)
    } else {
        (Json::Null, row)
    };
    let mut payload = json!({"before": before, "after": after, "op": op,
        "source": {"schema": "public", "table": table, "ts_ms": 1_700_000_000_000_u64}});
    if let Some(tx) = tx {
        payload["transaction"] = json!({"id": tx, "total_order": 1, "data_collection_order": 1});
    }
    json!({"schema": {"type": "struct", "fields": [
        {"field": "before", "type": "struct", "optional": true, "fields": fields.clone()},
        {"field": "after", "type": "struct", "optional": true, "fields": fields},
    ]}, "payload": payload})
    .to_string()
    .into_bytes()
}

fn key(id: i64) -> Option<Vec<u8>> {
    Some(json!({"id": id}).to_string().into_bytes())
}

async fn send(
    p: &KafkaProducer,
    topic: &str,
    partition: i32,
    id: i64,
    op: &str,
    tag: &str,
    tx: Option<&str>,
) {
    let row = json!({"id": id, "tag": tag, "n": id * 10});
    p.send(
        topic,
        partition,
        key(id),
        Some(envelope(
            topic.rsplit('.').next().unwrap_or(topic),
            op,
            row,
            tx,
        )),
    )
    .await
    .expect("produce");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_debezium_topics_exactly_once_across_restarts() {
    let broker = tokio::task::spawn_blocking(TansuBroker::start)
        .await
        .expect("start tansu");
    let producer = KafkaProducer::connect(&broker.bootstrap)
        .await
        .expect("producer");
    producer
        .create_topic("origin.public.items", 1)
        .await
        .expect("topic");
    producer
        .create_topic("origin.public.tags", 2)
        .await
        .expect("topic");
    for id in 1..=3 {
        send(
            &producer,
            "origin.public.items",
            0,
            id,
            "c",
            &format!("item-{id}"),
            None,
        )
        .await;
    }
    // One source transaction of three rows.
    for id in 10..13 {
        send(
            &producer,
            "origin.public.items",
            0,
            id,
            "c",
            "tx-a",
            Some("tx-a"),
        )
        .await;
    }
    send(
        &producer,
        "origin.public.items",
        0,
        2,
        "u",
        "item-2-updated",
        None,
    )
    .await;
    send(&producer, "origin.public.items", 0, 3, "d", "item-3", None).await;
    producer
        .send("origin.public.items", 0, key(3), None)
        .await
        .expect("tombstone");
    for id in 0..6 {
        send(
            &producer,
            "origin.public.tags",
            (id % 2) as i32,
            id,
            "c",
            &format!("tag-{id}"),
            None,
        )
        .await;
    }

    let (_db, ex) = executive().await;
    let source = format!(
        "kafka://{}/origin.public.items,origin.public.tags?group=ctlstore",
        broker.bootstrap
    );
    let bind = format!("127.0.0.1:{}", ctlstore_testkit::free_port());
    let args = ["--source", source.as_str(), "--metrics-bind", bind.as_str()];
    let mut child = spawn(loader(&ex, &args));
    eventually(
        Duration::from_secs(60),
        "items and tags loaded",
        async || {
            let h = host(&ex).await;
            h.reader
                .rows_by_key_prefix_values(FAMILY, "items", &[])
                .map(|r| r.len())
                .unwrap_or(0)
                == 5
                && h.reader
                    .rows_by_key_prefix_values(FAMILY, "tags", &[])
                    .map(|r| r.len())
                    .unwrap_or(0)
                    == 6
        },
    )
    .await;
    let h = host(&ex).await;
    let items = h.rows("items");
    let ids: Vec<&Value> = items.iter().map(|r| &r["id"]).collect();
    assert_eq!(
        ids,
        [1, 2, 10, 11, 12]
            .map(Value::Integer)
            .iter()
            .collect::<Vec<_>>()
    );
    assert_eq!(items[1]["tag"], Value::Text("item-2-updated".into()));
    assert_eq!(items[1]["n"], Value::Integer(20));
    let tx_batches: Vec<_> = batches(&ex)
        .await
        .into_iter()
        .filter(|b| b.iter().any(|s| s.contains("'tx-a'")))
        .collect();
    assert_eq!(tx_batches.len(), 1, "the transaction is one batch");
    assert_eq!(
        tx_batches[0]
            .iter()
            .filter(|s| s.contains("'tx-a'"))
            .count(),
        3
    );
    let status: Json = reqwest::get(format!("http://{bind}/status"))
        .await
        .expect("status")
        .json()
        .await
        .expect("JSON");
    let applied = status["applied_position"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        applied.contains("origin.public.tags/0@") && applied.contains("origin.public.tags/1@"),
        "{status}"
    );

    // Restarts and SIGKILLs while more arrives: each message applied once.
    let producing = {
        let bootstrap = broker.bootstrap.clone();
        tokio::spawn(async move {
            let producer = KafkaProducer::connect(&bootstrap).await.expect("producer");
            for id in 100..300 {
                send(
                    &producer,
                    "origin.public.tags",
                    (id % 2) as i32,
                    id,
                    "c",
                    &format!("tag-{id:04}"),
                    None,
                )
                .await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    for round in 0..5 {
        tokio::time::sleep(Duration::from_millis(150 + round * 70)).await;
        child.kill().await.expect("SIGKILL");
        child = spawn(loader(&ex, &args));
    }
    producing.await.expect("producer task");
    eventually(Duration::from_secs(60), "every tag loaded", async || {
        host(&ex)
            .await
            .reader
            .rows_by_key_prefix_values(FAMILY, "tags", &[])
            .map(|r| r.len())
            .unwrap_or(0)
            == 206
    })
    .await;
    let statements: Vec<String> = batches(&ex).await.into_iter().flatten().collect();
    for id in 100..300 {
        let tag = format!("'tag-{id:04}'");
        assert_eq!(
            statements.iter().filter(|s| s.contains(&tag)).count(),
            1,
            "tag {id}"
        );
    }
    child.kill().await.expect("stop");
}
