//! The SQL the reader runs on user tables and the catalog, rendered once per table.

use ctlstore_schema::FieldType;

/// A table's key columns with their declared types, in PRIMARY KEY order (ctlstore's reader:
/// `ORDER BY pk`).
pub(crate) const KEY_COLUMNS: &str =
    "SELECT name, type FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk";
/// Every column of a table with its declared type.
pub(crate) const ALL_COLUMNS: &str = "SELECT name, type FROM pragma_table_info(?1)";
/// Whether a table exists (to tell "no such table" from "no primary key").
pub(crate) const TABLE_EXISTS: &str =
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1";

/// `name` as an SQL identifier.
pub(crate) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `SELECT * ... WHERE k1 = ? AND ... kn = ?` on every key column (ctlstore's point read).
pub(crate) fn point_select(table: &str, keys: &[(String, FieldType)]) -> String {
    format!(
        "SELECT * FROM {}{}",
        quoted(table),
        filter(keys, keys.len())
    )
}

/// Prefix scans in key order, indexed by the number of key columns given (0 ..= all).
pub(crate) fn prefix_selects(table: &str, keys: &[(String, FieldType)]) -> Vec<String> {
    let order: Vec<String> = keys.iter().map(|(k, _)| quoted(k)).collect();
    let order = order.join(", ");
    (0..=keys.len())
        .map(|n| {
            format!(
                "SELECT * FROM {}{} ORDER BY {order}",
                quoted(table),
                filter(keys, n)
            )
        })
        .collect()
}

/// Index scans (`INDEXED BY`: the index is used or the statement fails, never a silent full
/// scan) by the number of index columns given, ordered by the index columns then the key.
pub(crate) fn index_selects(
    table: &str,
    index: &str,
    columns: &[(String, FieldType)],
    keys: &[(String, FieldType)],
) -> Vec<String> {
    let order: Vec<String> = columns
        .iter()
        .chain(keys.iter().filter(|k| !columns.iter().any(|c| c.0 == k.0)))
        .map(|(k, _)| quoted(k))
        .collect();
    let order = order.join(", ");
    (0..=columns.len())
        .map(|n| {
            format!(
                "SELECT * FROM {} INDEXED BY {}{} ORDER BY {order}",
                quoted(table),
                quoted(index),
                filter(columns, n)
            )
        })
        .collect()
}

/// The columns of an index, in index order (expressions have no name and are skipped).
pub(crate) const INDEX_COLUMNS: &str =
    "SELECT name FROM pragma_index_info(?1) WHERE name IS NOT NULL ORDER BY seqno";
/// The table an index belongs to.
pub(crate) const INDEX_TABLE: &str =
    "SELECT tbl_name FROM sqlite_master WHERE type = 'index' AND name = ?1";

/// ` WHERE k1 = ? AND ...` on the first `n` key columns; empty for none.
fn filter(keys: &[(String, FieldType)], n: usize) -> String {
    keys.iter()
        .take(n)
        .enumerate()
        .map(|(i, (k, _))| {
            let joiner = if i == 0 { " WHERE" } else { " AND" };
            format!("{joiner} {} = ?", quoted(k))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<(String, FieldType)> {
        vec![
            ("customer".into(), FieldType::Integer),
            ("na\"me".into(), FieldType::String),
        ]
    }

    #[test]
    fn point_reads_filter_on_every_key_column() {
        assert_eq!(
            point_select("fam___t", &keys()),
            r#"SELECT * FROM "fam___t" WHERE "customer" = ? AND "na""me" = ?"#
        );
    }

    #[test]
    fn index_scans_use_the_index_and_order_by_it_then_the_key() {
        let sql = index_selects(
            "fam___t",
            "fam___t___by_x",
            &[("x".into(), FieldType::String)],
            &keys(),
        );
        assert_eq!(
            sql[1],
            r#"SELECT * FROM "fam___t" INDEXED BY "fam___t___by_x" WHERE "x" = ? ORDER BY "x", "customer", "na""me""#
        );
    }

    #[test]
    fn prefix_scans_filter_on_the_first_n_columns_in_key_order() {
        let sql = prefix_selects("fam___t", &keys());
        assert_eq!(
            sql,
            [
                r#"SELECT * FROM "fam___t" ORDER BY "customer", "na""me""#,
                r#"SELECT * FROM "fam___t" WHERE "customer" = ? ORDER BY "customer", "na""me""#,
                r#"SELECT * FROM "fam___t" WHERE "customer" = ? AND "na""me" = ? ORDER BY "customer", "na""me""#,
            ]
        );
    }
}
