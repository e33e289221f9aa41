//! The TLS flags (defined once, in `ctlstore_tls::flags`) and their errors as flag errors.

pub use ctlstore_tls::{TlsClientFlags, TlsServerFlags};

use super::FlagError;

/// A TLS file problem as the flag error that stops the process at startup.
pub fn flag_error(e: ctlstore_tls::TlsError) -> FlagError {
    match e {
        ctlstore_tls::TlsError::File { flag, path, reason } => {
            FlagError::new(flag, format!("{}: {reason}", path.display()))
        }
        ctlstore_tls::TlsError::Missing { flag, with } => {
            FlagError::new(flag, format!("is needed with --{with}"))
        }
        ctlstore_tls::TlsError::Config(reason) => FlagError::new("tls-cert", reason),
    }
}
