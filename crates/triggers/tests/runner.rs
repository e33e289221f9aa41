//! The trigger runner with real shell commands: matching, coalescing, retries, state.

use std::path::Path;
use std::time::Duration;

use ctlstore_triggers::{Batch, ChangedKey, Event, Options, load_dir, run};
use serde_json::json;
use tokio::sync::mpsc;

fn change(table: &str, key: &str) -> ChangedKey {
    ChangedKey {
        family: "cfg".into(),
        table: table.into(),
        key: vec![json!(key)],
        op: "upsert".into(),
    }
}

fn batch(seq: i64, changes: Vec<ChangedKey>) -> Event {
    Event::Batch(Batch { seq, changes })
}

async fn wait_for(path: &Path, lines: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let got: Vec<String> = text.lines().map(String::from).collect();
        if got.len() >= lines {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}: {got:?}, waiting for {lines} lines",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_coalesce_retry_and_resume() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("triggers");
    std::fs::create_dir(&dir).expect("mkdir");
    let out = tmp.path();
    // Slow, so batches pile up behind a run; records seq and the keys it was given.
    std::fs::write(
        dir.join("files"),
        json!({"path": "cfg/files", "command": format!("sleep 0.3; echo \"$CTLSTORE_SEQ $CTLSTORE_FAMILY $CTLSTORE_TABLE $(wc -l)\" >> {}/files.log", out.display())}).to_string(),
    )
    .expect("write");
    // Fails on its first attempt.
    std::fs::write(
        dir.join("flaky"),
        json!({"path": "cfg/other/k1", "command": format!("if [ ! -e {o}/tried ]; then touch {o}/tried; exit 3; fi; echo \"$CTLSTORE_SEQ\" >> {o}/flaky.log", o = out.display())}).to_string(),
    )
    .expect("write");
    std::fs::write(dir.join("ignored.json"), "not a trigger").expect("write");
    let triggers = load_dir(&dir).expect("load");
    assert_eq!(
        triggers.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["files", "flaky"]
    );
    let state_path = tmp.path().join("triggers.state");
    let options = Options {
        state_path: state_path.clone(),
        head: 10,
        max_backoff: Duration::from_millis(200),
    };

    let (tx, rx) = mpsc::channel(100);
    let runner = tokio::spawn(run(
        triggers.clone(),
        options.clone(),
        rx,
        std::future::pending::<()>(),
    ));
    // New triggers run once at start (seq 10, no keys).
    let log = wait_for(&out.join("files.log"), 1).await;
    assert_eq!(log[0], "10 cfg files 0");
    // Five matching batches while the command sleeps: one more run covers those that came
    // during the first, with all their keys.
    tx.send(batch(11, vec![change("files", "a")]))
        .await
        .expect("send");
    tokio::time::sleep(Duration::from_millis(50)).await;
    for seq in 12..=15 {
        tx.send(batch(
            seq,
            vec![change("files", &format!("k{seq}")), change("nope", "x")],
        ))
        .await
        .expect("send");
    }
    let log = wait_for(&out.join("files.log"), 3).await;
    assert_eq!(log[1], "11 cfg files 1");
    assert_eq!(
        log[2], "15 cfg files 4",
        "12..=15 coalesced into one run with their 4 keys"
    );
    // The flaky trigger: a non-matching key does not run it; a matching one fails, then
    // succeeds on retry.
    tx.send(batch(16, vec![change("other", "k2")]))
        .await
        .expect("send");
    tx.send(batch(17, vec![change("other", "k1")]))
        .await
        .expect("send");
    let flaky = wait_for(&out.join("flaky.log"), 2).await;
    assert_eq!(flaky, ["10", "17"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(tx);
    runner.await.expect("task").expect("runner");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).expect("state")).expect("JSON");
    assert_eq!(state, json!({"handled": {"files": 17, "flaky": 17}}));

    // A restart resumes: batches at or below the state are not run again.
    let (tx, rx) = mpsc::channel(100);
    let runner = tokio::spawn(run(triggers, options, rx, std::future::pending::<()>()));
    tx.send(batch(15, vec![change("files", "old")]))
        .await
        .expect("send");
    tx.send(batch(18, vec![change("files", "new")]))
        .await
        .expect("send");
    let log = wait_for(&out.join("files.log"), 4).await;
    assert_eq!(log[3], "18 cfg files 1");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        std::fs::read_to_string(out.join("files.log"))
            .expect("log")
            .lines()
            .count(),
        4,
        "no rerun at start or for seq 15"
    );
    drop(tx);
    runner.await.expect("task").expect("runner");
}
