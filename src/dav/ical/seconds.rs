//! UTC seconds and chrono's naive date-times, one into the other. The lowest layer of
//! the time code: both [`super::time`] (values of an object) and [`super::zone`] (UTC
//! offsets of a zone) convert through it, so neither needs the other for it.

use chrono::{DateTime, NaiveDateTime};

/// UTC seconds as a naive date-time, clamped to chrono's range.
pub(crate) fn naive(at: i64) -> NaiveDateTime {
    DateTime::from_timestamp(at, 0).map_or(
        if at < 0 {
            NaiveDateTime::MIN
        } else {
            NaiveDateTime::MAX
        },
        |at| at.naive_utc(),
    )
}

/// A naive date-time read as UTC seconds.
pub(crate) fn stamp(local: NaiveDateTime) -> i64 {
    local.and_utc().timestamp()
}
