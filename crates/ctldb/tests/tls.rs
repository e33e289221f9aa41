//! TLS to a PostgreSQL ctldb through the URL parameters the driver already takes: a private
//! server started with `ssl = on` and a certificate this test made, which refuses plain
//! connections (`hostnossl ... reject`).

use ctlstore_ctldb::{Ctldb, CtldbOptions};
use ctlstore_testkit::PgCluster;
use ctlstore_testkit::pki::TestPki;

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
