//! The executive's base URL as a client names it: ctlstore's flags take `host:port` as well as
//! full URLs (`-executive-url ctlstore-executive.segment.local`).
//!
//! This is not data-model code: it lives here because this is the lowest crate that both of its
//! users (the heartbeat and the reflector's feed source) depend on, and one rule must serve both.
//! Its home is the executive client crate once there is one (STYLE.md, "Where round 2 goes").

/// `url` without trailing slashes, with `http://` in front unless it already names `http://` or
/// `https://` (in any case).
///
/// ctlstore's heartbeat prepends `http://` when the URL does not start with `http`; this differs
/// only where that rule breaks the URL (`httpbin:3000` gets no scheme there, `HTTP://host` gets
/// two), so every URL that works with ctlstore means the same here.
pub fn executive_base_url(url: &str) -> String {
    let url = url.trim_end_matches('/');
    let has_scheme = ["http://", "https://"].iter().any(|scheme| {
        url.get(..scheme.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(scheme))
    });
    if has_scheme {
        url.to_string()
    } else {
        format!("http://{url}")
    }
}

/// Several executives, comma-separated (`-executive-url http://e1:3000,http://e2:3000`), each
/// completed by [`executive_base_url`]; empty items are ignored. Clients try them in order and
/// move to the next when one is down or answers 503 (issue 20).
pub fn executive_base_urls(urls: &str) -> Vec<String> {
    urls.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(executive_base_url)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{executive_base_url, executive_base_urls};

    #[test]
    fn several_executives_are_comma_separated() {
        assert_eq!(
            executive_base_urls("e1:3000, https://e2/,"),
            ["http://e1:3000", "https://e2"]
        );
        assert_eq!(executive_base_urls("e1"), ["http://e1"]);
    }

    #[test]
    fn a_scheme_is_added_only_when_missing() {
        let cases = [
            (
                "ctlstore-executive.segment.local",
                "http://ctlstore-executive.segment.local",
            ),
            ("127.0.0.1:3000", "http://127.0.0.1:3000"),
            ("localhost:3000/", "http://localhost:3000"),
            ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
            ("https://exec.example:443//", "https://exec.example:443"),
            ("HTTP://exec:3000", "HTTP://exec:3000"),
            ("httpbin:3000", "http://httpbin:3000"),
            ("https-gateway.local", "http://https-gateway.local"),
            ("é:1", "http://é:1"),
            ("", "http://"),
        ];
        for (given, want) in cases {
            assert_eq!(executive_base_url(given), want, "{given:?}");
        }
    }
}
