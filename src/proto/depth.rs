//! The `Depth` request header (RFC 4918 §10.2), parsed once for every room.
//!
//! A leaf: it imports nothing else from [`crate::proto`].

use std::fmt;

/// How far below the request URI a method reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// `0`: the resource itself.
    Zero,
    /// `1`: the resource and its direct members.
    One,
    /// `infinity`: the whole subtree.
    Infinity,
}

/// A `Depth` value that is none of `0`, `1` or `infinity`; the caller answers 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidDepth {
    /// The value as sent (lossy if it was not UTF-8).
    pub sent: String,
}

impl fmt::Display for InvalidDepth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the Depth header {:?} is not valid; send 0, 1 or infinity",
            self.sent
        )
    }
}

impl std::error::Error for InvalidDepth {}

impl Depth {
    /// Parses the header's raw value; `None` when the header is absent (each method has
    /// its own default: infinity for PROPFIND per RFC 4918 §9.1, but most of our callers
    /// refuse that and use 0 or 1). Surrounding whitespace is ignored; `infinity` is
    /// matched without regard to case, as Windows sends `Infinity`.
    pub fn parse(value: Option<&[u8]>) -> Result<Option<Self>, InvalidDepth> {
        let Some(raw) = value else {
            return Ok(None);
        };
        match raw.trim_ascii() {
            b"0" => Ok(Some(Self::Zero)),
            b"1" => Ok(Some(Self::One)),
            v if v.eq_ignore_ascii_case(b"infinity") => Ok(Some(Self::Infinity)),
            _ => Err(InvalidDepth {
                sent: String::from_utf8_lossy(raw).into_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_values_and_nothing_else() {
        assert_eq!(Depth::parse(None), Ok(None));
        assert_eq!(Depth::parse(Some(b"0")), Ok(Some(Depth::Zero)));
        assert_eq!(Depth::parse(Some(b" 1 ")), Ok(Some(Depth::One)));
        assert_eq!(Depth::parse(Some(b"infinity")), Ok(Some(Depth::Infinity)));
        assert_eq!(Depth::parse(Some(b"Infinity")), Ok(Some(Depth::Infinity)));
        for bad in [&b"2"[..], b"-1", b"", b" ", b"01", b"one", b"\xff"] {
            let err = Depth::parse(Some(bad)).unwrap_err();
            assert!(err.to_string().contains("send 0, 1 or infinity"), "{err}");
        }
    }
}
