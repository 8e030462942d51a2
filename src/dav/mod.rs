//! Calendars and contacts: CalDAV (RFC 4791), CardDAV (RFC 6352), WebDAV sync
//! (RFC 6578) and discovery (RFC 6764, RFC 5397) at `/dav/`.
//!
//! [`ical`] and [`vcard`] hold the pure semantics of the data (validation, time ranges,
//! recurrence, filters, selection); they do no I/O.

pub mod ical;
pub mod vcard;
pub mod xml;
