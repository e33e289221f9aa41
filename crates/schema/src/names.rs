//! Validated names. Rules and messages are ctlstore's (`pkg/schema/validate.go`): names are
//! lower-cased first; family and table names match `^[a-z][a-z0-9_]*$` without `__` (so that
//! `family___table` splits unambiguously); field names may contain `__`; writer names are any
//! text of the right length. There is no reserved-word list: every identifier we emit for a
//! ctldb is quoted, and ledger table names contain `___`, which no keyword does.

use std::fmt;

/// The delimiter between family and table in an LDB / ctldb table name: `family___table`.
pub const LDB_TABLE_DELIMITER: &str = "___";

/// What kind of name failed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Family,
    Table,
    Field,
    Writer,
    Secret,
    Index,
}

impl NameKind {
    /// The name used for the kind in error bodies (`{"field": "family"}`).
    pub fn as_str(self) -> &'static str {
        match self {
            NameKind::Family => "family",
            NameKind::Table => "table",
            NameKind::Field => "field",
            NameKind::Writer => "writer",
            NameKind::Secret => "secret",
            NameKind::Index => "index",
        }
    }

    /// The shortest and longest names of this kind, in characters (after lower-casing).
    pub fn bounds(self) -> (usize, usize) {
        match self {
            NameKind::Family => (3, 30),
            NameKind::Table => (3, 50),
            NameKind::Field => (1, 64),
            NameKind::Writer => (3, 50),
            NameKind::Secret => (3, 100),
            NameKind::Index => (3, 50),
        }
    }
}

impl NameKind {
    /// The characters a name of this kind may have, as a regular expression in the dialect JSON
    /// Schema and OpenAPI use (ECMA-262), for API documents and generated clients; `None` for
    /// writer names and secrets (any text). Upper case is accepted because names are lower-cased
    /// before they are checked. With [`NameKind::bounds`] it says exactly what
    /// [`FamilyName::new`], [`TableName::new`] and [`FieldName::new`] accept for ASCII input
    /// (a property test holds them to it).
    pub fn pattern(self) -> Option<&'static str> {
        match self {
            // A letter, then letters, digits and single underscores: no `__` anywhere.
            NameKind::Family | NameKind::Table | NameKind::Index => {
                Some("^[A-Za-z](_?[A-Za-z0-9])*_?$")
            }
            NameKind::Field => Some("^[A-Za-z][A-Za-z0-9_]*$"),
            NameKind::Writer | NameKind::Secret => None,
        }
    }

    /// A JSON Schema (OpenAPI 3.0 subset) for names of this kind: a string with the kind's
    /// lengths and [`NameKind::pattern`].
    pub fn json_schema(self) -> serde_json::Value {
        let (min, max) = self.bounds();
        let mut schema = serde_json::json!({"type": "string", "minLength": min, "maxLength": max});
        if let Some(pattern) = self.pattern() {
            schema["pattern"] = pattern.into();
        }
        schema
    }
}

/// What is wrong with a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameProblem {
    InvalidCharacters,
    TooLong,
    TooShort,
}

/// A name that failed validation. `Display` gives ctlstore's exact message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct NameError {
    pub kind: NameKind,
    pub problem: NameProblem,
    /// The name as given (secrets are never echoed).
    pub name: String,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (_, max) = self.kind.bounds();
        let (min, _) = self.kind.bounds();
        let msg = match (self.kind, self.problem) {
            (NameKind::Family, NameProblem::InvalidCharacters) => {
                "Family names must be only letters, numbers, and single underscore".to_string()
            }
            (NameKind::Table, NameProblem::InvalidCharacters) => {
                "Table names must be only letters, numbers, and single underscore".to_string()
            }
            (NameKind::Index, NameProblem::InvalidCharacters) => {
                "Index names must be only letters, numbers, and single underscore".to_string()
            }
            (NameKind::Field, NameProblem::InvalidCharacters) => {
                "Field names must be only letters, numbers, and underscore".to_string()
            }
            (NameKind::Writer | NameKind::Secret, NameProblem::InvalidCharacters) => {
                "invalid characters".to_string()
            }
            (NameKind::Secret, NameProblem::TooShort) => {
                format!("Secret should be at least {min} characters")
            }
            (NameKind::Secret, NameProblem::TooLong) => {
                format!("Secret can be at most {max} characters")
            }
            (kind, NameProblem::TooLong) => {
                format!("{} names can only be up to {max} characters", title(kind))
            }
            (kind, NameProblem::TooShort) => {
                format!("{} names must be at least {min} characters", title(kind))
            }
        };
        f.write_str(&msg)
    }
}

fn title(kind: NameKind) -> &'static str {
    match kind {
        NameKind::Family => "Family",
        NameKind::Table => "Table",
        NameKind::Field => "Field",
        NameKind::Writer => "Writer",
        NameKind::Secret => "Secret",
        NameKind::Index => "Index",
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        None => true, // ctlstore's regex allows "", which then fails the length check
        Some(c) if c.is_ascii_lowercase() => {
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        }
        Some(_) => false,
    }
}

/// ctlstore's check order: `__`, then the character rule, then too long, then too short.
fn validate_identifier(kind: NameKind, raw: &str) -> Result<String, NameError> {
    let name = raw.to_lowercase();
    let err = |problem| NameError {
        kind,
        problem,
        name: raw.to_string(),
    };
    let forbids_double_underscore =
        matches!(kind, NameKind::Family | NameKind::Table | NameKind::Index);
    if (forbids_double_underscore && name.contains("__")) || !is_identifier(&name) {
        return Err(err(NameProblem::InvalidCharacters));
    }
    check_length(kind, &name, raw)?;
    Ok(name)
}

fn check_length(kind: NameKind, name: &str, raw: &str) -> Result<(), NameError> {
    let (min, max) = kind.bounds();
    let len = name.chars().count();
    let err = |problem| NameError {
        kind,
        problem,
        name: if kind == NameKind::Secret {
            String::new()
        } else {
            raw.to_string()
        },
    };
    if len > max {
        return Err(err(NameProblem::TooLong));
    }
    if len < min {
        return Err(err(NameProblem::TooShort));
    }
    Ok(())
}

macro_rules! identifier_name {
    ($(#[$doc:meta])* $ty:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $ty(String);

        impl $ty {
            /// Lower-cases and validates `raw`.
            pub fn new(raw: &str) -> Result<Self, NameError> {
                validate_identifier($kind, raw).map($ty)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $ty {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, NameError> {
                Self::new(s)
            }
        }
    };
}

identifier_name!(
    /// A family name: 3–30 characters, `^[a-z][a-z0-9_]*$`, no `__`.
    FamilyName,
    NameKind::Family
);
identifier_name!(
    /// A table name: 3–50 characters, `^[a-z][a-z0-9_]*$`, no `__`.
    TableName,
    NameKind::Table
);
identifier_name!(
    /// A secondary index name: validated like a table name (3–50 characters, no `__`).
    IndexName,
    NameKind::Index
);
identifier_name!(
    /// A field (column) name: 1–64 characters, `^[a-z][a-z0-9_]*$`.
    FieldName,
    NameKind::Field
);

/// A writer name: 3–50 characters, anything else goes (ctlstore neither lower-cases nor checks
/// the characters of writer names).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WriterName(String);

impl WriterName {
    pub fn new(raw: &str) -> Result<Self, NameError> {
        check_length(NameKind::Writer, raw, raw)?;
        Ok(WriterName(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WriterName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A writer secret: 3–100 characters. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct WriterSecret(String);

impl WriterSecret {
    pub fn new(raw: &str) -> Result<Self, NameError> {
        check_length(NameKind::Secret, raw, raw)?;
        Ok(WriterSecret(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WriterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WriterSecret(***)")
    }
}

/// The physical name of a ctlstore table in the ctldb and the LDB: `family___table`.
pub fn ldb_table_name(family: &FamilyName, table: &TableName) -> String {
    format!("{family}{LDB_TABLE_DELIMITER}{table}")
}

/// Splits `family___table` back into its parts; `None` for names that are not ctlstore tables
/// (`_ldb_seq`, `ctlstore_dml_ledger`, ...).
///
/// The delimiter is the *last* `___`: a family name may end with `_` (`abc_` gives
/// `abc____tbl`), while a table name neither starts with `_` nor contains `__`, so the last
/// `___` is the only split that can give two valid names.
pub fn parse_ldb_table_name(name: &str) -> Option<(FamilyName, TableName)> {
    let (family, table) = name.rsplit_once(LDB_TABLE_DELIMITER)?;
    Some((FamilyName::new(family).ok()?, TableName::new(table).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Strings the documented pattern of `kind` matches (proptest generates from the pattern
    /// itself, anchors stripped).
    fn documented(kind: NameKind) -> impl proptest::strategy::Strategy<Value = String> {
        let pattern = kind.pattern().unwrap_or_default();
        let inner = pattern.trim_start_matches('^').trim_end_matches('$');
        proptest::string::string_regex(inner).expect("the documented pattern is a regex")
    }

    fn in_bounds(kind: NameKind, name: &str) -> bool {
        let (min, max) = kind.bounds();
        (min..=max).contains(&name.chars().count())
    }

    proptest::proptest! {
        /// A name the documents allow (pattern and lengths) is accepted: what a schema-driven
        /// client or fuzzer generates as valid, the server takes.
        #[test]
        fn names_the_documents_allow_are_accepted(
            family in documented(NameKind::Family),
            field in documented(NameKind::Field),
        ) {
            proptest::prop_assert_eq!(FamilyName::new(&family).is_ok(), in_bounds(NameKind::Family, &family), "{}", family);
            proptest::prop_assert_eq!(TableName::new(&family).is_ok(), in_bounds(NameKind::Table, &family), "{}", family);
            proptest::prop_assert_eq!(FieldName::new(&field).is_ok(), in_bounds(NameKind::Field, &field), "{}", field);
        }

        /// And the reverse, for ASCII: an accepted name has the documented shape.
        #[test]
        fn accepted_names_have_the_documented_shape(name in "[A-Za-z0-9_]{0,70}") {
            let identifier = name.starts_with(|c: char| c.is_ascii_alphabetic());
            if FamilyName::new(&name).is_ok() || TableName::new(&name).is_ok() {
                proptest::prop_assert!(identifier && !name.contains("__"), "{}", name);
            }
            if FieldName::new(&name).is_ok() {
                proptest::prop_assert!(identifier && in_bounds(NameKind::Field, &name), "{}", name);
            }
        }
    }

    fn family_err(raw: &str) -> String {
        FamilyName::new(raw)
            .map(|_| String::new())
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn ctlstore_normalisation_table() {
        assert_eq!(
            FamilyName::new("LOWER").map(|n| n.0),
            Ok("lower".to_string())
        );
        assert_eq!(
            family_err("ab"),
            "Family names must be at least 3 characters"
        );
        assert_eq!(family_err(""), "Family names must be at least 3 characters");
        assert_eq!(
            family_err(&"a".repeat(31)),
            "Family names can only be up to 30 characters"
        );
        for bad in ["abc-123", "1abc", "a__b", "_abc", "ab c", "é_abc"] {
            assert_eq!(
                family_err(bad),
                "Family names must be only letters, numbers, and single underscore",
                "{bad}"
            );
        }
        assert_eq!(
            TableName::new(&"a".repeat(51)).map_err(|e| e.to_string()),
            Err("Table names can only be up to 50 characters".to_string())
        );
        assert!(TableName::new(&"a".repeat(50)).is_ok());
        assert_eq!(
            FieldName::new(&"a".repeat(65)).map_err(|e| e.to_string()),
            Err("Field names can only be up to 64 characters".to_string())
        );
        assert!(
            FieldName::new("a__b").is_ok(),
            "fields may contain a double underscore"
        );
        assert!(FieldName::new("a").is_ok());
        assert_eq!(
            WriterName::new("x").map_err(|e| e.to_string()),
            Err("Writer names must be at least 3 characters".to_string())
        );
        assert!(WriterName::new(&"a".repeat(51)).is_err());
        assert!(
            WriterName::new("My-Writer.1").is_ok(),
            "writer names are free text"
        );
        assert_eq!(
            WriterSecret::new("ab").map_err(|e| e.to_string()),
            Err("Secret should be at least 3 characters".to_string())
        );
        assert!(WriterSecret::new(&"s".repeat(101)).is_err());
    }

    #[test]
    fn reserved_words_are_names() {
        for word in ["type", "select", "order", "table", "from"] {
            assert!(FieldName::new(word).is_ok(), "{word}");
        }
        assert!(FamilyName::new("select").is_ok());
    }

    /// Found by `fuzz/fuzz_targets/schema_json.rs`: a family name ending with `_` (valid, as in
    /// ctlstore) gave `fma1____tbl`, which split at the first `___` into `fma1` and `_tbl`, so
    /// the table was no ctlstore table: the LDB sandbox refused its statements (the reflector
    /// halted) and the ctldb's catalogue did not list it.
    #[test]
    fn a_family_ending_with_an_underscore_splits_back() {
        for (family, table) in [("fma1_", "tbl"), ("abc_", "x_y_"), ("a_b_", "c_d")] {
            let f = FamilyName::new(family).expect("valid family");
            let t = TableName::new(table).expect("valid table");
            let joined = ldb_table_name(&f, &t);
            assert_eq!(parse_ldb_table_name(&joined), Some((f, t)), "{joined}");
        }
    }

    #[test]
    fn ldb_names_split_unambiguously() {
        let f = FamilyName::new("fam_one").expect("valid");
        let t = TableName::new("tab_two").expect("valid");
        let joined = ldb_table_name(&f, &t);
        assert_eq!(joined, "fam_one___tab_two");
        assert_eq!(parse_ldb_table_name(&joined), Some((f, t)));
        assert_eq!(parse_ldb_table_name("_ldb_seq"), None);
        assert_eq!(parse_ldb_table_name("a___b___c"), None);
        assert_eq!(parse_ldb_table_name("ctlstore_dml_ledger"), None);
    }
}
