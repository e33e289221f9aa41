//! The OpenAPI 3.0 document, generated from [`crate::routes::ROUTES`] (the route list the
//! router is tested against), so a route cannot exist without being documented.
//!
//! It declares every constraint the server enforces that OpenAPI 3.0 can express, from the
//! constants that enforce them: name patterns and lengths ([`NameKind`]), the field types
//! ([`TYPE_MAP`]), the mutation, cookie, body and page limits. Generated clients then validate
//! before sending, and a schema-driven fuzzer's valid inputs are accepted. What it cannot
//! express (a key's arity and types depend on the table) is said in descriptions.

use ctlstore_schema::limits::{
    MAX_COOKIE_BYTES, MAX_MUTATIONS_PER_REQUEST, MAX_REQUEST_BODY_BYTES,
};
use ctlstore_schema::{MAX_INDEX_FIELDS, NameKind, TYPE_MAP};
use serde_json::{Map, Value, json};

use crate::routes::ROUTES;
use crate::routes::query_limits::{LEDGER_DEFAULT, LEDGER_MAX, ROWS_DEFAULT, ROWS_MAX};

/// What one operation does, accepts and answers.
struct Doc {
    summary: &'static str,
    body: Option<Value>,
    ok: Value,
    errors: &'static [u16],
    writer_auth: bool,
    admin: bool,
    /// Query parameters: name, description and schema (or `content`, for JSON-encoded values).
    query: Vec<Value>,
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

/// A query parameter whose value is JSON text (OpenAPI's `content` form).
fn json_query(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description,
        "content": {"application/json": {"schema": schema}}})
}

/// The body limit, said on every operation that takes a body.
fn body_limit_text() -> String {
    format!(
        "At most {MAX_REQUEST_BODY_BYTES} bytes (1 MiB): a larger declared Content-Length is answered 417, a larger streamed body 413."
    )
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn json_body(schema: Value) -> Value {
    json!({"required": true, "description": body_limit_text(), "content": {"application/json": {"schema": schema}}})
}

fn raw_body(description: &str, content_type: &str, schema: Value) -> Value {
    json!({"required": true, "description": format!("{description} {}", body_limit_text()), "content": {content_type: {"schema": schema}}})
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
        query: Vec::new(),
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
            Some(json_body(reference("NewFields"))),
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
        ("GET", "/families/{familyName}/tables/{tableName}/indexes") => d(
            "List a table's secondary indexes.",
            None,
            json_ok(reference("IndexList")),
            &[400, 401, 404],
            true,
        ),
        ("POST", "/families/{familyName}/tables/{tableName}/indexes") => d(
            "Create a secondary index: appends CREATE [UNIQUE] INDEX to the ledger. A unique index the rows already break is a 409.",
            Some(json_body(reference("IndexDefinition"))),
            empty_ok(),
            &[400, 401, 404, 409],
            true,
        ),
        ("DELETE", "/families/{familyName}/tables/{tableName}/indexes/{indexName}") => d(
            "Drop a secondary index: appends DROP INDEX IF EXISTS to the ledger.",
            None,
            empty_ok(),
            &[400, 401, 404],
            true,
        ),
        ("POST", "/tables") => d(
            "Create several tables, in order; stops at the first error.",
            Some(json_body(
                json!({"type": "array", "items": reference("NamedTableDefinition")}),
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
                Some(raw_body(
                    "The cookie (raw bytes).",
                    "application/octet-stream",
                    json!({"type": "string", "format": "binary", "maxLength": MAX_COOKIE_BYTES}),
                )),
                empty_ok(),
                &[400, 401],
                false,
            )
        },
        ("POST", "/writers/{writerName}") => d(
            "Register a writer; the raw body is its secret. Idempotent for the same secret.",
            Some(raw_body(
                "The secret: UTF-8 text.",
                "text/plain",
                NameKind::Secret.json_schema(),
            )),
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
            query: vec![
                query(
                    "after",
                    "Return entries with a greater seq (default 0).",
                    json!({"type": "integer", "format": "int64", "minimum": 0, "default": 0}),
                ),
                query(
                    "limit",
                    &format!("At most this many entries (default {LEDGER_DEFAULT})."),
                    json!({"type": "integer", "minimum": 1, "maximum": LEDGER_MAX, "default": LEDGER_DEFAULT}),
                ),
                query(
                    "wait",
                    "When none are newer, wait up to this long for one: milliseconds, or a Go duration (`500ms`, `1m30s`); capped at the executive's maximum (60 s by default).",
                    json!({"type": "string", "pattern": GO_DURATION_OR_MILLIS}),
                ),
                query(
                    "families",
                    "Only these families or tables, comma-separated (`alpha,beta/users`), plus the heartbeat's family; never more than the client's identity may read. A filtered page carries `through`.",
                    json!({"type": "string"}),
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
            query: vec![
                query(
                    "after",
                    "Start after this seq (default 0).",
                    json!({"type": "integer", "format": "int64", "minimum": 0, "default": 0}),
                ),
                query(
                    "families",
                    "Only these families or tables, comma-separated (`alpha,beta/users`), plus the heartbeat's family; never more than the client's identity may read. A filtered page carries `through`.",
                    json!({"type": "string"}),
                ),
            ],
            ..d(
                "Ledger entries after a seq as newline-delimited JSON, followed forever; an idle stream sends a `{\"head\": N}` line every second.",
                None,
                json!({"description": "A stream of LedgerEntry lines.", "content": {"application/x-ndjson": {"schema": reference("LedgerEntry")}}}),
                &[400],
                false,
            )
        },
        ("GET", "/ledger/access") => d(
            "What the feed sends this client (ours): `{\"identity\": its client certificate's identity or null, \"families\": \"*\" or [\"family\", \"family/table\", ...]}`. A reflector checks a snapshot against it before bootstrapping from it.",
            None,
            json_ok(
                json!({"type": "object", "properties": {"identity": {"type": "string", "nullable": true}, "families": {}}}),
            ),
            &[],
            false,
        ),
        ("POST", "/ledger/prune") => d(
            "Prune the ledger once (ours): delete the entries below the horizon, the lower of what `retention` keeps (a Go duration or a number of entries) and the oldest snapshot at `snapshotUrl` minus `margin` entries. Settings default to the executive's `--ledger-retention`, `--snapshot-url` and `--ledger-retention-margin`; `dryRun` only says what would go. Followers below the horizon are then answered 410 by the feed.",
            Some(
                json!({"required": false, "description": body_limit_text(), "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {
                "dryRun": {"type": "boolean", "default": false},
                "retention": {"type": "string", "description": "A Go duration (`168h`) or a number of entries (`1000000`)."},
                "snapshotUrl": {"type": "string"},
                "margin": {"type": "integer", "format": "int64", "minimum": 0}}}}}}),
            ),
            json_ok(json!({"type": "object", "properties": {
                "dryRun": {"type": "boolean"}, "head": {"type": "integer"}, "horizonBefore": {"type": "integer"},
                "keepBound": {"type": "integer"}, "oldestSnapshot": {"type": "integer", "nullable": true},
                "through": {"type": "integer"}, "entries": {"type": "integer"}, "firstSeq": {"type": "integer", "nullable": true}}})),
            &[400, 401, 502, 503],
            true,
        ),
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
        ("GET", "/") => d(
            "This document, for programs; a browser (`Accept: text/html`) is redirected (302) to the console at `/ui/`.",
            None,
            json_ok(json!({"type": "object"})),
            &[],
            false,
        ),
        ("GET", "/docs") => d(
            "Swagger UI for this document, served from the binary (its assets under `/docs/`; no CDN).",
            None,
            json!({"description": "An HTML page.", "content": {"text/html": {"schema": {"type": "string"}}}}),
            &[],
            false,
        ),
        ("GET", "/families") => d(
            "Every family and how many tables it has, sorted by name.",
            None,
            json_ok(reference("FamilyList")),
            &[401],
            true,
        ),
        ("GET", "/families/{familyName}/tables") => d(
            "A family's tables: schema, last measured size (null before the first measurement) and effective size limits, sorted by name.",
            None,
            json_ok(reference("TableList")),
            &[400, 401, 404],
            true,
        ),
        ("GET", "/families/{familyName}/tables/{tableName}/rows") => Doc {
            query: vec![
                json_query(
                    "key",
                    "One row by its whole key: a JSON array of the key values in key order (a bare value for a one-column key). Integers as numbers, strings as strings, bytestrings as standard base64. Excludes `prefix`, `limit` and `after`.",
                    reference("Key"),
                ),
                json_query(
                    "prefix",
                    "A page of the rows whose key starts with these values (the leading key fields, in key order); absent or `[]` for the whole table.",
                    reference("KeyPrefix"),
                ),
                query(
                    "limit",
                    &format!("Rows per page (default {ROWS_DEFAULT})."),
                    json!({"type": "integer", "minimum": 1, "maximum": ROWS_MAX, "default": ROWS_DEFAULT}),
                ),
                query(
                    "after",
                    "The `next` cursor of the previous page (opaque).",
                    json!({"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}),
                ),
            ],
            ..d(
                "Rows of the ctldb's copy of a table, read after every acknowledged write: one row by `key` (`{\"row\": {...}}`), or a page in key order (`{\"rows\": [...], \"next\": cursor | null}`). Binary and bytestring values come back as standard base64. A bad `key`, `prefix`, `limit` or `after` is 400 naming it; a missing row is 404 with `field: key`.",
                None,
                json_ok(json!({"oneOf": [reference("RowAnswer"), reference("RowPage")]})),
                &[400, 401, 404],
                true,
            )
        },
        ("GET", "/writers") => d(
            "Every writer's name, sorted (never a secret).",
            None,
            json_ok(reference("WriterList")),
            &[401],
            true,
        ),
        ("DELETE", "/writers/{writerName}") => d(
            "Remove a writer with its rate limit and usage counters.",
            None,
            empty_ok(),
            &[400, 401, 404],
            true,
        ),
        _ => d("Undocumented.", None, empty_ok(), &[], false),
    }
}

/// `wait`: milliseconds or a Go duration, each bounded so that anything this allows parses
/// (the server caps the wait anyway).
const GO_DURATION_OR_MILLIS: &str = "^([0-9]{1,9}|[0-9]{1,6}(\\.[0-9]{1,9})?(ns|us|µs|ms|s|m|h)([0-9]{1,6}(\\.[0-9]{1,9})?(ns|us|µs|ms|s|m|h))?)$";

/// A rate limit's period as Go duration text: not zero (a leading non-zero digit), and within
/// Go's range (at most two parts of at most 999999.999999999 hours each, so any text this
/// allows parses). The server reads any Go duration; this is the part a client can generate
/// without knowing Go's range.
const GO_DURATION: &str = "^[1-9][0-9]{0,5}(\\.[0-9]{1,9})?(ns|us|µs|ms|s|m|h)([0-9]{1,6}(\\.[0-9]{1,9})?(ns|us|µs|ms|s|m|h))?$";

/// Standard base64 of at most `bytes` bytes.
fn base64_of(bytes: usize) -> Value {
    json!({"type": "string", "format": "byte", "maxLength": bytes.div_ceil(3) * 4,
        "pattern": "^[A-Za-z0-9+/]*={0,2}$"})
}

fn components() -> Value {
    let field_types: Vec<&str> = TYPE_MAP.iter().map(|t| t.api_name).collect();
    let key_types: Vec<&str> = TYPE_MAP
        .iter()
        .filter(|t| t.key_allowed)
        .map(|t| t.api_name)
        .collect();
    let index_types: Vec<&str> = TYPE_MAP
        .iter()
        .filter(|t| t.field_type.index_allowed())
        .map(|t| t.api_name)
        .collect();
    let key_value = json!({
        "description": format!("One key value: an integer for an integer field, a string for a string field, standard base64 for a bytestring field (key fields are of the types {}).", key_types.join(", ")),
        "anyOf": [{"type": "integer", "format": "int64"}, {"type": "string"}]});
    let mut schemas = json!({
            "Error": {"type": "object", "required": ["error"], "properties": {
                "error": {"type": "string"},
                "field": {"type": "string", "description": "The request field the error is about."}}},
            "FamilyName": NameKind::Family.json_schema(),
            "TableName": NameKind::Table.json_schema(),
            "FieldName": NameKind::Field.json_schema(),
            "IndexName": NameKind::Index.json_schema(),
            "IndexDefinition": {"type": "object", "required": ["name", "fields"], "additionalProperties": false, "properties": {
                "name": {"$ref": "#/components/schemas/IndexName"},
                "fields": {"type": "array", "minItems": 1, "maxItems": MAX_INDEX_FIELDS, "uniqueItems": true, "items": {"$ref": "#/components/schemas/FieldName"},
                    "description": format!("The indexed fields, in order; of the types {}.", index_types.join(", "))},
                "unique": {"type": "boolean", "default": false}},
                "example": {"name": "by_email", "fields": ["email"], "unique": false}},
            "IndexList": {"type": "object", "required": ["family", "table", "indexes"], "properties": {
                "family": {"$ref": "#/components/schemas/FamilyName"},
                "table": {"$ref": "#/components/schemas/TableName"},
                "indexes": {"type": "array", "items": {"$ref": "#/components/schemas/IndexDefinition"}}}},
            "WriterName": NameKind::Writer.json_schema(),
            "FieldType": {"type": "string", "enum": field_types},
            "FieldPair": {"type": "array", "minItems": 2, "maxItems": 2,
                "items": {"anyOf": [{"$ref": "#/components/schemas/FieldName"}, {"$ref": "#/components/schemas/FieldType"}]},
                "description": format!("[name, type]: a field name, then one of {}. (OpenAPI 3.0 cannot say which item is which.) Names are unique within a table.", field_types.join(", ")),
                "example": ["name", "string"]},
            "TableDefinition": {"type": "object", "required": ["fields", "keyFields"], "properties": {
                "fields": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/FieldPair"}},
                "keyFields": {"type": "array", "minItems": 1, "uniqueItems": true, "items": {"$ref": "#/components/schemas/FieldName"},
                    "description": format!("The primary key, in order: names of fields of the types {}.", key_types.join(", "))}},
                "example": {"fields": [["name", "string"], ["enabled", "integer"]], "keyFields": ["name"]}},
            "NamedTableDefinition": {"allOf": [{"$ref": "#/components/schemas/TableDefinition"},
                {"type": "object", "required": ["family", "name"], "properties": {
                    "family": {"$ref": "#/components/schemas/FamilyName"}, "name": {"$ref": "#/components/schemas/TableName"}}}]},
            "NewFields": {"type": "object", "required": ["fields"], "properties": {
                "fields": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/FieldPair"}},
                "keyFields": {"type": "array", "description": "Ignored: the key cannot change.", "items": {"type": "string"}}}},
            "Table": {"type": "object", "required": ["family", "name", "fields", "keyFields"], "properties": {
                "family": {"type": "string"}, "name": {"type": "string"},
                "fields": {"type": "array", "items": {"$ref": "#/components/schemas/FieldPair"}},
                "keyFields": {"type": "array", "items": {"type": "string"}}}},
            "FieldValue": {"nullable": true, "anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}],
                "description": "A field's value: a string (string, text; standard base64 for binary and bytestring), a number (integer, decimal) or null; a key field cannot be null. string is at most 191 characters, bytestring 255 bytes, any value 512 KiB."},
            "Mutation": {"type": "object", "required": ["table", "values"], "properties": {
                "table": {"$ref": "#/components/schemas/TableName"},
                "delete": {"type": "boolean", "description": "Delete the row with the key in `values` (other fields ignored); otherwise upsert the whole row (every field)."},
                "values": {"type": "object", "minProperties": 1, "additionalProperties": {"$ref": "#/components/schemas/FieldValue"},
                    "description": "Field name to value."}}},
            "MutationRequest": {"type": "object", "required": ["mutations"], "properties": {
                "cookie": {"allOf": [base64_of(MAX_COOKIE_BYTES)], "nullable": true, "description": "The writer's new cookie (standard base64)."},
                "check_cookie": {"allOf": [base64_of(MAX_COOKIE_BYTES)], "nullable": true, "description": "Apply only if the writer's cookie is this (409 otherwise)."},
                "mutations": {"type": "array", "minItems": 1, "maxItems": MAX_MUTATIONS_PER_REQUEST, "items": {"$ref": "#/components/schemas/Mutation"}}}},
    });
    let more = json!({
            "Key": {"description": "A whole key: its values in key order; a bare value for a one-column key.",
                "anyOf": [{"type": "array", "minItems": 1, "items": key_value.clone()}, key_value.clone()]},
            "KeyPrefix": {"type": "array", "items": key_value, "description": "The leading key values, in key order (at most the key's length)."},
            "Row": {"type": "object", "additionalProperties": true,
                "description": "Column name to value: null, a number, a string, or (binary, bytestring) standard base64."},
            "RowAnswer": {"type": "object", "required": ["row"], "properties": {"row": {"$ref": "#/components/schemas/Row"}}},
            "RowPage": {"type": "object", "required": ["rows", "next"], "properties": {
                "rows": {"type": "array", "items": {"$ref": "#/components/schemas/Row"}},
                "next": {"type": "string", "nullable": true, "description": "The cursor for `after` on the next page; null on the last page."}}},
            "FamilyList": {"type": "object", "required": ["families"], "properties": {
                "families": {"type": "array", "items": {"type": "object", "required": ["name", "tables"], "properties": {
                    "name": {"type": "string"}, "tables": {"type": "integer"}}}}}},
            "TableList": {"type": "object", "required": ["family", "tables"], "properties": {
                "family": {"type": "string"},
                "tables": {"type": "array", "items": {"type": "object", "required": ["name", "fields", "keyFields", "sizeBytes", "maxSize", "warnSize"], "properties": {
                    "name": {"type": "string"},
                    "fields": {"type": "array", "items": {"$ref": "#/components/schemas/FieldPair"}},
                    "keyFields": {"type": "array", "items": {"type": "string"}},
                    "sizeBytes": {"type": "integer", "nullable": true, "description": "The table sizer's last measurement; null before the first."},
                    "maxSize": {"type": "integer"}, "warnSize": {"type": "integer"}}}}}},
            "WriterList": {"type": "object", "required": ["writers"], "properties": {
                "writers": {"type": "array", "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}}},
    });
    let limits = json!({
            "LedgerEntry": {"type": "object", "required": ["seq", "leader_ts", "statement"], "properties": {
                "seq": {"type": "integer"}, "leader_ts": {"type": "string", "example": "2026-11-25 10:00:00"},
                "statement": {"type": "string"}}},
            "LedgerPage": {"type": "object", "required": ["entries", "head"], "properties": {
                "entries": {"type": "array", "items": {"$ref": "#/components/schemas/LedgerEntry"}},
                "head": {"type": "integer"},
                "through": {"type": "integer", "description": "On a filtered feed: the seq this page carries the follower to."}}},
            "SizeLimit": {"type": "object", "required": ["max-size", "warn-size"], "description": "Bytes; warn-size must not exceed max-size.", "properties": {
                "max-size": {"type": "integer", "format": "int64", "minimum": 0}, "warn-size": {"type": "integer", "format": "int64", "minimum": 0}}},
            "TableLimits": {"type": "object", "properties": {
                "global": {"$ref": "#/components/schemas/SizeLimit"},
                "tables": {"type": "array", "nullable": true, "items": {"type": "object", "properties": {
                    "family": {"type": "string"}, "table": {"type": "string"},
                    "max-size": {"type": "integer"}, "warn-size": {"type": "integer"}}}}}},
            "RateLimit": {"type": "object", "required": ["amount", "period"], "properties": {
                "amount": {"type": "number", "minimum": 0, "description": "Rows per period (fractions are truncated)."},
                "period": {"description": "A Go duration (\"1m\", \"1h30m\") or nanoseconds; greater than zero.",
                    "oneOf": [{"type": "string", "pattern": GO_DURATION}, {"type": "integer", "format": "int64", "minimum": 1}]}}},
            "WriterLimits": {"type": "object", "properties": {
                "global": {"$ref": "#/components/schemas/RateLimit"},
                "writers": {"type": "array", "nullable": true, "items": {"type": "object", "properties": {
                    "writer": {"type": "string"}, "rate-limit": {"$ref": "#/components/schemas/RateLimit"}}}}}}
    });
    if let Some(all) = schemas.as_object_mut() {
        for part in [more, limits] {
            if let Value::Object(part) = part {
                all.extend(part);
            }
        }
    }
    json!({
        "schemas": schemas,
        "securitySchemes": {
            "writer": {"type": "apiKey", "in": "header", "name": "ctlstore-secret",
                "description": "With the writer's name in the ctlstore-writer header."},
            "admin": {"type": "http", "scheme": "bearer", "description": "Only when the executive runs with an admin token."}
        }
    })
}

/// The routes that answer without the ctldb (every other one can answer 503).
const WITHOUT_CTLDB: &[&str] = &[
    "/status",
    "/metrics",
    "/openapi.json",
    "/healthz",
    "/",
    "/docs",
];

/// A path parameter: the name rules of its kind.
fn path_parameter(name: &str) -> Value {
    let kind = match name {
        "familyName" => NameKind::Family,
        "tableName" => NameKind::Table,
        "indexName" => NameKind::Index,
        _ => NameKind::Writer,
    };
    json!({"name": name, "in": "path", "required": true, "schema": kind.json_schema()})
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for (method, path) in ROUTES {
        let d = doc(method, path);
        let mut parameters: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(path_parameter)
            .collect();
        parameters.extend(d.query);
        if d.writer_auth {
            parameters.push(json!({"name": "ctlstore-writer", "in": "header", "required": true, "schema": NameKind::Writer.json_schema()}));
        }
        let takes_body = d.body.is_some();
        let mut responses = Map::new();
        responses.insert("200".into(), d.ok);
        for code in d.errors {
            responses.insert(
                code.to_string(),
                json!({"description": "Error", "content": {"application/json": {"schema": reference("Error")}}}),
            );
        }
        if takes_body {
            for (code, text) in [
                (413, "The body streamed past the limit (1 MiB)."),
                (
                    417,
                    "The declared Content-Length is over the limit (1 MiB): ctlstore's `Request too large`.",
                ),
            ] {
                responses.insert(
                    code.to_string(),
                    json!({"description": text, "content": {"application/json": {"schema": reference("Error")}}}),
                );
            }
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
            "description": format!("ctlstore's write API (compatible with Segment's ctlstore), the ledger feed, and reads through the executive. Request bodies are at most {MAX_REQUEST_BODY_BYTES} bytes (1 MiB; 417 or 413 past it); a batch holds 1 to {MAX_MUTATIONS_PER_REQUEST} mutations; a cookie is at most {MAX_COOKIE_BYTES} bytes. Errors are JSON `{{\"error\": ..., \"field\": ...}}`.")},
        "x-ctlstore-limits": {"maxRequestBodyBytes": MAX_REQUEST_BODY_BYTES, "maxMutationsPerRequest": MAX_MUTATIONS_PER_REQUEST, "maxCookieBytes": MAX_COOKIE_BYTES},
        "paths": paths,
        "components": components(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_and_every_reference_resolves() {
        let doc = document();
        for (method, path) in ROUTES {
            assert_ne!(
                doc["paths"][path][method.to_ascii_lowercase()]["summary"],
                "Undocumented.",
                "{method} {path}"
            );
        }
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for (i, _) in text.match_indices("#/components/schemas/") {
            let rest = &text[i + "#/components/schemas/".len()..];
            let name: String = rest.chars().take_while(|c| *c != '"').collect();
            assert!(schemas.contains_key(&name), "dangling $ref {name}");
        }
    }

    /// The extremes the duration patterns allow parse, and a period is never zero.
    #[test]
    fn documented_durations_parse() {
        let widest = "999999.999999999h999999.999999999h";
        for text in ["1m", "1h30m", "1.5s", "500ms", "1µs", widest] {
            let d = ctlstore_duration::parse(text).expect(text);
            assert!(!d.is_zero(), "{text}");
        }
        for text in ["0", "999999999", "0s", widest] {
            assert!(
                ctlstore_duration::parse(text).is_ok() || text.parse::<u64>().is_ok(),
                "{text}"
            );
        }
        assert!(
            GO_DURATION.starts_with("^[1-9]"),
            "a period's first digit is not zero"
        );
    }

    #[test]
    fn constraints_come_from_the_enforcing_constants() {
        let doc = document();
        let s = &doc["components"]["schemas"];
        assert_eq!(
            s["MutationRequest"]["properties"]["mutations"]["maxItems"],
            MAX_MUTATIONS_PER_REQUEST
        );
        assert_eq!(s["FamilyName"]["maxLength"], NameKind::Family.bounds().1);
        assert_eq!(
            s["FamilyName"]["pattern"],
            NameKind::Family.pattern().unwrap_or_default()
        );
        assert_eq!(
            s["FieldType"]["enum"].as_array().map(Vec::len),
            Some(TYPE_MAP.len())
        );
        let create = &doc["paths"]["/families/{familyName}"]["post"]["parameters"][0]["schema"];
        assert_eq!(create["minLength"], NameKind::Family.bounds().0);
    }
}
