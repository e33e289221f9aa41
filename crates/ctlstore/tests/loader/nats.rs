//! The NATS JetStream source against the NATS server on 127.0.0.1:4222 (a stream of its own,
//! deleted at the end): Debezium Server's value-only messages with the key from the
//! configuration, restarts and SIGKILLs while messages arrive.

use std::time::Duration;

use ctlstore_reader::Value;
use ctlstore_source_nats::NatsPublisher;
use serde_json::json;

use crate::support::*;

const SERVER: &str = "127.0.0.1:4222";

fn event(id: i64, tag: &str, op: &str) -> Vec<u8> {
    let row = json!({"id": id, "tag": tag, "blob": "AAH/", "name": "ünïcødé ✓"});
    let (before, after) = if op == "d" {
        (row, serde_json::Value::Null)
    } else {
        (serde_json::Value::Null, row)
    };
    let fields = json!([
        {"field": "id", "type": "int64"},
        {"field": "tag", "type": "string"},
        {"field": "blob", "type": "bytes", "optional": true},
        {"field": "name", "type": "string", "optional": true},
    ]);
    json!({"schema": {"type": "struct", "fields": [
            {"field": "before", "type": "struct", "optional": true, "fields": fields.clone()},
            {"field": "after", "type": "struct", "optional": true, "fields": fields},
        ]},
        "payload": {"before": before, "after": after, "op": op, "source": {"schema": "public", "table": "things"}}})
    .to_string()
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_a_jetstream_stream_exactly_once_across_kills() {
    let publisher = NatsPublisher::connect(SERVER)
        .await
        .expect("the NATS server on 127.0.0.1:4222 (with JetStream) must be running");
    let stream = format!("LOADER_TEST_{}", std::process::id());
    let subject = format!("loader-test-{}.public.things", std::process::id());
    publisher
        .create_stream(&stream, &[&subject])
        .await
        .expect("create the stream");
    for id in 0..20 {
        publisher
            .publish(&subject, event(id, &format!("t-{id:04}"), "c"))
            .await
            .expect("publish");
    }
    publisher
        .publish(&subject, event(5, "t-0005", "d"))
        .await
        .expect("publish");

    let (_db, ex) = executive().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("loader.toml");
    std::fs::write(&config, "[tables.\"public.things\"]\nkey = [\"id\"]\n").expect("config");
    let config = config.to_string_lossy().into_owned();
    let source = format!("nats://{SERVER}/{stream}?subject={subject}&durable=ctlstore-test");
    let args = [
        "--source",
        source.as_str(),
        "--config",
        config.as_str(),
        "--metrics-bind",
        "",
    ];
    let mut child = spawn(loader(&ex, &args));
    eventually(
        Duration::from_secs(60),
        "the first events loaded",
        async || {
            host(&ex)
                .await
                .reader
                .rows_by_key_prefix_values(FAMILY, "things", &[])
                .map(|r| r.len())
                .unwrap_or(0)
                == 19
        },
    )
    .await;
    let rows = host(&ex).await.rows("things");
    assert_eq!(rows[0]["blob"], Value::Bytes(vec![0, 1, 255]));
    assert_eq!(rows[0]["name"], Value::Text("ünïcødé ✓".into()));
    assert!(
        !rows.iter().any(|r| r["id"] == Value::Integer(5)),
        "id 5 was deleted"
    );

    let producing = {
        let subject = subject.clone();
        tokio::spawn(async move {
            let publisher = NatsPublisher::connect(SERVER).await.expect("connect");
            for id in 100..400 {
                publisher
                    .publish(&subject, event(id, &format!("t-{id:04}"), "c"))
                    .await
                    .expect("publish");
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        })
    };
    for round in 0..5 {
        tokio::time::sleep(Duration::from_millis(120 + round * 60)).await;
        child.kill().await.expect("SIGKILL");
        child = spawn(loader(&ex, &args));
    }
    producing.await.expect("publisher task");
    eventually(Duration::from_secs(60), "every event loaded", async || {
        host(&ex)
            .await
            .reader
            .rows_by_key_prefix_values(FAMILY, "things", &[])
            .map(|r| r.len())
            .unwrap_or(0)
            == 319
    })
    .await;
    let statements: Vec<String> = batches(&ex).await.into_iter().flatten().collect();
    for id in 100..400 {
        let tag = format!("'t-{id:04}'");
        assert_eq!(
            statements.iter().filter(|s| s.contains(&tag)).count(),
            1,
            "event {id}"
        );
    }
    child.kill().await.expect("stop");
    publisher
        .delete_stream(&stream)
        .await
        .expect("delete the stream");
}
