//! Limits (`/limits/tables[...]`, `/limits/writers[...]`), with ctlstore's JSON: table limits
//! as `{"max-size", "warn-size"}` bytes, writer limits as `{"amount", "period"}` with the period
//! in nanoseconds (Go's `time.Duration`). `tables`/`writers` are `null` when there are none.

use std::time::Duration;

use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize};

use crate::schema::json_body;
use crate::{Client, ClientError};

/// A table size limit in bytes: writes are refused over `max_size`; `warn_size` is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizeLimit {
    #[serde(rename = "max-size")]
    pub max_size: i64,
    #[serde(rename = "warn-size")]
    pub warn_size: i64,
}

/// One table's own limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableLimit {
    pub family: String,
    pub table: String,
    #[serde(flatten)]
    pub limit: SizeLimit,
}

/// `GET /limits/tables`: the default for every table, and the tables with their own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableLimits {
    pub global: SizeLimit,
    #[serde(deserialize_with = "null_as_empty")]
    pub tables: Vec<TableLimit>,
}

/// A writer rate limit: `amount` rows per `period` (nanoseconds on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub amount: i64,
    /// Nanoseconds.
    pub period: i64,
}

impl RateLimit {
    pub fn period(&self) -> Duration {
        Duration::from_nanos(u64::try_from(self.period).unwrap_or(0))
    }
}

/// One writer's own rate limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriterLimit {
    pub writer: String,
    #[serde(rename = "rate-limit")]
    pub rate_limit: RateLimit,
}

/// `GET /limits/writers`: the default for every writer, and the writers with their own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriterLimits {
    pub global: RateLimit,
    #[serde(deserialize_with = "null_as_empty")]
    pub writers: Vec<WriterLimit>,
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

impl Client {
    /// `GET /limits/tables`.
    pub async fn table_limits(&self) -> Result<TableLimits, ClientError> {
        let url = self.url(&["limits", "tables"]);
        self.fetch("read table limits", self.request(Method::GET, url))
            .await
    }

    /// `POST /limits/tables/{f}/{t}`.
    pub async fn set_table_limit(
        &self,
        family: &str,
        table: &str,
        limit: SizeLimit,
    ) -> Result<(), ClientError> {
        let url = self.url(&["limits", "tables", family, table]);
        let body = json_body(&limit)?;
        self.call("set table limit", self.json(Method::POST, url, body))
            .await
    }

    /// `DELETE /limits/tables/{f}/{t}`: the table goes back to the default.
    pub async fn delete_table_limit(&self, family: &str, table: &str) -> Result<(), ClientError> {
        let url = self.url(&["limits", "tables", family, table]);
        self.call("delete table limit", self.request(Method::DELETE, url))
            .await
    }

    /// `GET /limits/writers`.
    pub async fn writer_limits(&self) -> Result<WriterLimits, ClientError> {
        let url = self.url(&["limits", "writers"]);
        self.fetch("read writer limits", self.request(Method::GET, url))
            .await
    }

    /// `POST /limits/writers/{w}`: `amount` rows per `period`.
    pub async fn set_writer_limit(
        &self,
        writer: &str,
        amount: i64,
        period: Duration,
    ) -> Result<(), ClientError> {
        let url = self.url(&["limits", "writers", writer]);
        let nanos = i64::try_from(period.as_nanos()).unwrap_or(i64::MAX);
        let body = json_body(&RateLimit {
            amount,
            period: nanos,
        })?;
        self.call("set writer limit", self.json(Method::POST, url, body))
            .await
    }

    /// `DELETE /limits/writers/{w}`: the writer goes back to the default.
    pub async fn delete_writer_limit(&self, writer: &str) -> Result<(), ClientError> {
        let url = self.url(&["limits", "writers", writer]);
        self.call("delete writer limit", self.request(Method::DELETE, url))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_ctlstores_json_with_null_lists() {
        let t: TableLimits =
            serde_json::from_str(r#"{"global":{"max-size":10,"warn-size":5},"tables":null}"#)
                .expect("parses");
        assert!(t.tables.is_empty());
        let w: WriterLimits = serde_json::from_str(
            r#"{"global":{"amount":1000,"period":60000000000},
                "writers":[{"writer":"w","rate-limit":{"amount":5,"period":60000000000}}]}"#,
        )
        .expect("parses");
        assert_eq!(w.writers[0].rate_limit.period(), Duration::from_secs(60));
    }
}
