//! Supervised background tasks: when any of the executive's background tasks ends (here made to
//! panic through the `fault_stop_task` hook), `serve` does not carry on without it: it shuts
//! down and returns an error naming the task, so the process exits non-zero. (That `/healthz`
//! names the task meanwhile is a unit test in `routes/ops.rs`.) Also: settings the executive
//! cannot run with are refused before anything starts, naming the setting.

use std::time::{Duration, Instant};

use ctlstore_executive::{Config, ExecutiveError, serve};
use ctlstore_testkit::{Backend, TestDb};

const TASKS: &[&str] = &[
    "ledger head poller",
    "table sizer",
    "writer usage cleanup",
    "writer limit refresh",
    "ddl intent recovery",
    "ctldb group committer",
];

async fn serve_until_it_stops(config: Config) -> (Result<(), ExecutiveError>, Duration) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral port");
    let started = Instant::now();
    // The shutdown future never completes: only a failure can end `serve`.
    let served = tokio::time::timeout(
        Duration::from_secs(30),
        serve(listener, config, std::future::pending()),
    )
    .await
    .expect("serve returns within 30 s once a background task stops");
    (served, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_background_task_stops_the_executive_with_an_error() {
    for task in TASKS {
        let db = TestDb::create(Backend::Sqlite).await;
        let config = Config {
            ctldb_url: db.url.clone(),
            fault_stop_task: Some(task.to_string()),
            ..Config::default()
        };
        let (served, took) = serve_until_it_stops(config).await;
        match served {
            Err(ExecutiveError::TaskStopped(failure)) => {
                assert_eq!(failure.task, *task);
                assert!(failure.reason.contains("panicked"), "{failure}");
                let message = ExecutiveError::TaskStopped(failure).to_string();
                assert!(message.contains(task), "{message}");
            }
            other => panic!("{task}: serve returned {other:?}"),
        }
        eprintln!("{task}: serve returned its error {took:?} after starting");
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_intervals_are_refused_naming_the_setting() {
    let db = TestDb::create(Backend::Sqlite).await;
    type Tweak = fn(&mut Config);
    let cases: [(&str, Tweak); 4] = [
        ("ledger_poll_interval", |c| {
            c.ledger_poll_interval = Duration::ZERO
        }),
        ("table_size_refresh", |c| {
            c.table_size_refresh = Duration::ZERO
        }),
        ("handler_timeout", |c| c.handler_timeout = Duration::ZERO),
        ("writer_limit_period", |c| {
            c.writer_limit_period = Duration::ZERO
        }),
    ];
    for (setting, tweak) in cases {
        let mut config = Config {
            ctldb_url: db.url.clone(),
            ..Config::default()
        };
        tweak(&mut config);
        let (served, _) = serve_until_it_stops(config).await;
        match served {
            Err(e @ ExecutiveError::Config { .. }) => {
                assert!(e.to_string().contains(setting), "{e}")
            }
            other => panic!("{setting} = 0: serve returned {other:?}"),
        }
    }
    db.cleanup().await;
}
