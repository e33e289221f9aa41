//! Debezium change events (JSON converter, with or without the `schema` block) → changes.
//!
//! Handled: `op` `c`/`u`/`r` (upsert of `after`), `d` (delete of `before`, by key), `t`
//! (truncate); tombstones (a null value) and `m` (messages) are skipped, as Debezium means them
//! for Kafka log compaction and for other consumers. The key columns are the fields of the
//! message key (`{"id": 1}` or `{"schema":…, "payload": {"id": 1}}`); without a key, the
//! configuration's or the existing ctlstore table's. A transaction is the run of consecutive
//! events with the same `transaction.id` (or PostgreSQL `source.txId`, MySQL `source.gtid`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value as Json;

use crate::change::{Change, Op, Raw, RowChange, SourceColumn, SourceTable, TableShape, ValueKind};
use crate::types::{debezium_kind, inferred_kind};

/// One event, decoded.
#[derive(Debug)]
pub struct Event {
    pub change: Change,
    /// The source transaction, when the event says.
    pub transaction: Option<String>,
    pub committed_at: Option<SystemTime>,
}

/// Decodes events; remembers schemaless columns' kinds so a null does not change them.
#[derive(Default)]
pub struct Decoder {
    kinds: HashMap<SourceTable, HashMap<String, ValueKind>>,
}

impl Decoder {
    /// `Ok(None)` for an event with nothing to apply (a tombstone, a message, a heartbeat).
    pub fn decode(
        &mut self,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<Option<Event>, String> {
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let value: Json = serde_json::from_slice(value).map_err(|e| format!("not JSON: {e}"))?;
        let key = match key.filter(|k| !k.is_empty()) {
            Some(k) => Some(
                serde_json::from_slice::<Json>(k)
                    .map_err(|e| format!("message key is not JSON: {e}"))?,
            ),
            None => None,
        };
        self.decode_json(key.as_ref(), &value)
    }

    /// A decoded envelope; `key` as above.
    pub fn decode_json(
        &mut self,
        key: Option<&Json>,
        value: &Json,
    ) -> Result<Option<Event>, String> {
        if value.is_null() {
            return Ok(None);
        }
        let (schema, payload) = match (value.get("schema"), value.get("payload")) {
            (Some(schema), Some(payload)) => (Some(schema), payload),
            _ => (None, value),
        };
        if payload.is_null() {
            return Ok(None);
        }
        let op = payload
            .get("op")
            .and_then(Json::as_str)
            .ok_or("the event has no `op`")?;
        let source = payload
            .get("source")
            .ok_or("the event has no `source` block")?;
        let table = source_table(source)?;
        let transaction = payload
            .get("transaction")
            .and_then(|t| t.get("id"))
            .or_else(|| source.get("txId"))
            .or_else(|| source.get("gtid"))
            .filter(|v| !v.is_null())
            .map(|v| match v {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            });
        let committed_at = source
            .get("ts_ms")
            .and_then(Json::as_u64)
            .map(|ms| UNIX_EPOCH + Duration::from_millis(ms));
        let (row_op, row_field) = match op {
            "c" | "u" | "r" => (Op::Upsert, "after"),
            "d" => (Op::Delete, "before"),
            "t" => {
                return Ok(Some(Event {
                    change: Change::Truncate(table),
                    transaction,
                    committed_at,
                }));
            }
            "m" => return Ok(None),
            other => return Err(format!("unknown op '{other}'")),
        };
        let row = payload
            .get(row_field)
            .and_then(Json::as_object)
            .ok_or_else(|| format!("op '{op}' without `{row_field}`"))?;
        let key_payload = key.map(|k| match (k.get("schema"), k.get("payload")) {
            (Some(_), Some(payload)) => payload,
            _ => k,
        });
        let key_names: Vec<String> = match key_payload {
            Some(Json::Object(k)) => k.keys().cloned().collect(),
            Some(Json::Null) | None => Vec::new(),
            Some(_) => return Err("the message key is not a JSON object of key columns".into()),
        };
        let row_schema = schema
            .and_then(|s| s.get("fields"))
            .and_then(Json::as_array)
            .and_then(|fields| {
                fields
                    .iter()
                    .find(|f| f.get("field").and_then(Json::as_str) == Some(row_field))
            });
        let mut columns = Vec::new();
        let mut values = Vec::new();
        let complete = row_schema.is_some();
        match row_schema
            .and_then(|s| s.get("fields"))
            .and_then(Json::as_array)
        {
            Some(fields) => {
                for field in fields {
                    let name = field
                        .get("field")
                        .and_then(Json::as_str)
                        .ok_or("a schema field without a name")?;
                    let (kind, type_name) = debezium_kind(field);
                    columns.push(column(name, kind, type_name, &key_names));
                    values.push(Raw::Json(row.get(name).cloned().unwrap_or(Json::Null)));
                }
            }
            None => {
                let known = self.kinds.entry(table.clone()).or_default();
                for (name, value) in row {
                    let mut kind = inferred_kind(value);
                    if kind == ValueKind::Unknown {
                        kind = known.get(name).copied().unwrap_or(ValueKind::Unknown);
                    } else {
                        known.insert(name.clone(), kind);
                    }
                    columns.push(column(name, kind, "inferred".into(), &key_names));
                    values.push(Raw::Json(value.clone()));
                }
            }
        }
        let shape = Arc::new(TableShape {
            table,
            columns,
            complete,
        });
        Ok(Some(Event {
            change: Change::Row(RowChange {
                shape,
                op: row_op,
                values,
            }),
            transaction,
            committed_at,
        }))
    }
}

fn column(name: &str, kind: ValueKind, type_name: String, key_names: &[String]) -> SourceColumn {
    SourceColumn {
        name: name.to_string(),
        kind,
        max_chars: None,
        type_name,
        is_key: key_names.iter().any(|k| k == name),
    }
}

fn source_table(source: &Json) -> Result<SourceTable, String> {
    let text = |k: &str| source.get(k).and_then(Json::as_str).map(String::from);
    let name = text("table").ok_or("the event's `source` has no `table`")?;
    Ok(SourceTable {
        schema: text("schema").or_else(|| text("db")),
        name,
    })
}

/// A line of a replay file: an envelope, or `{"key": ..., "value": ...}` as a Kafka message.
pub fn split_line(line: &Json) -> (Option<&Json>, &Json) {
    if let Some(obj) = line.as_object()
        && obj.contains_key("value")
        && obj.keys().all(|k| k == "key" || k == "value")
    {
        return (obj.get("key").filter(|k| !k.is_null()), &obj["value"]);
    }
    (None, line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(event: &Event) -> &RowChange {
        match &event.change {
            Change::Row(r) => r,
            other => panic!("not a row: {other:?}"),
        }
    }

    #[test]
    fn envelopes_with_schema_give_typed_columns_and_the_key() {
        let value = json!({
            "schema": {"type": "struct", "fields": [
                {"field": "before", "type": "struct", "optional": true, "fields": []},
                {"field": "after", "type": "struct", "optional": true, "fields": [
                    {"field": "id", "type": "int32"},
                    {"field": "name", "type": "string", "optional": true},
                    {"field": "price", "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "parameters": {"scale": "2"}},
                ]},
            ]},
            "payload": {"before": null, "after": {"id": 7, "name": "é", "price": "MDk="},
                        "source": {"schema": "public", "table": "items", "txId": 501, "ts_ms": 1700000000000_u64},
                        "op": "c"}
        });
        let key = json!({"schema": {}, "payload": {"id": 7}});
        let event = Decoder::default()
            .decode_json(Some(&key), &value)
            .expect("decodes")
            .expect("an event");
        let r = row(&event);
        assert_eq!(r.op, Op::Upsert);
        assert_eq!(r.shape.table.to_string(), "public.items");
        assert_eq!(r.shape.columns[0].kind, ValueKind::Integer);
        assert!(r.shape.columns[0].is_key);
        assert_eq!(
            r.shape.columns[2].kind,
            ValueKind::ConnectDecimal { scale: 2 }
        );
        assert_eq!(event.transaction.as_deref(), Some("501"));
        assert!(event.committed_at.is_some());
    }

    #[test]
    fn schemaless_deletes_tombstones_and_truncates() {
        let mut d = Decoder::default();
        let del = json!({"before": {"id": "a", "n": 1}, "after": null, "op": "d", "source": {"db": "shop", "table": "t1"}});
        let event = d
            .decode_json(Some(&json!({"id": "a"})), &del)
            .expect("ok")
            .expect("event");
        assert_eq!(row(&event).op, Op::Delete);
        assert_eq!(row(&event).shape.table.to_string(), "shop.t1");
        assert!(d.decode(Some(b"{\"id\":1}"), None).expect("ok").is_none());
        let t = json!({"op": "t", "source": {"schema": "public", "table": "t1"}});
        assert!(matches!(
            d.decode_json(None, &t).expect("ok").expect("event").change,
            Change::Truncate(_)
        ));
        assert!(d.decode(None, Some(b"{nope")).is_err());
        assert!(
            d.decode_json(None, &json!({"op": "x", "source": {"table": "t"}}))
                .is_err()
        );
        // A null keeps the kind seen before.
        let up =
            |n: Json| json!({"after": {"id": "a", "n": n}, "op": "u", "source": {"table": "t1"}});
        d.decode_json(None, &up(json!(5))).expect("ok");
        let event = d
            .decode_json(None, &up(Json::Null))
            .expect("ok")
            .expect("event");
        assert_eq!(row(&event).shape.columns[1].kind, ValueKind::Integer);
    }

    #[test]
    fn replay_lines_may_wrap_key_and_value() {
        let line = json!({"key": {"id": 1}, "value": {"op": "c"}});
        let (key, value) = split_line(&line);
        assert_eq!(key, Some(&json!({"id": 1})));
        assert_eq!(value, &json!({"op": "c"}));
        let bare = json!({"op": "c", "after": {}});
        assert_eq!(split_line(&bare), (None, &bare));
    }
}
