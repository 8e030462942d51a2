//! Component bits stored with a calendar (`supported-calendar-component-set`) and with
//! an address book: one integer column in the store, read by the handlers and properties.

/// VEVENT.
pub const EVENT: i64 = 1;
/// VTODO.
pub const TODO: i64 = 2;
/// VJOURNAL.
pub const JOURNAL: i64 = 4;
/// Every component a calendar may hold when a client does not restrict it.
pub const ALL: i64 = EVENT | TODO | JOURNAL;
/// A vCard (address books).
pub const VCARD: i64 = 8;
