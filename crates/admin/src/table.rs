//! `ctlstore table create|describe|list|add-fields|drop|clear|index-create|indexes|index-drop`.

use clap::{Args, Subcommand};
use ctlstore_client::{Client, IndexDefinition, TableDefinition, TableInfo};
use serde_json::json;

use crate::output::{aligned, bytes};
use crate::target::{FieldDef, TableRef};
use crate::{AdminError, Common};

#[derive(Debug, Args)]
pub struct TableArgs {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    verb: TableVerb,
}

#[derive(Debug, Subcommand)]
enum TableVerb {
    /// Create a table: `table create demo.flags --field name:string --field enabled:integer --key name`.
    Create {
        /// FAMILY.TABLE
        table: TableRef,
        /// A column, NAME:TYPE (string, integer, decimal, text, binary, bytestring), in order.
        #[arg(long = "field", value_name = "NAME:TYPE", required = true)]
        fields: Vec<FieldDef>,
        /// A primary-key column, in key order (string, integer or bytestring columns).
        #[arg(long = "key", value_name = "NAME", required = true)]
        keys: Vec<String>,
    },
    /// Show a table's columns, key, size and limits.
    Describe {
        /// FAMILY.TABLE
        table: TableRef,
    },
    /// List the tables of one family, or of all.
    List {
        /// Only this family.
        family: Option<String>,
    },
    /// Add columns to a table.
    AddFields {
        /// FAMILY.TABLE
        table: TableRef,
        /// A column to add, NAME:TYPE.
        #[arg(long = "field", value_name = "NAME:TYPE", required = true)]
        fields: Vec<FieldDef>,
    },
    /// Drop a table (the executive must run with destructive changes enabled).
    Drop {
        /// FAMILY.TABLE
        table: TableRef,
    },
    /// Delete every row of a table (the executive must run with destructive changes enabled).
    Clear {
        /// FAMILY.TABLE
        table: TableRef,
    },
    /// Create a secondary index: `table index-create demo.users by_email --field email --unique`.
    IndexCreate {
        /// FAMILY.TABLE
        table: TableRef,
        /// The index name (like a table name).
        name: String,
        /// An indexed column, in index order (string, integer or bytestring columns).
        #[arg(long = "field", value_name = "NAME", required = true)]
        fields: Vec<String>,
        /// Refuse writes that would give two rows the same values (409).
        #[arg(long)]
        unique: bool,
    },
    /// List a table's secondary indexes.
    Indexes {
        /// FAMILY.TABLE
        table: TableRef,
    },
    /// Drop a secondary index.
    IndexDrop {
        /// FAMILY.TABLE
        table: TableRef,
        /// The index name.
        name: String,
    },
}

fn pairs(fields: &[FieldDef]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|f| (f.name.clone(), f.field_type.clone()))
        .collect()
}

pub async fn run(args: TableArgs) -> Result<(), AdminError> {
    let client = args.common.client()?;
    let out = args.common.output();
    match args.verb {
        TableVerb::Create {
            table,
            fields,
            keys,
        } => {
            let definition = TableDefinition {
                fields: pairs(&fields),
                key_fields: keys,
            };
            client
                .create_table(&table.family, &table.table, &definition)
                .await?;
            out.result(
                &json!({"table": table.to_string(), "created": true}),
                || format!("created table {table}"),
            );
        }
        TableVerb::Describe { table } => describe(&client, &table, &args.common).await?,
        TableVerb::List { family } => list(&client, family, &args.common).await?,
        TableVerb::AddFields { table, fields } => {
            let fields = pairs(&fields);
            client
                .add_fields(&table.family, &table.table, &fields)
                .await?;
            out.result(
                &json!({"table": table.to_string(), "added": fields}),
                || {
                    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
                    format!("added {} to {table}", names.join(", "))
                },
            );
        }
        TableVerb::Drop { table } => {
            client.drop_table(&table.family, &table.table).await?;
            out.result(
                &json!({"table": table.to_string(), "dropped": true}),
                || format!("dropped table {table}"),
            );
        }
        TableVerb::IndexCreate {
            table,
            name,
            fields,
            unique,
        } => {
            let index = IndexDefinition {
                name,
                fields,
                unique,
            };
            client
                .create_index(&table.family, &table.table, &index)
                .await?;
            out.result(
                &json!({"table": table.to_string(), "index": index.name, "created": true}),
                || format!("created index {} of {table}", index.name),
            );
        }
        TableVerb::Indexes { table } => {
            let indexes = client.indexes(&table.family, &table.table).await?;
            out.result(&json!(indexes), || {
                let cells: Vec<Vec<String>> = indexes
                    .iter()
                    .map(|i| {
                        vec![
                            i.name.clone(),
                            i.fields.join(", "),
                            if i.unique { "yes" } else { "no" }.to_string(),
                        ]
                    })
                    .collect();
                aligned(&["INDEX", "FIELDS", "UNIQUE"], &cells)
            });
        }
        TableVerb::IndexDrop { table, name } => {
            client
                .drop_index(&table.family, &table.table, &name)
                .await?;
            out.result(
                &json!({"table": table.to_string(), "index": name, "dropped": true}),
                || format!("dropped index {name} of {table}"),
            );
        }
        TableVerb::Clear { table } => {
            client.clear_table(&table.family, &table.table).await?;
            out.result(
                &json!({"table": table.to_string(), "cleared": true}),
                || format!("cleared table {table}"),
            );
        }
    }
    Ok(())
}

/// The schema (whose 404 is the executive's message for a missing table), with the size and
/// limits from the family's listing.
async fn describe(client: &Client, table: &TableRef, common: &Common) -> Result<(), AdminError> {
    let schema = client.table_schema(&table.family, &table.table).await?;
    let info = client
        .tables(&table.family)
        .await?
        .tables
        .into_iter()
        .find(|t| t.name == schema.name);
    let (size, max, warn) = info
        .as_ref()
        .map(|t| (t.size_bytes, Some(t.max_size), Some(t.warn_size)))
        .unwrap_or((None, None, None));
    let json = json!({
        "family": schema.family,
        "name": schema.name,
        "fields": schema.fields,
        "keyFields": schema.key_fields,
        "sizeBytes": size,
        "maxSize": max,
        "warnSize": warn,
    });
    common.output().result(&json, || {
        let rows: Vec<Vec<String>> = schema
            .fields
            .iter()
            .map(|(name, kind)| {
                let key = schema.key_fields.iter().position(|k| k == name);
                let key = key.map(|i| format!("key #{}", i + 1)).unwrap_or_default();
                vec![name.clone(), kind.clone(), key]
            })
            .collect();
        let mut text = format!("table {table}\n");
        text.push_str(&aligned(&["FIELD", "TYPE", "KEY"], &rows));
        text.push_str(&format!(
            "size: {}  warn at: {}  max: {}\n",
            size.map(bytes).unwrap_or_else(|| "not measured yet".into()),
            warn.map(bytes).unwrap_or_default(),
            max.map(bytes).unwrap_or_default(),
        ));
        text
    });
    Ok(())
}

async fn list(client: &Client, family: Option<String>, common: &Common) -> Result<(), AdminError> {
    let families = match family {
        Some(f) => vec![f],
        None => client
            .families()
            .await?
            .into_iter()
            .map(|f| f.name)
            .collect(),
    };
    let mut tables: Vec<(String, TableInfo)> = Vec::new();
    for family in families {
        let listing = client.tables(&family).await?;
        tables.extend(listing.tables.into_iter().map(|t| (family.clone(), t)));
    }
    let json_tables: Vec<serde_json::Value> = tables
        .iter()
        .map(|(family, t)| {
            let mut value = serde_json::to_value(t).unwrap_or_default();
            value["family"] = json!(family);
            value
        })
        .collect();
    common
        .output()
        .result(&json!({ "tables": json_tables }), || {
            let rows: Vec<Vec<String>> = tables
                .iter()
                .map(|(family, t)| {
                    vec![
                        format!("{family}.{}", t.name),
                        t.fields.len().to_string(),
                        t.key_fields.join(","),
                        t.size_bytes.map(bytes).unwrap_or_else(|| "-".into()),
                        bytes(t.max_size),
                    ]
                })
                .collect();
            aligned(&["TABLE", "FIELDS", "KEY", "SIZE", "MAX"], &rows)
        });
    Ok(())
}
