//! The sidecar's OpenAPI 3.0 document, generated from [`crate::routes::ROUTES`] (the table the
//! router is built from), so a route cannot be served without being documented. Same spirit as
//! the executive's (`ctlstore_executive::openapi`): one `doc` per operation, shared schemas in
//! `components`.

use ctlstore_reader::NameKind;
use serde_json::{Map, Value, json};

use crate::routes::ROUTES;

/// What one operation accepts and answers.
struct Doc {
    summary: &'static str,
    body: Option<Value>,
    responses: Vec<(u16, Value)>,
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn json_response(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn error(description: &str) -> Value {
    json_response(description, reference("Error"))
}

fn empty(description: &str) -> Value {
    json!({"description": description})
}

fn key_body() -> Value {
    json!({"required": true, "content": {"application/json": {
        "schema": reference("KeyRequest"),
        "example": {"key": [{"value": "a"}, {"value": 1}]}}}})
}

fn bad_request() -> (u16, Value) {
    (
        400,
        error(
            "The body is not `{\"key\": [...]}`, a key part is of the wrong type, or the family or table name is invalid; `field` names what.",
        ),
    )
}

fn unavailable() -> (u16, Value) {
    (
        503,
        error("The LDB is missing or has not applied a ledger entry yet."),
    )
}

/// A family, table or index name in a path: ctlstore's rule (`^[a-z][a-z0-9_]*$` without `__`, upper
/// case accepted and lower-cased), pattern and lengths from the schema crate.
fn name_parameter(name: &str) -> Value {
    let kind = match name {
        "familyName" => NameKind::Family,
        "indexName" => NameKind::Index,
        _ => NameKind::Table,
    };
    json!({"name": name, "in": "path", "required": true, "schema": kind.json_schema()})
}

/// A read of several rows by leading values (of the key or of an index).
fn rows_doc(summary: &'static str, not_found: &'static str) -> Doc {
    Doc {
        summary,
        body: Some(key_body()),
        responses: vec![
            (
                200,
                json_response(
                    "The rows (`[]` when none).",
                    json!({"type": "array", "items": reference("Row")}),
                ),
            ),
            bad_request(),
            (404, error(not_found)),
            (
                416,
                empty("More rows than the sidecar's `max-rows` (empty body)."),
            ),
            unavailable(),
        ],
    }
}

fn doc(method: &str, path: &str) -> Doc {
    match (method, path) {
        ("POST", "/get-row-by-key/{familyName}/{tableName}") => Doc {
            summary: "The row with this primary key.",
            body: Some(key_body()),
            responses: vec![
                (
                    200,
                    json_response(
                        "The row: column to value (bytes as base64).",
                        reference("Row"),
                    ),
                ),
                bad_request(),
                (
                    404,
                    // ctlstore's answer for a missing row has no body and no content type; OpenAPI
                    // 3.0 cannot say "empty, or JSON", so the rarer JSON form (no such table) is
                    // described in words.
                    json!({
                        "description": "No such row: an empty body with `X-Ctlstore: Not Found`. No such table: a JSON `Error` instead (`field`: `table`), without the header.",
                        "headers": {"X-Ctlstore": {"description": "`Not Found` when the table exists but the row does not.", "schema": {"type": "string", "enum": ["Not Found"]}}}
                    }),
                ),
                unavailable(),
            ],
        },
        ("POST", "/get-rows-by-key-prefix/{familyName}/{tableName}") => rows_doc(
            "The rows whose primary key starts with these parts, in key order (an empty key: every row).",
            "No such table.",
        ),
        ("POST", "/get-rows-by-index/{familyName}/{tableName}/{indexName}") => rows_doc(
            "The rows whose first fields of the secondary index equal these parts, in index order (an empty key: every row). The index is one the executive made.",
            "No such table or index.",
        ),
        ("GET", "/feed") => Doc {
            summary: "What the host's change feed holds (docs/watch.md): `since` (every batch after it is held), `newest`, `changes` (rows held; the reflector's -change-feed bounds it) and `bootstrapped` (the snapshot's seq, or null).",
            body: None,
            responses: vec![
                (
                    200,
                    json_response(
                        "The retention.",
                        json!({"type": "object", "required": ["since", "newest", "changes", "bootstrapped"], "properties": {
                            "since": {"type": "integer"}, "newest": {"type": "integer"}, "changes": {"type": "integer"},
                            "bootstrapped": {"type": "integer", "nullable": true}}}),
                    ),
                ),
                (
                    404,
                    error("The LDB has no change feed (its reflector runs without -change-feed)."),
                ),
            ],
        },
        ("GET", "/watch/{familyName}/{tableName}") => Doc {
            summary: "The host's change feed for a table as NDJSON (docs/watch.md): one line per applied batch, keepalives every 10 s; query `after=SEQ` (default: now) and `prefix=JSON array`. Needs the reflector's -change-feed.",
            body: None,
            responses: vec![
                (
                    200,
                    json!({"description": "A stream of JSON lines.", "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}),
                ),
                bad_request(),
            ],
        },
        ("GET", "/get-ledger-latency") => Doc {
            summary: "How long ago the last applied ledger entry was written.",
            body: None,
            responses: vec![
                (200, json_response("The latency.", reference("Latency"))),
                unavailable(),
            ],
        },
        ("GET", "/healthcheck") | ("GET", "/ping") | ("GET", "/healthz") => Doc {
            summary: "Healthy once the LDB has applied a ledger entry (empty body).",
            body: None,
            responses: vec![(200, empty("Healthy (empty body).")), unavailable()],
        },
        ("GET", "/metrics") => Doc {
            summary: "Prometheus metrics.",
            body: None,
            responses: vec![(
                200,
                json!({"description": "Prometheus text format.", "content": {"text/plain": {"schema": {"type": "string"}}}}),
            )],
        },
        ("GET", "/openapi.json") => Doc {
            summary: "This document.",
            body: None,
            responses: vec![(
                200,
                json_response("The OpenAPI document.", json!({"type": "object"})),
            )],
        },
        ("GET", "/docs") => Doc {
            summary: "Swagger UI for this document, served from the binary (its assets under `/docs/`; no CDN).",
            body: None,
            responses: vec![(
                200,
                json!({"description": "An HTML page.", "content": {"text/html": {"schema": {"type": "string"}}}}),
            )],
        },
        _ => Doc {
            summary: "Undocumented.",
            body: None,
            responses: vec![(200, empty("OK"))],
        },
    }
}

fn components() -> Value {
    json!({
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {
                "error": {"type": "string"},
                "field": {"type": "string", "description": "The request part the error is about (`key`, `family`, `table`, a key field)."}}},
            "KeyPart": {
                "description": "One key field, in primary-key order: a value (a string; an integral number or a boolean for an integer key) or bytes as standard base64. `binary` wins when both are given. Go's capitalised `Value`/`Binary` are accepted too.",
                "anyOf": [
                    {"type": "object", "required": ["value"], "properties": {
                        "value": {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}}},
                    {"type": "object", "required": ["binary"], "properties": {
                        "binary": {"type": "string", "format": "byte"}}}
                ]},
            "KeyRequest": {"type": "object", "required": ["key"], "properties": {
                "key": {"type": "array", "items": {"$ref": "#/components/schemas/KeyPart"}}}},
            "Row": {"type": "object", "additionalProperties": true,
                "description": "Column name to value: null, a number, a string, or bytes as standard base64."},
            "Latency": {"type": "object", "required": ["value", "unit"], "properties": {
                "value": {"type": "number"}, "unit": {"type": "string", "enum": ["seconds"]}}}
        }
    })
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let d = doc(route.method, route.path);
        let parameters: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(name_parameter)
            .collect();
        let responses: Map<String, Value> = d
            .responses
            .into_iter()
            .map(|(code, r)| (code.to_string(), r))
            .collect();
        let mut op =
            json!({"summary": d.summary, "parameters": parameters, "responses": responses});
        if let Some(body) = d.body {
            op["requestBody"] = body;
        }
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        entry[route.method.to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "ctlstore sidecar", "version": env!("CARGO_PKG_VERSION"),
            "description": "ctlstore's HTTP read API over a host's LDB (compatible with Segment's ctlstore sidecar)."},
        "paths": paths,
        "components": components(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_once() {
        let doc = document();
        let paths = doc["paths"].as_object().expect("paths");
        let operations: usize = paths
            .values()
            .map(|ops| ops.as_object().map_or(0, |o| o.len()))
            .sum();
        assert_eq!(operations, ROUTES.len());
        for route in ROUTES {
            let op = &paths[route.path][route.method.to_ascii_lowercase()];
            assert_ne!(
                op["summary"], "Undocumented.",
                "{} {}",
                route.method, route.path
            );
            for seg in route.path.split('/').filter(|s| s.starts_with('{')) {
                let name = seg.trim_matches(|c| c == '{' || c == '}');
                assert!(
                    op["parameters"]
                        .as_array()
                        .is_some_and(|ps| ps.iter().any(|p| p["name"] == name)),
                    "{} lacks its {name} parameter",
                    route.path
                );
            }
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for (i, _) in text.match_indices("#/components/schemas/") {
            let rest = &text[i + "#/components/schemas/".len()..];
            let name: String = rest.chars().take_while(|c| *c != '"').collect();
            assert!(schemas.contains_key(&name), "dangling $ref {name}");
        }
    }
}
