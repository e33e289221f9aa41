//! TLS to PostgreSQL and MariaDB ctldbs through the URL parameters their drivers already take:
//! private servers started with a certificate this test made, which refuse plain connections
//! (PostgreSQL's `hostnossl ... reject`, MariaDB's `--require-secure-transport`).

use ctlstore_ctldb::{Ctldb, CtldbOptions};
use ctlstore_testkit::pki::TestPki;
use ctlstore_testkit::{MariaDbInstance, PgCluster};

/// Over `verified` the ctldb migrates and takes a family, as over plain TCP; every URL of
/// `refused` (a plain connection, a client trusting another CA) fails.
async fn verified_tls_only(verified: &str, refused: &[(&str, String)]) {
    let db = Ctldb::connect(verified, CtldbOptions::default())
        .await
        .expect("connect over TLS");
    db.create_family(&ctlstore_schema::FamilyName::new("secure").expect("name"))
        .await
        .expect("create a family");
    assert!(
        db.families()
            .await
            .expect("families")
            .contains(&"secure".to_string())
    );
    db.close().await;
    for (what, bad) in refused {
        let refused = Ctldb::connect(bad, CtldbOptions::default()).await;
        assert!(refused.is_err(), "{what}: connected");
    }
}

ctlstore_testkit::postgres_test! {
    async fn a_postgres_ctldb_over_verified_tls() {
        let (pki, other) = (TestPki::new("ctldb"), TestPki::new("other"));
        let server = pki.server("postgres");
        let cluster = tokio::task::spawn_blocking(move || PgCluster::start_tls(&server.cert, &server.key))
            .await
            .expect("start the cluster");
        let url = |params: String| format!("{}?{params}", cluster.url);
        let ca = |pki: &TestPki| format!("sslmode=verify-full&sslrootcert={}", pki.ca().display());
        verified_tls_only(
            &url(ca(&pki)),
            &[("plain", url("sslmode=disable".into())), ("another CA", url(ca(&other)))],
        )
        .await;
    }
}

ctlstore_testkit::mysql_test! {
    async fn a_mariadb_ctldb_over_verified_tls() {
        let (pki, other) = (TestPki::new("ctldb"), TestPki::new("other"));
        let server = pki.server("mariadb");
        let instance = tokio::task::spawn_blocking(move || MariaDbInstance::start_tls(&server.cert, &server.key))
            .await
            .expect("start the server");
        let url = |params: String| format!("{}?{params}", instance.url);
        let ca = |pki: &TestPki, mode: &str| format!("ssl-mode={mode}&ssl-ca={}", pki.ca().display());
        verified_tls_only(
            &url(ca(&pki, "VERIFY_IDENTITY")),
            &[("plain", url("ssl-mode=DISABLED".into())), ("another CA", url(ca(&other, "VERIFY_CA")))],
        )
        .await;
    }
}
