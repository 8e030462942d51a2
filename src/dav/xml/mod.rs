//! The protocol XML layer: request bodies in, response bodies out, nothing else.
//!
//! Owns: turning PROPFIND, PROPPATCH, MKCALENDAR, extended MKCOL and REPORT bodies
//! (`&[u8]`) into typed requests ([`request`]), writing `D:multistatus` and `D:error`
//! bodies ([`response`]), the typed names both sides share ([`names`]), the bounded,
//! namespace-resolving tree reader under them ([`reader`]), small value types such as
//! UTC timestamps ([`value`]), and href ⇄ path conversion ([`href`]).
//!
//! Does not own: HTTP (status lines, headers, Depth), storage, authorization, iCalendar
//! or vCard parsing, filter evaluation, or deciding which status an error becomes —
//! [`XmlError`] and [`response::Precondition`] carry the facts, and the server maps
//! them to a response in one place. No I/O, no async: everything is testable from a
//! byte slice.
//!
//! RFCs: 4918 (WebDAV), 3253 §3.6 (REPORT), 3744 (ACL privileges), 4331 (quota),
//! 4791 (CalDAV), 5397 (current-user-principal), 5689 (extended MKCOL), 5995
//! (add-member), 6352 (CardDAV), 6578 (sync-collection), 6638 (scheduling
//! properties), 7809 (timezone-id); RFC 4790/5051 collation names; RFC 3986 for
//! hrefs. Apple's CalendarServer (getctag) and iCal (calendar-color, calendar-order)
//! namespaces are treated as first-class because every Apple client relies on them.

pub mod error;
pub mod href;
pub mod names;
pub mod reader;
pub mod request;
pub mod response;
pub mod value;

pub use error::{Family, Limit, XmlError};
pub use reader::{Limits, RawXml};
