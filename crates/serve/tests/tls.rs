//! TLS and mutual TLS through `ctlstore_serve::serve_tls`: who gets in, what identity handlers
//! see, and a certificate rotated on disk served to new connections without a restart.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use ctlstore_testkit::pki::{CertFiles, TestPki};
use ctlstore_tls::{ClientTls, ClientTlsFiles, PeerIdentity, ServerTls, ServerTlsFiles};

async fn whoami(identity: Option<axum::Extension<PeerIdentity>>) -> String {
    identity.map_or_else(|| "anonymous".to_string(), |i| i.0.as_str().to_string())
}

/// Serves `whoami` over TLS; returns its https base URL.
async fn server(tls: ServerTls) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let app = Router::new().route("/", get(whoami));
    tokio::spawn(ctlstore_serve::serve_tls(
        listener,
        app,
        Some(tls),
        std::future::pending(),
    ));
    format!("https://localhost:{port}/")
}

/// `whoami` over mutual TLS: a server certificate and the client CA from `pki`.
async fn mutual_tls_server(pki: &TestPki) -> String {
    let files = pki.server("executive");
    let tls = ServerTls::load(ServerTlsFiles {
        cert: files.cert.clone(),
        key: files.key.clone(),
        client_ca: Some(pki.ca()),
    })
    .expect("server TLS");
    server(tls).await
}

fn client(ca: &std::path::Path, cert: Option<&CertFiles>) -> reqwest::Client {
    let files = ClientTlsFiles {
        ca: Some(ca.to_path_buf()),
        cert: cert.map(|c| c.cert.clone()),
        key: cert.map(|c| c.key.clone()),
    };
    let tls = ClientTls::load(files).expect("client TLS");
    tls.apply(reqwest::Client::builder().timeout(Duration::from_secs(5)))
        .build()
        .expect("client")
}

async fn get_text(client: &reqwest::Client, url: &str) -> Result<String, reqwest::Error> {
    client
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await
}

#[tokio::test]
async fn mutual_tls_admits_only_certificates_of_its_ca() {
    let pki = TestPki::new("fleet");
    let other = TestPki::new("other");
    let url = mutual_tls_server(&pki).await;

    let alice = pki.client("alice", "alice", None);
    assert_eq!(
        get_text(&client(&pki.ca(), Some(&alice)), &url)
            .await
            .expect("alice gets in"),
        "alice"
    );
    // The first URI SAN is the identity when there is one.
    let spiffe = pki.client("svc", "ignored-cn", Some("spiffe://example.org/reflector"));
    assert_eq!(
        get_text(&client(&pki.ca(), Some(&spiffe)), &url)
            .await
            .expect("svc gets in"),
        "spiffe://example.org/reflector"
    );
    // No certificate: refused at the handshake.
    let refused = get_text(&client(&pki.ca(), None), &url).await;
    assert!(refused.is_err(), "{refused:?}");
    // A certificate from another CA: refused too.
    let mallory = other.client("mallory", "alice", None);
    let refused = get_text(&client(&pki.ca(), Some(&mallory)), &url).await;
    assert!(refused.is_err(), "{refused:?}");
    // A client that does not trust the server's CA refuses the server.
    let refused = get_text(&client(&other.ca(), Some(&alice)), &url).await;
    assert!(refused.is_err(), "{refused:?}");
}

#[tokio::test]
async fn a_rotated_certificate_is_served_to_new_connections() {
    let old_ca = TestPki::new("old");
    let new_ca = TestPki::new("new");
    let live = old_ca.server("live");
    let tls = ServerTls::load(ServerTlsFiles {
        cert: live.cert.clone(),
        key: live.key.clone(),
        client_ca: None,
    })
    .expect("server TLS");
    let url = server(tls).await;
    let trusts_old = client(&old_ca.ca(), None);
    let trusts_new = client(&new_ca.ca(), None);
    assert_eq!(get_text(&trusts_old, &url).await.expect("old"), "anonymous");
    assert!(get_text(&trusts_new, &url).await.is_err());

    // Rotate on disk: a certificate from the new CA, over the same paths.
    let rotated = new_ca.server("rotated");
    std::fs::copy(&rotated.cert, &live.cert).expect("copy cert");
    std::fs::copy(&rotated.key, &live.key).expect("copy key");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        // A new client: a new connection.
        if get_text(&client(&new_ca.ca(), None), &url).await.is_ok() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the rotated certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(get_text(&client(&old_ca.ca(), None), &url).await.is_err());
    // The connection made before the rotation was not dropped: the client that trusts only
    // the old CA still gets answers on it (a new connection would be refused).
    assert_eq!(
        get_text(&trusts_old, &url)
            .await
            .expect("the open connection"),
        "anonymous"
    );

    // A broken file is refused and the rotated certificate stays in use.
    std::fs::write(&live.cert, "not a certificate").expect("break");
    tokio::time::sleep(ctlstore_tls::RELOAD_CHECK_INTERVAL + Duration::from_millis(200)).await;
    assert_eq!(
        get_text(&client(&new_ca.ca(), None), &url)
            .await
            .expect("still served"),
        "anonymous"
    );
}

#[tokio::test]
async fn a_long_lived_client_presents_its_rotated_certificate() {
    let pki = TestPki::new("fleet");
    let rogue = TestPki::new("rogue");
    let url = mutual_tls_server(&pki).await;
    // The client's certificate files start out signed by the wrong CA: refused.
    let live = rogue.client("live", "reflector", None);
    let client = client(&pki.ca(), Some(&live));
    assert!(get_text(&client, &url).await.is_err());
    // Rotated on disk to one the server's CA signed: the same client object gets in.
    let good = pki.client("good", "reflector", None);
    std::fs::copy(&good.cert, &live.cert).expect("copy cert");
    std::fs::copy(&good.key, &live.key).expect("copy key");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(text) = get_text(&client, &url).await {
            assert_eq!(text, "reflector");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the rotated client certificate was never presented"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
