//! The crate's one error type. Each variant says what went wrong in words an operator can act
//! on, and is typed so the loader can react (retry on `Io`, wait on `SlotActive`, stop on `Auth`).

/// Everything that can go wrong talking to PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The network connection failed or broke; usually worth retrying after a pause.
    #[error("the connection to PostgreSQL failed: {0}")]
    Io(#[from] std::io::Error),
    /// The server closed the connection while we were waiting for an answer.
    #[error("PostgreSQL closed the connection unexpectedly")]
    ConnectionClosed,
    /// The server sent something this client does not understand (or a server bug).
    #[error("PostgreSQL sent a message this client cannot understand: {0}")]
    Protocol(String),
    /// The server answered with an error (`ErrorResponse`).
    #[error("PostgreSQL reported an error: {message} (SQLSTATE {code}){}", detail.as_deref().map(|d| format!("; detail: {d}")).unwrap_or_default())]
    Server {
        /// The SQLSTATE, e.g. `42P01`.
        code: String,
        /// The primary message.
        message: String,
        /// The optional detail line.
        detail: Option<String>,
    },
    /// The server refused our credentials, or asked for a method this client does not speak.
    #[error("authentication with PostgreSQL failed: {0}")]
    Auth(String),
    /// Another connection is streaming from this replication slot right now.
    #[error("replication slot \"{slot}\" is in use by another connection{}; stop that consumer or wait for it to disconnect", pid.map(|p| format!(" (server process {p})")).unwrap_or_default())]
    SlotActive {
        /// The slot's name.
        slot: String,
        /// The PID of the server process holding it, when the server said.
        pid: Option<i32>,
    },
    /// The connection URL cannot be used.
    #[error("invalid PostgreSQL URL: {0}")]
    InvalidUrl(String),
    /// The request needs something this client does not implement yet (TLS, binary tuples).
    #[error("not supported by this PostgreSQL client: {0}")]
    Unsupported(String),
    /// A name (replication slot, ...) that PostgreSQL would refuse.
    #[error("invalid name: {0}")]
    InvalidName(String),
    /// A text LSN is not of the form `16/B374D848`.
    #[error(
        "invalid LSN {0:?}: expected two hexadecimal numbers separated by '/', like 16/B374D848"
    )]
    InvalidLsn(String),
}

impl SourceError {
    /// The SQLSTATE when the server reported the error.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            SourceError::Server { code, .. } => Some(code),
            _ => None,
        }
    }

    pub(crate) fn protocol(what: impl Into<String>) -> SourceError {
        SourceError::Protocol(what.into())
    }
}
