//! Shared by the integration tests: a private PostgreSQL cluster set up for logical
//! replication, whose log is printed when a test fails.

#![allow(dead_code)] // each test binary uses a different part of this module

use ctlstore_source_postgres::{ConnectConfig, Event, PgConnection, ReplicationStream};
use ctlstore_testkit::PgCluster;
use std::time::Duration;

/// A private cluster with `wal_level=logical`. Prints the server log if the test panics.
pub struct Cluster {
    pub pg: PgCluster,
    pub config: ConnectConfig,
}

impl Cluster {
    pub async fn start() -> Cluster {
        Cluster::start_with(&[]).await
    }

    /// With more server settings on top of the logical replication ones.
    pub async fn start_with(extra: &'static [(&'static str, &'static str)]) -> Cluster {
        let pg = tokio::task::spawn_blocking(move || {
            let mut settings = vec![
                ("wal_level", "logical"),
                ("max_replication_slots", "10"),
                ("max_wal_senders", "10"),
            ];
            settings.extend_from_slice(extra);
            PgCluster::start_with(&settings)
        })
        .await
        .expect("start the private PostgreSQL cluster");
        let config = ConnectConfig::from_url(&pg.url).expect("the cluster's URL parses");
        Cluster { pg, config }
    }

    /// A fresh plain connection.
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.config)
            .await
            .expect("connect to the private cluster")
    }

    /// Runs SQL on a fresh connection.
    pub async fn sql(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let mut conn = self.connect().await;
        let rows = conn
            .simple_query(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        conn.close().await.expect("close");
        rows
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "----- PostgreSQL server log -----\n{}\n----- end of log -----",
                self.pg.log()
            );
        }
    }
}

/// The next event, failing the test if none arrives in 30 s.
pub async fn next_event(stream: &mut ReplicationStream) -> Event {
    match tokio::time::timeout(Duration::from_secs(30), stream.next()).await {
        Ok(Ok(Some(event))) => event,
        Ok(Ok(None)) => panic!("the server ended the replication stream"),
        Ok(Err(e)) => panic!("replication stream failed: {e}"),
        Err(_) => panic!("no replication event within 30 s"),
    }
}

/// The next `count` non-empty transactions, each from `Begin` to `Commit` inclusive. Empty
/// transactions (older servers send them for commits touching no published table) are skipped.
pub async fn next_transactions(stream: &mut ReplicationStream, count: usize) -> Vec<Vec<Event>> {
    let mut transactions = Vec::new();
    let mut current: Vec<Event> = Vec::new();
    while transactions.len() < count {
        let event = next_event(stream).await;
        match event {
            Event::Begin { .. } => {
                assert!(
                    current.is_empty(),
                    "Begin inside a transaction: {current:?}"
                );
                current.push(event);
            }
            Event::Commit { .. } => {
                assert!(!current.is_empty(), "Commit without Begin");
                current.push(event);
                let txn = std::mem::take(&mut current);
                if txn.len() > 2 {
                    transactions.push(txn);
                }
            }
            Event::Other => {}
            other => {
                assert!(
                    !current.is_empty(),
                    "change outside a transaction: {other:?}"
                );
                current.push(other);
            }
        }
    }
    transactions
}
