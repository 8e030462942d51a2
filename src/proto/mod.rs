//! The protocol layer both DAV rooms share (`files` and `dav`): request bodies in,
//! response bodies out, and the small header and URL codecs around them. Pure: it
//! parses and writes bytes and nothing else — no I/O, no async, no sqlx, no hyper
//! body — so everything here is testable from a byte slice.
//!
//! Owns: turning PROPFIND, PROPPATCH, MKCALENDAR, extended MKCOL and REPORT bodies
//! (`&[u8]`) into typed requests ([`request`]), writing `D:multistatus` and `D:error`
//! bodies ([`response`], over the prefix-fixed [`writer`]), the typed names both sides
//! share ([`names`]), the bounded, namespace-resolving tree reader ([`reader`]) and the
//! dead-property fragments it produces ([`raw`]), XML escaping ([`escape`]), href ⇄
//! path conversion ([`href`]), the `Depth` header ([`depth`]), precondition codes
//! ([`precondition`]), `D:status` values ([`status`]) and small value types such as
//! UTC timestamps ([`value`]).
//!
//! Layering, so no two files import each other: `escape`, `names`, `value`, `status`,
//! `depth` are leaves; `precondition` sits on names and status; `error` on
//! precondition; `href` on error; `reader` on error, escape and names; `raw` on
//! reader; `writer` on raw; `response` and `request` on top.
//!
//! Does not own: HTTP (status lines, headers other than parsing `Depth`), storage,
//! authorization, iCalendar or vCard parsing, filter evaluation, or deciding which
//! status an error becomes — [`XmlError`] and [`precondition::Precondition`] carry the
//! facts, and each room maps them to a response in one place.
//!
//! RFCs: 4918 (WebDAV), 3253 §3.6 (REPORT), 3744 (ACL privileges), 4331 (quota),
//! 4791 (CalDAV), 5397 (current-user-principal), 5689 (extended MKCOL), 5995
//! (add-member), 6352 (CardDAV), 6578 (sync-collection), 6638 (scheduling
//! properties), 7809 (timezone-id); RFC 4790/5051 collation names; RFC 3986 for
//! hrefs. Apple's CalendarServer (getctag) and iCal (calendar-color, calendar-order)
//! namespaces are treated as first-class because every Apple client relies on them.

pub mod depth;
pub mod error;
pub mod escape;
pub mod href;
pub mod names;
pub mod precondition;
pub mod raw;
pub mod reader;
pub mod request;
pub mod response;
pub mod status;
pub mod value;
pub mod writer;

pub use depth::{Depth, InvalidDepth};
pub use error::{Family, Limit, XmlError};
pub use raw::RawXml;
pub use reader::Limits;
