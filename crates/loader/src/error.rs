//! `LoaderError`: whether the loader should try again (the source or the executive is away)
//! or stop and say why (data it cannot load without losing something).

#[derive(Debug, thiserror::Error)]
pub enum LoaderError {
    /// Retrying cannot fix it: the loader halts, stays up, and reports this on `/healthz`.
    #[error("{0}")]
    Halt(String),
    /// The executive refused a request (after retrying what can be retried).
    #[error("executive: {0}")]
    Executive(#[from] ctlstore_client::ClientError),
    /// The source is unreachable or broke off; the loader reconnects and resumes from its
    /// cookie.
    #[error("source: {0}")]
    Source(String),
    /// The source is held by another loader (a PostgreSQL slot in use): wait.
    #[error("{0}")]
    Busy(String),
    /// A flag or the configuration file is wrong: exit at startup.
    #[error("{0}")]
    Config(String),
}
