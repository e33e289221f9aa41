//! Table schemas and the validation of rows against them.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value as Json};

use crate::{FamilyName, FieldName, FieldType, FieldValue, SchemaError, TableName, ldb_table_name};

/// A typed column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: FieldName,
    pub field_type: FieldType,
}

/// A table: its family, name, fields in column order and key fields in primary-key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub family: FamilyName,
    pub name: TableName,
    pub fields: Vec<Field>,
    pub key_fields: Vec<FieldName>,
}

impl Table {
    /// Builds and checks a table definition: at least one key, every key a field of a key type,
    /// no duplicates. Checks run in ctlstore's order.
    pub fn new(
        family: FamilyName,
        name: TableName,
        fields: Vec<Field>,
        key_fields: Vec<FieldName>,
    ) -> Result<Table, SchemaError> {
        if key_fields.is_empty() {
            return Err(SchemaError::NoKeyFields);
        }
        for (i, f) in fields.iter().enumerate() {
            if fields[..i].iter().any(|g| g.name == f.name) {
                return Err(SchemaError::DuplicateField(f.name.to_string()));
            }
        }
        for (i, k) in key_fields.iter().enumerate() {
            if key_fields[..i].contains(k) {
                return Err(SchemaError::DuplicateKeyField(k.to_string()));
            }
            let field = fields
                .iter()
                .find(|f| &f.name == k)
                .ok_or_else(|| SchemaError::KeyNotAField(k.to_string()))?;
            if !field.field_type.key_allowed() {
                return Err(SchemaError::KeyTypeNotAllowed {
                    field: k.to_string(),
                    field_type: field.field_type,
                });
            }
        }
        Ok(Table {
            family,
            name,
            fields,
            key_fields,
        })
    }

    /// Builds a table from the API's wire form: `fields` as `[name, type]` pairs.
    pub fn from_wire(
        family: &str,
        name: &str,
        fields: &[(String, String)],
        key_fields: &[String],
    ) -> Result<Table, SchemaError> {
        let family = FamilyName::new(family)?;
        let name = TableName::new(name)?;
        let fields = parse_fields(fields)?;
        let key_fields = key_fields
            .iter()
            .map(|k| FieldName::new(k))
            .collect::<Result<Vec<_>, _>>()?;
        Table::new(family, name, fields, key_fields)
    }

    /// The physical table name in the ctldb and the LDB: `family___table`.
    pub fn ldb_name(&self) -> String {
        ldb_table_name(&self.family, &self.name)
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name.as_str() == name)
    }

    pub fn is_key(&self, name: &FieldName) -> bool {
        self.key_fields.contains(name)
    }

    /// The key fields as `Field`s, in primary-key order.
    pub fn key_columns(&self) -> impl Iterator<Item = &Field> {
        self.key_fields
            .iter()
            .filter_map(|k| self.fields.iter().find(|f| &f.name == k))
    }

    /// Converts the values of an upsert into a full row in column order. Every column must be
    /// present (ctlstore's rule: an upsert replaces the whole row); an unknown field is an error.
    pub fn upsert_row(&self, values: &Map<String, Json>) -> Result<Vec<FieldValue>, SchemaError> {
        let values = self.normalise(values)?;
        self.fields
            .iter()
            .map(|f| converted(&values, f, self.is_key(&f.name)))
            .collect()
    }

    /// Converts the values of a delete into the key in primary-key order. Non-key fields of the
    /// table are allowed and ignored (clients often send the whole row); unknown fields are not.
    pub fn delete_key(&self, values: &Map<String, Json>) -> Result<Vec<FieldValue>, SchemaError> {
        let values = self.normalise(values)?;
        self.key_columns()
            .map(|f| converted(&values, f, true))
            .collect()
    }

    /// Lower-cases and validates the field names of a request (as ctlstore does) and rejects
    /// fields the table does not have.
    fn normalise<'a>(
        &self,
        values: &'a Map<String, Json>,
    ) -> Result<Vec<(String, &'a Json)>, SchemaError> {
        values
            .iter()
            .map(|(name, v)| {
                let name = FieldName::new(name)?;
                if self.field(name.as_str()).is_none() {
                    return Err(SchemaError::UnknownField {
                        table: self.ldb_name(),
                        field: name.to_string(),
                    });
                }
                Ok((name.to_string(), v))
            })
            .collect()
    }
}

/// The value given for `field` in normalised request values, converted; a missing field is an
/// error naming it.
fn converted(
    values: &[(String, &Json)],
    field: &Field,
    is_key: bool,
) -> Result<FieldValue, SchemaError> {
    let json = values
        .iter()
        .find(|(name, _)| name == field.name.as_str())
        .map(|(_, v)| *v)
        .ok_or_else(|| SchemaError::MissingField {
            field: field.name.to_string(),
        })?;
    Ok(FieldValue::from_json(field, json, is_key)?)
}

/// Parses `[name, type]` pairs.
pub fn parse_fields(fields: &[(String, String)]) -> Result<Vec<Field>, SchemaError> {
    fields
        .iter()
        .map(|(name, type_name)| {
            let name = FieldName::new(name)?;
            let field_type =
                FieldType::from_api_name(type_name).ok_or_else(|| SchemaError::UnknownType {
                    field: name.to_string(),
                    type_name: type_name.clone(),
                })?;
            Ok(Field { name, field_type })
        })
        .collect()
}

/// ctlstore's JSON form: `{"family", "name", "fields": [[name, type]], "keyFields": [...]}`.
impl Serialize for Table {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields: Vec<[&str; 2]> = self
            .fields
            .iter()
            .map(|f| [f.name.as_str(), f.field_type.api_name()])
            .collect();
        let keys: Vec<&str> = self.key_fields.iter().map(|k| k.as_str()).collect();
        let mut st = s.serialize_struct("Table", 4)?;
        st.serialize_field("family", self.family.as_str())?;
        st.serialize_field("name", self.name.as_str())?;
        st.serialize_field("fields", &fields)?;
        st.serialize_field("keyFields", &keys)?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;
    use serde_json::json;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn table() -> Table {
        Table::from_wire(
            "family1",
            "table1",
            &pairs(&[("id", "integer"), ("name", "string"), ("blob", "binary")]),
            &["id".to_string(), "name".to_string()],
        )
        .expect("valid table")
    }

    #[test]
    fn definition_errors_name_the_field() {
        let e = |fields: &[(&str, &str)], keys: &[&str]| {
            let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
            Table::from_wire("fam", "tab", &pairs(fields), &keys).expect_err("invalid")
        };
        assert_eq!(e(&[("a", "string")], &[]), SchemaError::NoKeyFields);
        assert_eq!(
            e(&[("a", "string")], &["b"]),
            SchemaError::KeyNotAField("b".into())
        );
        assert!(matches!(
            e(&[("a", "decimal")], &["a"]),
            SchemaError::KeyTypeNotAllowed { field, field_type: FieldType::Decimal } if field == "a"
        ));
        assert!(matches!(
            e(&[("a", "uuid")], &["a"]),
            SchemaError::UnknownType { .. }
        ));
        assert!(matches!(
            e(&[("a-b", "string")], &["a"]),
            SchemaError::Name(_)
        ));
        assert_eq!(
            e(&[("a", "string"), ("a", "integer")], &["a"]),
            SchemaError::DuplicateField("a".into())
        );
    }

    #[test]
    fn rows_are_checked() {
        let t = table();
        let row = t
            .upsert_row(
                json!({"ID": 1, "name": "x", "blob": null})
                    .as_object()
                    .expect("obj"),
            )
            .expect("valid row");
        let values: Vec<Value> = row.into_iter().map(|v| v.value).collect();
        assert_eq!(
            values,
            vec![Value::Integer(1), Value::Text("x".into()), Value::Null]
        );
        let missing = t.upsert_row(json!({"id": 1, "name": "x"}).as_object().expect("obj"));
        assert_eq!(
            missing,
            Err(SchemaError::MissingField {
                field: "blob".into()
            })
        );
        let unknown = t.upsert_row(
            json!({"id": 1, "name": "x", "blob": null, "zzz": 1})
                .as_object()
                .expect("obj"),
        );
        assert!(matches!(unknown, Err(SchemaError::UnknownField { field, .. }) if field == "zzz"));
        let null_key = t.upsert_row(
            json!({"id": null, "name": "x", "blob": null})
                .as_object()
                .expect("obj"),
        );
        assert_eq!(
            null_key.map_err(|e| e.field().map(String::from)),
            Err(Some("id".into()))
        );
        let key = t.delete_key(
            json!({"name": "x", "id": 2, "blob": null})
                .as_object()
                .expect("obj"),
        );
        assert_eq!(
            key,
            Ok(vec![
                Value::Integer(2).into(),
                Value::Text("x".into()).into()
            ])
        );
    }

    #[test]
    fn json_form_is_ctlstores() {
        let j = serde_json::to_value(table()).expect("serialize");
        assert_eq!(
            j,
            json!({"family":"family1","name":"table1",
                   "fields":[["id","integer"],["name","string"],["blob","binary"]],
                   "keyFields":["id","name"]})
        );
    }
}
