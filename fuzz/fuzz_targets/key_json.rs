//! Key JSON: `ctlstore_reader::json::key_from_array` (`ldb-read-key --key-json`) and `key_part`
//! (the sidecar's `{"key": [{"value": ..} | {"binary": ..}]}`), which are pure.
//!
//! Invariants:
//! - an accepted key has one part per element; a refusal names an element that exists;
//! - numbers become integers only when whole and in range; `null`, arrays and objects without a
//!   value are refused;
//! - round trip: each accepted part, written back in the sidecar's form (`{"value": n}`,
//!   `{"value": "s"}`, `{"binary": "<base64>"}`), is accepted as the same key, through both
//!   entry points.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ctlstore_reader::Key;
use ctlstore_reader::json::{key_from_array, key_part};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value as Json, json};

fn to_json(key: &Key) -> Json {
    match key {
        Key::Int(i) => json!({"value": i}),
        Key::Text(s) => json!({"value": s}),
        Key::Bytes(b) => json!({"binary": STANDARD.encode(b)}),
    }
}

fn check_part(i: usize, part: &Json, key: &Key) {
    // What the element was decides what it may become.
    let value = match part {
        Json::Object(o) => match o.get("binary").or_else(|| o.get("Binary")) {
            Some(Json::String(_)) => {
                assert!(matches!(key, Key::Bytes(_)), "binary wins: #{i}");
                return;
            }
            _ => o.get("value").or_else(|| o.get("Value")),
        },
        v => Some(v),
    };
    match (value, key) {
        (Some(Json::String(s)), Key::Text(t)) => assert_eq!(s, t),
        (Some(Json::Bool(b)), Key::Int(n)) => assert_eq!(i64::from(*b), *n),
        (Some(Json::Number(n)), Key::Int(k)) => {
            if let Some(exact) = n.as_i64() {
                assert_eq!(exact, *k);
            } else {
                let f = n.as_f64().expect("a number");
                assert!(f.fract() == 0.0, "{n} accepted as {k}");
                assert_eq!(f, *k as f64, "{n} accepted as {k}");
            }
        }
        (v, k) => panic!("element #{i} {v:?} became {k:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<Json>(data) else {
        return;
    };
    let parts: Vec<Json> = match json {
        Json::Array(a) => a,
        Json::Object(mut o) => match o.remove("key") {
            Some(Json::Array(a)) => a,
            _ => return,
        },
        other => vec![other],
    };
    match key_from_array(&parts) {
        Ok(key) => {
            assert_eq!(key.len(), parts.len());
            for (i, (part, k)) in parts.iter().zip(&key).enumerate() {
                check_part(i, part, k);
            }
            let again: Vec<Json> = key.iter().map(to_json).collect();
            assert_eq!(key_from_array(&again).as_ref(), Ok(&key), "round trip");
            for (i, (k, j)) in key.iter().zip(&again).enumerate() {
                let via_part = key_part(i, j.get("value"), j.get("binary").and_then(Json::as_str));
                assert_eq!(via_part.as_ref(), Ok(k), "key_part agrees");
            }
        }
        Err(e) => {
            assert!(e.index < parts.len(), "the error names an element");
            assert!(!e.reason.is_empty());
            for refused in [Json::Null, json!([]), json!({})] {
                assert!(key_part(0, Some(&refused), None).is_err());
            }
        }
    }
});
