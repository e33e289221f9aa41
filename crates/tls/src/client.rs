//! A client's TLS: `--tls-ca` (whom to trust), `--tls-client-cert` and `--tls-client-key`
//! (who we are, for mutual TLS). Both reload when their files change or on SIGHUP, so a
//! long-lived client (a reflector's feed) picks up a rotated certificate at its next
//! connection.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::reload::{Reloading, listen_for_sighup};
use crate::{TlsError, pem, provider};

/// The files a client's TLS is made of; all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTlsFiles {
    /// `--tls-ca`: trust servers this CA signed (instead of the system's roots).
    pub ca: Option<PathBuf>,
    /// `--tls-client-cert`: present this certificate (mutual TLS).
    pub cert: Option<PathBuf>,
    /// `--tls-client-key`: its private key.
    pub key: Option<PathBuf>,
}

impl ClientTlsFiles {
    /// From the three flags (empty strings count as unset).
    pub fn from_flags(
        ca: Option<PathBuf>,
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
    ) -> Result<ClientTlsFiles, TlsError> {
        let set = |p: Option<PathBuf>| p.filter(|p| !p.as_os_str().is_empty());
        let files = ClientTlsFiles {
            ca: set(ca),
            cert: set(cert),
            key: set(key),
        };
        match (&files.cert, &files.key) {
            (Some(_), None) => Err(TlsError::Missing {
                flag: "tls-client-key",
                with: "tls-client-cert",
            }),
            (None, Some(_)) => Err(TlsError::Missing {
                flag: "tls-client-cert",
                with: "tls-client-key",
            }),
            _ => Ok(files),
        }
    }

    /// Nothing set: the client uses reqwest's defaults (the system's roots, no certificate).
    pub fn is_empty(&self) -> bool {
        self.ca.is_none() && self.cert.is_none()
    }
}

/// A client's TLS configuration. Cheap to clone.
#[derive(Clone, Default)]
pub struct ClientTls {
    files: ClientTlsFiles,
    config: Option<ClientConfig>,
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("ca", &self.files.ca)
            .field("cert", &self.files.cert)
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// Loads the files (nothing to load when none is set); an error names the flag and file.
    pub fn load(files: ClientTlsFiles) -> Result<ClientTls, TlsError> {
        if files.is_empty() {
            return Ok(ClientTls {
                files,
                config: None,
            });
        }
        listen_for_sighup();
        let verifier: Arc<dyn ServerCertVerifier> = match &files.ca {
            Some(ca) => Arc::new(ReloadingVerifier::load(ca.clone())?),
            None => webpki_verifier(system_roots())?,
        };
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match (&files.cert, &files.key) {
            (Some(cert), Some(key)) => builder.with_client_cert_resolver(Arc::new(
                ReloadingClientCert::load(cert.clone(), key.clone())?,
            )),
            _ => builder.with_no_client_auth(),
        };
        Ok(ClientTls {
            files,
            config: Some(config),
        })
    }

    /// `builder` with this TLS configuration (unchanged when no TLS flag is set).
    pub fn apply(&self, builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        match &self.config {
            Some(config) => {
                // Inside the runtime now (loading may not have been): SIGHUP reloads.
                listen_for_sighup();
                builder.tls_backend_preconfigured(config.clone())
            }
            None => builder,
        }
    }

    pub fn files(&self) -> &ClientTlsFiles {
        &self.files
    }

    /// The rustls configuration, for a client that is not reqwest (a benchmark's minimal
    /// HTTP client); `None` when no TLS flag is set.
    pub fn rustls_config(&self) -> Option<&ClientConfig> {
        self.config.as_ref()
    }
}

fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        tracing::warn!("no system CA certificates found: pass --tls-ca");
    }
    roots
}

fn webpki_verifier(roots: RootCertStore) -> Result<Arc<dyn ServerCertVerifier>, TlsError> {
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(verifier)
}

/// Verifies servers against the CA in `--tls-ca`, re-read when the file changes.
struct ReloadingVerifier {
    ca: PathBuf,
    inner: Reloading<Arc<dyn ServerCertVerifier>>,
}

impl fmt::Debug for ReloadingVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingVerifier")
            .field("ca", &self.ca)
            .finish_non_exhaustive()
    }
}

impl ReloadingVerifier {
    fn load(ca: PathBuf) -> Result<ReloadingVerifier, TlsError> {
        let inner = webpki_verifier(pem::roots("tls-ca", &ca)?)?;
        Ok(ReloadingVerifier {
            inner: Reloading::new(vec![ca.clone()], inner),
            ca,
        })
    }

    fn current(&self) -> Arc<dyn ServerCertVerifier> {
        let current = self.inner.get("TLS CA", || {
            pem::roots("tls-ca", &self.ca).and_then(webpki_verifier)
        });
        Arc::clone(&current)
    }
}

impl ServerCertVerifier for ReloadingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.current().verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.current().supported_verify_schemes()
    }
}

/// Presents the certificate in `--tls-client-cert`, re-read when it or its key changes.
struct ReloadingClientCert {
    cert: PathBuf,
    key: PathBuf,
    current: Reloading<CertifiedKey>,
}

impl fmt::Debug for ReloadingClientCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingClientCert")
            .field("cert", &self.cert)
            .finish_non_exhaustive()
    }
}

fn certified_key(cert: &std::path::Path, key: &std::path::Path) -> Result<CertifiedKey, TlsError> {
    let chain = pem::certificates("tls-client-cert", cert)?;
    let key_der = pem::private_key("tls-client-key", key)?;
    let signing = provider()
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| TlsError::file("tls-client-key", key, e))?;
    Ok(CertifiedKey::new(chain, signing))
}

impl ReloadingClientCert {
    fn load(cert: PathBuf, key: PathBuf) -> Result<ReloadingClientCert, TlsError> {
        let current = certified_key(&cert, &key)?;
        Ok(ReloadingClientCert {
            current: Reloading::new(vec![cert.clone(), key.clone()], current),
            cert,
            key,
        })
    }
}

impl ResolvesClientCert for ReloadingClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.current.get("TLS client certificate", || {
            certified_key(&self.cert, &self.key)
        }))
    }

    fn has_certs(&self) -> bool {
        true
    }
}
