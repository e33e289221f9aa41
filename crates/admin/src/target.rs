//! The small argument types the verbs share: `F.T` (a table of a family), `name:type` (a field
//! definition) and sizes with binary units. Pure parsing, used as clap value parsers, so a
//! malformed argument is a usage error before anything is sent.

use std::fmt;
use std::str::FromStr;

/// `family.table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRef {
    pub family: String,
    pub table: String,
}

impl FromStr for TableRef {
    type Err = String;

    fn from_str(text: &str) -> Result<TableRef, String> {
        match text.split_once('.') {
            Some((family, table)) if !family.is_empty() && !table.is_empty() => Ok(TableRef {
                family: family.to_string(),
                table: table.to_string(),
            }),
            _ => Err(format!("'{text}' is not FAMILY.TABLE")),
        }
    }
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.family, self.table)
    }
}

/// `name:type`, a field of `table create` / `table add-fields`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    pub name: String,
    pub field_type: String,
}

impl FromStr for FieldDef {
    type Err = String;

    fn from_str(text: &str) -> Result<FieldDef, String> {
        match text.split_once(':') {
            Some((name, field_type)) if !name.is_empty() && !field_type.is_empty() => {
                Ok(FieldDef {
                    name: name.to_string(),
                    field_type: field_type.to_string(),
                })
            }
            _ => Err(format!(
                "'{text}' is not NAME:TYPE (types: string, integer, decimal, text, binary, bytestring)"
            )),
        }
    }
}

/// A size in bytes: a whole number, optionally with `KiB`, `MiB`, `GiB` (or `K`, `M`, `G`,
/// also powers of 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub i64);

impl FromStr for Size {
    type Err = String;

    fn from_str(text: &str) -> Result<Size, String> {
        let t = text.trim();
        let digits = t.chars().take_while(char::is_ascii_digit).count();
        let (number, unit) = t.split_at(digits);
        let number: i64 = number
            .parse()
            .map_err(|_| format!("'{text}' is not a size (e.g. 104857600, 100MiB)"))?;
        let scale: i64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kib" => 1 << 10,
            "m" | "mib" => 1 << 20,
            "g" | "gib" => 1 << 30,
            _ => return Err(format!("'{text}': unknown unit (use KiB, MiB or GiB)")),
        };
        number
            .checked_mul(scale)
            .map(Size)
            .ok_or_else(|| format!("'{text}' is too large"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_refs() {
        assert_eq!(
            "demo.flags".parse(),
            Ok(TableRef {
                family: "demo".into(),
                table: "flags".into()
            })
        );
        for bad in ["demo", ".flags", "demo.", ""] {
            assert!(bad.parse::<TableRef>().is_err(), "{bad}");
        }
    }

    #[test]
    fn field_defs() {
        let f: FieldDef = "name:string".parse().expect("valid");
        assert_eq!((f.name.as_str(), f.field_type.as_str()), ("name", "string"));
        assert!("name".parse::<FieldDef>().is_err());
        assert!(":string".parse::<FieldDef>().is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!("1024".parse(), Ok(Size(1024)));
        assert_eq!("100MiB".parse(), Ok(Size(100 << 20)));
        assert_eq!("2 G".parse(), Ok(Size(2 << 30)));
        assert!("1.5MiB".parse::<Size>().is_err());
        assert!("10XB".parse::<Size>().is_err());
        assert!("-1".parse::<Size>().is_err());
    }
}
