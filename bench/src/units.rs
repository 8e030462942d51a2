//! Byte sizes as people write them on the command line: `1GiB`, `64MiB`, `4KiB`, `500MB`, `4096`.
//!
//! Same convention as davgate's own flags: `k`/`KB`/`M`/`MB`/`G`/`GB` are decimal, the `…iB`
//! forms binary. Whole numbers only: a benchmark size is a byte count, not an estimate.

use std::fmt;
use std::str::FromStr;

/// A byte count parsed from `1GiB`, `500MB` or a plain number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

const UNITS: [(&str, u64); 11] = [
    ("", 1),
    ("b", 1),
    ("k", 1000),
    ("kb", 1000),
    ("kib", 1 << 10),
    ("m", 1000 * 1000),
    ("mb", 1000 * 1000),
    ("mib", 1 << 20),
    ("g", 1000 * 1000 * 1000),
    ("gb", 1000 * 1000 * 1000),
    ("gib", 1 << 30),
];

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let bad = || format!("{s:?} is not a size: write a whole number and a unit, like 1GiB");
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (number, unit) = s.split_at(split);
        let unit = unit.trim().to_ascii_lowercase();
        let factor = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, factor)| *factor)
            .ok_or_else(bad)?;
        let number: u64 = number.parse().map_err(|_| bad())?;
        number.checked_mul(factor).map(ByteSize).ok_or_else(bad)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{}{name}", self.0 / size);
            }
        }
        write!(f, "{}B", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_binary_decimal_and_plain() {
        assert_eq!("1GiB".parse(), Ok(ByteSize(1 << 30)));
        assert_eq!("64 MiB".parse(), Ok(ByteSize(64 << 20)));
        assert_eq!("4KiB".parse(), Ok(ByteSize(4096)));
        assert_eq!("4k".parse(), Ok(ByteSize(4000)));
        assert_eq!("500MB".parse(), Ok(ByteSize(500_000_000)));
        assert_eq!("4096".parse(), Ok(ByteSize(4096)));
    }

    #[test]
    fn refuses_nonsense() {
        for bad in [
            "",
            "GiB",
            "1.5GiB",
            "-1",
            "10 parsecs",
            "99999999999999999999GiB",
        ] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn displays_the_largest_exact_unit() {
        assert_eq!(ByteSize(1 << 30).to_string(), "1GiB");
        assert_eq!(ByteSize(3 << 20).to_string(), "3MiB");
        assert_eq!(ByteSize(4096).to_string(), "4KiB");
        assert_eq!(ByteSize(1000).to_string(), "1000B");
    }
}
