//! Partial replication on the host (docs/security.md): which snapshot a host with
//! `--families` bootstraps from, the check that a snapshot holds nothing the host may not
//! read, and the check that an existing LDB was replicated with the same families.

use std::path::{Path, PathBuf};

use ctlstore_ldb::Ldb;
use ctlstore_ledger::Scopes;
use serde::Deserialize;

use crate::{Config, ReflectorError, SourceConfig};

/// The snapshot URL for a family set: the supervisor run with `--families` publishes under
/// `families-<list>/` beside the full snapshot's name, so each family set has its own key.
pub fn snapshot_url(url: &str, families: Option<&Scopes>) -> String {
    match families.filter(|f| !f.is_all()) {
        Some(f) => ctlstore_snapshot::family_set_url(url, &f.to_list()),
        None => url.to_string(),
    }
}

/// What an LDB replicating `families` holds: those, and the heartbeat's family, which the
/// executive always adds to a filtered feed (so staleness stays measurable). `None`: every
/// family.
pub(crate) fn held(families: Option<&Scopes>) -> Option<Scopes> {
    families.filter(|f| !f.is_all()).map(|f| {
        let with_heartbeat = format!(
            "{},{}",
            f.to_list(),
            ctlstore_schema::DEFAULT_HEARTBEAT_FAMILY
        );
        Scopes::parse_list(&with_heartbeat).unwrap_or_else(|_| f.clone())
    })
}

pub(crate) fn staged_path(ldb: &Path, suffix: &str) -> PathBuf {
    let mut staged = ldb.as_os_str().to_owned();
    staged.push(suffix);
    PathBuf::from(staged)
}

/// The executive's answer to `GET /ledger/access`.
#[derive(Deserialize)]
struct Access {
    families: serde_json::Value,
}

/// What this host may hold: its `--families`, narrowed by what the executive's ACL lets its
/// identity read (`GET /ledger/access` on the feed). When the executive cannot say (down, or
/// an older one), only `--families` counts.
pub(crate) async fn allowed_scopes(config: &Config) -> Scopes {
    let configured = held(config.families.as_ref()).unwrap_or(Scopes::All);
    let SourceConfig::Feed { executive_url, .. } = &config.source else {
        return configured;
    };
    let Some(base) = ctlstore_schema::executive_base_urls(executive_url)
        .into_iter()
        .next()
    else {
        return configured;
    };
    let client = match config
        .tls
        .apply(reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)))
        .build()
    {
        Ok(c) => c,
        Err(_) => return configured,
    };
    let access = async {
        let response = client
            .get(format!("{base}/ledger/access"))
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        let access: Access = response.json().await.ok()?;
        match access.families {
            serde_json::Value::String(s) if s == "*" => Some(Scopes::All),
            serde_json::Value::Array(list) => {
                let text: Vec<String> = list
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect();
                Some(
                    Scopes::parse_list(&text.join(",")).unwrap_or(Scopes::Only(Default::default())),
                )
            }
            _ => None,
        }
    }
    .await;
    match access {
        Some(readable) => configured.intersect(&readable),
        None => {
            tracing::warn!(executive = %base, "cannot ask the executive what this host may read: checking snapshots against --families only");
            configured
        }
    }
}

/// Checks the restored snapshot at `staged` holds only families within `allowed` (its
/// `_ldb_families`; none recorded means every family), then gives it the LDB's mode and group.
pub(crate) fn admit_snapshot(
    staged: &Path,
    allowed: &Scopes,
    group: Option<u32>,
) -> Result<(), String> {
    let conn =
        rusqlite::Connection::open_with_flags(staged, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| e.to_string())?;
    let recorded = ctlstore_ldb_layout::read_families(&conn).map_err(|e| e.to_string())?;
    drop(conn);
    let holds = match &recorded {
        Some(list) => Scopes::parse_list(list).map_err(|e| format!("its _ldb_families: {e}"))?,
        None => Scopes::All,
    };
    if !holds.within(allowed) {
        return Err(format!(
            "it holds families {}, and this host may only hold {}",
            holds.to_list(),
            allowed.to_list()
        ));
    }
    ctlstore_ldb::secure_ldb_file(staged, group).map_err(|e| e.to_string())
}

/// An LDB with entries keeps the families it was replicated with: following other families
/// from its seq on would leave it with data it should not hold, or without earlier rows of the
/// new ones. A new LDB records the families it is about to follow.
pub(crate) fn check_recorded_families(
    ldb: &Ldb,
    families: Option<&Scopes>,
) -> Result<(), ReflectorError> {
    let configured = held(families).map(|f| f.to_list());
    let recorded = ldb.families()?;
    if recorded == configured {
        return Ok(());
    }
    if ldb.seq() == 0 {
        if let Some(list) = &configured {
            ldb.set_families(list)?;
        }
        return Ok(());
    }
    Err(ReflectorError::Families {
        ldb: ldb.path().display().to_string(),
        recorded: recorded.unwrap_or_else(|| "*".into()),
        configured: configured.unwrap_or_else(|| "*".into()),
    })
}
