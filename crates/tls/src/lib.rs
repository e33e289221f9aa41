//! TLS for every connection ctlstore owns (docs/security.md).
//!
//! - [`ServerTls`]: a server's certificate and key (`--tls-cert`, `--tls-key`) and, with
//!   `--tls-client-ca`, mutual TLS: a client certificate signed by that CA is required. The
//!   [`ServerTls::current`] configuration is rebuilt when one of the files changes or the
//!   process gets SIGHUP, so a rotated certificate is served to new connections while open ones
//!   keep theirs.
//! - [`ClientTls`]: a client's CA (`--tls-ca`) and certificate (`--tls-client-cert`,
//!   `--tls-client-key`) for reqwest; the certificate and the CA are reloaded the same way.
//! - [`identity_of`]: a client certificate's identity, its first URI SAN or else its subject
//!   CN; servers hand it to handlers as a [`PeerIdentity`] request extension.
//!
//! One crypto provider, aws-lc-rs, is passed explicitly everywhere, so nothing depends on a
//! process-wide default.

mod client;
mod error;
#[cfg(feature = "flags")]
mod flags;
mod identity;
mod pem;
mod reload;
mod server;

pub use client::{ClientTls, ClientTlsFiles};
pub use error::TlsError;
#[cfg(feature = "flags")]
pub use flags::{TlsClientFlags, TlsServerFlags};
pub use identity::{PeerIdentity, identity_of};
pub use reload::{RELOAD_CHECK_INTERVAL, Reloading, listen_for_sighup, sighup_generation};
pub use server::{ServerTls, ServerTlsFiles};

/// The crypto provider every configuration here uses.
pub(crate) fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}
