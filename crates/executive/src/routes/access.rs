//! Who may call which route: the admin token (ctlstore's operators' routes), and with
//! `--acl-file` the ACL rules for the client certificate's identity (`acl.rs`).
//!
//! [`need`] is the one table from a route to what it needs. Writes (mutations, cookies) are
//! checked in their handlers, where the writer is known ([`check_write`]); the ledger feed
//! is filtered by what the identity may read rather than refused (`feed.rs`).

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ctlstore_ledger::Scopes;
use ctlstore_tls::PeerIdentity;

use crate::acl::{Operation, Target};
use crate::error::ApiError;
use crate::metrics::ACL_DENIALS;
use crate::state::{AppState, Inner};

/// What a route needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Need {
    /// Anyone who got through TLS.
    Open,
    /// `operation` on `target`; `token`: without an ACL file, the admin token (when one is
    /// configured) guards it, as before ACLs existed.
    Rule {
        operation: Operation,
        target: Target,
        token: bool,
    },
    /// `POST /writers/{w}`: open without an ACL (as ctlstore); with one, `admin` on `*`, or a
    /// client registering the writer named as its own certificate's identity.
    RegisterWriter(String),
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

/// What `method` on the route `template` needs, given its path parameters.
pub(crate) fn need(method: &Method, template: &str, params: &[(String, String)]) -> Need {
    let family = || param(params, "familyName").to_lowercase();
    let table = || Target::Table(family(), param(params, "tableName").to_lowercase());
    let rule = |operation, target, token| Need::Rule {
        operation,
        target,
        token,
    };
    let get = method == Method::GET;
    match template {
        "/families/{familyName}" => rule(Operation::Admin, Target::Family(family()), true),
        "/families/{familyName}/tables/{tableName}"
        | "/limits/tables/{familyName}/{tableName}"
        | "/clear-rows/families/{familyName}/tables/{tableName}"
        | "/families/{familyName}/tables/{tableName}/indexes/{indexName}" => {
            rule(Operation::Admin, table(), true)
        }
        "/families/{familyName}/tables/{tableName}/indexes" if get => {
            rule(Operation::Read, table(), true)
        }
        "/families/{familyName}/tables/{tableName}/indexes" => {
            rule(Operation::Admin, table(), true)
        }
        "/clear-rows/families/{familyName}" => {
            rule(Operation::Admin, Target::Family(family()), true)
        }
        "/tables" | "/limits/writers/{writerName}" | "/writers" | "/ledger/prune" => {
            rule(Operation::Admin, Target::Global, true)
        }
        "/writers/{writerName}" if method == Method::POST => {
            Need::RegisterWriter(param(params, "writerName").to_string())
        }
        "/writers/{writerName}" => rule(Operation::Admin, Target::Global, true),
        "/families" => rule(Operation::Read, Target::Global, true),
        "/families/{familyName}/tables" => rule(Operation::Read, Target::Family(family()), true),
        "/families/{familyName}/tables/{tableName}/rows" => rule(Operation::Read, table(), true),
        "/schema/table/{familyName}/{tableName}" => {
            let target = Target::Table(family(), param(params, "tableName").to_lowercase());
            rule(Operation::Read, target, false)
        }
        "/schema/family/{familyName}" => rule(Operation::Read, Target::Family(family()), false),
        "/limits/tables" | "/limits/writers" => rule(Operation::Read, Target::Global, false),
        _ => Need::Open,
    }
}

/// Whether the request carries the configured admin token (compared in constant time).
fn has_admin_token(s: &Inner, request: &Request) -> bool {
    let Some(token) = &s.config.admin_token else {
        return false;
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    presented.is_some_and(|p| {
        p.len() == token.len()
            && p.bytes()
                .zip(token.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    })
}

/// A request the ACL refuses: answered 403 naming who, what and where, so an operator can
/// write the rule (and counted in metrics).
#[derive(Debug)]
pub(crate) struct Denial {
    identity: Option<String>,
    operation: Operation,
    target: Target,
}

impl Denial {
    fn new(identity: Option<&str>, operation: Operation, target: Target) -> Denial {
        Denial {
            identity: identity.map(str::to_string),
            operation,
            target,
        }
    }
}

impl IntoResponse for Denial {
    fn into_response(self) -> Response {
        let operation = self.operation.as_str();
        metrics::counter!(ACL_DENIALS, "operation" => operation).increment(1);
        let who = self
            .identity
            .as_deref()
            .unwrap_or("(no client certificate)");
        tracing::info!(identity = who, operation, scope = %self.target, "ACL denied");
        let body = serde_json::json!({
            "error": format!("{who} may not {operation} {}", self.target),
            "identity": self.identity,
            "scope": self.target.to_string(),
            "operation": operation,
        });
        (StatusCode::FORBIDDEN, Json(body)).into_response()
    }
}

/// The middleware: the admin token, then the ACL.
pub(crate) async fn authorize(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let s = &state.0;
    // Neither an ACL nor a token: every route is open, as in ctlstore; nothing to look up.
    if s.acl.is_none() && s.config.admin_token.is_none() {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let params: Vec<(String, String)> = RawPathParams::from_request_parts(&mut parts, &state)
        .await
        .map(|p| {
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default();
    let request = Request::from_parts(parts, body);
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let template = matched.as_ref().map(|m| m.as_str()).unwrap_or_default();
    let (operation, target, token, own_writer) = match need(request.method(), template, &params) {
        Need::Open => return next.run(request).await,
        Need::Rule {
            operation,
            target,
            token,
        } => (operation, target, token, None),
        Need::RegisterWriter(writer) => (Operation::Admin, Target::Global, false, Some(writer)),
    };
    if has_admin_token(s, &request) {
        return next.run(request).await;
    }
    let Some(acl) = &s.acl else {
        if token && s.config.admin_token.is_some() {
            return ApiError::unauthorized(
                "this route needs the admin token (Authorization: Bearer ...)",
            )
            .with_field("Authorization")
            .into_response();
        }
        return next.run(request).await;
    };
    let identity = request
        .extensions()
        .get::<PeerIdentity>()
        .map(|i| i.0.clone());
    let allowed = identity.as_deref().is_some_and(|id| {
        own_writer.as_deref() == Some(id) || acl.rules().allows(id, operation, &target)
    });
    if !allowed {
        return Denial::new(identity.as_deref(), operation, target).into_response();
    }
    next.run(request).await
}

/// With an ACL, that `writer` may write every table in `tables` of `family` (a 403 for the
/// first it may not); without one, nothing to check.
pub(crate) fn check_write(
    s: &Inner,
    writer: &str,
    family: &str,
    tables: &BTreeSet<String>,
) -> Result<(), Denial> {
    let Some(acl) = &s.acl else {
        return Ok(());
    };
    let rules = acl.rules();
    for table in tables {
        let target = Target::Table(family.to_string(), table.clone());
        if !rules.allows(writer, Operation::Write, &target) {
            return Err(Denial::new(Some(writer), Operation::Write, target));
        }
    }
    Ok(())
}

/// With an ACL, that `writer` may write somewhere (its cookie belongs to no family).
pub(crate) fn check_cookie(s: &Inner, writer: &str) -> Result<(), Denial> {
    match &s.acl {
        Some(acl) if !acl.rules().grants_any(writer, Operation::Write) => {
            Err(Denial::new(Some(writer), Operation::Write, Target::Global))
        }
        _ => Ok(()),
    }
}

/// What the feed sends `identity`: everything without an ACL; else what its rules let it read
/// plus the heartbeat's family (unless a rule governs that family).
pub(crate) fn readable(s: &Inner, identity: Option<&str>) -> Scopes {
    match &s.acl {
        None => Scopes::All,
        Some(acl) => acl
            .rules()
            .readable(identity, s.config.heartbeat_family.as_deref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route is classified on purpose: only these are open to any TLS client (writes and
    /// the feed are checked in their handlers). A new route must be added to `need`, or here.
    #[test]
    fn every_route_needs_what_it_should() {
        const OPEN: &[(&str, &str)] = &[
            ("POST", "/families/{familyName}/mutations"),
            ("GET", "/cookie"),
            ("POST", "/cookie"),
            ("GET", "/status"),
            ("GET", "/ledger"),
            ("GET", "/ledger/stream"),
            ("GET", "/ledger/access"),
            ("GET", "/healthz"),
            ("GET", "/metrics"),
            ("GET", "/openapi.json"),
            ("GET", "/"),
            ("GET", "/docs"),
        ];
        let params: Vec<(String, String)> = [
            ("familyName", "Fam"),
            ("tableName", "Tbl"),
            ("writerName", "w"),
            ("indexName", "i"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (method, path) in super::super::ROUTES {
            let method = Method::from_bytes(method.as_bytes()).expect("method");
            let got = need(&method, path, &params);
            let open = OPEN.contains(&(method.as_str(), *path));
            assert_eq!(got == Need::Open, open, "{method} {path}: {got:?}");
        }
        // Names in paths are case-insensitive, as the routes treat them.
        assert_eq!(
            need(
                &Method::DELETE,
                "/families/{familyName}/tables/{tableName}",
                &params
            ),
            Need::Rule {
                operation: Operation::Admin,
                target: Target::Table("fam".into(), "tbl".into()),
                token: true,
            }
        );
        assert_eq!(
            need(
                &Method::GET,
                "/families/{familyName}/tables/{tableName}/indexes",
                &params
            ),
            Need::Rule {
                operation: Operation::Read,
                target: Target::Table("fam".into(), "tbl".into()),
                token: true,
            }
        );
        assert_eq!(
            need(&Method::POST, "/writers/{writerName}", &params),
            Need::RegisterWriter("w".into())
        );
    }
}
