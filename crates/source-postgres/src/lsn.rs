//! Log sequence numbers: positions in the write-ahead log, printed the way PostgreSQL prints
//! them (`16/B374D848`: the high and low 32 bits in hexadecimal).

use crate::SourceError;
use std::fmt;
use std::str::FromStr;

/// A position in PostgreSQL's write-ahead log. `Lsn(0)` is PostgreSQL's "invalid" LSN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

impl FromStr for Lsn {
    type Err = SourceError;

    fn from_str(text: &str) -> Result<Lsn, SourceError> {
        let invalid = || SourceError::InvalidLsn(text.to_owned());
        let (high, low) = text.split_once('/').ok_or_else(invalid)?;
        let half = |part: &str| {
            if part.is_empty() || part.len() > 8 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid());
            }
            u32::from_str_radix(part, 16).map_err(|_| invalid())
        };
        Ok(Lsn((u64::from(half(high)?) << 32) | u64::from(half(low)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_postgresql() {
        assert_eq!(Lsn(0).to_string(), "0/0");
        assert_eq!(Lsn(0x16_B374_D848).to_string(), "16/B374D848");
        assert_eq!(Lsn(0x0000_0001_0000_00A0).to_string(), "1/A0");
        assert_eq!(Lsn(u64::MAX).to_string(), "FFFFFFFF/FFFFFFFF");
    }

    #[test]
    fn parses_what_it_prints() {
        for value in [0, 1, 0x16_B374_D848, u64::MAX, 0xFFFF_FFFF, 0x1_0000_0000] {
            let lsn = Lsn(value);
            assert_eq!(
                lsn.to_string().parse::<Lsn>().expect("valid test input"),
                lsn
            );
        }
        assert_eq!(
            "16/b374d848".parse::<Lsn>().expect("valid test input"),
            Lsn(0x16_B374_D848)
        );
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in [
            "",
            "16",
            "/1",
            "1/",
            "G/1",
            "1/123456789",
            "1/2/3",
            " 1/2",
            "-1/2",
        ] {
            assert!(
                matches!(bad.parse::<Lsn>(), Err(SourceError::InvalidLsn(_))),
                "{bad:?} parsed"
            );
        }
    }

    #[test]
    fn orders_by_position() {
        assert!(
            "1/0".parse::<Lsn>().expect("valid test input")
                > "0/FFFFFFFF".parse::<Lsn>().expect("valid test input")
        );
    }
}
