//! `ctlstore store LOCALDIR F.T --path-field COL --content-field COL`: uploads a local
//! directory as rows (replds `store`), through the executive as a writer: one row per regular
//! file, keyed by its path relative to LOCALDIR. With `delete`, rows whose file is gone are
//! deleted. A missing table is created (the path a `string` key, the content `binary`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ctlstore_client::{Client, Mutation, MutationBatch, TableDefinition, WriterCredentials};
use serde_json::{Value as Json, json};

use crate::FilesError;
use crate::safe_path::components;

/// Rows per request (ctlstore's maximum) and the body size kept under the executive's limit.
const BATCH_ROWS: usize = 100;
const BATCH_BYTES: usize = 768 * 1024;

#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub local: PathBuf,
    pub family: String,
    pub table: String,
    pub path_field: String,
    pub content_field: String,
    pub delete: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stored {
    pub upserted: usize,
    pub deleted: usize,
}

/// Every regular file under `local` (symlinks are not followed), by path relative to it.
fn files(local: &Path) -> Result<Vec<(String, PathBuf)>, FilesError> {
    let mut out = Vec::new();
    let mut stack = vec![local.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| FilesError::io(&dir, e))? {
            let entry = entry.map_err(|e| FilesError::io(&dir, e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| FilesError::io(&path, e))?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let rel = path.strip_prefix(local).map_err(|_| {
                    FilesError::Invalid(format!(
                        "{} is outside {}",
                        path.display(),
                        local.display()
                    ))
                })?;
                let rel = rel
                    .to_str()
                    .ok_or_else(|| {
                        FilesError::Invalid(format!("{}: the path is not UTF-8", path.display()))
                    })?
                    .to_string();
                components(&rel).map_err(|why| FilesError::Invalid(format!("{rel}: {why}")))?;
                out.push((rel, path));
            }
        }
    }
    out.sort();
    Ok(out)
}

pub async fn store(
    client: &Client,
    writer: &WriterCredentials,
    options: &StoreOptions,
) -> Result<Stored, FilesError> {
    let (f, t) = (&options.family, &options.table);
    let schema = match client.table_schema(f, t).await {
        Ok(schema) => schema,
        Err(e) if e.status() == Some(404) => {
            let definition = TableDefinition::new(
                [
                    (options.path_field.clone(), "string"),
                    (options.content_field.clone(), "binary"),
                ],
                [options.path_field.clone()],
            );
            client.create_table(f, t, &definition).await?;
            client.table_schema(f, t).await?
        }
        Err(e) => return Err(e.into()),
    };
    if schema.key_fields != [options.path_field.clone()] {
        return Err(FilesError::Invalid(format!(
            "{f}.{t}'s key is {:?}: the path field '{}' must be its only key field",
            schema.key_fields, options.path_field
        )));
    }
    let content_type = schema
        .fields
        .iter()
        .find(|(name, _)| name == &options.content_field)
        .map(|(_, ty)| ty.clone())
        .ok_or_else(|| {
            FilesError::Invalid(format!("{f}.{t} has no field '{}'", options.content_field))
        })?;
    let binary = matches!(content_type.as_str(), "binary" | "bytestring");
    let mut stored = Stored::default();
    let mut batch: Vec<Mutation> = Vec::new();
    let mut bytes = 0;
    let mut present = BTreeSet::new();
    for (rel, path) in files(&options.local)? {
        let content = std::fs::read(&path).map_err(|e| FilesError::io(&path, e))?;
        let value = if binary {
            Json::String(STANDARD.encode(&content))
        } else {
            Json::String(String::from_utf8(content).map_err(|_| {
                FilesError::Invalid(format!(
                    "{rel}: not UTF-8, and field '{}' is {content_type}",
                    options.content_field
                ))
            })?)
        };
        let size = rel.len() + value.as_str().map_or(0, str::len);
        if size > BATCH_BYTES {
            return Err(FilesError::Invalid(format!(
                "{rel}: {size} bytes is more than one request carries"
            )));
        }
        if bytes + size > BATCH_BYTES || batch.len() == BATCH_ROWS {
            send(client, writer, f, &mut batch).await?;
            bytes = 0;
        }
        let mut row = json!({});
        row[&options.path_field] = json!(rel);
        row[&options.content_field] = value;
        batch.push(Mutation::upsert(t.clone(), row));
        bytes += size;
        stored.upserted += 1;
        present.insert(rel);
    }
    send(client, writer, f, &mut batch).await?;
    if options.delete {
        let mut after: Option<String> = None;
        let mut gone = Vec::new();
        loop {
            let page = client
                .rows_page(f, t, &[], Some(1000), after.as_deref())
                .await?;
            for row in page.rows {
                if let Some(Json::String(path)) = row.get(&options.path_field)
                    && !present.contains(path)
                {
                    gone.push(Mutation::delete(
                        t.clone(),
                        json!({ options.path_field.clone(): path }),
                    ));
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        stored.deleted = gone.len();
        for chunk in gone.chunks(BATCH_ROWS) {
            let mut chunk = chunk.to_vec();
            send(client, writer, f, &mut chunk).await?;
        }
    }
    Ok(stored)
}

async fn send(
    client: &Client,
    writer: &WriterCredentials,
    family: &str,
    batch: &mut Vec<Mutation>,
) -> Result<(), FilesError> {
    if batch.is_empty() {
        return Ok(());
    }
    client
        .mutate(writer, family, &MutationBatch::new(std::mem::take(batch)))
        .await?;
    Ok(())
}
