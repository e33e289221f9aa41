//! A server's TLS: `--tls-cert`, `--tls-key`, and `--tls-client-ca` for mutual TLS.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;

use crate::reload::Reloading;
use crate::{TlsError, pem, provider};

/// The files a server's TLS is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTlsFiles {
    /// `--tls-cert`: the certificate chain, leaf first.
    pub cert: PathBuf,
    /// `--tls-key`: its private key.
    pub key: PathBuf,
    /// `--tls-client-ca`: clients must present a certificate this CA signed.
    pub client_ca: Option<PathBuf>,
}

impl ServerTlsFiles {
    /// From the three flags: `None` when none is set; an error when only one of the cert and
    /// the key is, or a client CA without them.
    pub fn from_flags(
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
        client_ca: Option<PathBuf>,
    ) -> Result<Option<ServerTlsFiles>, TlsError> {
        let set = |p: Option<PathBuf>| p.filter(|p| !p.as_os_str().is_empty());
        match (set(cert), set(key), set(client_ca)) {
            (None, None, None) => Ok(None),
            (Some(cert), Some(key), client_ca) => Ok(Some(ServerTlsFiles {
                cert,
                key,
                client_ca,
            })),
            (Some(_), None, _) => Err(TlsError::Missing {
                flag: "tls-key",
                with: "tls-cert",
            }),
            (None, Some(_), _) => Err(TlsError::Missing {
                flag: "tls-cert",
                with: "tls-key",
            }),
            (None, None, Some(_)) => Err(TlsError::Missing {
                flag: "tls-cert",
                with: "tls-client-ca",
            }),
        }
    }
}

fn build(files: &ServerTlsFiles) -> Result<ServerConfig, TlsError> {
    let certs = pem::certificates("tls-cert", &files.cert)?;
    let key = pem::private_key("tls-key", &files.key)?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match &files.client_ca {
        Some(ca) => {
            let roots = pem::roots("tls-client-ca", ca)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| TlsError::file("tls-client-ca", ca, e))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::file("tls-key", &files.key, e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

struct Inner {
    files: ServerTlsFiles,
    config: Reloading<ServerConfig>,
}

/// A server's TLS configuration, reloaded from its files when they change or on SIGHUP.
/// Cheap to clone.
#[derive(Clone)]
pub struct ServerTls(Arc<Inner>);

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("cert", &self.0.files.cert)
            .field("client_ca", &self.0.files.client_ca)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Loads the files; an error names the flag and the file.
    pub fn load(files: ServerTlsFiles) -> Result<ServerTls, TlsError> {
        let config = build(&files)?;
        let mut paths = vec![files.cert.clone(), files.key.clone()];
        paths.extend(files.client_ca.clone());
        Ok(ServerTls(Arc::new(Inner {
            config: Reloading::new(paths, config),
            files,
        })))
    }

    /// The configuration for a new connection: reloaded first if the files changed (a file
    /// that fails to load is logged and the previous configuration stays in force).
    pub fn current(&self) -> Arc<ServerConfig> {
        self.0
            .config
            .get("TLS certificate", || build(&self.0.files))
    }

    /// Whether clients must present a certificate (`--tls-client-ca`).
    pub fn requires_client_cert(&self) -> bool {
        self.0.files.client_ca.is_some()
    }
}
