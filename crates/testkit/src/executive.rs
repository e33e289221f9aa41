//! An executive served in this process for tests and benchmarks (feature `executive`).
//!
//! [`TestExecutive::start`] serves one on an ephemeral port against any ctldb URL (a
//! [`crate::TestDb`]'s, on any backend) and returns once it answers `/healthz`. It derefs to an
//! [`ExecutiveClient`], whose [`ExecutiveClient::register`] does the setup nearly every test
//! needs (a family, its tables and a writer) and returns a [`crate::WriterClient`].
//!
//! Why a feature: the executive's own tests use this module, so testkit depending on the
//! executive is a dev-dependency cycle (executive -dev-> testkit -> executive). Cargo allows it,
//! and the integration tests and benches link one executive (the library's unit-test build gets
//! a second copy, harmless while no unit test uses testkit); keeping it behind a feature means the
//! crates that never start an executive (ctldb, ldb, reader, ...) do not build one for their
//! tests.

use std::ops::Deref;
use std::time::Duration;

pub use ctlstore_executive::Config;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::ExecutiveClient;

/// An executive serving on `127.0.0.1`, stopped by [`TestExecutive::stop`] (or, less tidily,
/// when dropped). Derefs to its [`ExecutiveClient`], so `base`, `call`, `register` ... are at
/// hand.
pub struct TestExecutive {
    api: ExecutiveClient,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestExecutive {
    /// Serves an executive on `ctldb_url` with ctlstore's defaults, except that the ledger head
    /// is polled every 50 ms (tests with two executives see each other's commits quickly).
    pub async fn start(ctldb_url: &str) -> TestExecutive {
        TestExecutive::start_with(ctldb_url, |_| {}).await
    }

    /// [`TestExecutive::start`] with `tweak` applied to the configuration first.
    pub async fn start_with(ctldb_url: &str, tweak: impl FnOnce(&mut Config)) -> TestExecutive {
        let mut config = Config {
            ctldb_url: ctldb_url.to_string(),
            ledger_poll_interval: Duration::from_millis(50),
            ..Config::default()
        };
        tweak(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an ephemeral port");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            ctlstore_executive::serve(listener, config, async move {
                let _ = stopped.await;
            })
            .await
            .expect("the executive runs");
        });
        let executive = TestExecutive {
            api: ExecutiveClient::new(base),
            stop: Some(stop),
            task: Some(task),
        };
        executive.wait_until_healthy(Duration::from_secs(10)).await;
        executive
    }

    /// [`TestExecutive::start`] with family `fam`, the one table `table` (an `id` integer key and
    /// `field`, a (name, type) pair) and writer `writer1`/`secret1` registered: most fault tests' start.
    pub async fn with_table(
        ctldb_url: &str,
        table: &str,
        field: (&str, &str),
    ) -> (TestExecutive, crate::WriterClient) {
        let executive = TestExecutive::start(ctldb_url).await;
        let writer = executive
            .register(&crate::SchemaDef {
                family: "fam",
                tables: &[crate::TableDef {
                    name: table,
                    fields: &[("id", "integer"), field],
                    keys: &["id"],
                }],
                writer: "writer1",
                secret: "secret1",
            })
            .await;
        (executive, writer)
    }

    /// Stops serving (graceful shutdown) and waits for it, at most 10 s.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

impl Deref for TestExecutive {
    type Target = ExecutiveClient;

    fn deref(&self) -> &ExecutiveClient {
        &self.api
    }
}

impl Drop for TestExecutive {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
