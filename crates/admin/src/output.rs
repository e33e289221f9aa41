//! How results are printed: aligned tables and short sentences for people, or with `--json`
//! one compact JSON document per command (JSON lines for commands that stream: `ledger tail`,
//! `get --prefix`). The formatting is pure (`aligned`, `cell`) and unit-tested; printing goes
//! through stdout's lock.

use std::io::Write;

use serde_json::Value as Json;

/// Where a command's result goes, and in which form.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
}

impl Output {
    pub fn new(json: bool) -> Output {
        Output { json }
    }

    /// The result: `json` with `--json`, else `human()`.
    pub fn result(&self, json: &Json, human: impl FnOnce() -> String) {
        if self.json {
            print_line(&json.to_string());
        } else {
            let text = human();
            print_line(text.trim_end_matches('\n'));
        }
    }

    /// One record of a stream: a JSON line with `--json`, else `human()`.
    pub fn record(&self, json: &Json, human: impl FnOnce() -> String) {
        self.result(json, human);
    }
}

fn print_line(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth a panic; the command ends soon anyway.
    let _ = writeln!(out, "{text}");
}

/// Flushes stdout (the process may exit right after).
pub fn flush() {
    let _ = std::io::stdout().flush();
}

/// Rows under a header, columns aligned with two spaces, as `kubectl get` prints them.
pub fn aligned(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths.get(i).copied().unwrap_or(0);
                line.push_str(&format!("{cell:<pad$}  "));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A JSON value as a table cell: strings bare, NULL for null, anything else as JSON.
pub fn cell(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Null => "NULL".to_string(),
        other => other.to_string(),
    }
}

/// Rows (JSON objects) as a table whose columns are the union of their keys, in first-seen
/// order.
pub fn rows_table(rows: &[serde_json::Map<String, Json>]) -> String {
    let mut columns: Vec<&str> = Vec::new();
    for row in rows {
        for key in row.keys() {
            if !columns.contains(&key.as_str()) {
                columns.push(key);
            }
        }
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| row.get(*c).map(cell).unwrap_or_default())
                .collect()
        })
        .collect();
    let header: Vec<String> = columns.iter().map(|c| c.to_uppercase()).collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    aligned(&header, &cells)
}

/// A byte count for people: `1.5 MiB`, `512 B`.
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_align_and_trim() {
        let text = aligned(
            &["NAME", "TABLES"],
            &[
                vec!["demo".into(), "2".into()],
                vec!["a-longer-name".into(), "10".into()],
            ],
        );
        assert_eq!(
            text,
            "NAME           TABLES\ndemo           2\na-longer-name  10\n"
        );
        assert_eq!(aligned(&["ONLY"], &[]), "ONLY\n");
    }

    #[test]
    fn rows_become_columns() {
        let rows = vec![
            json!({"name": "a", "enabled": 1})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            json!({"name": "b", "enabled": null, "note": "x"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        ];
        let text = rows_table(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[0].contains("ENABLED") && lines[0].contains("NOTE"),
            "{text}"
        );
        assert!(
            lines[2].contains("NULL") && lines[2].ends_with('x'),
            "{text}"
        );
    }

    #[test]
    fn byte_counts_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(100 * 1024 * 1024), "100.0 MiB");
    }
}
