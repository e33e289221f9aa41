use std::path::PathBuf;

/// A TLS file that cannot be used, named with its flag and path. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("--{flag} {}: {reason}", .path.display())]
    File {
        flag: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("--{flag} is needed with --{with}")]
    Missing {
        flag: &'static str,
        with: &'static str,
    },
    #[error("TLS configuration: {0}")]
    Config(String),
}

impl TlsError {
    pub(crate) fn file(flag: &'static str, path: &std::path::Path, reason: impl ToString) -> Self {
        TlsError::File {
            flag,
            path: path.to_path_buf(),
            reason: reason.to_string(),
        }
    }
}
