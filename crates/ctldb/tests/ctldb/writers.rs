//! Writers and cookies.

use super::*;

backend_tests!(
    cookies_compare_and_set,
    stale_check_cookie_applies_nothing,
    writers_register_and_authenticate,
);

async fn cookies_compare_and_set(backend: Backend) {
    let (db, ctldb) = setup_with_table1(backend).await;
    let initial = ctldb.cookie(&writer()).await.expect("cookie");
    assert_eq!(
        initial, b"d3JpdGVyMWvvyLhIjKvjOx0M5y3UgjITxDifKeSscYpRbLUKk7iS",
        "ctlstore's initial cookie"
    );
    let row = json!({"id": 1, "name": "a", "body": "x", "data": null, "tag": null, "score": 0});
    let mut req = request(vec![upsert("table1", row.clone())]);
    req.cookie = Some(b"offset-1".to_vec());
    req.check_cookie = Some(initial.clone());
    ctldb
        .apply_mutations(&req)
        .await
        .expect("CAS from the initial cookie");
    assert_eq!(ctldb.cookie(&writer()).await.expect("cookie"), b"offset-1");
    // Without a new cookie the cookie stays; without a check any cookie is accepted.
    ctldb
        .apply_mutations(&request(vec![upsert("table1", row)]))
        .await
        .expect("no cookie");
    assert_eq!(ctldb.cookie(&writer()).await.expect("cookie"), b"offset-1");
    ctldb.set_cookie(&writer(), b"offset-2").await.expect("set");
    assert_eq!(ctldb.cookie(&writer()).await.expect("cookie"), b"offset-2");
    assert!(matches!(
        ctldb.set_cookie(&writer(), &[0; 1025]).await,
        Err(CtldbError::CookieTooLong)
    ));
    let stranger = WriterName::new("nobody").expect("valid");
    assert!(matches!(
        ctldb.cookie(&stranger).await,
        Err(CtldbError::WriterNotFound)
    ));
    assert!(matches!(
        ctldb.set_cookie(&stranger, b"x").await,
        Err(CtldbError::WriterNotFound)
    ));
    db.cleanup().await;
}

async fn stale_check_cookie_applies_nothing(backend: Backend) {
    let (db, ctldb) = setup_with_table1(backend).await;
    ctldb.set_cookie(&writer(), b"current").await.expect("set");
    let seq_before = ctldb.max_seq().await.expect("seq");
    let rows = |i: i64| json!({"id": i, "name": "n", "body": null, "data": null, "tag": null, "score": null});
    let mut req = request(vec![upsert("table1", rows(1)), upsert("table1", rows(2))]);
    req.check_cookie = Some(b"stale".to_vec());
    req.cookie = Some(b"next".to_vec());
    assert!(matches!(
        ctldb.apply_mutations(&req).await,
        Err(CtldbError::CookieConflict)
    ));
    assert_eq!(
        ctldb.max_seq().await.expect("seq"),
        seq_before,
        "no ledger entry of the batch"
    );
    assert!(
        ctldb
            .rows(&family(), &name("table1"))
            .await
            .expect("rows")
            .is_empty(),
        "no row of the batch"
    );
    assert_eq!(
        ctldb.cookie(&writer()).await.expect("cookie"),
        b"current",
        "cookie untouched"
    );

    // A batch whose second statement fails in the database rolls back the first.
    let mut req = request(vec![upsert("table1", rows(1)), upsert("table1", rows(2))]);
    req.writer = WriterName::new("unregistered").expect("valid");
    assert!(matches!(
        ctldb.apply_mutations(&req).await,
        Err(CtldbError::WriterNotFound)
    ));
    assert_eq!(ctldb.max_seq().await.expect("seq"), seq_before);
    db.cleanup().await;
}

async fn writers_register_and_authenticate(backend: Backend) {
    let (db, ctldb) = setup(backend).await;
    let secret = WriterSecret::new("secret1").expect("valid");
    for scheme in [SecretHashScheme::Sha256Hex, SecretHashScheme::Argon2id] {
        let w = WriterName::new(&format!("writer-{scheme:?}")).expect("valid");
        ctldb
            .register_writer(&w, &secret, scheme)
            .await
            .expect("register");
        ctldb
            .register_writer(&w, &secret, scheme)
            .await
            .expect("same secret again is fine");
        let other = WriterSecret::new("another").expect("valid");
        assert!(matches!(
            ctldb.register_writer(&w, &other, scheme).await,
            Err(CtldbError::WriterExists)
        ));
        ctldb
            .authenticate(&w, "secret1")
            .await
            .expect("right secret");
        ctldb
            .authenticate(&w, "secret1")
            .await
            .expect("right secret, cached");
        assert!(matches!(
            ctldb.authenticate(&w, "wrong").await,
            Err(CtldbError::WriterNotFound)
        ));
    }
    let nobody = WriterName::new("nobody").expect("valid");
    assert!(matches!(
        ctldb.authenticate(&nobody, "secret1").await,
        Err(CtldbError::WriterNotFound)
    ));
    db.cleanup().await;
}
