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

mod error;
mod filter;
mod object;

pub use error::VcardError;
pub use filter::{AddressFilter, FilterTest, ParamFilter, ParamTest, PropFilter, PropTest};
pub use object::{AddressDataRequest, VcardObject, VcardVersion, validate};

pub use super::ical::{Collation, MatchType, PropRequest, TextMatch, ValueMode};

// The sibling module, reachable from this module's children as
// `super::ical` wherever the two are mounted.
use super::ical;
