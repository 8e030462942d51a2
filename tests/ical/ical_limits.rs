//! Hostile recurrences finish quickly with a bounded answer or a typed
//! error, in a debug build.

use std::time::{Duration, Instant};

use davgate::dav::ical::{self, ExpandLimits, IcalError, Options, Precondition, TimeRange};

use crate::ical::common::{calendar, parse, range};

const FAST: Duration = Duration::from_secs(1);

/// Runs one operation on hostile input and checks it stayed fast. Each
/// operation is timed on its own: the bound is per request, and the test
/// machine is shared.
#[track_caller]
fn quick<T>(operation: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let result = operation();
    let took = started.elapsed();
    assert!(took < FAST, "took {took:?}");
    result
}

fn event(rule: &str, dtstart: &str) -> String {
    calendar(&format!(
        "BEGIN:VEVENT\nUID:hostile@example.org\nDTSTART:{dtstart}\nDURATION:PT1M\nRRULE:{rule}\nEND:VEVENT"
    ))
}

#[test]
fn a_hundred_thousand_instances() {
    let object = quick(|| parse(&event("FREQ=DAILY;COUNT=100000", "20000101T000000Z")));
    // Longer than max_years: the index span is left open, not wrong.
    assert_eq!(object.last_end(), None);
    // The default limit admits all of them, so the last day is found.
    let last_day = range("22731015T000000Z", "22731016T000000Z");
    let found = quick(|| object.instances(&last_day, &Options::default()).unwrap());
    assert_eq!(found.len(), 1);
    assert_eq!(
        object
            .instances(
                &range("22731016T000000Z", "22740101T000000Z"),
                &Options::default()
            )
            .unwrap()
            .len(),
        0
    );
    // A lower limit refuses, with a typed error.
    let half = Options {
        limits: ExpandLimits {
            max_instances: 50_000,
            ..ExpandLimits::default()
        },
        ..Options::default()
    };
    let err = quick(|| object.instances(&last_day, &half).unwrap_err());
    assert_eq!(err, IcalError::TooManyInstances { limit: 50_000 });
    assert_eq!(
        err.precondition(),
        Some(Precondition::NumberOfMatchesWithinLimits)
    );
    // Early windows stay answerable.
    assert_eq!(
        object
            .instances(&range("20000101T000000Z", "20000103T000000Z"), &half)
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn a_thousand_year_range_is_cut_to_max_years() {
    let object = parse(&event("FREQ=WEEKLY", "20000101T000000Z"));
    let millennium = range("20000101T000000Z", "30000101T000000Z");
    let text = quick(|| object.expand(&millennium, &Options::default()).unwrap());
    let weeks = text.matches("BEGIN:VEVENT").count();
    // 100 years of weeks, not 1,000.
    assert!((5_200..=5_220).contains(&weeks), "{weeks}");
}

#[test]
fn secondly_since_1970() {
    let object = quick(|| parse(&event("FREQ=SECONDLY", "19700101T000000Z")));
    let today = range("20240101T000000Z", "20240102T000000Z");
    let err = quick(|| object.instances(&today, &Options::default()).unwrap_err());
    assert!(matches!(err, IcalError::TooManyInstances { .. }));
}

#[test]
fn exploding_by_rules() {
    let hours: Vec<String> = (0..24).map(|h| h.to_string()).collect();
    let minutes: Vec<String> = (0..60).map(|m| m.to_string()).collect();
    let rule = format!(
        "FREQ=YEARLY;BYMONTH=1;BYMONTHDAY=1,2,3,4,5,6,7,8,9,10;BYHOUR={};BYMINUTE={};BYSECOND={}",
        hours.join(","),
        minutes.join(","),
        minutes.join(",")
    );
    let object = quick(|| parse(&event(&rule, "20240101T000000Z")));
    let day = range("20240101T000000Z", "20240102T000000Z");
    let err = quick(|| object.instances(&day, &Options::default()).unwrap_err());
    assert!(matches!(err, IcalError::TooManyInstances { .. }));
}

#[test]
fn a_rule_that_never_matches() {
    let never = "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30";
    let object = quick(|| parse(&event(never, "20000101T000000Z")));
    let years = range("20000101T000000Z", "20500101T000000Z");
    let instances = quick(|| object.instances(&years, &Options::default()).unwrap());
    assert_eq!(instances.len(), 1, "only DTSTART");
}

#[test]
fn limits_are_configurable() {
    let object = parse(&event("FREQ=DAILY", "20240101T000000Z"));
    let tight = Options {
        limits: ExpandLimits {
            max_instances: 10,
            max_years: 1,
        },
        ..Options::default()
    };
    let err = object
        .instances(&range("20240201T000000Z", "20240202T000000Z"), &tight)
        .unwrap_err();
    assert_eq!(err, IcalError::TooManyInstances { limit: 10 });
    assert_eq!(
        object
            .instances(&range("20240105T000000Z", "20240106T000000Z"), &tight)
            .unwrap()
            .len(),
        1
    );
    // max_years cuts an open range.
    let open = TimeRange::new(Some(crate::ical::common::utc("20240101T000000Z")), None).unwrap();
    let roomy = Options {
        limits: ExpandLimits {
            max_instances: 1_000,
            max_years: 1,
        },
        ..Options::default()
    };
    assert_eq!(object.instances(&open, &roomy).unwrap().len(), 366);
    // And validation never fails on limits.
    assert!(
        ical::validate_with(
            event("FREQ=MINUTELY;COUNT=500000", "20240101T000000Z").as_bytes(),
            &tight
        )
        .is_ok()
    );
}
