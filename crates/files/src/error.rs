//! `FilesError`: what stops `materialize` or `store`.

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("reading rows: {0}")]
    Rows(String),
    #[error("executive: {0}")]
    Executive(#[from] ctlstore_client::ClientError),
    #[error("{0}")]
    Invalid(String),
}

impl FilesError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> FilesError {
        FilesError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
