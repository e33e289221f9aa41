//! A moto S3 server for the snapshot tests (`CTLSTORE_TEST_S3=moto`).

/// A moto S3 server on a free port, stopped when dropped.
pub struct Moto {
    pub endpoint: String,
    child: std::process::Child,
}

impl Moto {
    /// Settings that reach this server (moto takes any credentials).
    pub fn s3_options(&self) -> ctlstore_snapshot::S3Options {
        ctlstore_snapshot::S3Options {
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            access_key_id: Some("test".into()),
            secret_access_key: Some("test".into()),
        }
    }

    /// Starts `moto_server` and creates `bucket`. Panics with the reason when it cannot.
    pub fn start(bucket: &str) -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = std::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start moto_server (pip install 'moto[server]')");
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "moto_server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let mut moto = Moto { endpoint, child };
        moto.create_bucket(bucket);
        moto
    }

    fn create_bucket(&mut self, bucket: &str) {
        use std::io::{Read, Write};
        let host = self.endpoint.trim_start_matches("http://").to_string();
        let mut s = std::net::TcpStream::connect(&host).expect("connect to moto");
        write!(s, "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").expect("send");
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "create bucket: {answer}"
        );
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
