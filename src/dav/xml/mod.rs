//! The WebDAV family's XML, pure: request bodies into typed requests, multistatus and
//! error bodies out. No I/O; every function takes or returns bytes or strings.
//!
//! Requests are read into a bounded element tree ([`tree`]) and then into types
//! ([`request`] for PROPFIND, PROPPATCH and MKCOL/MKCALENDAR; [`report`] for the REPORTs
//! of RFC 4791, RFC 6352 and RFC 6578). Responses are written with fixed prefixes and
//! one escaping helper ([`response`]).

pub mod names;
pub mod report;
pub mod request;
pub mod response;
pub mod tree;

use std::fmt;

/// Why a request body could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlError {
    /// Not well-formed XML.
    Malformed(String),
    /// Well-formed, but too deep or too big to be a real request.
    TooLarge(String),
    /// Well-formed, but not the element this request needs.
    Invalid(String),
    /// A REPORT this server does not implement.
    UnsupportedReport(String),
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XmlError::Malformed(why) => write!(f, "the request body is not well-formed XML: {why}"),
            XmlError::TooLarge(why) => write!(f, "the request body is too large: {why}"),
            XmlError::Invalid(why) => write!(f, "the request body is not understood: {why}"),
            XmlError::UnsupportedReport(name) => write!(
                f,
                "the REPORT {name} is not supported here; see DAV:supported-report-set on the collection"
            ),
        }
    }
}

impl std::error::Error for XmlError {}
