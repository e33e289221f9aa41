//! `ctlstore all-in-one`: the README's run command. A write to the executive becomes readable
//! from the sidecar; SIGTERM stops everything cleanly.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ctlstore_testkit::{ExecutiveClient, SchemaDef, TableDef, free_port};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_reaches_the_sidecar() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (exec, side, health) = (free_port(), free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_ctlstore"))
        .args(["all-in-one", "--data-dir"])
        .arg(dir.path())
        .args([
            "--bind",
            &format!("127.0.0.1:{exec}"),
            "--sidecar-bind",
            &format!("127.0.0.1:{side}"),
        ])
        .args([
            "--metrics-bind",
            &format!("127.0.0.1:{health}"),
            "--heartbeat-interval",
            "1s",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start all-in-one");
    let executive = ExecutiveClient::new(format!("http://127.0.0.1:{exec}"));
    executive.wait_until_healthy(Duration::from_secs(20)).await;
    let writer = executive
        .register(&SchemaDef {
            family: "demo",
            tables: &[TableDef {
                name: "flags",
                fields: &[("name", "string"), ("enabled", "integer")],
                keys: &["name"],
            }],
            writer: "loader",
            secret: "s3cret",
        })
        .await;
    let write = serde_json::json!({"mutations": [{"table": "flags", "values": {"name": "new-ui", "enabled": 1}}]});
    writer.mutate_ok("demo", &write).await;
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let read = serde_json::json!({"key": [{"value": "new-ui"}]});
    let row = loop {
        let r = client
            .post(format!("http://127.0.0.1:{side}/get-row-by-key/demo/flags"))
            .json(&read)
            .send()
            .await;
        if let Ok(r) = r
            && r.status().is_success()
        {
            break r.json::<serde_json::Value>().await.expect("json");
        }
        assert!(
            Instant::now() < deadline,
            "the write never reached the sidecar"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(row, serde_json::json!({"name": "new-ui", "enabled": 1}));
    let latency: serde_json::Value = client
        .get(format!("http://127.0.0.1:{side}/get-ledger-latency"))
        .send()
        .await
        .expect("latency")
        .json()
        .await
        .expect("json");
    assert!(
        latency["value"].as_f64().is_some_and(|v| v < 5.0),
        "{latency}"
    );
    let health = client
        .get(format!("http://127.0.0.1:{health}/healthz"))
        .send()
        .await
        .expect("health");
    assert!(health.status().is_success());
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "all-in-one did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "clean exit: {status}");
}
