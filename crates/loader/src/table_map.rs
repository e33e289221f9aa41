//! Which ctlstore table and fields a source table lands in: the `[tables.NAME]` sections of the
//! loader's `--config` file (docs/loader.md, "Configuration"), applied to a source table's
//! current [`TableShape`].
//!
//! ```toml
//! [tables."public.users"]      # or [tables.users]: the source table, with or without schema
//! table = "accounts"           # the ctlstore table (default: the source table's name)
//! include = ["id", "email"]    # only these columns (default: all)
//! exclude = ["password_hash"]  # never these
//! rename = { email = "mail" }  # source column -> ctlstore field
//! key = ["id"]                 # the key, when the source does not say or says otherwise
//! types = { score = "text" }   # ctlstore type overrides
//! ```

use std::collections::BTreeMap;

use ctlstore_schema::{FieldName, FieldType, TableName};
use serde::Deserialize;

use crate::change::{SourceTable, TableShape, ValueKind};
use crate::types::{default_field_type, key_allowed};

/// One source table's rule.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TableRule {
    pub table: Option<String>,
    pub include: Option<Vec<String>>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
    pub key: Option<Vec<String>>,
    #[serde(default)]
    pub types: BTreeMap<String, String>,
}

/// Every rule, by source table (`schema.table` or `table`).
#[derive(Debug, Clone, Default)]
pub struct TableMap {
    rules: BTreeMap<String, TableRule>,
}

/// The file's `tables` section (other keys are the loader's flags, read by the CLI).
#[derive(Deserialize)]
struct File {
    #[serde(default)]
    tables: BTreeMap<String, TableRule>,
    #[serde(default)]
    loader: Option<LoaderSection>,
}

#[derive(Deserialize)]
struct LoaderSection {
    #[serde(default)]
    tables: BTreeMap<String, TableRule>,
}

impl TableMap {
    /// The `[tables.*]` (or `[loader.tables.*]`) sections of a TOML file's text.
    pub fn from_toml(text: &str) -> Result<TableMap, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut rules = file.tables;
        if let Some(loader) = file.loader {
            rules.extend(loader.tables);
        }
        for (name, rule) in &rules {
            for (column, ty) in &rule.types {
                if FieldType::from_api_name(ty).is_none() {
                    return Err(format!(
                        "tables.{name}.types.{column}: '{ty}' is not a ctlstore type (string, integer, decimal, text, binary, bytestring)"
                    ));
                }
            }
        }
        Ok(TableMap { rules })
    }

    /// The ctlstore table a source table lands in (not yet checked as a name).
    pub fn table_name(&self, table: &SourceTable) -> String {
        self.rule(table)
            .and_then(|r| r.table.clone())
            .unwrap_or_else(|| table.name.to_lowercase())
    }

    fn rule(&self, table: &SourceTable) -> Option<&TableRule> {
        self.rules
            .get(&table.to_string())
            .or_else(|| self.rules.get(&table.name))
    }
}

/// A source table mapped onto ctlstore.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub table: String,
    pub fields: Vec<TargetField>,
    /// Field names, in key order.
    pub key: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TargetField {
    pub name: String,
    /// The column's index in the shape.
    pub column: usize,
    pub kind: ValueKind,
    pub field_type: FieldType,
}

impl Target {
    pub fn field(&self, name: &str) -> Option<&TargetField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The definition the executive takes to create the table.
    pub fn definition(&self) -> ctlstore_client::TableDefinition {
        ctlstore_client::TableDefinition::new(
            self.fields
                .iter()
                .map(|f| (f.name.clone(), f.field_type.api_name())),
            self.key.clone(),
        )
    }
}

impl TableMap {
    /// Maps `shape`. `existing_key` is the ctlstore table's key when it exists already (the key
    /// of last resort when neither the source nor the configuration names one).
    pub fn plan(
        &self,
        shape: &TableShape,
        existing_key: Option<&[String]>,
    ) -> Result<Target, String> {
        let default_rule = TableRule::default();
        let rule = self.rule(&shape.table).unwrap_or(&default_rule);
        let source = &shape.table;
        let table_name = self.table_name(source);
        let table = TableName::new(&table_name)
            .map_err(|e| format!("source table {source} maps to ctlstore table '{table_name}', which is not a valid name ({e}); set `table = \"...\"` in [tables.\"{source}\"]"))?;
        let included = |column: &str| {
            rule.include
                .as_ref()
                .is_none_or(|inc| inc.iter().any(|c| c == column))
                && !rule.exclude.iter().any(|c| c == column)
        };
        for named in rule.include.iter().flatten().chain(&rule.exclude) {
            if !shape.columns.iter().any(|c| &c.name == named) {
                return Err(format!(
                    "[tables.\"{source}\"] names column '{named}', which the source table does not have"
                ));
            }
        }
        let key_columns: Vec<String> = match &rule.key {
            Some(key) => key.clone(),
            None => {
                let from_source: Vec<String> = shape
                    .columns
                    .iter()
                    .filter(|c| c.is_key)
                    .map(|c| c.name.clone())
                    .collect();
                if from_source.is_empty() {
                    // The ctlstore table's key, named by its fields; map them back to columns.
                    existing_key
                        .map(|k| {
                            k.iter()
                                .map(|field| {
                                    shape
                                        .columns
                                        .iter()
                                        .find(|c| {
                                            field_name(rule, &c.name).ok().as_deref()
                                                == Some(field.as_str())
                                        })
                                        .map(|c| c.name.clone())
                                        .unwrap_or_else(|| field.clone())
                                })
                                .collect()
                        })
                        .unwrap_or_default()
                } else {
                    from_source
                }
            }
        };
        if key_columns.is_empty() {
            return Err(format!(
                "source table {source} has no key: the source names none (no primary key or replica identity, or a message without a key); set `key = [...]` in [tables.\"{source}\"]"
            ));
        }
        let mut fields = Vec::new();
        for (index, column) in shape.columns.iter().enumerate() {
            let is_key = key_columns.contains(&column.name);
            if !included(&column.name) {
                if is_key {
                    return Err(format!(
                        "key column '{}' of {source} is excluded by the configuration",
                        column.name
                    ));
                }
                continue;
            }
            let name = field_name(rule, &column.name)?;
            let field_type = match rule.types.get(&column.name) {
                Some(ty) => FieldType::from_api_name(ty)
                    .ok_or_else(|| format!("'{ty}' is not a ctlstore type"))?,
                None => default_field_type(column, is_key),
            };
            if is_key && !key_allowed(field_type) {
                return Err(format!(
                    "key column '{}' of {source} ({}) maps to ctlstore type {}, which cannot be a key (keys are string, bytestring or integer); override it with `types = {{ {} = \"string\" }}`",
                    column.name,
                    column.type_name,
                    field_type.api_name(),
                    column.name
                ));
            }
            fields.push(TargetField {
                name,
                column: index,
                kind: column.kind,
                field_type,
            });
        }
        let mut key = Vec::new();
        for column in &key_columns {
            if !shape.columns.iter().any(|c| &c.name == column) {
                return Err(format!("key column '{column}' is not a column of {source}"));
            }
            key.push(field_name(rule, column)?);
        }
        Ok(Target {
            table: table.as_str().to_string(),
            fields,
            key,
        })
    }
}

fn field_name(rule: &TableRule, column: &str) -> Result<String, String> {
    let name = rule
        .rename
        .get(column)
        .map(String::as_str)
        .unwrap_or(column);
    FieldName::new(name)
        .map(|f| f.as_str().to_string())
        .map_err(|e| format!("column '{column}' maps to field '{name}', which is not a valid ctlstore field name ({e}); rename it with `rename = {{ {column} = \"...\" }}`"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::SourceColumn;

    fn shape() -> TableShape {
        let col = |name: &str, kind, is_key| SourceColumn {
            name: name.into(),
            kind,
            max_chars: None,
            type_name: "t".into(),
            is_key,
        };
        TableShape {
            table: SourceTable {
                schema: Some("public".into()),
                name: "users".into(),
            },
            columns: vec![
                col("id", ValueKind::Integer, true),
                col("email", ValueKind::Text, false),
                col("secret", ValueKind::Text, false),
                col("score", ValueKind::Float, false),
            ],
            complete: true,
        }
    }

    #[test]
    fn rules_rename_filter_and_retype() {
        let map = TableMap::from_toml(
            r#"
            [tables."public.users"]
            table = "accounts"
            exclude = ["secret"]
            rename = { email = "mail" }
            types = { score = "text" }
            "#,
        )
        .expect("parses");
        let target = map.plan(&shape(), None).expect("maps");
        assert_eq!(target.table, "accounts");
        assert_eq!(target.key, vec!["id"]);
        let names: Vec<_> = target
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.field_type))
            .collect();
        assert_eq!(
            names,
            vec![
                ("id", FieldType::Integer),
                ("mail", FieldType::Text),
                ("score", FieldType::Text)
            ]
        );
    }

    #[test]
    fn bad_rules_are_refused_with_the_reason() {
        assert!(
            TableMap::from_toml("[tables.users]\ntypes = { a = \"float\" }")
                .expect_err("refused")
                .contains("not a ctlstore type")
        );
        assert!(TableMap::from_toml("[tables.users]\nbogus = 1").is_err());
        let map =
            TableMap::from_toml("[tables.users]\ntypes = { id = \"decimal\" }").expect("parses");
        assert!(
            map.plan(&shape(), None)
                .expect_err("refused")
                .contains("cannot be a key")
        );
        let map = TableMap::from_toml("[tables.users]\nexclude = [\"id\"]").expect("parses");
        assert!(
            map.plan(&shape(), None)
                .expect_err("refused")
                .contains("excluded")
        );
        let mut keyless = shape();
        keyless.columns.iter_mut().for_each(|c| c.is_key = false);
        assert!(
            TableMap::default()
                .plan(&keyless, None)
                .expect_err("refused")
                .contains("no key")
        );
        let target = TableMap::default()
            .plan(&keyless, Some(&["id".to_string()]))
            .expect("uses the table's key");
        assert_eq!(target.key, vec!["id"]);
    }
}
