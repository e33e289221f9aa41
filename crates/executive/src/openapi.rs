//! The OpenAPI 3.0 document, generated from [`crate::routes::ROUTES`] (the route list the
//! router is tested against), so a route cannot exist without being documented.

use serde_json::{Map, Value, json};

use crate::routes::ROUTES;

/// What one operation does, accepts and answers.
struct Doc {
    summary: &'static str,
    body: Option<Value>,
    ok: Value,
    errors: &'static [u16],
    writer_auth: bool,
    admin: bool,
    query: &'static [(&'static str, &'static str)],
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn json_body(schema: Value) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": schema}}})
}

fn raw_body(description: &str) -> Value {
    json!({"required": true, "description": description, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}})
}

fn empty_ok() -> Value {
    json!({"description": "Done (empty body)."})
}

fn json_ok(schema: Value) -> Value {
    json!({"description": "OK", "content": {"application/json": {"schema": schema}}})
}

fn doc(method: &str, path: &str) -> Doc {
    let d = |summary, body, ok, errors, admin| Doc {
        summary,
        body,
        ok,
        errors,
        writer_auth: false,
        admin,
        query: &[],
    };
    match (method, path) {
        ("POST", "/families/{familyName}") => {
            d("Create a family.", None, empty_ok(), &[400, 401, 409], true)
        }
        ("POST", "/families/{familyName}/tables/{tableName}") => d(
            "Create a table.",
            Some(json_body(reference("TableDefinition"))),
            empty_ok(),
            &[400, 401, 404, 409],
            true,
        ),
        ("PUT", "/families/{familyName}/tables/{tableName}") => d(
            "Add fields to a table.",
            Some(json_body(reference("TableDefinition"))),
            empty_ok(),
            &[400, 401, 404, 409],
            true,
        ),
        ("DELETE", "/families/{familyName}/tables/{tableName}") => d(
            "Drop a table (needs destructive changes enabled).",
            None,
            empty_ok(),
            &[400, 401, 404],
            true,
        ),
        ("POST", "/tables") => d(
            "Create several tables, in order; stops at the first error.",
            Some(json_body(
                json!({"type": "array", "items": reference("Table")}),
            )),
            empty_ok(),
            &[400, 401, 404, 409],
            true,
        ),
        ("POST", "/families/{familyName}/mutations") => Doc {
            writer_auth: true,
            ..d(
                "Apply a batch of mutations atomically and append it to the ledger.",
                Some(json_body(reference("MutationRequest"))),
                empty_ok(),
                &[400, 401, 404, 409, 413, 417, 429, 507],
                false,
            )
        },
        ("GET", "/cookie") => Doc {
            writer_auth: true,
            ..d(
                "Read the writer's cookie (raw bytes).",
                None,
                json!({"description": "The cookie bytes.", "content": {"application/octet-stream": {}}}),
                // 400: a writer header that is not a valid writer name.
                &[400, 401],
                false,
            )
        },
        ("POST", "/cookie") => Doc {
            writer_auth: true,
            ..d(
                "Set the writer's cookie (raw body, at most 1024 bytes).",
                Some(raw_body("The cookie.")),
                empty_ok(),
                &[400, 401],
                false,
            )
        },
        ("POST", "/writers/{writerName}") => d(
            "Register a writer; the raw body is its secret. Idempotent for the same secret.",
            Some(raw_body("The secret, 3-100 characters.")),
            empty_ok(),
            &[400, 409],
            false,
        ),
        ("GET", "/schema/table/{familyName}/{tableName}") => d(
            "A table's schema.",
            None,
            json_ok(reference("Table")),
            &[400, 404],
            false,
        ),
        ("GET", "/schema/family/{familyName}") => d(
            "The schemas of a family's tables (null when it has none).",
            None,
            json_ok(json!({"type": "array", "nullable": true, "items": reference("Table")})),
            &[400],
            false,
        ),
        ("GET", "/limits/tables") => d(
            "Table size limits.",
            None,
            json_ok(reference("TableLimits")),
            &[],
            false,
        ),
        ("POST", "/limits/tables/{familyName}/{tableName}") => d(
            "Set a table's size limits.",
            Some(json_body(reference("SizeLimit"))),
            empty_ok(),
            &[400, 401, 404],
            true,
        ),
        ("DELETE", "/limits/tables/{familyName}/{tableName}") => d(
            "Remove a table's size limits.",
            None,
            empty_ok(),
            &[400, 401, 404],
            true,
        ),
        ("GET", "/limits/writers") => d(
            "Writer rate limits.",
            None,
            json_ok(reference("WriterLimits")),
            &[],
            false,
        ),
        ("POST", "/limits/writers/{writerName}") => d(
            "Set a writer's rate limit.",
            Some(json_body(reference("RateLimit"))),
            empty_ok(),
            &[400, 401, 404],
            true,
        ),
        ("DELETE", "/limits/writers/{writerName}") => d(
            "Remove a writer's rate limit.",
            None,
            empty_ok(),
            &[400, 401, 404],
            true,
        ),
        ("DELETE", "/clear-rows/families/{familyName}") => d(
            "Delete every row of every table of a family (needs destructive changes enabled).",
            None,
            empty_ok(),
            &[400, 401, 404],
            true,
        ),
        ("DELETE", "/clear-rows/families/{familyName}/tables/{tableName}") => d(
            "Delete every row of a table (needs destructive changes enabled).",
            None,
            empty_ok(),
            &[400, 401, 404],
            true,
        ),
        ("GET", "/status") => d(
            "ctlstore's status route: 200 with an empty body while serving; it does not ask the ctldb (`/healthz` does).",
            None,
            empty_ok(),
            &[],
            false,
        ),
        ("GET", "/ledger") => Doc {
            query: &[
                ("after", "Return entries with a greater seq (default 0)."),
                (
                    "limit",
                    "At most this many entries (1-10000, default 1000).",
                ),
                (
                    "wait",
                    "When none are newer, wait up to this long for one (Go duration or milliseconds; capped).",
                ),
            ],
            ..d(
                "Ledger entries after a seq, in order; a long-poll when `wait` is given. While it waits, the body starts with one space per second (a keepalive; JSON allows leading whitespace); an error after the 200 went out is the body `{\"error\": ...}`.",
                None,
                json_ok(reference("LedgerPage")),
                &[400],
                false,
            )
        },
        ("GET", "/ledger/stream") => Doc {
            query: &[("after", "Start after this seq (default 0).")],
            ..d(
                "Ledger entries after a seq as newline-delimited JSON, followed forever; an idle stream sends a `{\"head\": N}` line every second.",
                None,
                json!({"description": "A stream of LedgerEntry lines.", "content": {"application/x-ndjson": {"schema": reference("LedgerEntry")}}}),
                &[400],
                false,
            )
        },
        ("GET", "/healthz") => d(
            "Healthy when the ctldb answers and every background task runs: `{\"status\": \"ok\", \"ctldb\": \"up\", \"dialect\": ..., \"ledger_head\": seq}`; else 503 with `\"status\": \"unhealthy\"`, `\"ctldb\": \"down\"` or `\"stopped_task\"`, and `\"error\"`.",
            None,
            json_ok(json!({"type": "object"})),
            &[503],
            false,
        ),
        ("GET", "/metrics") => d(
            "Prometheus metrics.",
            None,
            json!({"description": "Prometheus text format.", "content": {"text/plain": {}}}),
            &[],
            false,
        ),
        ("GET", "/openapi.json") => d(
            "This document.",
            None,
            json_ok(json!({"type": "object"})),
            &[],
            false,
        ),
        _ => d("Undocumented.", None, empty_ok(), &[], false),
    }
}

fn components() -> Value {
    json!({
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {
                "error": {"type": "string"},
                "field": {"type": "string", "description": "The request field the error is about."}}},
            "FieldPair": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "string"},
                "description": "[name, type]; type is one of string, bytestring, integer, decimal, text, binary."},
            "TableDefinition": {"type": "object", "properties": {
                "fields": {"type": "array", "items": {"$ref": "#/components/schemas/FieldPair"}},
                "keyFields": {"type": "array", "items": {"type": "string"}}}},
            "Table": {"type": "object", "required": ["family", "name", "fields", "keyFields"], "properties": {
                "family": {"type": "string"}, "name": {"type": "string"},
                "fields": {"type": "array", "items": {"$ref": "#/components/schemas/FieldPair"}},
                "keyFields": {"type": "array", "items": {"type": "string"}}}},
            "Mutation": {"type": "object", "required": ["table", "values"], "properties": {
                "table": {"type": "string"}, "delete": {"type": "boolean"},
                "values": {"type": "object", "additionalProperties": true,
                    "description": "Field values; binary and bytestring values as standard base64."}}},
            "MutationRequest": {"type": "object", "required": ["mutations"], "properties": {
                "cookie": {"type": "string", "format": "byte", "nullable": true},
                "check_cookie": {"type": "string", "format": "byte", "nullable": true},
                "mutations": {"type": "array", "maxItems": 100, "items": {"$ref": "#/components/schemas/Mutation"}}}},
            "LedgerEntry": {"type": "object", "required": ["seq", "leader_ts", "statement"], "properties": {
                "seq": {"type": "integer"}, "leader_ts": {"type": "string", "example": "2026-11-25 10:00:00"},
                "statement": {"type": "string"}}},
            "LedgerPage": {"type": "object", "required": ["entries", "head"], "properties": {
                "entries": {"type": "array", "items": {"$ref": "#/components/schemas/LedgerEntry"}},
                "head": {"type": "integer"}}},
            "SizeLimit": {"type": "object", "required": ["max-size", "warn-size"], "properties": {
                "max-size": {"type": "integer"}, "warn-size": {"type": "integer"}}},
            "TableLimits": {"type": "object", "properties": {
                "global": {"$ref": "#/components/schemas/SizeLimit"},
                "tables": {"type": "array", "nullable": true, "items": {"type": "object", "properties": {
                    "family": {"type": "string"}, "table": {"type": "string"},
                    "max-size": {"type": "integer"}, "warn-size": {"type": "integer"}}}}}},
            "RateLimit": {"type": "object", "required": ["amount", "period"], "properties": {
                "amount": {"type": "number"},
                "period": {"description": "Go duration text (\"1m\") or nanoseconds.", "oneOf": [{"type": "string"}, {"type": "integer"}]}}},
            "WriterLimits": {"type": "object", "properties": {
                "global": {"$ref": "#/components/schemas/RateLimit"},
                "writers": {"type": "array", "nullable": true, "items": {"type": "object", "properties": {
                    "writer": {"type": "string"}, "rate-limit": {"$ref": "#/components/schemas/RateLimit"}}}}}}
        },
        "securitySchemes": {
            "writer": {"type": "apiKey", "in": "header", "name": "ctlstore-secret",
                "description": "With the writer's name in the ctlstore-writer header."},
            "admin": {"type": "http", "scheme": "bearer", "description": "Only when the executive runs with an admin token."}
        }
    })
}

/// The routes that answer without the ctldb (every other one can answer 503).
const WITHOUT_CTLDB: &[&str] = &["/status", "/metrics", "/openapi.json", "/healthz"];

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for (method, path) in ROUTES {
        let d = doc(method, path);
        let mut parameters: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        for (name, description) in d.query {
            parameters.push(json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}}));
        }
        if d.writer_auth {
            parameters.push(json!({"name": "ctlstore-writer", "in": "header", "required": true, "schema": {"type": "string"}}));
        }
        let mut responses = Map::new();
        responses.insert("200".into(), d.ok);
        for code in d.errors {
            responses.insert(
                code.to_string(),
                json!({"description": "Error", "content": {"application/json": {"schema": reference("Error")}}}),
            );
        }
        if !WITHOUT_CTLDB.contains(path) {
            responses.insert(
                "503".into(),
                json!({
                    "description": "The ctldb is unavailable (`\"field\": \"ctldb\"`) or the handler timed out: retry after `Retry-After` seconds. Answered within about a second of the ctldb going away.",
                    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                    "content": {"application/json": {"schema": reference("Error")}},
                }),
            );
        }
        let mut op =
            json!({"summary": d.summary, "parameters": parameters, "responses": responses});
        if let Some(body) = d.body {
            op["requestBody"] = body;
        }
        if d.writer_auth {
            op["security"] = json!([{"writer": []}]);
        } else if d.admin {
            op["security"] = json!([{"admin": []}, {}]);
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[method.to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "ctlstore executive", "version": env!("CARGO_PKG_VERSION"),
            "description": "ctlstore's write API (compatible with Segment's ctlstore) and the ledger feed."},
        "paths": paths,
        "components": components(),
    })
}
