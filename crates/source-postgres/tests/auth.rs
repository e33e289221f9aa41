//! Logging in against a real private PostgreSQL cluster with each password method the client
//! speaks: SCRAM-SHA-256, MD5 and cleartext; and the errors for a wrong or missing password.

mod support;

use ctlstore_source_postgres::{ConnectConfig, PgConnection, SourceError};
use support::Cluster;

async fn login(
    cluster: &Cluster,
    user: &str,
    password: Option<&str>,
) -> Result<PgConnection, SourceError> {
    let config = ConnectConfig {
        user: user.to_owned(),
        password: password.map(str::to_owned),
        ..cluster.config.clone()
    };
    PgConnection::connect(&config).await
}

async fn whoami(conn: &mut PgConnection) -> String {
    let rows = conn
        .simple_query("SELECT current_user")
        .await
        .expect("query");
    rows[0][0].clone().expect("a user")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_methods_and_failures() {
    let cluster = Cluster::start().await;
    cluster
        .sql(
            "SET password_encryption = 'scram-sha-256';
             CREATE ROLE alice LOGIN PASSWORD 'correct horse ☃';
             CREATE ROLE carol LOGIN PASSWORD 'plain';
             SET password_encryption = 'md5';
             CREATE ROLE bob LOGIN PASSWORD 'md5 secret';",
        )
        .await;
    for rule in [
        "host all alice 127.0.0.1/32 scram-sha-256",
        "host all bob 127.0.0.1/32 md5",
        "host all carol 127.0.0.1/32 password",
    ] {
        tokio::task::block_in_place(|| cluster.pg.add_hba_rule(rule));
    }
    // The reload is asynchronous: wait until a login without a password is refused.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while login(&cluster, "carol", None).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "pg_hba.conf was not reloaded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let mut alice = login(&cluster, "alice", Some("correct horse ☃"))
        .await
        .expect("SCRAM login");
    assert_eq!(whoami(&mut alice).await, "alice");
    let mut bob = login(&cluster, "bob", Some("md5 secret"))
        .await
        .expect("MD5 login");
    assert_eq!(whoami(&mut bob).await, "bob");
    let mut carol = login(&cluster, "carol", Some("plain"))
        .await
        .expect("cleartext login");
    assert_eq!(whoami(&mut carol).await, "carol");

    for (user, password) in [("alice", "wrong"), ("bob", "wrong"), ("carol", "wrong")] {
        match login(&cluster, user, Some(password)).await {
            Err(SourceError::Auth(message)) => {
                assert!(
                    message.contains("password authentication failed"),
                    "{message}"
                );
                let shown = SourceError::Auth(message).to_string();
                assert!(
                    shown.starts_with("authentication with PostgreSQL failed"),
                    "{shown}"
                );
            }
            Err(other) => panic!("{user}: expected an Auth error, got {other}"),
            Ok(_) => panic!("{user} logged in with a wrong password"),
        }
    }
    match login(&cluster, "alice", None).await {
        Err(SourceError::Auth(message)) => assert!(message.contains("has none"), "{message}"),
        Err(other) => panic!("expected an Auth error, got {other}"),
        Ok(_) => panic!("logged in without a password"),
    }
    // The URL form carries the password too.
    let url = cluster
        .pg
        .url
        .replace("postgres@", "alice:correct%20horse%20%E2%98%83@");
    let config = ConnectConfig::from_url(&url).expect("url");
    let mut conn = PgConnection::connect(&config)
        .await
        .expect("SCRAM login from the URL");
    assert_eq!(whoami(&mut conn).await, "alice");
}
