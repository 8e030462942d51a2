//! vCard semantics for CardDAV: what davgate must know about the content
//! of an address object resource.
//!
//! Owns:
//! - PUT validation ([`validate`]): one vCard 2.1, 3.0 or 4.0 per
//!   resource, with a UID (RFC 6352 §5.1, §6.3.2.3), errors naming the
//!   `CARDDAV:valid-address-data` precondition with a reason.
//! - addressbook-query filters (RFC 6352 §10.5) as plain data
//!   ([`AddressFilter`]) and their evaluation.
//! - address-data property selection (RFC 6352 §10.4.2)
//!   ([`AddressDataRequest`]).
//!
//! Does not own: XML, storage, HTTP. No I/O: everything works on `&[u8]`
//! and `&str`.
//!
//! Borrows from the sibling `ical` module the text collations (CalDAV and
//! CardDAV name the same RFC 4790 ones) and the content-line skeleton that
//! lets output copy lines byte for byte; parsing itself is calcard's.
//!
//! RFCs: 6350 (vCard 4.0), 2426 (vCard 3.0), 6352 (CardDAV), 4790 and
//! 5051 (collations).

mod filter;
mod object;

pub use filter::{AddressFilter, FilterTest, ParamFilter, ParamTest, PropFilter, PropTest};
pub use object::{AddressDataRequest, VcardObject, VcardVersion, validate};

pub use super::ical::{Collation, MatchType, PropRequest, TextMatch, ValueMode};

use thiserror::Error;

// The sibling module, reachable from this module's children as
// `super::ical` wherever the two are mounted.
use super::ical;

/// Why vCard data was refused. Every variant maps to the
/// `CARDDAV:valid-address-data` precondition (RFC 6352 §6.3.2.1); the
/// message is the reason to show.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VcardError {
    #[error("vCard data is not valid UTF-8 (at byte {offset})")]
    NotUtf8 { offset: usize },

    #[error("line {line}: {reason}")]
    Syntax { line: usize, reason: String },

    #[error("vCard without VERSION")]
    MissingVersion,

    #[error("VERSION:{0} is not supported, only 2.1, 3.0 and 4.0")]
    UnsupportedVersion(String),

    #[error("vCard without UID; CardDAV needs one to tell contacts apart")]
    MissingUid,
}

impl VcardError {
    /// Local name of the CARDDAV condition element to report.
    pub fn precondition(&self) -> &'static str {
        "valid-address-data"
    }

    /// Namespace of the condition element.
    pub fn namespace(&self) -> &'static str {
        "urn:ietf:params:xml:ns:carddav"
    }
}
