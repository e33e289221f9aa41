//! TLS to PostgreSQL and MariaDB ctldbs through the URL parameters their drivers already take:
//! private servers started with a certificate this test made, which refuse plain connections
//! (PostgreSQL's `hostnossl ... reject`, MariaDB's `--require-secure-transport`).

use ctlstore_ctldb::{Ctldb, CtldbOptions};
use ctlstore_testkit::pki::TestPki;
use ctlstore_testkit::{MariaDbInstance, PgCluster};

ctlstore_testkit::postgres_test! {
    async fn a_postgres_ctldb_over_verified_tls() {
        let pki = TestPki::new("ctldb");
        let other = TestPki::new("other");
        let server = pki.server("postgres");
        let cluster = {
            let (cert, key) = (server.cert.clone(), server.key.clone());
            tokio::task::spawn_blocking(move || PgCluster::start_tls(&cert, &key))
                .await
                .expect("start the cluster")
        };
        let url = |params: &str| format!("{}?{params}", cluster.url);
        let verified = url(&format!(
            "sslmode=verify-full&sslrootcert={}",
            pki.ca().display()
        ));
        // Verified TLS: the ctldb migrates and takes a family, as over plain TCP.
        let db = Ctldb::connect(&verified, CtldbOptions::default())
            .await
            .expect("connect over TLS");
        db.create_family(&ctlstore_schema::FamilyName::new("secure").expect("name"))
            .await
            .expect("create a family");
        assert!(db.families().await.expect("families").contains(&"secure".to_string()));
        db.close().await;

        // The server refuses plain connections; a client trusting another CA refuses the
        // server.
        for (what, bad) in [
            ("plain", url("sslmode=disable")),
            (
                "another CA",
                url(&format!("sslmode=verify-full&sslrootcert={}", other.ca().display())),
            ),
        ] {
            let refused = Ctldb::connect(&bad, CtldbOptions::default()).await;
            assert!(refused.is_err(), "{what}: connected");
        }
    }
}

ctlstore_testkit::mysql_test! {
    async fn a_mariadb_ctldb_over_verified_tls() {
        let pki = TestPki::new("ctldb");
        let other = TestPki::new("other");
        let server = pki.server("mariadb");
        let instance = {
            let (cert, key) = (server.cert.clone(), server.key.clone());
            tokio::task::spawn_blocking(move || MariaDbInstance::start_tls(&cert, &key))
                .await
                .expect("start the server")
        };
        let url = |params: &str| format!("{}?{params}", instance.url);
        let verified = url(&format!(
            "ssl-mode=VERIFY_IDENTITY&ssl-ca={}",
            pki.ca().display()
        ));
        let db = Ctldb::connect(&verified, CtldbOptions::default())
            .await
            .expect("connect over TLS");
        db.create_family(&ctlstore_schema::FamilyName::new("secure").expect("name"))
            .await
            .expect("create a family");
        assert!(db.families().await.expect("families").contains(&"secure".to_string()));
        db.close().await;
        for (what, bad) in [
            ("plain", url("ssl-mode=DISABLED")),
            (
                "another CA",
                url(&format!("ssl-mode=VERIFY_CA&ssl-ca={}", other.ca().display())),
            ),
        ] {
            let refused = Ctldb::connect(&bad, CtldbOptions::default()).await;
            assert!(refused.is_err(), "{what}: connected");
        }
    }
}
