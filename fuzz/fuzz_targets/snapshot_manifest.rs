//! Snapshot manifests: `Manifest::from_json`, the parse and checks restore applies to
//! `<key>.d/<seq>.json` before it downloads anything. The first 8 bytes of the input are the seq
//! the manifest is named by; the rest is the manifest's text.
//!
//! Invariants:
//! - no panic, whatever the text;
//! - an accepted manifest has this build's format, the seq it is named by, and SHA-256 digests
//!   of 64 lower-case hex digits;
//! - it serialises and reads back as the same manifest (under the same name), and is refused
//!   under any other name;
//! - a manifest that serde reads but that is refused is refused with a reason.
#![no_main]

use ctlstore_snapshot::Manifest;
use libfuzzer_sys::fuzz_target;

fn lower_hex_64(s: &str) -> bool {
    s.len() == 64 && s.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
}

fuzz_target!(|data: &[u8]| {
    let Some((name, text)) = data.split_first_chunk::<8>() else {
        return;
    };
    let named = i64::from_le_bytes(*name);
    // Mostly test the manifest's own seq as its name: otherwise nearly every input is refused.
    let named = match serde_json::from_slice::<serde_json::Value>(text) {
        Ok(v) if named % 4 != 0 => v["seq"].as_i64().unwrap_or(named),
        _ => named,
    };
    match Manifest::from_json(text, named) {
        Ok(m) => {
            assert_eq!(m.format, 1);
            assert_eq!(m.seq, named);
            assert!(lower_hex_64(&m.sha256_object), "{m:?}");
            assert!(lower_hex_64(&m.sha256_ldb), "{m:?}");
            let again = serde_json::to_vec(&m).expect("serialise");
            assert_eq!(Manifest::from_json(&again, named).as_ref(), Ok(&m));
            if let Some(other) = named.checked_add(1) {
                assert!(Manifest::from_json(&again, other).is_err());
            }
        }
        Err(why) => assert!(!why.is_empty()),
    }
});
