//! The TLS flags every server and every client takes (docs/security.md), defined once here
//! for the `ctlstore` binary, the operators' commands and `ctlstore-cli` (feature `flags`).

use std::path::PathBuf;

use clap::Args;

use crate::{ClientTls, ClientTlsFiles, ServerTls, ServerTlsFiles, TlsError};

/// A server's TLS: off unless `--tls-cert` and `--tls-key` are given.
#[derive(Args, Debug, Default, Clone)]
pub struct TlsServerFlags {
    /// Serve HTTPS with this certificate chain (PEM, leaf first). Reloaded when the file
    /// changes or on SIGHUP.
    #[arg(long, value_name = "PATH")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "PATH")]
    pub tls_key: Option<PathBuf>,
    /// Require clients to present a certificate this CA (PEM) signed: mutual TLS. The
    /// certificate's identity (its first URI SAN, else its CN) is what --acl-file rules name.
    #[arg(long, value_name = "PATH")]
    pub tls_client_ca: Option<PathBuf>,
}

impl TlsServerFlags {
    /// The loaded configuration, `None` without `--tls-cert`; a bad file stops the process
    /// at startup, naming the flag and the file.
    pub fn load(&self) -> Result<Option<ServerTls>, TlsError> {
        let files = ServerTlsFiles::from_flags(
            self.tls_cert.clone(),
            self.tls_key.clone(),
            self.tls_client_ca.clone(),
        )?;
        files.map(ServerTls::load).transpose()
    }
}

/// A client's TLS: whom to trust and who to be.
#[derive(Args, Debug, Default, Clone)]
pub struct TlsClientFlags {
    /// Trust servers whose certificate this CA (PEM) signed, instead of the system's roots.
    #[arg(long, global = true, value_name = "PATH")]
    pub tls_ca: Option<PathBuf>,
    /// Present this certificate (PEM) to servers that ask (mutual TLS). Reloaded when the
    /// file changes or on SIGHUP.
    #[arg(long, global = true, value_name = "PATH")]
    pub tls_client_cert: Option<PathBuf>,
    /// The private key of --tls-client-cert (PEM).
    #[arg(long, global = true, value_name = "PATH")]
    pub tls_client_key: Option<PathBuf>,
}

impl TlsClientFlags {
    pub fn load(&self) -> Result<ClientTls, TlsError> {
        let files = ClientTlsFiles::from_flags(
            self.tls_ca.clone(),
            self.tls_client_cert.clone(),
            self.tls_client_key.clone(),
        )?;
        ClientTls::load(files)
    }
}
