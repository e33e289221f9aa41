//! Families and tables: creating them (`POST /families/{f}`, `POST/PUT/DELETE
//! /families/{f}/tables/{t}`), clearing rows (`DELETE /clear-rows/...`), their schemas
//! (`GET /schema/table/{f}/{t}`, `GET /schema/family/{f}`) and the operators' listings
//! (`GET /families`, `GET /families/{f}/tables`), and secondary indexes
//! (`/families/{f}/tables/{t}/indexes`).

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::{Client, ClientError};

/// A table's columns and key, as the executive takes them: `fields` as `[name, type]` pairs in
/// column order, `keyFields` in primary-key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDefinition {
    pub fields: Vec<(String, String)>,
    #[serde(rename = "keyFields", default)]
    pub key_fields: Vec<String>,
}

impl TableDefinition {
    pub fn new<N, T, K>(
        fields: impl IntoIterator<Item = (N, T)>,
        key_fields: impl IntoIterator<Item = K>,
    ) -> TableDefinition
    where
        N: Into<String>,
        T: Into<String>,
        K: Into<String>,
    {
        TableDefinition {
            fields: fields
                .into_iter()
                .map(|(n, t)| (n.into(), t.into()))
                .collect(),
            key_fields: key_fields.into_iter().map(Into::into).collect(),
        }
    }
}

/// A table's schema as `GET /schema/table/{f}/{t}` answers it (ctlstore's JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSchema {
    pub family: String,
    pub name: String,
    pub fields: Vec<(String, String)>,
    #[serde(rename = "keyFields", default)]
    pub key_fields: Vec<String>,
}

/// One family of `GET /families`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilySummary {
    pub name: String,
    /// How many tables it has.
    pub tables: u64,
}

/// One table of `GET /families/{f}/tables`: its schema, last measured size and effective limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableInfo {
    pub name: String,
    pub fields: Vec<(String, String)>,
    #[serde(rename = "keyFields", default)]
    pub key_fields: Vec<String>,
    /// The table sizer's last measurement; `None` until it has measured.
    #[serde(rename = "sizeBytes", default)]
    pub size_bytes: Option<i64>,
    #[serde(rename = "maxSize")]
    pub max_size: i64,
    #[serde(rename = "warnSize")]
    pub warn_size: i64,
}

/// `GET /families/{f}/tables`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyTables {
    pub family: String,
    pub tables: Vec<TableInfo>,
}

/// A secondary index of a table (issue 18): `POST /families/{f}/tables/{t}/indexes` takes it,
/// `GET` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexDefinition {
    pub name: String,
    pub fields: Vec<String>,
    #[serde(default)]
    pub unique: bool,
}

#[derive(Deserialize)]
struct Indexes {
    indexes: Vec<IndexDefinition>,
}

#[derive(Deserialize)]
struct Families {
    families: Vec<FamilySummary>,
}

impl Client {
    /// `POST /families/{f}`.
    pub async fn create_family(&self, family: &str) -> Result<(), ClientError> {
        let url = self.url(&["families", family]);
        self.call("create family", self.request(Method::POST, url))
            .await
    }

    /// `GET /families`: every family, sorted by name.
    pub async fn families(&self) -> Result<Vec<FamilySummary>, ClientError> {
        let url = self.url(&["families"]);
        let answer: Families = self
            .fetch("list families", self.request(Method::GET, url))
            .await?;
        Ok(answer.families)
    }

    /// `POST /families/{f}/tables/{t}`.
    pub async fn create_table(
        &self,
        family: &str,
        table: &str,
        definition: &TableDefinition,
    ) -> Result<(), ClientError> {
        let url = self.url(&["families", family, "tables", table]);
        let body = json_body(definition)?;
        self.call("create table", self.json(Method::POST, url, body))
            .await
    }

    /// `PUT /families/{f}/tables/{t}`: adds `fields` (`[name, type]` pairs) to a table.
    pub async fn add_fields(
        &self,
        family: &str,
        table: &str,
        fields: &[(String, String)],
    ) -> Result<(), ClientError> {
        let url = self.url(&["families", family, "tables", table]);
        let body = json_body(&serde_json::json!({ "fields": fields }))?;
        self.call("add fields", self.json(Method::PUT, url, body))
            .await
    }

    /// `DELETE /families/{f}/tables/{t}` (the executive must allow destructive changes).
    pub async fn drop_table(&self, family: &str, table: &str) -> Result<(), ClientError> {
        let url = self.url(&["families", family, "tables", table]);
        self.call("drop table", self.request(Method::DELETE, url))
            .await
    }

    /// `DELETE /clear-rows/families/{f}/tables/{t}` (destructive changes allowed).
    pub async fn clear_table(&self, family: &str, table: &str) -> Result<(), ClientError> {
        let url = self.url(&["clear-rows", "families", family, "tables", table]);
        self.call("clear table", self.request(Method::DELETE, url))
            .await
    }

    /// `POST /families/{f}/tables/{t}/indexes`.
    pub async fn create_index(
        &self,
        family: &str,
        table: &str,
        index: &IndexDefinition,
    ) -> Result<(), ClientError> {
        let url = self.url(&["families", family, "tables", table, "indexes"]);
        let body = json_body(index)?;
        self.call("create index", self.json(Method::POST, url, body))
            .await
    }

    /// `GET /families/{f}/tables/{t}/indexes`.
    pub async fn indexes(
        &self,
        family: &str,
        table: &str,
    ) -> Result<Vec<IndexDefinition>, ClientError> {
        let url = self.url(&["families", family, "tables", table, "indexes"]);
        let answer: Indexes = self
            .fetch("list indexes", self.request(Method::GET, url))
            .await?;
        Ok(answer.indexes)
    }

    /// `DELETE /families/{f}/tables/{t}/indexes/{index}`.
    pub async fn drop_index(
        &self,
        family: &str,
        table: &str,
        index: &str,
    ) -> Result<(), ClientError> {
        let url = self.url(&["families", family, "tables", table, "indexes", index]);
        self.call("drop index", self.request(Method::DELETE, url))
            .await
    }

    /// `GET /schema/table/{f}/{t}`.
    pub async fn table_schema(
        &self,
        family: &str,
        table: &str,
    ) -> Result<TableSchema, ClientError> {
        let url = self.url(&["schema", "table", family, table]);
        self.fetch("read table schema", self.request(Method::GET, url))
            .await
    }

    /// `GET /families/{f}/tables`: the family's tables with sizes and limits.
    pub async fn tables(&self, family: &str) -> Result<FamilyTables, ClientError> {
        let url = self.url(&["families", family, "tables"]);
        self.fetch("list tables", self.request(Method::GET, url))
            .await
    }
}

/// A request body as JSON text.
pub(crate) fn json_body<T: Serialize + ?Sized>(value: &T) -> Result<String, ClientError> {
    serde_json::to_string(value).map_err(|e| ClientError::Protocol {
        what: "encode the request".into(),
        reason: e.to_string(),
    })
}
