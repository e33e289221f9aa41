//! ctlstore's command lines, as Go's `flag` package and segmentio/conf parse them, turned into
//! what clap understands. Go accepts `-name value`, `-name=value` and `--name`; clap wants
//! `--name`. Rewriting the argument list before clap sees it keeps one flag definition per
//! option and both spellings working.

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
}
