//! The one place where errors become HTTP responses: a status and a JSON body
//! `{"error": "...", "field": "..."}`. ctlstore's 2xx and 4xx codes are kept; the cases it
//! answers with 500 although the request was at fault get the right 4xx here.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ctlstore_ctldb::CtldbError;
use serde_json::json;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            field: None,
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
            | CtldbError::Unsupported { .. } => StatusCode::BAD_REQUEST,
            CtldbError::FamilyNotFound(_)
            | CtldbError::TableNotFound(_)
            | CtldbError::LimitNotFound(_) => StatusCode::NOT_FOUND,
            CtldbError::FamilyExists
            | CtldbError::TableExists
            | CtldbError::ColumnExists(_)
            | CtldbError::WriterExists
            | CtldbError::CookieConflict => StatusCode::CONFLICT,
            CtldbError::WriterNotFound => StatusCode::UNAUTHORIZED,
            CtldbError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            CtldbError::Database(db) => return database_error(db, &e),
            CtldbError::Commit(_) => {
                tracing::warn!(error = %e, "ctldb commit failed");
                StatusCode::SERVICE_UNAVAILABLE
            }
            CtldbError::InvalidUrl(_) | CtldbError::SchemaTooNew { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let field = e.field().map(String::from);
        ApiError {
            status,
            message: e.to_string(),
            field,
        }
    }
}

/// A data or constraint error from the database is the request's fault (400); a connection
/// problem means the ctldb is unavailable (503: writes fail fast, readers carry on); anything
/// else is ours (500, logged).
fn database_error(db: &sqlx::Error, e: &CtldbError) -> ApiError {
    match db {
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.to_string()).unwrap_or_default();
            if code.starts_with("22") || code.starts_with("23") {
                return ApiError::bad_request(format!(
                    "the ctldb refused the data: {}",
                    d.message()
                ));
            }
            tracing::error!(error = %e, "ctldb error");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal ctldb error")
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => {
            tracing::warn!(error = %e, "ctldb unavailable");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "ctldb unavailable")
        }
        _ => {
            tracing::error!(error = %e, "ctldb error");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal ctldb error")
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match &self.field {
            Some(f) => json!({"error": self.message, "field": f}),
            None => json!({"error": self.message}),
        };
        (self.status, axum::Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
