//! `create-family`, `create-table` and `add-fields`: schema changes through the executive.
//!
//! As in ctlstore-cli, an existing family or table is not an error (the verb says so on stdout
//! and exits 0), while an existing column is.

use reqwest::Method;
use serde_json::{Value as Json, json};

use crate::Failure;
use crate::executive::Executive;

/// `create-family <name>`: exactly one name.
pub async fn create_family(executive: &Executive, names: &[String]) -> Result<String, Failure> {
    let [family] = names else {
        return Err(Failure("Family required".into()));
    };
    let answer = executive
        .send(Method::POST, &format!("/families/{family}"), None)
        .await?;
    match answer.status {
        200 => Ok(String::new()),
        409 => Ok("Family already exists\n".into()),
        _ => Err(answer.rejected(&format!("could not create family '{family}'"))),
    }
}

/// `create-table --family F --field n:t ... --key-field k ... <table>`.
pub async fn create_table(
    executive: &Executive,
    family: &str,
    fields: &[String],
    key_fields: &[String],
    tables: &[String],
) -> Result<String, Failure> {
    let family = required(family, "Family")?;
    let body = json!({"fields": fields_json(fields)?, "keyFields": list_or_null(key_fields)});
    let Some(table) = tables.first() else {
        return Err(Failure("Table required".into()));
    };
    let path = format!("/families/{family}/tables/{table}");
    let answer = executive.send(Method::POST, &path, Some(&body)).await?;
    match answer.status {
        200 => Ok(String::new()),
        409 => Ok("Table already exists\n".into()),
        _ => Err(answer.rejected(&format!("could not create table '{table}'"))),
    }
}

/// `add-fields --family F --table T --field n:t ...`.
pub async fn add_fields(
    executive: &Executive,
    family: &str,
    table: &str,
    fields: &[String],
) -> Result<String, Failure> {
    let family = required(family, "Family")?;
    let table = required(table, "Table")?;
    let body = json!({"fields": fields_json(fields)?});
    let path = format!("/families/{family}/tables/{table}");
    let answer = executive.send(Method::PUT, &path, Some(&body)).await?;
    match answer.status {
        200 => Ok(String::new()),
        409 => Err(Failure("One or more columns already exist".into())),
        _ => Err(answer.rejected("could not add fields")),
    }
}

/// A flag that must not be empty: `<what> required` otherwise, as ctlstore-cli says.
pub fn required<'a>(value: &'a str, what: &str) -> Result<&'a str, Failure> {
    if value.is_empty() {
        Err(Failure(format!("{what} required")))
    } else {
        Ok(value)
    }
}

/// `--field name:type` flags as the executive's `[["name","type"], ...]`; `null` for none, as
/// ctlstore-cli sends it. The type is passed through: the executive judges it.
fn fields_json(specs: &[String]) -> Result<Json, Failure> {
    let mut pairs = Vec::with_capacity(specs.len());
    for spec in specs {
        match spec.split(':').collect::<Vec<_>>()[..] {
            [name, kind] => pairs.push(json!([name, kind])),
            _ => return Err(Failure(format!("invalid field: {spec}"))),
        }
    }
    Ok(if pairs.is_empty() {
        Json::Null
    } else {
        Json::Array(pairs)
    })
}

fn list_or_null(items: &[String]) -> Json {
    if items.is_empty() {
        Json::Null
    } else {
        json!(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_name_colon_type() {
        let specs = ["id:integer".to_string(), "name:string".to_string()];
        assert_eq!(
            fields_json(&specs).map_err(|e| e.0),
            Ok(json!([["id", "integer"], ["name", "string"]]))
        );
        assert_eq!(fields_json(&[]).map_err(|e| e.0), Ok(Json::Null));
        for bad in ["id", "a:b:c", ""] {
            let err = fields_json(&[bad.to_string()]).map(|_| ()).map_err(|e| e.0);
            assert_eq!(err, Err(format!("invalid field: {bad}")));
        }
    }

    #[test]
    fn empty_flags_are_required() {
        assert_eq!(
            required("", "Family").map_err(|e| e.0),
            Err("Family required".into())
        );
        assert_eq!(required("f", "Family").map_err(|e| e.0), Ok("f"));
    }
}
