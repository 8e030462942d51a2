//! Runs one RRULE in local (wall-clock) time, with hard bounds.
//!
//! calcard's RRULE engine (a fork of rust-rrule, itself a port of
//! python-dateutil) is only reachable through `ICalendar::expand_dates`,
//! which expands a whole calendar and, for our use, gets the recurrence set
//! wrong: it duplicates instances that a RECURRENCE-ID override replaces, and it
//! cannot be bounded by a time range. We therefore feed it a synthetic calendar
//! holding nothing but a floating DTSTART and the RRULE, and do the rest —
//! time zones, RDATE, EXDATE, overrides, durations — ourselves.
//!
//! Bounds: the rule's UNTIL is clamped to the caller's horizon and to a
//! step budget, so the engine never walks further than it must, and the
//! instance count is capped. Both turn hostile rules (FREQ=SECONDLY since
//! 1970, 100,000 instances) into a quick, typed answer.

use calcard::common::PartialDateTime;
use calcard::common::timezone::Tz;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarFrequency,
    ICalendarProperty, ICalendarRecurrenceRule, ICalendarValue,
};
use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeDelta, Timelike};

/// The instances a rule produced, and how far they are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleRun {
    /// Local start times in ascending order, DTSTART not added.
    pub starts: Vec<NaiveDateTime>,
    pub reach: Reach,
}

/// Up to which local time a [`RuleRun`] is authoritative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// The rule ended (COUNT or UNTIL): there are no further instances.
    Complete,
    /// Instances after this local time were not computed.
    Until(NaiveDateTime),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RuleError {
    /// More than `limit` instances before the horizon.
    TooMany,
    /// The engine refused the rule (e.g. BYMONTH=13), with its reason.
    Invalid(String),
}

/// Expands `rule` anchored at `dtstart`, never past `horizon`.
///
/// `until` is the rule's UNTIL already converted to the local time of
/// DTSTART (the caller knows the zone); the rule's own UNTIL is ignored.
pub(crate) fn run(
    dtstart: NaiveDateTime,
    rule: &ICalendarRecurrenceRule,
    until: Option<NaiveDateTime>,
    horizon: NaiveDateTime,
    limit: usize,
) -> Result<RuleRun, RuleError> {
    // The engine yields nothing at all when BYDAY mixes ordinal and plain
    // weekdays ("2MO,TU": second Monday and every Tuesday), and spins its
    // 100,000-step guard doing so; rust-rrule 0.14 has the same defect.
    // Without BYSETPOS the set is the union of the two halves, and COUNT
    // keeps the earliest instances of that union.
    let nth = rule.byday.iter().any(|day| day.ordwk.is_some());
    let every = rule.byday.iter().any(|day| day.ordwk.is_none());
    if !(nth && every && rule.bysetpos.is_empty()) {
        return run_one(dtstart, rule, until, horizon, limit);
    }
    let half = |keep_nth: bool| {
        let mut half = rule.clone();
        half.byday.retain(|day| day.ordwk.is_some() == keep_nth);
        run_one(dtstart, &half, until, horizon, limit)
    };
    let (first, second) = (half(true)?, half(false)?);
    let mut starts = first.starts;
    starts.extend(second.starts);
    starts.sort_unstable();
    starts.dedup();
    if let Some(count) = rule.count {
        starts.truncate(count as usize);
    }
    if starts.len() > limit {
        return Err(RuleError::TooMany);
    }
    let reach = match (first.reach, second.reach) {
        (Reach::Complete, Reach::Complete) => Reach::Complete,
        (Reach::Until(a), Reach::Until(b)) => Reach::Until(a.min(b)),
        (Reach::Until(a), Reach::Complete) | (Reach::Complete, Reach::Until(a)) => Reach::Until(a),
    };
    Ok(RuleRun { starts, reach })
}

fn run_one(
    dtstart: NaiveDateTime,
    rule: &ICalendarRecurrenceRule,
    until: Option<NaiveDateTime>,
    horizon: NaiveDateTime,
    limit: usize,
) -> Result<RuleRun, RuleError> {
    if per_period_bound(rule) > limit as u64 {
        return Err(RuleError::TooMany);
    }
    if until.is_some_and(|until| until < dtstart) {
        // A rule that ends before it starts leaves only DTSTART, which the
        // caller always counts (RFC 5545 §3.8.5.3).
        return Ok(RuleRun {
            starts: Vec::new(),
            reach: Reach::Complete,
        });
    }
    let budget_end = step_budget_end(dtstart, rule, limit);
    let end = [until, Some(horizon), Some(budget_end)]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(horizon);

    if end < dtstart {
        // Nothing is needed before DTSTART; the engine would refuse an
        // UNTIL that early.
        let reach = match until {
            Some(until) if until <= end => Reach::Complete,
            _ => Reach::Until(end),
        };
        return Ok(RuleRun {
            starts: Vec::new(),
            reach,
        });
    }
    let mut bounded = rule.clone();
    bounded.until = Some(partial(end));
    let calendar = synthetic_calendar(dtstart, bounded);
    // One more than the limit, so that reaching the limit is detectable.
    let expanded = calendar.expand_dates(Tz::Floating, limit.saturating_add(1));
    if let Some(error) = expanded.errors.first() {
        return Err(RuleError::Invalid(error.error.to_string()));
    }
    let mut starts: Vec<NaiveDateTime> = expanded
        .events
        .iter()
        .map(|event| event.start.naive_local())
        .collect();
    if starts.len() > limit {
        return Err(RuleError::TooMany);
    }
    starts.sort_unstable();

    let count_reached = rule
        .count
        .is_some_and(|count| starts.len() >= count as usize);
    let until_governs = until.is_some_and(|until| until <= end);
    let reach = if count_reached || until_governs {
        Reach::Complete
    } else {
        Reach::Until(end)
    };
    Ok(RuleRun { starts, reach })
}

/// Upper bound of instances one period of the rule can produce. calcard
/// builds a whole period before yielding, so an unbounded product
/// (BYHOUR × BYMINUTE × BYSECOND × days) must be refused up front.
fn per_period_bound(rule: &ICalendarRecurrenceRule) -> u64 {
    let factor = |len: usize| len.max(1) as u64;
    let day_rules = !rule.byday.is_empty()
        || !rule.bymonthday.is_empty()
        || !rule.byyearday.is_empty()
        || !rule.byweekno.is_empty();
    let days = match rule.freq {
        ICalendarFrequency::Yearly if day_rules => 366,
        ICalendarFrequency::Yearly => factor(rule.bymonth.len()),
        ICalendarFrequency::Monthly if day_rules => 31,
        ICalendarFrequency::Weekly if day_rules => 7,
        _ => 1,
    };
    days * factor(rule.byhour.len()) * factor(rule.byminute.len()) * factor(rule.bysecond.len())
}

/// The local time after which walking the rule would take more than
/// `limit` engine steps: one step is one FREQ period (shortest length).
fn step_budget_end(
    dtstart: NaiveDateTime,
    rule: &ICalendarRecurrenceRule,
    limit: usize,
) -> NaiveDateTime {
    let unit: i64 = match rule.freq {
        ICalendarFrequency::Secondly => 1,
        ICalendarFrequency::Minutely => 60,
        ICalendarFrequency::Hourly => 3_600,
        ICalendarFrequency::Daily => 86_400,
        ICalendarFrequency::Weekly => 7 * 86_400,
        ICalendarFrequency::Monthly => 28 * 86_400,
        ICalendarFrequency::Yearly => 365 * 86_400,
    };
    let interval = i64::from(rule.interval.unwrap_or(1).max(1));
    let span = unit
        .saturating_mul(interval)
        .saturating_mul(i64::try_from(limit).unwrap_or(i64::MAX));
    TimeDelta::try_seconds(span)
        .and_then(|span| dtstart.checked_add_signed(span))
        .map_or(latest(), |end| end.min(latest()))
}

/// The latest time an iCalendar value can name (four-digit years).
pub(crate) fn latest() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .unwrap_or(NaiveDateTime::MAX)
}

fn synthetic_calendar(dtstart: NaiveDateTime, rule: ICalendarRecurrenceRule) -> ICalendar {
    let entry = |name, value| ICalendarEntry {
        name,
        params: Vec::new(),
        values: vec![value],
    };
    ICalendar {
        components: vec![
            ICalendarComponent {
                component_type: ICalendarComponentType::VCalendar,
                entries: Vec::new(),
                component_ids: vec![1],
            },
            ICalendarComponent {
                component_type: ICalendarComponentType::VEvent,
                entries: vec![
                    entry(
                        ICalendarProperty::Dtstart,
                        ICalendarValue::PartialDateTime(Box::new(partial(dtstart))),
                    ),
                    entry(
                        ICalendarProperty::Rrule,
                        ICalendarValue::RecurrenceRule(Box::new(rule)),
                    ),
                ],
                component_ids: Vec::new(),
            },
        ],
    }
}

/// A floating PartialDateTime for calcard.
fn partial(at: NaiveDateTime) -> PartialDateTime {
    // Invariant: callers stay within latest() and iCalendar values start at
    // year 0, so the year fits a u16; clamp rather than wrap if not.
    let year = at.year().clamp(0, 9999) as u16;
    PartialDateTime {
        year: Some(year),
        month: Some(at.month() as u8),
        day: Some(at.day() as u8),
        hour: Some(at.hour() as u8),
        minute: Some(at.minute() as u8),
        second: Some(at.second() as u8),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn rule(text: &str) -> ICalendarRecurrenceRule {
        let ical =
            format!("BEGIN:VCALENDAR\nBEGIN:VEVENT\nRRULE:{text}\nEND:VEVENT\nEND:VCALENDAR\n");
        let parsed = ICalendar::parse(ical).unwrap();
        match parsed.components[1].entries[0].values.first() {
            Some(ICalendarValue::RecurrenceRule(rule)) => (**rule).clone(),
            other => panic!("not a rule: {other:?}"),
        }
    }

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%S").unwrap()
    }

    #[test]
    fn count_is_complete() {
        let run = run(
            at("20240101T090000"),
            &rule("FREQ=WEEKLY;COUNT=3"),
            None,
            latest(),
            100,
        )
        .unwrap();
        assert_eq!(
            run.starts,
            [
                at("20240101T090000"),
                at("20240108T090000"),
                at("20240115T090000")
            ]
        );
        assert_eq!(run.reach, Reach::Complete);
    }

    #[test]
    fn horizon_clamps_an_endless_rule() {
        let run = run(
            at("20240101T090000"),
            &rule("FREQ=DAILY"),
            None,
            at("20240105T000000"),
            100,
        )
        .unwrap();
        assert_eq!(run.starts.len(), 4);
        assert_eq!(run.reach, Reach::Until(at("20240105T000000")));
    }

    #[test]
    fn until_is_inclusive_and_complete() {
        let until = Some(at("20240103T090000"));
        let run = run(
            at("20240101T090000"),
            &rule("FREQ=DAILY"),
            until,
            latest(),
            100,
        )
        .unwrap();
        assert_eq!(run.starts.len(), 3);
        assert_eq!(run.reach, Reach::Complete);
        let before = Some(at("20231231T000000"));
        let run = super::run(
            at("20240101T090000"),
            &rule("FREQ=DAILY"),
            before,
            latest(),
            100,
        )
        .unwrap();
        assert!(run.starts.is_empty());
    }

    #[test]
    fn limits_are_typed_and_fast() {
        let started = Instant::now();
        // The step budget stops the walk after 1,000 seconds: 1,001 instances.
        let dense = run(
            at("19700101T000000"),
            &rule("FREQ=SECONDLY"),
            None,
            latest(),
            1_000,
        );
        assert_eq!(dense, Err(RuleError::TooMany));
        // A rule that never matches ends at the budget, and says so.
        let never = rule("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30");
        let never = run(at("20000101T000000"), &never, None, latest(), 1_000).unwrap();
        assert!(never.starts.is_empty());
        assert!(matches!(never.reach, Reach::Until(end) if end.year() < 3000));
        let many = run(
            at("20000101T000000"),
            &rule("FREQ=DAILY;COUNT=100000"),
            None,
            latest(),
            1_000,
        );
        assert_eq!(many, Err(RuleError::TooMany));
        let wide = rule(
            "FREQ=YEARLY;BYDAY=MO,TU,WE,TH,FR,SA,SU;BYHOUR=1,2,3,4,5,6,7,8,9,10,11,12;BYMINUTE=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30",
        );
        assert_eq!(
            run(at("20000101T000000"), &wide, None, latest(), 10_000),
            Err(RuleError::TooMany)
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn mixed_ordinal_and_plain_weekdays() {
        let started = Instant::now();
        let run = run(
            at("20160928T160000"),
            &rule("FREQ=MONTHLY;BYDAY=2MO,TU;COUNT=4"),
            None,
            latest(),
            100,
        )
        .unwrap();
        // 2016-10: Tuesdays 4th, 10th is the second Monday, 11th, 18th.
        assert_eq!(
            run.starts,
            [
                at("20161004T160000"),
                at("20161010T160000"),
                at("20161011T160000"),
                at("20161018T160000")
            ]
        );
        assert_eq!(run.reach, Reach::Complete);
        assert!(started.elapsed() < Duration::from_millis(100));
    }

    #[test]
    fn invalid_rules_are_reported() {
        let err = run(
            at("20240101T000000"),
            &rule("FREQ=DAILY;BYMONTH=13"),
            None,
            latest(),
            10,
        )
        .unwrap_err();
        assert!(matches!(err, RuleError::Invalid(reason) if reason.contains("BYMONTH")));
    }
}
