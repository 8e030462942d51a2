//! The one error type of the XML layer. Each variant says what was wrong in words a
//! client developer can act on; [`XmlError::precondition`] names the RFC condition
//! element when one applies, so the server's single error→response mapping can send
//! `403` + `<D:error>` instead of a bare `400`.

use std::fmt;

use super::precondition::Precondition;

/// Which protocol a filter or collation belongs to, because CalDAV and CardDAV define
/// look-alike preconditions in their own namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// RFC 4791.
    CalDav,
    /// RFC 6352.
    CardDav,
}

/// A bound on hostile input (see [`super::reader::Limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Bytes of the whole body.
    InputBytes,
    /// Element nesting depth.
    Depth,
    /// Number of elements.
    Elements,
    /// Bytes of text in one element.
    TextBytes,
    /// Attributes on one element.
    Attributes,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InputBytes => "body size in bytes",
            Self::Depth => "element nesting depth",
            Self::Elements => "number of elements",
            Self::TextBytes => "text size in bytes of one element",
            Self::Attributes => "number of attributes on one element",
        })
    }
}

/// Everything that can go wrong turning bytes into a typed request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// The method needs a body and there was none (or only whitespace).
    #[error("the request body is empty")]
    EmptyBody,
    /// Not well-formed XML (or not UTF-8, or a DOCTYPE).
    #[error("malformed XML at line {line}, column {column}: {reason}")]
    Malformed {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column (in characters) of the problem.
        column: usize,
        /// What was wrong.
        reason: String,
    },
    /// A bound on hostile input was passed; nothing was parsed past it.
    #[error("the request exceeds the limit on {limit} ({max})")]
    LimitExceeded {
        /// Which bound.
        limit: Limit,
        /// Its value.
        max: usize,
    },
    /// The root element is not the one the method expects.
    #[error("expected the root element {expected}, found {found}")]
    UnexpectedRoot {
        /// Clark name of the expected root.
        expected: &'static str,
        /// Clark name of what came.
        found: String,
    },
    /// A REPORT we do not implement (DAV:expand-property, principal-property-search…).
    #[error("the REPORT {{{namespace}}}{name} is not supported")]
    UnsupportedReport {
        /// Namespace URI of the report's root element.
        namespace: String,
        /// Local name of the report's root element.
        name: String,
    },
    /// Well-formed XML that breaks the RFC's grammar or value rules.
    #[error("invalid {element}: {reason}")]
    Invalid {
        /// Clark name of the offending element.
        element: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A filter that is structurally wrong (e.g. a time-range whose end is not after
    /// its start).
    #[error("invalid filter: {reason}")]
    InvalidFilter {
        /// CalDAV or CardDAV.
        family: Family,
        /// What was wrong.
        reason: String,
    },
    /// A filter element we do not evaluate, including one in the wrong namespace.
    #[error("unsupported filter element {element}")]
    UnsupportedFilter {
        /// CalDAV or CardDAV.
        family: Family,
        /// Clark name of the element.
        element: String,
    },
    /// A text-match collation other than i;ascii-casemap, i;unicode-casemap, i;octet.
    #[error("unsupported collation {collation:?}")]
    UnsupportedCollation {
        /// CalDAV or CardDAV.
        family: Family,
        /// The collation as sent.
        collation: String,
    },
    /// An href that cannot name a resource of ours.
    #[error("invalid href {href:?}: {reason}")]
    InvalidHref {
        /// The href as sent.
        href: String,
        /// What was wrong.
        reason: &'static str,
    },
}

impl XmlError {
    /// The RFC precondition this error violates, when one is defined; `None` means a
    /// plain `400 Bad Request`.
    pub fn precondition(&self) -> Option<Precondition> {
        match self {
            Self::UnsupportedReport { .. } => Some(Precondition::SupportedReport),
            Self::InvalidFilter {
                family: Family::CalDav,
                ..
            } => Some(Precondition::CalendarValidFilter),
            // RFC 6352 defines no valid-filter; supported-filter is its nearest.
            Self::InvalidFilter {
                family: Family::CardDav,
                ..
            }
            | Self::UnsupportedFilter {
                family: Family::CardDav,
                ..
            } => Some(Precondition::AddressbookSupportedFilter),
            Self::UnsupportedFilter {
                family: Family::CalDav,
                ..
            } => Some(Precondition::CalendarSupportedFilter),
            Self::UnsupportedCollation {
                family: Family::CalDav,
                ..
            } => Some(Precondition::CalendarSupportedCollation),
            Self::UnsupportedCollation {
                family: Family::CardDav,
                ..
            } => Some(Precondition::AddressbookSupportedCollation),
            Self::EmptyBody
            | Self::Malformed { .. }
            | Self::LimitExceeded { .. }
            | Self::UnexpectedRoot { .. }
            | Self::Invalid { .. }
            | Self::InvalidHref { .. } => None,
        }
    }

    /// A [`XmlError::Malformed`] at a byte offset of `input`.
    pub(crate) fn malformed_at(input: &[u8], offset: usize, reason: impl Into<String>) -> Self {
        let (line, column) = line_column(input, offset);
        Self::Malformed {
            line,
            column,
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid(element: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            element,
            reason: reason.into(),
        }
    }
}

/// 1-based line and character column of a byte offset, clamped to the input.
fn line_column(input: &[u8], offset: usize) -> (usize, usize) {
    let before = &input[..offset.min(input.len())];
    let line = 1 + before.iter().filter(|b| **b == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |nl| nl + 1);
    // Count characters, not bytes: a column in the middle of "é" is still one column.
    let column = 1 + String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count();
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_character_columns() {
        let input = "ab\ncé<x".as_bytes();
        assert_eq!(line_column(input, 0), (1, 1));
        assert_eq!(line_column(input, 3), (2, 1));
        // "cé" is 3 bytes but 2 characters, so '<' is column 3.
        assert_eq!(line_column(input, 6), (2, 3));
        assert_eq!(line_column(input, 999), (2, 5));
    }

    #[test]
    fn messages_are_readable() {
        let e =
            XmlError::malformed_at(b"<a>\n<b>", 4, "unexpected end of input: <b> is not closed");
        assert_eq!(
            e.to_string(),
            "malformed XML at line 2, column 1: unexpected end of input: <b> is not closed"
        );
        let e = XmlError::LimitExceeded {
            limit: Limit::Depth,
            max: 64,
        };
        assert_eq!(
            e.to_string(),
            "the request exceeds the limit on element nesting depth (64)"
        );
        let e = XmlError::UnsupportedReport {
            namespace: "DAV:".into(),
            name: "expand-property".into(),
        };
        assert_eq!(
            e.to_string(),
            "the REPORT {DAV:}expand-property is not supported"
        );
    }

    #[test]
    fn preconditions_follow_the_family() {
        let cal = XmlError::UnsupportedCollation {
            family: Family::CalDav,
            collation: "i;klingon".into(),
        };
        assert_eq!(
            cal.precondition(),
            Some(Precondition::CalendarSupportedCollation)
        );
        let card = XmlError::UnsupportedFilter {
            family: Family::CardDav,
            element: "{urn:ietf:params:xml:ns:caldav}prop-filter".into(),
        };
        assert_eq!(
            card.precondition(),
            Some(Precondition::AddressbookSupportedFilter)
        );
        assert_eq!(XmlError::EmptyBody.precondition(), None);
        let report = XmlError::UnsupportedReport {
            namespace: "DAV:".into(),
            name: "expand-property".into(),
        };
        assert_eq!(report.precondition(), Some(Precondition::SupportedReport));
    }
}
