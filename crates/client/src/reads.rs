//! Rows read through the executive (`GET /families/{f}/tables/{t}/rows`): one by key, or a
//! page by key prefix. They read the ctldb itself, so a read after an acknowledged write sees
//! it. Key values are JSON as in mutations: integers as numbers, strings as strings,
//! bytestrings as standard base64.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::{Client, ClientError, Row, is_not_found};

/// A page of rows in key order, and the cursor of the next page (`None` on the last).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowsPage {
    pub rows: Vec<Row>,
    pub next: Option<String>,
}

#[derive(Deserialize)]
struct OneRow {
    row: Row,
}

impl Client {
    /// `GET .../rows?key=JSON`: the row with primary key `key` (every key value, in key order),
    /// or `None` when there is none.
    pub async fn row(
        &self,
        family: &str,
        table: &str,
        key: &[Json],
    ) -> Result<Option<Row>, ClientError> {
        let mut url = self.url(&["families", family, "tables", table, "rows"]);
        url.query_pairs_mut()
            .append_pair("key", &Json::Array(key.to_vec()).to_string());
        match self
            .fetch::<OneRow>("read a row", self.request(Method::GET, url))
            .await
        {
            Ok(answer) => Ok(Some(answer.row)),
            Err(e) if is_not_found(&e, "key") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET .../rows?prefix=JSON&limit=N&after=CURSOR`: a page of the rows whose leading key
    /// values are `prefix` (all rows for an empty prefix). `after` is the previous page's
    /// `next`.
    pub async fn rows_page(
        &self,
        family: &str,
        table: &str,
        prefix: &[Json],
        limit: Option<u32>,
        after: Option<&str>,
    ) -> Result<RowsPage, ClientError> {
        let mut url = self.url(&["families", family, "tables", table, "rows"]);
        {
            let mut query = url.query_pairs_mut();
            if !prefix.is_empty() {
                query.append_pair("prefix", &Json::Array(prefix.to_vec()).to_string());
            }
            if let Some(limit) = limit {
                query.append_pair("limit", &limit.to_string());
            }
            if let Some(after) = after {
                query.append_pair("after", after);
            }
        }
        self.fetch("read rows", self.request(Method::GET, url))
            .await
    }
}
