//! The rows of a `mutate` input file, each with its line number and the byte offset just after
//! it (what the resume cookie records).
//!
//! - JSON lines: one JSON object per line, column -> value, exactly as the executive takes a
//!   mutation's values (bytes as base64); blank lines are skipped.
//! - CSV: a header row of column names, then one row per record (RFC 4180 quoting, so a value
//!   may hold commas and newlines). Cells are converted by the column's type
//!   ([`csv_value`]): integers and decimals become JSON numbers, binary and bytestring cells
//!   are base64 text; an empty cell is NULL, except in string and text columns, where it is
//!   the empty string.
//!
//! `--file -` reads standard input into an anonymous temporary file first: the load's identity
//! is the hash of every byte, and resuming needs to seek.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};

use ctlstore_schema::{FieldName, FieldType, Table};
use serde_json::{Map, Value as Json};

use crate::AdminError;

/// The formats `mutate` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// A header row, then records.
    Csv,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }

    /// `.csv` files are CSV; everything else JSON lines.
    pub fn of_path(path: &str) -> Format {
        if path.to_ascii_lowercase().ends_with(".csv") {
            Format::Csv
        } else {
            Format::Jsonl
        }
    }
}

/// An input file, open and seekable.
pub struct InputFile {
    file: File,
    /// The name in messages (`-` is `stdin`).
    pub name: String,
    pub len: u64,
}

impl InputFile {
    /// Opens `path`, or spools standard input for `-`.
    pub fn open(path: &str) -> Result<InputFile, AdminError> {
        if path == "-" {
            let mut file = tempfile::tempfile()
                .map_err(|e| AdminError::io("create a temporary file for stdin", e))?;
            std::io::copy(&mut std::io::stdin().lock(), &mut file)
                .map_err(|e| AdminError::io("read standard input", e))?;
            return InputFile::from_file(file, "stdin".into());
        }
        let file = File::open(path).map_err(|e| AdminError::io(format!("open {path}"), e))?;
        InputFile::from_file(file, path.to_string())
    }

    fn from_file(file: File, name: String) -> Result<InputFile, AdminError> {
        let len = file
            .metadata()
            .map_err(|e| AdminError::io(format!("read {name}"), e))?
            .len();
        Ok(InputFile { file, name, len })
    }

    /// A handle positioned at `offset` (handles share one cursor; only one is read at a time).
    pub fn at(&self, offset: u64) -> Result<File, AdminError> {
        let mut file = self
            .file
            .try_clone()
            .map_err(|e| AdminError::io(format!("read {}", self.name), e))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| AdminError::io(format!("seek in {}", self.name), e))?;
        Ok(file)
    }

    fn io_error(&self, e: std::io::Error) -> AdminError {
        AdminError::io(format!("read {}", self.name), e)
    }
}

/// One row: its first line (from 1), the offset after it, and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct RowRecord {
    pub line: u64,
    pub end: u64,
    pub values: Map<String, Json>,
}

/// The rows of an input file from some offset on.
pub struct Rows<'a> {
    input: &'a InputFile,
    source: Source,
}

enum Source {
    Jsonl {
        reader: BufReader<File>,
        offset: u64,
        line: u64,
    },
    Csv {
        reader: csv::Reader<File>,
        base: u64,
        base_line: u64,
        columns: Vec<(String, Option<FieldType>)>,
    },
}

impl<'a> Rows<'a> {
    /// The rows after byte `start` (`None`: from the first row). `table` types CSV cells.
    pub fn open(
        input: &'a InputFile,
        format: Format,
        table: &Table,
        start: Option<u64>,
    ) -> Result<Rows<'a>, AdminError> {
        let source = match format {
            Format::Jsonl => {
                let offset = start.unwrap_or(0);
                Source::Jsonl {
                    line: count_lines(input, offset)?,
                    reader: BufReader::new(input.at(offset)?),
                    offset,
                }
            }
            Format::Csv => {
                let (names, header_end) = csv_header(input)?;
                let columns = names
                    .into_iter()
                    .map(|name| {
                        let field_type = FieldName::new(&name)
                            .ok()
                            .and_then(|n| table.field(n.as_str()).map(|f| f.field_type));
                        (name, field_type)
                    })
                    .collect();
                let base = start.unwrap_or(0).max(header_end);
                Source::Csv {
                    reader: csv::ReaderBuilder::new()
                        .has_headers(false)
                        .flexible(true)
                        .from_reader(input.at(base)?),
                    base_line: count_lines(input, base)?,
                    base,
                    columns,
                }
            }
        };
        Ok(Rows { input, source })
    }

    fn bad(&self, line: u64, message: impl Into<String>) -> AdminError {
        AdminError::Input {
            path: self.input.name.clone(),
            line,
            message: message.into(),
        }
    }

    /// The next row, or `None` at the end of the file.
    pub fn next_row(&mut self) -> Result<Option<RowRecord>, AdminError> {
        let row = match &mut self.source {
            Source::Jsonl {
                reader,
                offset,
                line,
            } => {
                let mut buffer = Vec::new();
                loop {
                    buffer.clear();
                    let n = reader
                        .read_until(b'\n', &mut buffer)
                        .map_err(|e| self.input.io_error(e))?;
                    if n == 0 {
                        return Ok(None);
                    }
                    *offset += n as u64;
                    *line += 1;
                    if !buffer.iter().all(u8::is_ascii_whitespace) {
                        break;
                    }
                }
                let (line, end) = (*line, *offset);
                match serde_json::from_slice::<Json>(&buffer) {
                    Ok(Json::Object(values)) => RowRecord { line, end, values },
                    Ok(_) => return Err(self.bad(line, "not a JSON object (column -> value)")),
                    Err(e) => return Err(self.bad(line, format!("not JSON: {e}"))),
                }
            }
            Source::Csv {
                reader,
                base,
                base_line,
                columns,
            } => {
                let mut record = csv::ByteRecord::new();
                let more = reader.read_byte_record(&mut record);
                let line = *base_line + record.position().map(|p| p.line()).unwrap_or(1);
                match more {
                    Ok(false) => return Ok(None),
                    Ok(true) => {}
                    Err(e) if e.is_io_error() => {
                        return Err(AdminError::io(
                            format!("read {}", self.input.name),
                            e.into(),
                        ));
                    }
                    Err(e) => return Err(self.bad(line, format!("not CSV: {e}"))),
                }
                let end = *base + reader.position().byte();
                let values = csv_row(columns, &record).map_err(|m| self.bad(line, m))?;
                RowRecord { line, end, values }
            }
        };
        Ok(Some(row))
    }
}

/// The header row's column names and the offset after it.
fn csv_header(input: &InputFile) -> Result<(Vec<String>, u64), AdminError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input.at(0)?);
    let mut record = csv::StringRecord::new();
    let bad = |message: String| AdminError::Input {
        path: input.name.clone(),
        line: 1,
        message,
    };
    match reader.read_record(&mut record) {
        Ok(true) => {}
        Ok(false) => return Ok((Vec::new(), 0)),
        Err(e) => return Err(bad(format!("not a CSV header: {e}"))),
    }
    let names: Vec<String> = record.iter().map(|n| n.trim().to_string()).collect();
    if let Some(i) = names.iter().position(String::is_empty) {
        return Err(bad(format!("column {} of the header has no name", i + 1)));
    }
    Ok((names, reader.position().byte()))
}

/// The number of newlines before `offset` (so a resumed read still reports file lines).
fn count_lines(input: &InputFile, offset: u64) -> Result<u64, AdminError> {
    let mut counted = 0u64;
    let mut reader = input.at(0)?.take(offset);
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buffer).map_err(|e| input.io_error(e))?;
        if n == 0 {
            return Ok(counted);
        }
        counted += buffer[..n].iter().filter(|b| **b == b'\n').count() as u64;
    }
}

/// A CSV record as a row, each cell converted by its column's type.
fn csv_row(
    columns: &[(String, Option<FieldType>)],
    record: &csv::ByteRecord,
) -> Result<Map<String, Json>, String> {
    if record.len() != columns.len() {
        return Err(format!(
            "{} values for {} columns",
            record.len(),
            columns.len()
        ));
    }
    columns
        .iter()
        .zip(record.iter())
        .map(|((name, field_type), raw)| {
            let text =
                std::str::from_utf8(raw).map_err(|_| format!("column {name}: not UTF-8 text"))?;
            let value = csv_value(*field_type, text).map_err(|e| format!("column {name}: {e}"))?;
            Ok((name.clone(), value))
        })
        .collect()
}

/// A CSV cell as the JSON the executive takes for a column of `field_type` (`None`: a column
/// the table does not have, left as text for the schema check to name).
pub fn csv_value(field_type: Option<FieldType>, text: &str) -> Result<Json, String> {
    let Some(field_type) = field_type else {
        return Ok(Json::String(text.to_string()));
    };
    match field_type {
        FieldType::String | FieldType::Text => Ok(Json::String(text.to_string())),
        _ if text.is_empty() => Ok(Json::Null),
        FieldType::Integer => text
            .trim()
            .parse::<i64>()
            .map(Json::from)
            .map_err(|_| format!("'{text}' is not an integer")),
        FieldType::Decimal => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Json::Number)
            .ok_or_else(|| format!("'{text}' is not a finite number")),
        FieldType::Binary | FieldType::Bytestring => Ok(Json::String(text.trim().to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::Write;

    fn table() -> Table {
        let pairs: Vec<(String, String)> = [
            ("id", "integer"),
            ("name", "string"),
            ("score", "decimal"),
            ("data", "binary"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        Table::from_wire("demo", "things", &pairs, &["id".to_string()]).expect("valid")
    }

    fn input(text: &str) -> (tempfile::TempDir, InputFile) {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("in");
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .expect("write");
        let input = InputFile::open(path.to_str().expect("utf-8")).expect("open");
        (dir, input)
    }

    fn all(input: &InputFile, format: Format, start: Option<u64>) -> Vec<RowRecord> {
        let mut rows = Rows::open(input, format, &table(), start).expect("open rows");
        let mut out = Vec::new();
        while let Some(row) = rows.next_row().expect("a row") {
            out.push(row);
        }
        out
    }

    #[test]
    fn csv_cells_follow_the_column_type() {
        assert_eq!(csv_value(Some(FieldType::Integer), "42"), Ok(json!(42)));
        assert_eq!(csv_value(Some(FieldType::Integer), ""), Ok(Json::Null));
        assert!(csv_value(Some(FieldType::Integer), "4.2").is_err());
        assert_eq!(csv_value(Some(FieldType::Decimal), "1.5"), Ok(json!(1.5)));
        assert!(csv_value(Some(FieldType::Decimal), "NaN").is_err());
        assert_eq!(csv_value(Some(FieldType::String), ""), Ok(json!("")));
        assert_eq!(
            csv_value(Some(FieldType::Binary), "3q2+7w=="),
            Ok(json!("3q2+7w=="))
        );
        assert_eq!(csv_value(None, "x"), Ok(json!("x")));
    }

    #[test]
    fn jsonl_rows_carry_lines_and_offsets_and_resume_anywhere() {
        let text = "{\"id\":1}\n\n{\"id\":2}\n{\"id\":3}";
        let (_dir, input) = input(text);
        let rows = all(&input, Format::Jsonl, None);
        let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [1, 3, 4]);
        assert_eq!(rows[2].end, text.len() as u64);
        let resumed = all(&input, Format::Jsonl, Some(rows[1].end));
        assert_eq!(resumed, rows[2..].to_vec());
    }

    #[test]
    fn csv_rows_are_typed_quoted_and_resumable() {
        let text = "id,name,score,data\n1,\"a, \"\"quoted\"\"\nname\",1.5,\n2,b,,3q2+7w==\n";
        let (_dir, input) = input(text);
        let rows = all(&input, Format::Csv, None);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            Json::Object(rows[0].values.clone()),
            json!({"id": 1, "name": "a, \"quoted\"\nname", "score": 1.5, "data": null})
        );
        assert_eq!((rows[0].line, rows[1].line), (2, 4));
        assert_eq!(rows[1].end, text.len() as u64);
        let resumed = all(&input, Format::Csv, Some(rows[0].end));
        assert_eq!(resumed, rows[1..].to_vec());
    }

    #[test]
    fn bad_rows_name_their_line() {
        let (_dir, bad_json) = input("{\"id\":1}\n[1]\n");
        let mut rows = Rows::open(&bad_json, Format::Jsonl, &table(), None).expect("open");
        assert!(rows.next_row().is_ok());
        let e = rows.next_row().expect_err("not an object");
        assert!(e.to_string().contains("line 2"), "{e}");

        let (_dir, bad_csv) = input("id,name\n1,a,extra\n");
        let mut rows = Rows::open(&bad_csv, Format::Csv, &table(), None).expect("open");
        let e = rows.next_row().expect_err("too many values");
        assert!(e.to_string().contains("line 2"), "{e}");
    }
}
