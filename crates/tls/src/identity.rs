//! The identity a client certificate carries.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The verified identity of the client on a mutual-TLS connection, put in each request's
/// extensions by the server. Absent on plain connections and when no certificate was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity(pub Arc<str>);

impl PeerIdentity {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A certificate's identity: its first URI subject alternative name when it has one (SPIFFE
/// IDs, `spiffe://example.org/reflector`), else its subject's common name. `None` when it has
/// neither or cannot be parsed.
pub fn identity_of(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, parsed) = X509Certificate::from_der(cert.as_ref()).ok()?;
    if let Ok(Some(san)) = parsed.subject_alternative_name() {
        let uri = san.value.general_names.iter().find_map(|name| match name {
            GeneralName::URI(uri) => Some(uri.to_string()),
            _ => None,
        });
        if uri.is_some() {
            return uri;
        }
    }
    parsed
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string)
        .filter(|cn| !cn.is_empty())
}
