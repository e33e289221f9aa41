//! `AdminError`: why an operator command failed, printed as `error: <message>` with exit
//! status 1 (130 when interrupted). The executive's refusals keep its message, status and field
//! (`ClientError::Api`), so the operator reads what the executive said.

use ctlstore_client::ClientError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The executive refused or could not be reached.
    #[error("{0}")]
    Client(#[from] ClientError),
    /// A flag or argument that cannot be used as given.
    #[error("{0}")]
    Usage(String),
    /// A row of an input file that is not usable (`line` from 1).
    #[error("{path}: line {line}: {message}")]
    Input {
        path: String,
        line: u64,
        message: String,
    },
    /// Reading a file or the terminal failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    /// Reading the LDB failed.
    #[error("LDB {path}: {source}")]
    Reader {
        path: String,
        source: ctlstore_reader::ReaderError,
    },
    /// The sidecar refused or could not be reached.
    #[error("sidecar {url}: {message}")]
    Sidecar { url: String, message: String },
    /// What was asked for is not there (no row with that key, no such table ...).
    #[error("{0}")]
    NotFound(String),
    /// Another client changed the writer's cookie while `mutate` was loading.
    #[error("{0}")]
    Conflict(String),
    /// `status` found a part unreachable or unhealthy (the view is printed first).
    #[error("{0}")]
    Unhealthy(String),
    /// Ctrl-C or SIGTERM.
    #[error("interrupted")]
    Interrupted,
}

impl AdminError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> AdminError {
        AdminError::Io {
            what: what.into(),
            source,
        }
    }

    /// The exit status for this error: 130 (128 + SIGINT) when interrupted, as shells report
    /// it, else 1.
    pub fn exit_status(&self) -> i32 {
        match self {
            AdminError::Interrupted => 130,
            _ => 1,
        }
    }
}
