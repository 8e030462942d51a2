//! The iCalendar and vCard semantics over the corpus in tests/data (its README says where
//! each file comes from): validation, RFC 4791 §9.9 time ranges, recurrence, filters,
//! calendar-data output, free/busy, limits against hostile input.

mod common;
mod ical_filter;
mod ical_freebusy;
mod ical_limits;
mod ical_output;
mod ical_recurrence;
mod ical_time_range;
mod ical_validate;
mod vcard;
