//! Points in time as iCalendar writes them (DATE, floating, UTC, or local
//! in a TZID zone) and their conversion to UTC seconds.

use calcard::common::PartialDateTime;
use calcard::icalendar::ICalendarDuration;
use chrono::{NaiveDateTime, TimeDelta};

use super::IcalError;
use super::seconds::naive;
use super::zone::Zone;

/// A `start`/`end` pair from CALDAV:time-range, expand,
/// limit-recurrence-set or free-busy-query, in UTC seconds. A missing
/// bound is -infinity or +infinity (RFC 4791 §9.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

impl TimeRange {
    /// Checks that `end` is after `start` when both are given.
    pub fn new(start: Option<i64>, end: Option<i64>) -> Result<Self, IcalError> {
        if let (Some(start), Some(end)) = (start, end)
            && end <= start
        {
            return Err(IcalError::EmptyRange { start, end });
        }
        Ok(Self { start, end })
    }

    pub fn between(start: i64, end: i64) -> Result<Self, IcalError> {
        Self::new(Some(start), Some(end))
    }

    /// From the XML attributes, e.g. `start="20060104T000000Z"`.
    pub fn parse(start: Option<&str>, end: Option<&str>) -> Result<Self, IcalError> {
        Self::new(
            start.map(parse_utc).transpose()?,
            end.map(parse_utc).transpose()?,
        )
    }

    /// True if the half-open range contains `at`.
    pub(crate) fn contains(&self, at: i64) -> bool {
        self.start.is_none_or(|s| s <= at) && self.end.is_none_or(|e| at < e)
    }
}

/// Parses an iCalendar "date with UTC time" (`20060104T000000Z`).
pub fn parse_utc(text: &str) -> Result<i64, IcalError> {
    let bad = || IcalError::BadRangeValue(text.to_owned());
    let digits = text.strip_suffix(['Z', 'z']).ok_or_else(bad)?;
    NaiveDateTime::parse_from_str(digits, "%Y%m%dT%H%M%S")
        .map(|at| at.and_utc().timestamp())
        .map_err(|_| bad())
}

/// Formats UTC seconds as an iCalendar "date with UTC time".
pub fn format_utc(at: i64) -> String {
    naive(at).format("%Y%m%dT%H%M%SZ").to_string()
}

/// How a DATE or DATE-TIME value is anchored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Basis {
    /// A DATE: a whole day in the floating zone.
    Date,
    /// A DATE-TIME without zone: wall-clock time in the floating zone.
    Floating,
    /// A DATE-TIME with Z (or with a numeric offset, already applied).
    Utc,
    /// A DATE-TIME with TZID: index into the object's zone table.
    Zoned(usize),
}

/// A value as written: wall-clock time plus what anchors it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Time {
    pub local: NaiveDateTime,
    pub basis: Basis,
}

/// A resolved point in time, kept with its wall-clock reading so that
/// DATE values can be written back as dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Moment {
    pub utc: i64,
    pub local: NaiveDateTime,
    pub basis: Basis,
}

/// A signed DURATION, split the way RFC 5545 §3.3.6 adds it: days and
/// weeks are nominal (same wall-clock time across DST), the rest exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Dur {
    pub days: i64,
    pub seconds: i64,
}

impl Time {
    /// Converts calcard's value; `zone` is the resolved TZID parameter.
    /// `None` if the value is not a full date.
    pub fn from_partial(value: &PartialDateTime, zone: Option<usize>) -> Option<Self> {
        let resolved = value.to_date_time()?;
        let basis = match (value.has_time(), resolved.offset, zone) {
            (false, _, _) => Basis::Date,
            (true, Some(offset), _) => {
                // "…Z" or a numeric offset: an absolute instant.
                let utc = resolved.date_time - TimeDelta::seconds(offset.local_minus_utc().into());
                return Some(Self {
                    local: utc,
                    basis: Basis::Utc,
                });
            }
            (true, None, Some(zone)) => Basis::Zoned(zone),
            (true, None, None) => Basis::Floating,
        };
        Some(Self {
            local: resolved.date_time,
            basis,
        })
    }

    pub fn is_date(&self) -> bool {
        self.basis == Basis::Date
    }
}

impl Dur {
    pub fn from_ical(value: &ICalendarDuration) -> Self {
        let sign = if value.neg { -1 } else { 1 };
        Self {
            days: sign * (i64::from(value.weeks) * 7 + i64::from(value.days)),
            seconds: sign
                * (i64::from(value.hours) * 3600
                    + i64::from(value.minutes) * 60
                    + i64::from(value.seconds)),
        }
    }

    pub fn is_positive(&self) -> bool {
        self.days * 86_400 + self.seconds > 0
    }
}

/// Converts values of one object to UTC: the object's zone table plus the
/// zone the caller chose for floating values.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock<'a> {
    pub zones: &'a [Zone],
    pub floating: &'a Zone,
}

impl Clock<'_> {
    pub fn zone(&self, basis: Basis) -> &Zone {
        match basis {
            Basis::Zoned(index) => self.zones.get(index).unwrap_or(self.floating),
            Basis::Date | Basis::Floating => self.floating,
            Basis::Utc => Zone::utc_ref(),
        }
    }

    pub fn moment(&self, time: Time) -> Moment {
        Moment {
            utc: self.zone(time.basis).to_utc(time.local),
            local: time.local,
            basis: time.basis,
        }
    }

    /// The same instant read in another basis' wall clock.
    pub fn at_utc(&self, utc: i64, basis: Basis) -> Moment {
        Moment {
            utc,
            local: self.zone(basis).to_local(utc),
            basis,
        }
    }

    /// `start + duration`, nominal days first (RFC 5545 §3.3.6).
    pub fn add(&self, start: Moment, duration: Dur) -> Moment {
        let local = shift(start.local, duration.days * 86_400);
        let utc = self.zone(start.basis).to_utc(local) + duration.seconds;
        match start.basis {
            Basis::Date | Basis::Floating if duration.seconds != 0 => Moment {
                utc,
                local: shift(local, duration.seconds),
                basis: start.basis,
            },
            _ if duration.seconds != 0 => self.at_utc(utc, start.basis),
            _ => Moment {
                utc,
                local,
                basis: start.basis,
            },
        }
    }
}

/// Moves a wall-clock time, saturating at the ends of chrono's range.
pub(crate) fn shift(local: NaiveDateTime, seconds: i64) -> NaiveDateTime {
    TimeDelta::try_seconds(seconds)
        .and_then(|delta| local.checked_add_signed(delta))
        .unwrap_or(if seconds < 0 {
            NaiveDateTime::MIN
        } else {
            NaiveDateTime::MAX
        })
}

pub(crate) fn format_date(local: NaiveDateTime) -> String {
    local.format("%Y%m%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_round_trip() {
        let at = parse_utc("20060104T140000Z").unwrap();
        assert_eq!(at, 1_136_383_200);
        assert_eq!(format_utc(at), "20060104T140000Z");
        assert!(parse_utc("20060104T140000").is_err());
        assert!(parse_utc("yesterday").is_err());
    }

    #[test]
    fn ranges_must_not_be_empty() {
        assert!(TimeRange::between(10, 10).is_err());
        let open = TimeRange::parse(Some("20060104T000000Z"), None).unwrap();
        assert_eq!(open.end, None);
        assert!(open.contains(i64::MAX));
        assert!(!open.contains(0));
    }

    #[test]
    fn nominal_days_keep_wall_clock_across_dst() {
        let berlin = Zone::named("Europe/Berlin").unwrap();
        let clock = Clock {
            zones: std::slice::from_ref(&berlin),
            floating: Zone::utc_ref(),
        };
        // 2024-03-30 12:00 CET; DST starts the next night.
        let start = clock.moment(Time {
            local: NaiveDateTime::parse_from_str("20240330T120000", "%Y%m%dT%H%M%S").unwrap(),
            basis: Basis::Zoned(0),
        });
        let day = clock.add(
            start,
            Dur {
                days: 1,
                seconds: 0,
            },
        );
        assert_eq!(day.utc - start.utc, 23 * 3600);
        let exact = clock.add(
            start,
            Dur {
                days: 0,
                seconds: 86_400,
            },
        );
        assert_eq!(exact.utc - start.utc, 24 * 3600);
        assert_eq!(exact.local.format("%H").to_string(), "13");
    }
}
