//! `ClientError`: what can go wrong talking to the executive, one variant per thing the caller
//! can do something about: the executive refused (fix the request; its status, message and
//! field say how), it could not be reached (check the URL or retry), or it answered something
//! this client does not understand (a version mismatch).

use reqwest::Response;

/// An error from a call to the executive.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The executive answered with an error status. `message` and `field` are its JSON body's
    /// `error` and `field` (`{"error": "...", "field": "..."}`); a body that is not that JSON
    /// (a proxy's page, ctlstore's plain-text errors) is the message as is.
    #[error("{message} (HTTP {status}{})", field.as_deref().map(|f| format!(", field {f}")).unwrap_or_default())]
    Api {
        status: u16,
        message: String,
        field: Option<String>,
        /// Seconds from a `Retry-After` header (a 503 while the ctldb is down).
        retry_after: Option<u64>,
    },
    /// No answer: the executive could not be reached, the connection broke or timed out.
    #[error("{what}: {reason}")]
    Transport {
        what: String,
        reason: String,
        /// Whether the request timed out (it may still have been applied).
        timed_out: bool,
    },
    /// An answer this client cannot read (a different version of the API, or not an executive).
    #[error("{what}: unexpected answer: {reason}")]
    Protocol { what: String, reason: String },
    /// The executive URL given is not a URL.
    #[error("invalid executive URL '{url}': {reason}")]
    InvalidUrl { url: String, reason: String },
}

impl ClientError {
    /// The executive's status, for an [`ClientError::Api`] error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether retrying the same request later may succeed: no answer at all, a rate limit
    /// (429), or the executive or its ctldb unavailable (503).
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Transport { .. } => true,
            ClientError::Api { status, .. } => matches!(status, 429 | 502 | 503 | 504),
            _ => false,
        }
    }

    pub(crate) fn transport(what: &str, e: reqwest::Error) -> ClientError {
        // reqwest's Display is "error sending request"; the cause (refused, reset, DNS) is in
        // the source chain.
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            reason.push_str(": ");
            reason.push_str(&cause.to_string());
            source = cause.source();
        }
        ClientError::Transport {
            what: what.to_string(),
            reason,
            timed_out: e.is_timeout(),
        }
    }

    /// The error an error answer stands for.
    pub(crate) async fn from_answer(what: &str, response: Response) -> ClientError {
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = match response.text().await {
            Ok(body) => body,
            Err(e) => return ClientError::transport(what, e),
        };
        let (message, field) = error_body(&body, status);
        ClientError::Api {
            status,
            message,
            field,
            retry_after,
        }
    }
}

/// The message and field of an error body: the executive's JSON, or the text as it came.
pub(crate) fn error_body(body: &str, status: u16) -> (String, Option<String>) {
    let json = serde_json::from_str::<serde_json::Value>(body).ok();
    let text = |key: &str| {
        json.as_ref()
            .and_then(|j| j.get(key))
            .and_then(|v| v.as_str())
            .map(String::from)
    };
    let message = match text("error") {
        Some(message) => message,
        None if body.trim().is_empty() => format!("HTTP {status} with an empty body"),
        None => body.trim().to_string(),
    };
    (message, text("field"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_give_message_and_field() {
        assert_eq!(
            error_body(r#"{"error":"no such table","field":"table"}"#, 404),
            ("no such table".to_string(), Some("table".to_string()))
        );
        assert_eq!(
            error_body("Request too large\n", 417),
            ("Request too large".to_string(), None)
        );
        assert_eq!(
            error_body("", 404),
            ("HTTP 404 with an empty body".to_string(), None)
        );
    }

    #[test]
    fn api_errors_print_message_status_and_field() {
        let e = ClientError::Api {
            status: 404,
            message: "Family not found: x".into(),
            field: Some("family".into()),
            retry_after: None,
        };
        assert_eq!(
            e.to_string(),
            "Family not found: x (HTTP 404, field family)"
        );
        assert!(!e.is_transient());
    }
}
