//! ctlstore's command-line conventions, as Go's `flag` package and segmentio/conf define them,
//! in one place: the argument rewriting (`-name value` to clap's `--name value`), the
//! environment variable every flag also reads (`CTLSTORE_` + the flag's path), Go's booleans
//! (`strconv.ParseBool`), Go's durations and segmentio/conf's `[a,b]` lists.
//!
//! Flags are declared once, with clap derive and a long name only; `command()` derives each
//! flag's variable from its long name, so `--poll-interval` reads `CTLSTORE_POLL_INTERVAL` and
//! the nested `--reflector.poll-interval` (see `nested.rs`) reads
//! `CTLSTORE_REFLECTOR_POLL_INTERVAL`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The environment variable of a flag: `CTLSTORE_` + its long name upper-cased, with `-` and
/// `.` as `_` (segmentio/conf's rule; the subcommand is not part of it).
pub fn env_name(long: &str) -> String {
    let mut name = String::from("CTLSTORE_");
    name.extend(long.chars().map(|c| match c {
        '-' | '.' => '_',
        c => c.to_ascii_uppercase(),
    }));
    name
}

/// Gives every flag of every subcommand its `CTLSTORE_*` variable, unless it names one itself.
pub fn with_env_vars(command: clap::Command) -> clap::Command {
    fn arg_env(arg: clap::Arg) -> clap::Arg {
        if arg.get_env().is_some() {
            return arg;
        }
        match arg.get_long().map(env_name) {
            Some(env) => arg.env(env),
            None => arg,
        }
    }
    command.mut_subcommands(|sub| sub.mut_args(arg_env))
}

/// Go's `strconv.ParseBool`: `1 t T TRUE true True` and `0 f F FALSE false False`.
pub fn go_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        other => Err(format!(
            "'{other}' is not a boolean (1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False)"
        )),
    }
}

/// A Go duration flag (`1s`, `5m`, `1h30m`), printed back the same way in `--help`, so a
/// default can be taken from a library's `Default` instead of being written again here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoDuration(pub Duration);

impl FromStr for GoDuration {
    type Err = String;

    fn from_str(text: &str) -> Result<GoDuration, String> {
        ctlstore_duration::parse(text)
            .map(GoDuration)
            .map_err(|e| e.to_string())
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&ctlstore_duration::format(self.0))
    }
}

/// One element of a list flag. segmentio/conf writes lists as `[a,b]`; with `,` as the
/// delimiter that arrives as `[a` and `b]`, so the brackets are trimmed here. `a,b` works too.
pub fn list_item(text: &str) -> Result<String, String> {
    let item = text
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim();
    Ok(item.to_string())
}

/// Rewrites single-dash long flags (`-ldb-path`, `-reflector.ldb-path=x`) to `--...`. Short
/// flags (`-h`, `-V`), negative numbers, a lone `-` and everything after `--` pass unchanged.
pub fn normalise(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest_verbatim = false;
    for arg in args {
        if rest_verbatim {
            out.push(arg);
            continue;
        }
        if arg == "--" {
            rest_verbatim = true;
            out.push(arg);
            continue;
        }
        if is_single_dash_long_flag(&arg) {
            out.push(format!("-{arg}"));
        } else {
            out.push(arg);
        }
    }
    out
}

fn is_single_dash_long_flag(arg: &str) -> bool {
    let Some(rest) = arg.strip_prefix('-') else {
        return false;
    };
    if rest.starts_with('-') {
        return false;
    }
    let name = rest.split('=').next().unwrap_or(rest);
    name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(args: &[&str]) -> Vec<String> {
        normalise(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn go_style_becomes_clap_style() {
        assert_eq!(
            n(&[
                "ctlstore",
                "reflector",
                "-ldb-path",
                "/x",
                "-poll-interval=1s",
                "--debug",
                "-h",
                "-1"
            ]),
            [
                "ctlstore",
                "reflector",
                "--ldb-path",
                "/x",
                "--poll-interval=1s",
                "--debug",
                "-h",
                "-1"
            ]
        );
        assert_eq!(
            n(&["-reflector.ldb-path", "/y"]),
            ["--reflector.ldb-path", "/y"]
        );
        assert_eq!(n(&["--", "-not-a-flag"]), ["--", "-not-a-flag"]);
        assert_eq!(n(&["-"]), ["-"]);
    }

    #[test]
    fn go_booleans() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(go_bool(t), Ok(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(go_bool(f), Ok(false), "{f}");
        }
        for bad in ["yes", "tRuE", "", "2"] {
            assert!(go_bool(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_names_follow_segmentio_conf() {
        assert_eq!(env_name("ldb-path"), "CTLSTORE_LDB_PATH");
        assert_eq!(
            env_name("reflector.ledger-latency.max-healty-latency"),
            "CTLSTORE_REFLECTOR_LEDGER_LATENCY_MAX_HEALTY_LATENCY"
        );
    }

    #[test]
    fn durations_print_as_parsed() {
        let d: GoDuration = "1m30s".parse().expect("duration");
        assert_eq!(d.0, std::time::Duration::from_secs(90));
        assert_eq!(d.to_string().parse::<GoDuration>(), Ok(d));
    }
}
