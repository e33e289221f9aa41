//! Fault: clock skew between executives. On an embedded (SQLite) ctldb each executive stamps
//! `leader_ts` with its own clock; here a second executive's entries are stamped an hour ahead
//! and an hour behind (written straight into the ledger, as a skewed executive would) while the
//! first keeps writing. The staleness a host reports (the reader's and the sidecar's ledger
//! latency) must stay sane: never negative, never jumping by the skew, and still growing when
//! writes stop after an entry from the future.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use ctlstore_testkit::{Backend, KillOnDrop, TestDb, TestExecutive};
use serde_json::json;

/// `leader_ts` text (`YYYY-MM-DD HH:MM:SS`, UTC) for now + `offset_secs`.
fn stamp(offset_secs: i64) -> String {
    let now = SystemTime::now();
    let t = if offset_secs >= 0 {
        now + Duration::from_secs(offset_secs as u64)
    } else {
        now - Duration::from_secs(offset_secs.unsigned_abs())
    };
    ctlstore_ldb_layout::format_timestamp(t)
        .trim_end_matches("+00:00")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skewed_executive_clocks_never_make_staleness_insane() {
    let db = TestDb::create(Backend::Sqlite).await;
    let (executive, writer) = TestExecutive::with_table(&db.url, "things", ("v", "string")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ldb = dir.path().join("ldb.db");
    let _reflector = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_ctlstore"))
            .args(["reflector", "-ldb-path"])
            .arg(&ldb)
            .args(["-executive-url", &executive.base])
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the reflector"),
    );
    let ctldb_path = db.url.trim_start_matches("sqlite:").to_string();
    let skewed = |id: i64, offset_secs: i64| {
        let c = rusqlite::Connection::open(&ctldb_path).expect("open the ctldb");
        c.busy_timeout(Duration::from_secs(5))
            .expect("busy timeout");
        c.execute(
            "INSERT INTO ctlstore_dml_ledger (leader_ts, statement) VALUES (?1, ?2)",
            [
                stamp(offset_secs),
                format!(
                    r#"REPLACE INTO fam___things ("id","v") VALUES({id},'skewed {offset_secs}')"#
                ),
            ],
        )
        .expect("a skewed executive's entry");
    };
    let latency =
        |reader: &ctlstore_reader::Reader| reader.ledger_latency().map(|d| d.as_secs_f64());

    writer
        .mutate_ok(
            "fam",
            &json!({"mutations": [{"table": "things", "values": {"id": 0, "v": "start"}}]}),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let reader = loop {
        if let Ok(r) = ctlstore_reader::Reader::open(&ldb)
            && r.ledger_latency().is_ok()
        {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "the LDB never got its first entry"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // Both executives write; the skewed one an hour behind, then an hour ahead.
    let mut worst = 0.0f64;
    for (round, offset) in [(1i64, -3600i64), (2, 3600)] {
        for i in 0..20 {
            let id = round * 100 + i;
            writer
                .mutate_ok(
                    "fam",
                    &json!({"mutations": [{"table": "things", "values": {"id": id, "v": "good"}}]}),
                )
                .await;
            skewed(id + 50, offset);
            tokio::time::sleep(Duration::from_millis(100)).await;
            let l = latency(&reader).expect("latency");
            worst = worst.max(l);
            assert!(l < 5.0, "offset {offset} s: staleness jumped to {l} s");
        }
    }
    // The last entry came from the future; then nothing is written: real staleness grows, and
    // the host shows it instead of reading 0 for an hour.
    let head = executive.head().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while reader.last_sequence().expect("seq") < head {
        assert!(Instant::now() < deadline, "the reflector did not catch up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = latency(&reader).expect("latency");
    assert!(
        (2.0..10.0).contains(&idle),
        "3 s after the last write staleness reads {idle} s"
    );
    println!(
        "clock skew ±3600 s: worst staleness {worst:.2} s while writing, {idle:.2} s after 3 s idle"
    );
    executive.stop().await;
}
