//! Access control lists (`--acl-file`, docs/security.md), replds-style.
//!
//! One rule per line: `identity scope operation`.
//! - `identity`: a client certificate's identity (its first URI SAN, else its CN) or, for
//!   `write`, a writer's name; `*` is any authenticated client.
//! - `scope`: `family` or `family/table`, a prefix (a family grants its tables); `*` is every
//!   family and the routes that belong to none (writers, writer limits, pruning).
//! - `operation`: `read` (`r`), `write` (`w`) or `admin` (`a`). `admin` implies `read`.
//!
//! `#` starts a comment. Once a file is given, whatever no rule grants is denied. The file is
//! re-read when it changes (or on SIGHUP); a file that does not parse is refused with its line
//! number and the rules already in force stay.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ctlstore_ledger::{Scope, Scopes};
use ctlstore_tls::Reloading;

/// What a rule grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Read,
    Write,
    Admin,
}

impl Operation {
    fn parse(text: &str) -> Option<Operation> {
        match text {
            "read" | "r" => Some(Operation::Read),
            "write" | "w" => Some(Operation::Write),
            "admin" | "a" => Some(Operation::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Write => "write",
            Operation::Admin => "admin",
        }
    }

    /// Whether a rule for `self` grants `wanted`.
    fn grants(self, wanted: Operation) -> bool {
        self == wanted || (self == Operation::Admin && wanted == Operation::Read)
    }
}

/// What a request touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Routes of no family: writers, writer limits, pruning, lists across families.
    Global,
    Family(String),
    Table(String, String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Global => f.write_str("*"),
            Target::Family(family) => f.write_str(family),
            Target::Table(family, table) => write!(f, "{family}/{table}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum RuleScope {
    All,
    Scope(Scope),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// `None`: `*`.
    identity: Option<String>,
    scope: RuleScope,
    operation: Operation,
}

impl Rule {
    fn matches_identity(&self, identity: &str) -> bool {
        self.identity.as_deref().is_none_or(|i| i == identity)
    }

    fn covers(&self, target: &Target) -> bool {
        match (&self.scope, target) {
            (RuleScope::All, _) => true,
            (RuleScope::Scope(_), Target::Global) => false,
            (RuleScope::Scope(s), Target::Family(family)) => {
                s.family == *family && s.table.is_none()
            }
            (RuleScope::Scope(s), Target::Table(family, table)) => s.covers(family, table),
        }
    }
}

/// A parsed ACL file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    rules: Vec<Rule>,
}

/// A line of an ACL file that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}: {reason}")]
pub struct AclError {
    pub path: String,
    pub line: usize,
    pub reason: String,
}

impl Rules {
    /// Parses an ACL file's text; `path` only names it in errors.
    pub fn parse(path: &str, text: &str) -> Result<Rules, AclError> {
        let mut rules = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let error = |reason: String| AclError {
                path: path.to_string(),
                line: i + 1,
                reason,
            };
            let words: Vec<&str> = line.split_whitespace().collect();
            let [identity, scope, operation] = words[..] else {
                return Err(error(format!(
                    "expected 'identity scope operation', got {} words",
                    words.len()
                )));
            };
            let operation = Operation::parse(operation).ok_or_else(|| {
                error(format!(
                    "operation '{operation}' is not read, write or admin (r, w, a)"
                ))
            })?;
            let scope = if scope == "*" {
                RuleScope::All
            } else {
                RuleScope::Scope(Scope::parse(scope).map_err(|e| error(format!("scope {e}")))?)
            };
            rules.push(Rule {
                identity: (identity != "*").then(|| identity.to_string()),
                scope,
                operation,
            });
        }
        Ok(Rules { rules })
    }

    /// Whether `identity` may do `operation` on `target`.
    pub fn allows(&self, identity: &str, operation: Operation, target: &Target) -> bool {
        self.rules.iter().any(|r| {
            r.operation.grants(operation) && r.matches_identity(identity) && r.covers(target)
        })
    }

    /// Whether `identity` has any rule granting `operation` (a writer's cookie: it belongs to
    /// no family).
    pub fn grants_any(&self, identity: &str, operation: Operation) -> bool {
        self.rules
            .iter()
            .any(|r| r.operation.grants(operation) && r.matches_identity(identity))
    }

    /// What `identity` may read: the scopes of its read (and admin) rules, plus
    /// `always_readable` (the heartbeat's family) unless some `read` rule names that family.
    pub fn readable(&self, identity: Option<&str>, always_readable: Option<&str>) -> Scopes {
        let mut set = BTreeSet::new();
        for r in &self.rules {
            if !r.operation.grants(Operation::Read) {
                continue;
            }
            if identity.is_none_or(|i| !r.matches_identity(i)) {
                continue;
            }
            match &r.scope {
                RuleScope::All => return Scopes::All,
                RuleScope::Scope(s) => {
                    set.insert(s.clone());
                }
            }
        }
        if let Some(family) = always_readable {
            // Only `read` rules govern it: an `admin` or `write` rule for the heartbeat's own
            // identity (which creates and writes the family) does not take it from everyone.
            let governed = self.rules.iter().any(|r| {
                r.operation == Operation::Read
                    && matches!(&r.scope, RuleScope::Scope(s) if s.family == family)
            });
            if !governed && let Ok(scope) = Scope::parse(family) {
                set.insert(scope);
            }
        }
        Scopes::Only(set)
    }
}

/// The rules in force, re-read from their file when it changes.
pub struct Acl {
    path: PathBuf,
    rules: Reloading<Rules>,
}

impl std::fmt::Debug for Acl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acl").field("path", &self.path).finish()
    }
}

fn read_rules(path: &Path) -> Result<Rules, AclError> {
    let text = std::fs::read_to_string(path).map_err(|e| AclError {
        path: path.display().to_string(),
        line: 0,
        reason: e.to_string(),
    })?;
    Rules::parse(&path.display().to_string(), &text)
}

impl Acl {
    /// Loads the file; an error names the line.
    pub fn load(path: &Path) -> Result<Acl, AclError> {
        let rules = read_rules(path)?;
        Ok(Acl {
            path: path.to_path_buf(),
            rules: Reloading::new(vec![path.to_path_buf()], rules),
        })
    }

    /// The rules in force, re-read first if the file changed.
    pub fn rules(&self) -> Arc<Rules> {
        self.rules.get("ACL file", || {
            let read = read_rules(&self.path);
            let result = if read.is_ok() { "ok" } else { "refused" };
            metrics::counter!(crate::metrics::ACL_RELOADS, "result" => result).increment(1);
            read
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "
        # readers
        spiffe://fleet/reflector-a  alpha        read
        reflector-b                 beta/one     r
        *                           common       r
        loader                      alpha/users  w   # a writer
        ops                         *            admin
    ";

    fn table(f: &str, t: &str) -> Target {
        Target::Table(f.into(), t.into())
    }

    #[test]
    fn rules_grant_what_they_name_and_nothing_else() {
        let rules = Rules::parse("acl", FILE).expect("parses");
        let a = "spiffe://fleet/reflector-a";
        assert!(rules.allows(a, Operation::Read, &table("alpha", "users")));
        assert!(rules.allows(a, Operation::Read, &Target::Family("alpha".into())));
        assert!(!rules.allows(a, Operation::Read, &table("beta", "one")));
        assert!(!rules.allows(a, Operation::Write, &table("alpha", "users")));
        assert!(rules.allows("reflector-b", Operation::Read, &table("beta", "one")));
        assert!(!rules.allows("reflector-b", Operation::Read, &table("beta", "two")));
        assert!(!rules.allows(
            "reflector-b",
            Operation::Read,
            &Target::Family("beta".into())
        ));
        assert!(rules.allows("anyone", Operation::Read, &table("common", "xyz")));
        assert!(rules.allows("loader", Operation::Write, &table("alpha", "users")));
        assert!(!rules.allows("loader", Operation::Write, &table("alpha", "other")));
        assert!(rules.grants_any("loader", Operation::Write));
        assert!(!rules.grants_any("reflector-b", Operation::Write));
        assert!(rules.allows("ops", Operation::Admin, &Target::Global));
        assert!(rules.allows("ops", Operation::Read, &table("beta", "two")));
        assert!(!rules.allows("ops", Operation::Write, &table("beta", "two")));
        assert!(!rules.allows(a, Operation::Admin, &Target::Global));
    }

    #[test]
    fn readable_scopes_include_the_heartbeat_unless_governed() {
        let rules = Rules::parse("acl", FILE).expect("parses");
        assert_eq!(
            rules.readable(Some("reflector-b"), Some("ctlstore")),
            Scopes::parse_list("beta/one,common,ctlstore").expect("scopes")
        );
        assert_eq!(rules.readable(Some("ops"), Some("ctlstore")), Scopes::All);
        assert_eq!(
            rules.readable(None, Some("ctlstore")),
            Scopes::parse_list("ctlstore").expect("scopes")
        );
        let admin_only = Rules::parse("acl", "heartbeat ctlstore admin").expect("parses");
        assert_eq!(
            admin_only.readable(Some("other"), Some("ctlstore")),
            Scopes::parse_list("ctlstore").expect("scopes")
        );
        let governed = Rules::parse("acl", "ops ctlstore/heartbeats r").expect("parses");
        assert_eq!(
            governed.readable(Some("other"), Some("ctlstore")),
            Scopes::Only(Default::default())
        );
    }

    #[test]
    fn a_bad_line_is_named() {
        for (text, line, says) in [
            ("a b", 1, "got 2 words"),
            ("\n\nwho fam delete", 3, "operation 'delete'"),
            ("who Bad-Family read", 1, "scope"),
        ] {
            let e = Rules::parse("acl.txt", text).expect_err(text);
            assert_eq!(e.line, line, "{text}");
            assert!(e.to_string().contains(says), "{e}");
            assert!(
                e.to_string().starts_with(&format!("acl.txt:{line}:")),
                "{e}"
            );
        }
    }
}
