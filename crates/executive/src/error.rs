//! The one place where errors become HTTP responses: a status and a JSON body
//! `{"error": "...", "field": "..."}`. ctlstore's 2xx and 4xx codes are kept; the cases it
//! answers with 500 although the request was at fault get the right 4xx here: a database
//! constraint the data broke is a 400 (the ctldb crate classifies its own errors, for every
//! backend), a ctldb that cannot be reached (or that kept aborting the transaction after the
//! retries: deadlocks, Galera certification conflicts) a 503 with `Retry-After`, and only a fault of ours
//! or the database's a 500.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ctlstore_ctldb::CtldbError;
use serde_json::json;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub field: Option<String>,
    /// Seconds for a `Retry-After` header (503s the client should retry).
    pub retry_after: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn with_field(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, message)
    }
}

impl From<CtldbError> for ApiError {
    fn from(e: CtldbError) -> ApiError {
        let status = match &e {
            CtldbError::Name(_)
            | CtldbError::Schema(_)
            | CtldbError::CookieTooLong
            | CtldbError::TooManyMutations { .. }
            | CtldbError::NoMutations
            | CtldbError::DmlTooLarge { .. }
            | CtldbError::Unsupported { .. }
            | CtldbError::Rejected { .. } => StatusCode::BAD_REQUEST,
            CtldbError::FamilyNotFound(_)
            | CtldbError::TableNotFound(_)
            | CtldbError::IndexNotFound(_)
            | CtldbError::LimitNotFound(_) => StatusCode::NOT_FOUND,
            CtldbError::FamilyExists
            | CtldbError::TableExists
            | CtldbError::ColumnExists(_)
            | CtldbError::IndexExists(_)
            | CtldbError::Duplicate { .. }
            | CtldbError::WriterExists
            | CtldbError::CookieConflict => StatusCode::CONFLICT,
            CtldbError::WriterNotFound => StatusCode::UNAUTHORIZED,
            CtldbError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            CtldbError::Unavailable { .. } | CtldbError::Aborted { .. } => {
                tracing::warn!(error = %e, "ctldb unavailable");
                return ApiError::ctldb_unavailable(&e);
            }
            CtldbError::Internal { .. }
            | CtldbError::InvalidUrl(_)
            | CtldbError::SchemaTooNew { .. } => {
                tracing::error!(error = %e, "ctldb error");
                return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal ctldb error");
            }
        };
        let field = e.field().map(String::from);
        ApiError {
            status,
            message: e.to_string(),
            field,
            retry_after: None,
        }
    }
}

impl ApiError {
    /// 503 naming the ctldb (`"field": "ctldb"`), with `Retry-After`: writes fail fast while
    /// the ctldb is down, and the client knows to come back.
    pub fn ctldb_unavailable(e: &CtldbError) -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: e.to_string(),
            field: Some("ctldb".into()),
            retry_after: Some(RETRY_AFTER_SECONDS),
        }
    }
}

/// `Retry-After` on a 503: the ctldb is retried on every request, so a second is enough to
/// notice it is back, and short enough not to add to an outage.
pub const RETRY_AFTER_SECONDS: u32 = 1;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match &self.field {
            Some(f) => json!({"error": self.message, "field": f}),
            None => json!({"error": self.message}),
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
