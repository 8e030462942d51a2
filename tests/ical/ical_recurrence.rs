//! Recurrence sets: RRULE (every FREQ, BYxxx, COUNT, UNTIL), RDATE,
//! EXDATE, RECURRENCE-ID overrides including THISANDFUTURE, time zones
//! from VTIMEZONE and IANA names, DST, floating times.

use davgate::dav::ical::{Options, TimeRange, format_utc};

use crate::ical::common::{calendar, floating, object, parse, range, starts};

fn all() -> TimeRange {
    range("19000101T000000Z", "21000101T000000Z")
}

#[test]
fn weekly_with_exdate_override_and_dst() {
    // Mondays 09:00 Europe/Berlin; the 18th is excluded; Easter Monday is
    // moved to Tuesday 10:00; DST starts on the 31st.
    let object = object("ical/handmade/thunderbird_style_berlin_weekly_dst.ics");
    assert_eq!(
        starts(&object, &all(), &Options::default()),
        [
            "20240304T080000Z",
            "20240311T080000Z",
            "20240325T080000Z",
            "20240402T080000Z",
            "20240408T070000Z",
        ]
    );
    let instances = object.instances(&all(), &Options::default()).unwrap();
    let moved = &instances[3];
    assert!(moved.overridden);
    assert_eq!(
        moved.recurrence_id.map(format_utc).as_deref(),
        Some("20240401T070000Z")
    );
    assert_eq!(
        moved.end.map(format_utc).as_deref(),
        Some("20240402T083000Z")
    );
    assert_eq!(
        object.last_end().map(format_utc).as_deref(),
        Some("20240408T071500Z")
    );
}

#[test]
fn this_and_future_moves_every_later_instance() {
    // Second Tuesdays 10:00 New York; from June on, 14:00 for two hours.
    let object = object("ical/handmade/new_york_monthly_thisandfuture.ics");
    let options = Options::default();
    assert_eq!(
        starts(
            &object,
            &range("20240101T000000Z", "20240601T000000Z"),
            &options
        ),
        [
            "20240109T150000Z",
            "20240213T150000Z",
            "20240312T140000Z",
            "20240409T140000Z",
            "20240514T140000Z",
        ]
    );
    let summer = object
        .instances(&range("20240601T000000Z", "20240901T000000Z"), &options)
        .unwrap();
    let got: Vec<_> = summer
        .iter()
        .map(|i| {
            (
                format_utc(i.start.unwrap()),
                format_utc(i.end.unwrap()),
                i.overridden,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "20240611T180000Z".to_owned(),
                "20240611T200000Z".to_owned(),
                true
            ),
            (
                "20240709T180000Z".to_owned(),
                "20240709T200000Z".to_owned(),
                true
            ),
            (
                "20240813T180000Z".to_owned(),
                "20240813T200000Z".to_owned(),
                true
            ),
        ]
    );
    assert_eq!(
        summer[1].recurrence_id.map(format_utc).as_deref(),
        Some("20240709T140000Z")
    );
    // COUNT=12 still ends the series in December, after EST is back.
    assert_eq!(
        object.last_end().map(format_utc).as_deref(),
        Some("20241210T210000Z")
    );
}

#[test]
fn google_override_listed_before_its_master() {
    let object = object("ical/google_daily_override_before_master.ics");
    assert_eq!(
        starts(&object, &all(), &Options::default()),
        ["20260210T170000Z", "20260211T173000Z", "20260212T170000Z"]
    );
}

#[test]
fn apple_last_weekday_every_other_month() {
    // BYSETPOS=-1 of MO-FR every 2 months; EXDATE removes DTSTART itself
    // and 29 May; 31 July is overridden (transparent).
    let object = object("ical/apple_bysetpos_exdate_transparent_override.ics");
    assert_eq!(
        starts(
            &object,
            &range("20150301T000000Z", "20151231T000000Z"),
            &Options::default()
        ),
        ["20150731T200000Z", "20150930T200000Z", "20151130T210000Z"]
    );
}

#[test]
fn davx5_daily_with_folded_exdates_and_overrides() {
    let object = object("ical/davx5_daily_many_exdates_overrides.ics");
    assert_eq!(
        starts(
            &object,
            &range("20231220T000000Z", "20231229T000000Z"),
            &Options::default()
        ),
        [
            "20231220T180000Z",
            "20231221T180000Z",
            "20231223T180000Z",
            "20231224T180000Z",
            "20231225T211500Z",
            "20231226T180000Z",
            "20231227T203000Z",
            "20231228T180000Z",
        ]
    );
    // British Summer Time: 18:00 BST is 17:00Z.
    assert_eq!(
        starts(
            &object,
            &range("20240601T000000Z", "20240602T000000Z"),
            &Options::default()
        ),
        ["20240601T170000Z"]
    );
}

#[test]
fn davx5_berlin_until_and_utc_exdates() {
    // Tuesdays 16:15 Berlin until 2020-02-04 15:14:59Z; EXDATEs in UTC.
    let object = object("ical/davx5_berlin_rrule_exdate_rdate.ics");
    let list = starts(&object, &all(), &Options::default());
    assert!(
        !list.contains(&"20191015T141500Z".to_owned()),
        "DTSTART excluded"
    );
    assert!(
        !list.contains(&"20191105T151500Z".to_owned()),
        "CET EXDATE excluded"
    );
    assert!(
        list.contains(&"20191029T151500Z".to_owned()),
        "after the switch to CET"
    );
    // UNTIL=20200204T151459Z stops one second before the 4 February
    // instance: DAVx5's way of ending a series ("this and following").
    assert_eq!(list.last().map(String::as_str), Some("20200128T151500Z"));
}

#[test]
fn thunderbird_floating_exdate_on_a_zoned_series() {
    // EXDATE:20260403T110000 has no TZID; Thunderbird means 11:00 Berlin.
    let object = object("ical/thunderbird_weekly_exdate_overrides.ics");
    assert_eq!(
        starts(
            &object,
            &range("20260401T000000Z", "20260412T000000Z"),
            &Options::default()
        ),
        ["20260410T090000Z"]
    );
    assert_eq!(
        starts(
            &object,
            &range("20260129T000000Z", "20260131T000000Z"),
            &Options::default()
        ),
        ["20260130T093000Z"]
    );
}

#[test]
fn floating_times_follow_the_callers_zone() {
    let object = object("ical/handmade/floating_daily_lf.ics");
    let all = all();
    assert_eq!(
        starts(&object, &all, &Options::default()),
        ["20240610T070000Z", "20240611T070000Z", "20240612T070000Z"]
    );
    assert_eq!(
        starts(&object, &all, &floating("Europe/Berlin")),
        ["20240610T050000Z", "20240611T050000Z", "20240612T050000Z"]
    );
    assert_eq!(
        starts(&object, &all, &floating("America/New_York"))[0],
        "20240610T110000Z"
    );
}

#[test]
fn vtimezone_rules_when_the_tzid_is_unknown() {
    // "Company Time" is UTC-7, UTC-6 from the second Sunday in March.
    let object = object("ical/handmade/custom_vtimezone_rules.ics");
    assert_eq!(
        starts(&object, &all(), &Options::default()),
        [
            "20240105T160000Z",
            "20240205T160000Z",
            "20240305T160000Z",
            "20240405T150000Z",
            "20240505T150000Z",
            "20240605T150000Z",
        ]
    );
}

#[test]
fn wall_clock_times_in_a_dst_gap() {
    // 02:30 does not exist in Berlin on 2024-03-31: RFC 5545 reads it with
    // the offset from before the gap.
    let object = object("ical/handmade/dst_gap_daily.ics");
    assert_eq!(
        starts(&object, &all(), &Options::default()),
        ["20240329T013000Z", "20240330T013000Z", "20240331T013000Z"]
    );
}

#[test]
fn all_day_yearly_on_a_leap_day() {
    let object = object("ical/handmade/apple_style_allday_yearly_leap_day.ics");
    // Invalid dates are skipped (RFC 5545 §3.3.10).
    assert_eq!(
        starts(
            &object,
            &range("20230101T000000Z", "20250101T000000Z"),
            &Options::default()
        ),
        ["20240229T000000Z"]
    );
    let instance = object
        .instances(
            &range("20240229T120000Z", "20240229T120001Z"),
            &Options::default(),
        )
        .unwrap();
    assert_eq!(
        instance[0].end.map(format_utc).as_deref(),
        Some("20240301T000000Z")
    );
}

#[test]
fn recurring_task_without_dtstart_recurs_on_due() {
    let object = object("ical/davdroid_todo_rrule_due_only.ics");
    let due: Vec<_> = object
        .instances(
            &range("20130831T000000Z", "20130920T000000Z"),
            &Options::default(),
        )
        .unwrap()
        .iter()
        .map(|i| (i.start, i.end.map(format_utc)))
        .collect();
    assert_eq!(
        due,
        [
            (None, Some("20130901T000000Z".to_owned())),
            (None, Some("20130908T000000Z".to_owned())),
            (None, Some("20130915T000000Z".to_owned())),
        ]
    );
}

#[test]
fn rdate_periods_and_excluded_rdates() {
    let object = parse(&calendar(
        "BEGIN:VEVENT
         UID:rdate@example.org
         DTSTART:20240101T090000Z
         DURATION:PT1H
         RDATE;VALUE=PERIOD:20240105T120000Z/PT30M,20240106T120000Z/20240106T150000Z
         RDATE:20240107T090000Z,20240108T090000Z
         EXDATE:20240108T090000Z
         END:VEVENT",
    ));
    let got: Vec<_> = object
        .instances(&all(), &Options::default())
        .unwrap()
        .iter()
        .map(|i| (format_utc(i.start.unwrap()), format_utc(i.end.unwrap())))
        .collect();
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        got,
        [
            pair("20240101T090000Z", "20240101T100000Z"),
            pair("20240105T120000Z", "20240105T123000Z"),
            pair("20240106T120000Z", "20240106T150000Z"),
            pair("20240107T090000Z", "20240107T100000Z"),
        ]
    );
}

/// Starts of `rule` anchored at `dtstart` (UTC), every instance.
fn expand(dtstart: &str, rule: &str) -> Vec<String> {
    let object = parse(&calendar(&format!(
        "BEGIN:VEVENT\nUID:rule@example.org\nDTSTART:{dtstart}\nRRULE:{rule}\nEND:VEVENT"
    )));
    starts(&object, &all(), &Options::default())
}

#[test]
fn every_frequency_and_by_rule() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "20240101T000000Z",
            "FREQ=SECONDLY;INTERVAL=20;COUNT=3",
            &["20240101T000000Z", "20240101T000020Z", "20240101T000040Z"],
        ),
        (
            "20240101T090000Z",
            "FREQ=MINUTELY;INTERVAL=20;BYHOUR=9;COUNT=4",
            &[
                "20240101T090000Z",
                "20240101T092000Z",
                "20240101T094000Z",
                "20240102T090000Z",
            ],
        ),
        (
            "20240101T000000Z",
            "FREQ=HOURLY;INTERVAL=6;COUNT=4",
            &[
                "20240101T000000Z",
                "20240101T060000Z",
                "20240101T120000Z",
                "20240101T180000Z",
            ],
        ),
        (
            "20240101T090000Z",
            "FREQ=DAILY;BYDAY=MO,WE,FR;UNTIL=20240108T090000Z",
            &[
                "20240101T090000Z",
                "20240103T090000Z",
                "20240105T090000Z",
                "20240108T090000Z",
            ],
        ),
        (
            "20240102T090000Z",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;COUNT=4",
            &[
                "20240102T090000Z",
                "20240104T090000Z",
                "20240116T090000Z",
                "20240118T090000Z",
            ],
        ),
        (
            "20240131T090000Z",
            "FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=3",
            &["20240131T090000Z", "20240229T090000Z", "20240331T090000Z"],
        ),
        (
            "20240105T090000Z",
            "FREQ=MONTHLY;BYDAY=1FR;COUNT=3",
            &["20240105T090000Z", "20240202T090000Z", "20240301T090000Z"],
        ),
        (
            "20240101T090000Z",
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1;COUNT=3",
            &["20240101T090000Z", "20240201T090000Z", "20240301T090000Z"],
        ),
        (
            "20241128T090000Z",
            "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH;COUNT=2",
            &["20241128T090000Z", "20251127T090000Z"],
        ),
        (
            "20240101T090000Z",
            "FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO;COUNT=2",
            &["20240101T090000Z", "20241230T090000Z"],
        ),
        (
            "20240409T090000Z",
            "FREQ=YEARLY;BYYEARDAY=100;COUNT=2",
            &["20240409T090000Z", "20250410T090000Z"],
        ),
        (
            // Mixed ordinal and plain weekdays, which calcard's engine
            // alone gets wrong.
            "20240101T090000Z",
            "FREQ=MONTHLY;BYDAY=1MO,FR;COUNT=4",
            &[
                "20240101T090000Z",
                "20240105T090000Z",
                "20240112T090000Z",
                "20240119T090000Z",
            ],
        ),
    ];
    for (dtstart, rule, expected) in cases {
        assert_eq!(expand(dtstart, rule), *expected, "{rule}");
    }
}

#[test]
fn dtstart_counts_even_when_the_rule_skips_it() {
    // 2024-01-03 is a Wednesday; the rule picks Mondays. RFC 5545:
    // DTSTART is the first instance and counts towards COUNT.
    assert_eq!(
        expand("20240103T090000Z", "FREQ=WEEKLY;BYDAY=MO;COUNT=3"),
        ["20240103T090000Z", "20240108T090000Z", "20240115T090000Z"]
    );
    // UNTIL before DTSTART leaves DTSTART alone.
    assert_eq!(
        expand("20240103T090000Z", "FREQ=DAILY;UNTIL=20240101T000000Z"),
        ["20240103T090000Z"]
    );
}
