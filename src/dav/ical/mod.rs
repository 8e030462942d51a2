//! iCalendar semantics for CalDAV: everything davgate must know about the
//! *content* of a calendar object resource, from bytes in to bytes out.
//!
//! Owns:
//! - PUT validation ([`validate`]): RFC 5545 syntax, the calendar object
//!   resource rules of RFC 4791 §4.1, and errors that name the CalDAV
//!   precondition to report ([`IcalError::precondition`]).
//! - The stored index data: UID, component type, time span
//!   ([`CalendarObject`]).
//! - Recurrence: RRULE, RDATE, EXDATE, RECURRENCE-ID overrides including
//!   RANGE=THISANDFUTURE, in IANA zones, VTIMEZONE-defined zones and
//!   floating time, under hard limits ([`ExpandLimits`]).
//! - calendar-query filters (RFC 4791 §9.7) with the time-range rules of
//!   §9.9 and text collations ([`CompFilter`], [`TextMatch`]).
//! - calendar-data output (§9.6): expand, limit-recurrence-set,
//!   component and property selection ([`CalendarDataRequest`]).
//! - free-busy-query results (§7.10) ([`vfreebusy`]).
//! - when alarms fire, for reminders ([`AlarmFiring`]).
//!
//! Does not own: XML (the filter types are `crate::proto`'s, parsed there and
//! evaluated here), storage, HTTP, or the clock (callers pass "now" where it
//! matters). No I/O: everything works on `&[u8]` and `&str`.
//!
//! Parsing is calcard's; this module adds a content-line skeleton
//! (`raw`) so that output copies untouched lines byte for byte, and drives
//! calcard's RRULE engine itself (`rule`) to get RFC 4791 semantics and
//! bounded work. calcard was chosen over icalendar + rrule because it also reads
//! vCard 2.1/3.0/4.0 into typed values and maps Windows/Outlook zone names, which the
//! other pair would have left to us.
//!
//! RFCs: 5545 (iCalendar), 4791 (CalDAV), 7809 (time zones by
//! reference, for TZIDs without VTIMEZONE), 4790 and 5051 (collations).

mod alarms;
mod collation;
mod component;
mod error;
mod expand;
mod filter;
mod freebusy;
mod object;
mod output;
pub(crate) mod raw;
mod recur;
mod rule;
mod seconds;
mod time;
mod timerange;
mod zone;

pub use alarms::AlarmFiring;
pub use collation::{Collation, MatchType, TextMatch};
pub use component::ComponentKind;
pub use error::{IcalError, Precondition};
pub use expand::{CalendarDataRequest, RecurrenceRequest};
pub use filter::{
    CompFilter, CompTest, Instance, ParamFilter, ParamTest, PropCondition, PropFilter, PropTest,
};
pub use freebusy::{BusyKind, BusyPeriod, merge_busy, vfreebusy};
pub use object::{CalendarObject, parse_stored, validate, validate_with};
pub use output::{CompRequest, CompsRequest, PropRequest, PropsRequest, ValueMode};
pub use recur::{ExpandLimits, Options};
pub use time::{TimeRange, format_utc, parse_utc};
pub use zone::Zone;
