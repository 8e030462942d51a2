//! Time zones: IANA names (with the Windows and vendor aliases calcard
//! knows), and VTIMEZONE definitions evaluated from their own rules when
//! the TZID names no known zone.
//!
//! A TZID that names a known zone is resolved through the IANA database
//! even if the object carries a VTIMEZONE: clients ship truncated or stale
//! definitions (Outlook sends only the current rule), and CalConnect
//! recommends trusting the name (calcard follows that too). Only custom
//! zones fall back to their STANDARD/DAYLIGHT observances.

use std::str::FromStr;
use std::sync::Arc;

use calcard::common::timezone::Tz;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarProperty, ICalendarValue,
};
use chrono::{NaiveDate, NaiveDateTime, Offset, TimeZone};

use super::IcalError;
use super::rule::{self, RuleError};
use super::seconds::{naive, stamp};

/// A time zone to read wall-clock times in.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone(Kind);

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Utc,
    Fixed(i32),
    Iana(chrono_tz::Tz),
    Rules(Arc<Transitions>),
}

/// Offsets of a custom VTIMEZONE, precomputed once per object.
#[derive(Debug, PartialEq)]
struct Transitions {
    /// Offset before the first onset.
    initial: i32,
    /// (UTC instant of the onset, offset from then on), sorted.
    onsets: Vec<(i64, i32)>,
}

/// Observance onsets are computed up to this year; later times keep the
/// last offset. Far enough for any calendar a person keeps.
const RULES_UNTIL_YEAR: i32 = 2200;
/// Cap on onsets per observance, which bounds the work a hostile
/// VTIMEZONE (FREQ=SECONDLY) can cause.
const MAX_ONSETS: usize = 10_000;

static UTC: Zone = Zone(Kind::Utc);

impl Zone {
    pub fn utc() -> Self {
        UTC.clone()
    }

    pub(crate) fn utc_ref() -> &'static Zone {
        &UTC
    }

    /// Resolves a zone name: IANA ("Europe/Berlin"), Windows ("W. Europe
    /// Standard Time"), vendor-prefixed ("/mozilla.org/20050126_1/
    /// America/New_York"), or "(UTC+01:00) Amsterdam, Berlin" style.
    pub fn named(name: &str) -> Option<Self> {
        match Tz::from_str(name).ok()? {
            Tz::Tz(tz) if tz.name() == "UTC" || tz.name() == "Etc/UTC" => Some(Self(Kind::Utc)),
            Tz::Tz(tz) => Some(Self(Kind::Iana(tz))),
            Tz::Fixed(offset) => Some(Self(Kind::Fixed(offset.local_minus_utc()))),
            Tz::Floating => None,
        }
    }

    /// Reads the body of CALDAV:timezone or CALDAV:calendar-timezone: a
    /// VCALENDAR holding exactly one VTIMEZONE (RFC 4791 §5.2.2, §9.8).
    pub fn from_vtimezone(data: &[u8]) -> Result<Self, IcalError> {
        let text = std::str::from_utf8(data).map_err(|e| IcalError::NotUtf8 {
            offset: e.valid_up_to(),
        })?;
        let calendar = ICalendar::parse(text).map_err(|_| IcalError::Syntax {
            line: 1,
            reason: "not an iCalendar object".into(),
        })?;
        let mut zones = calendar
            .components
            .iter()
            .filter(|c| c.component_type == ICalendarComponentType::VTimezone);
        match (zones.next(), zones.next()) {
            (Some(zone), None) => Self::from_component(&calendar, zone).map(|(_, zone)| zone),
            _ => Err(IcalError::Syntax {
                line: 1,
                reason: "a time zone must be a VCALENDAR with exactly one VTIMEZONE".into(),
            }),
        }
    }

    /// Builds the zone a VTIMEZONE defines, keyed by its TZID.
    pub(crate) fn from_component(
        calendar: &ICalendar,
        component: &ICalendarComponent,
    ) -> Result<(String, Self), IcalError> {
        let tzid = component
            .property(&ICalendarProperty::Tzid)
            .and_then(|entry| entry.values.first())
            .and_then(ICalendarValue::as_text)
            .ok_or_else(|| IcalError::MissingProperty {
                component: "VTIMEZONE".into(),
                property: "TZID",
            })?
            .to_owned();
        // calcard maps the TZID, X-LIC-LOCATION and Outlook's CDO ids.
        if let Some((_, tz)) = component.timezone()
            && let Some(zone) = Self::from_calcard(tz)
        {
            return Ok((tzid, zone));
        }
        let transitions =
            transitions(calendar, component).map_err(|reason| IcalError::InvalidTimezone {
                tzid: tzid.clone(),
                reason,
            })?;
        Ok((tzid, Self(Kind::Rules(Arc::new(transitions)))))
    }

    fn from_calcard(tz: Tz) -> Option<Self> {
        match tz {
            Tz::Tz(tz) => Some(Self(Kind::Iana(tz))),
            Tz::Fixed(offset) => Some(Self(Kind::Fixed(offset.local_minus_utc()))),
            Tz::Floating => None,
        }
    }

    /// Offset from UTC in seconds at a UTC instant.
    pub(crate) fn offset_at(&self, utc: i64) -> i32 {
        match &self.0 {
            Kind::Utc => 0,
            Kind::Fixed(offset) => *offset,
            Kind::Iana(tz) => tz
                .offset_from_utc_datetime(&naive(utc))
                .fix()
                .local_minus_utc(),
            Kind::Rules(rules) => {
                let after = rules.onsets.partition_point(|(onset, _)| *onset <= utc);
                match after.checked_sub(1) {
                    Some(last) => rules.onsets[last].1,
                    None => rules.initial,
                }
            }
        }
    }

    /// Wall-clock time to UTC with the rules of RFC 5545 §3.3.5: a time
    /// that occurs twice means the first occurrence, a time skipped by a
    /// DST gap is read with the offset from before the gap.
    pub(crate) fn to_utc(&self, local: NaiveDateTime) -> i64 {
        let wall = stamp(local);
        match &self.0 {
            Kind::Utc => wall,
            Kind::Fixed(offset) => wall - i64::from(*offset),
            Kind::Iana(_) | Kind::Rules(_) => {
                // Transitions are months apart, so the offsets a day either
                // side are the only candidates.
                let before = i64::from(self.offset_at(wall - 86_400));
                let after = i64::from(self.offset_at(wall + 86_400));
                let fits = |offset: i64| i64::from(self.offset_at(wall - offset)) == offset;
                match (fits(before), fits(after)) {
                    (true, true) => (wall - before).min(wall - after),
                    (false, true) => wall - after,
                    _ => wall - before,
                }
            }
        }
    }

    pub(crate) fn to_local(&self, utc: i64) -> NaiveDateTime {
        naive(utc + i64::from(self.offset_at(utc)))
    }
}

/// Onsets of every STANDARD and DAYLIGHT observance of a VTIMEZONE.
fn transitions(
    calendar: &ICalendar,
    component: &ICalendarComponent,
) -> Result<Transitions, String> {
    let horizon = NaiveDate::from_ymd_opt(RULES_UNTIL_YEAR, 1, 1)
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .unwrap_or(NaiveDateTime::MAX);
    let mut onsets: Vec<(i64, i32, i32)> = Vec::new();
    for &child in &component.component_ids {
        let Some(observance) = calendar.components.get(child as usize) else {
            continue;
        };
        if !matches!(
            observance.component_type,
            ICalendarComponentType::Standard | ICalendarComponentType::Daylight
        ) {
            continue;
        }
        let from = offset(observance, &ICalendarProperty::Tzoffsetfrom)?;
        let to = offset(observance, &ICalendarProperty::Tzoffsetto)?;
        let start = observance
            .property(&ICalendarProperty::Dtstart)
            .and_then(|entry| entry.values.first())
            .and_then(ICalendarValue::as_partial_date_time)
            .and_then(|value| value.to_date_time())
            .ok_or("an observance has no usable DTSTART")?
            .date_time;
        // Onsets are written in the wall-clock time in force before them.
        let mut local_onsets = vec![start];
        for entry in observance.properties(&ICalendarProperty::Rrule) {
            let Some(ICalendarValue::RecurrenceRule(recur)) = entry.values.first() else {
                return Err("an observance has an unreadable RRULE".into());
            };
            let until = recur.until.as_ref().and_then(|until| {
                let until = until.to_date_time()?;
                Some(match until.offset {
                    Some(_) => naive(stamp(until.date_time) + i64::from(from)),
                    None => until.date_time,
                })
            });
            let run = rule::run(start, recur, until, horizon, MAX_ONSETS).map_err(|e| match e {
                RuleError::TooMany => "its RRULE has too many onsets".to_owned(),
                RuleError::Invalid(reason) => reason,
            })?;
            local_onsets.extend(run.starts);
        }
        for entry in observance.properties(&ICalendarProperty::Rdate) {
            local_onsets.extend(
                entry
                    .values
                    .iter()
                    .filter_map(ICalendarValue::as_partial_date_time)
                    .filter_map(|value| value.to_date_time())
                    .map(|value| value.date_time),
            );
        }
        onsets.extend(
            local_onsets
                .into_iter()
                .map(|local| (stamp(local) - i64::from(from), from, to)),
        );
    }
    onsets.sort_unstable();
    onsets.dedup_by_key(|(at, _, _)| *at);
    let initial = onsets
        .first()
        .map(|(_, from, _)| *from)
        .ok_or("no STANDARD or DAYLIGHT observance")?;
    Ok(Transitions {
        initial,
        onsets: onsets.into_iter().map(|(at, _, to)| (at, to)).collect(),
    })
}

fn offset(observance: &ICalendarComponent, property: &ICalendarProperty) -> Result<i32, String> {
    let value = observance
        .property(property)
        .and_then(|entry| entry.values.first())
        .and_then(ICalendarValue::as_partial_date_time)
        .filter(|value| value.tz_hour.is_some())
        .ok_or_else(|| format!("an observance has no usable {}", property.as_str()))?;
    let seconds =
        i32::from(value.tz_hour.unwrap_or(0)) * 3600 + i32::from(value.tz_minute.unwrap_or(0)) * 60;
    Ok(if value.tz_minus { -seconds } else { seconds })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%S").unwrap()
    }

    const OLD_US_EASTERN: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTIMEZONE\r\nTZID:Custom Eastern\r\nBEGIN:DAYLIGHT\r\nDTSTART:20000404T020000\r\nRRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=4\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\nDTSTART:20001026T020000\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n";

    #[test]
    fn names_resolve_through_aliases() {
        assert!(matches!(
            Zone::named("Europe/Berlin"),
            Some(Zone(Kind::Iana(_)))
        ));
        assert!(matches!(
            Zone::named("W. Europe Standard Time"),
            Some(Zone(Kind::Iana(_)))
        ));
        let mozilla = Zone::named("/mozilla.org/20050126_1/America/New_York").unwrap();
        assert_eq!(mozilla, Zone::named("America/New_York").unwrap());
        assert_eq!(Zone::named("UTC"), Some(Zone::utc()));
        assert_eq!(Zone::named("Nowhere/Special"), None);
    }

    #[test]
    fn custom_rules_are_evaluated() {
        let zone = Zone::from_vtimezone(OLD_US_EASTERN.as_bytes()).unwrap();
        assert!(matches!(zone.0, Kind::Rules(_)));
        // 2010-03-20 is EDT under today's US rules but still EST under the
        // pre-2007 rules this VTIMEZONE carries.
        assert_eq!(
            zone.to_utc(local("20100320T120000")),
            stamp(local("20100320T170000"))
        );
        assert_eq!(
            zone.to_utc(local("20100720T120000")),
            stamp(local("20100720T160000"))
        );
        let iana = Zone::named("America/New_York").unwrap();
        assert_eq!(
            iana.to_utc(local("20100320T120000")),
            stamp(local("20100320T160000"))
        );
    }

    #[test]
    fn gaps_and_overlaps_follow_rfc5545() {
        let berlin = Zone::named("Europe/Berlin").unwrap();
        // 02:30 does not exist on 2024-03-31: read with the CET offset.
        assert_eq!(
            berlin.to_utc(local("20240331T023000")),
            stamp(local("20240331T013000"))
        );
        // 02:30 happens twice on 2024-10-27: the first (CEST) one counts.
        assert_eq!(
            berlin.to_utc(local("20241027T023000")),
            stamp(local("20241027T003000"))
        );
        assert_eq!(
            berlin.to_local(stamp(local("20241027T013000"))),
            local("20241027T023000")
        );
        let custom = Zone::from_vtimezone(OLD_US_EASTERN.as_bytes()).unwrap();
        // First Sunday of April 2006 is the 2nd: 02:30 is skipped.
        assert_eq!(
            custom.to_utc(local("20060402T023000")),
            stamp(local("20060402T073000"))
        );
    }

    #[test]
    fn malformed_definitions_are_refused() {
        let none = "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:Empty\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n";
        let err = Zone::from_vtimezone(none.as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "VTIMEZONE \"Empty\" is unusable: no STANDARD or DAYLIGHT observance"
        );
        let two = OLD_US_EASTERN.replace(
            "END:VCALENDAR",
            "BEGIN:VTIMEZONE\r\nTZID:X\r\nEND:VTIMEZONE\r\nEND:VCALENDAR",
        );
        assert!(Zone::from_vtimezone(two.as_bytes()).is_err());
    }
}
