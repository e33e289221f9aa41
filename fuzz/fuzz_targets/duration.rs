//! Go durations: `ctlstore_duration::parse` and `format` (`1h30m`, `1.5s`, `100ms`).
//!
//! Invariants:
//! - any text: no panic; an accepted duration fits Go's `time.Duration` (at most 2^63-1 ns);
//! - round trip from text: `parse(format(parse(s)))` is `parse(s)`;
//! - round trip from a value: for every duration Go can hold, `parse(format(d)) == d`, to the
//!   nanosecond;
//! - `format` writes Go's form: digits, an optional fraction, units from `h m s ms µs ns`.
#![no_main]

use std::time::Duration;

use ctlstore_duration::{format, parse};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

const GO_MAX_NANOS: u64 = i64::MAX as u64;

#[derive(Arbitrary, Debug)]
enum Input {
    Text(String),
    Nanos(u64),
}

fn check_value(d: Duration) {
    let text = format(d);
    assert!(
        text.chars()
            .all(|c| c.is_ascii_digit() || "hmsnµ.".contains(c)),
        "{d:?} formatted as {text}"
    );
    assert_eq!(parse(&text), Ok(d), "{d:?} formatted as {text}");
}

fuzz_target!(|input: Input| {
    match input {
        Input::Text(s) => {
            if let Ok(d) = parse(&s) {
                assert!(d.as_nanos() <= u128::from(GO_MAX_NANOS), "{s:?} → {d:?}");
                check_value(d);
            }
        }
        Input::Nanos(n) => {
            let d = Duration::from_nanos(n % (GO_MAX_NANOS + 1));
            check_value(d);
        }
    }
});
