//! Reading certificates and keys from PEM files, with errors naming the flag and the file.

use std::path::Path;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::TlsError;

/// Every certificate in `path` (a chain: leaf first); at least one.
pub(crate) fn certificates(
    flag: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsError::file(flag, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::file(flag, path, e))?;
    if certs.is_empty() {
        return Err(TlsError::file(flag, path, "holds no PEM certificate"));
    }
    Ok(certs)
}

/// The private key in `path`. The error never quotes the file's contents.
pub(crate) fn private_key(
    flag: &'static str,
    path: &Path,
) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        let reason = match e {
            rustls::pki_types::pem::Error::NoItemsFound => "holds no PEM private key".to_string(),
            rustls::pki_types::pem::Error::Io(io) => io.to_string(),
            _ => "is not a PEM private key".to_string(),
        };
        TlsError::file(flag, path, reason)
    })
}

/// A root store of every certificate in `path`.
pub(crate) fn roots(flag: &'static str, path: &Path) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for cert in certificates(flag, path)? {
        store.add(cert).map_err(|e| TlsError::file(flag, path, e))?;
    }
    Ok(store)
}
