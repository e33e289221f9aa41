//! `ctlstore materialize` and `ctlstore store`: files on disk from rows and rows from files
//! (crate `ctlstore-files`, docs/files.md).

use std::path::PathBuf;

use clap::Args;

use super::{FlagError, http_url, positive};
use crate::goflags::GoDuration;

/// `FAMILY.TABLE`.
fn family_table(flag: &str, text: &str) -> Result<(String, String), FlagError> {
    text.split_once('.')
        .filter(|(f, t)| !f.is_empty() && !t.is_empty())
        .map(|(f, t)| (f.to_string(), t.to_string()))
        .ok_or_else(|| FlagError::new(flag, format!("'{text}' is not FAMILY.TABLE")))
}

#[derive(Args, Debug)]
pub struct MaterializeArgs {
    /// FAMILY.TABLE
    pub table: String,
    /// The directory kept equal to the rows.
    #[arg(long)]
    pub dir: PathBuf,
    /// The column holding each file's path, relative to --dir.
    #[arg(long)]
    pub path_field: String,
    /// The column holding each file's bytes.
    #[arg(long)]
    pub content_field: String,
    /// Only rows whose leading key values are these.
    #[arg(long, num_args = 1.., value_name = "KEY")]
    pub prefix: Vec<String>,
    /// Read this host's LDB.
    #[arg(long, conflicts_with = "sidecar", required_unless_present = "sidecar")]
    pub ldb: Option<PathBuf>,
    /// Read through a sidecar instead.
    #[arg(long)]
    pub sidecar: Option<String>,
    /// With --sidecar: the content column is binary (the sidecar sends it as base64).
    #[arg(long)]
    pub base64: bool,
    /// File mode, octal.
    #[arg(long, default_value = "0600")]
    pub mode: String,
    /// How often to look for changes.
    #[arg(long, default_value_t = GoDuration(std::time::Duration::from_millis(100)))]
    pub poll_interval: GoDuration,
    /// Reconcile once and exit.
    #[arg(long)]
    pub once: bool,
    /// Run these triggers (docs/triggers.md) for the files each reconcile writes or removes;
    /// a trigger's path is family/table/<directory prefix>.
    #[arg(long, conflicts_with = "once")]
    pub triggers_dir: Option<PathBuf>,
}

impl MaterializeArgs {
    pub fn config(
        &self,
    ) -> Result<
        (
            ctlstore_files::materialize::Options,
            ctlstore_files::materialize::RowSource,
        ),
        FlagError,
    > {
        let (family, table) = family_table("table", &self.table)?;
        let mode = u32::from_str_radix(self.mode.trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .ok_or_else(|| {
                FlagError::new("mode", format!("'{}' is not an octal file mode", self.mode))
            })?;
        positive("poll-interval", self.poll_interval)?;
        let source = match (&self.ldb, &self.sidecar) {
            (Some(ldb), _) => ctlstore_files::materialize::RowSource::Ldb(ldb.clone()),
            (None, Some(url)) => ctlstore_files::materialize::RowSource::Sidecar {
                url: http_url("sidecar", url)?,
                base64: self.base64,
            },
            (None, None) => return Err(FlagError::new("ldb", "--ldb or --sidecar is required")),
        };
        Ok((
            ctlstore_files::materialize::Options {
                dir: self.dir.clone(),
                family,
                table,
                path_field: self.path_field.clone(),
                content_field: self.content_field.clone(),
                prefix: self.prefix.clone(),
                mode,
            },
            source,
        ))
    }
}

#[derive(Args, Debug)]
pub struct StoreArgs {
    /// The local directory to upload.
    pub local_dir: PathBuf,
    /// FAMILY.TABLE
    pub table: String,
    #[arg(long)]
    pub path_field: String,
    #[arg(long)]
    pub content_field: String,
    /// Also delete rows whose file is not in the directory.
    #[arg(long)]
    pub delete: bool,
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub executive_url: String,
    #[arg(long, default_value = "")]
    pub writer_name: String,
    #[arg(long, default_value = "")]
    pub writer_secret: String,
    #[arg(long)]
    pub admin_token: Option<String>,
}

impl StoreArgs {
    pub fn config(
        &self,
    ) -> Result<
        (
            String,
            Option<String>,
            String,
            String,
            ctlstore_files::store::StoreOptions,
        ),
        FlagError,
    > {
        let (family, table) = family_table("table", &self.table)?;
        if self.writer_name.is_empty() {
            return Err(FlagError::new("writer-name", "is required"));
        }
        if self.writer_secret.is_empty() {
            return Err(FlagError::new(
                "writer-secret",
                "is required (or CTLSTORE_WRITER_SECRET)",
            ));
        }
        Ok((
            http_url("executive-url", &self.executive_url)?,
            self.admin_token.clone().filter(|t| !t.is_empty()),
            self.writer_name.clone(),
            self.writer_secret.clone(),
            ctlstore_files::store::StoreOptions {
                local: self.local_dir.clone(),
                family,
                table,
                path_field: self.path_field.clone(),
                content_field: self.content_field.clone(),
                delete: self.delete,
            },
        ))
    }
}
