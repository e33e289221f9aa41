//! Which row paths may become files: relative, normal components only, so that no row can
//! name a file outside the directory (`..`, absolute paths, NUL, empty or `.` components), and
//! none can collide with the materializer's own temporary files.

/// Files starting with this are the materializer's (temporary files during a write).
pub const RESERVED_PREFIX: &str = ".ctlstore-";

/// The path's components when it is safe, else why not.
pub fn components(path: &str) -> Result<Vec<&str>, String> {
    if path.is_empty() {
        return Err("the path is empty".into());
    }
    if path.contains('\0') {
        return Err("the path contains NUL".into());
    }
    if path.starts_with('/') || path.starts_with('\\') {
        return Err("the path is absolute".into());
    }
    let parts: Vec<&str> = path.split('/').collect();
    for part in &parts {
        match *part {
            "" => return Err("the path has an empty component".into()),
            "." | ".." => return Err(format!("the path has a '{part}' component")),
            p if p.starts_with(RESERVED_PREFIX) => {
                return Err(format!(
                    "'{RESERVED_PREFIX}*' names are the materializer's own"
                ));
            }
            p if p.contains('\\') => return Err("the path contains a backslash".into()),
            _ => {}
        }
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_relative_normal_paths_pass() {
        assert_eq!(components("a/b.txt"), Ok(vec!["a", "b.txt"]));
        assert_eq!(components("config.json"), Ok(vec!["config.json"]));
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../b",
            "a//b",
            "./a",
            "a/.",
            "a\0b",
            ".ctlstore-tmp",
            "a\\..\\b",
        ] {
            assert!(components(bad).is_err(), "{bad:?}");
        }
    }
}
