//! Go-style flags: the binary's argument normaliser (`-ldb-path x` → `--ldb-path x`), Go's
//! booleans, durations and segmentio/conf lists. The module lives in the binary crate
//! (`crates/ctlstore/src/goflags.rs`) and is compiled into this target as it is.
//!
//! Invariants:
//! - `normalise` keeps the number and order of arguments; it changes an argument only by adding
//!   one `-` to a single-dash long flag (`-name`, `-a.b-c=v`); never a short flag (`-h`), a
//!   number (`-1`), a lone `-`, a `--flag`, or anything after `--`;
//! - it is idempotent;
//! - `GoDuration` prints what it parses (`to_string().parse()` is the same value);
//! - `go_bool` accepts exactly Go's twelve spellings; `list_item` never fails and returns a
//!   trimmed part of its text; `env_name` gives `CTLSTORE_` + an upper-case name.
#![no_main]

#[allow(dead_code)]
#[path = "../../crates/ctlstore/src/goflags.rs"]
mod goflags;

use goflags::{GoDuration, env_name, go_bool, list_item, normalise};
use libfuzzer_sys::fuzz_target;

const GO_BOOLS: [&str; 12] = [
    "1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False",
];

fn looks_like_long_flag(arg: &str) -> bool {
    let Some(rest) = arg.strip_prefix('-') else {
        return false;
    };
    let name = rest.split('=').next().unwrap_or(rest);
    !rest.starts_with('-')
        && name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

fuzz_target!(|args: Vec<String>| {
    let out = normalise(args.clone());
    assert_eq!(out.len(), args.len());
    let mut verbatim = false;
    for (a, o) in args.iter().zip(&out) {
        if verbatim {
            assert_eq!(a, o, "after `--` nothing changes");
            continue;
        }
        if a == "--" {
            verbatim = true;
        }
        if a == o {
            assert!(!looks_like_long_flag(a), "{a:?} should have become --");
        } else {
            assert_eq!(o, &format!("-{a}"), "only a dash is added");
            assert!(looks_like_long_flag(a), "{a:?} is not a long flag");
            assert!(!a.starts_with("--"));
        }
    }
    assert_eq!(normalise(out.clone()), out, "idempotent");

    for a in args.iter().take(4) {
        if let Ok(d) = a.parse::<GoDuration>() {
            assert_eq!(d.to_string().parse::<GoDuration>(), Ok(d), "{a:?}");
        }
        assert_eq!(go_bool(a).is_ok(), GO_BOOLS.contains(&a.as_str()), "{a:?}");
        let item = list_item(a).expect("list items never fail");
        assert_eq!(item.trim(), item, "{a:?} → {item:?}");
        assert!(item.len() <= a.len());
        let env = env_name(a);
        assert!(env.starts_with("CTLSTORE_"));
        assert!(
            !env.chars()
                .any(|c| c.is_ascii_lowercase() || c == '-' || c == '.')
        );
    }
});
