//! free-busy-query (RFC 4791 §7.10): which instances are busy, how they
//! are typed, merged and written.

use davgate::dav::ical::{BusyKind, BusyPeriod, Options, format_utc, merge_busy, vfreebusy};

use crate::ical::common::{calendar, object, parse, range, utc};

fn busy_in(paths: &[&str], start: &str, end: &str) -> Vec<BusyPeriod> {
    let range = range(start, end);
    let mut periods = Vec::new();
    for path in paths {
        periods.extend(
            object(path)
                .busy_periods(&range, &Options::default())
                .unwrap(),
        );
    }
    merge_busy(periods)
}

#[test]
fn rfc4791_7_10_1_free_busy_report() {
    let paths: Vec<String> = (1..=7).map(|n| format!("rfc4791/abcd{n}.ics")).collect();
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let periods = busy_in(&paths, "20060104T140000Z", "20060105T220000Z");
    let report = vfreebusy(
        periods,
        &range("20060104T140000Z", "20060105T220000Z"),
        utc("20050125T090000Z"),
    );
    assert_eq!(
        report,
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//davgate//CalDAV//EN\r\nBEGIN:VFREEBUSY\r\n\
         DTSTAMP:20050125T090000Z\r\nDTSTART:20060104T140000Z\r\nDTEND:20060105T220000Z\r\n\
         FREEBUSY;FBTYPE=BUSY-TENTATIVE:20060104T150000Z/20060104T160000Z\r\n\
         FREEBUSY:20060104T190000Z/20060104T200000Z\r\n\
         FREEBUSY:20060105T170000Z/20060105T180000Z\r\n\
         END:VFREEBUSY\r\nEND:VCALENDAR\r\n"
    );
}

#[test]
fn transparent_and_cancelled_instances_are_free() {
    // Apple: the 31 July override is TRANSPARENT, 30 September is not.
    let periods = busy_in(
        &["ical/apple_bysetpos_exdate_transparent_override.ics"],
        "20150701T000000Z",
        "20151001T000000Z",
    );
    let starts: Vec<_> = periods.iter().map(|p| format_utc(p.start)).collect();
    assert_eq!(starts, ["20150930T200000Z"]);
    // A transparent all-day birthday blocks nothing.
    assert!(
        busy_in(
            &["ical/handmade/apple_style_allday_yearly_leap_day.ics"],
            "20240101T000000Z",
            "20250101T000000Z"
        )
        .is_empty()
    );
    let cancelled = parse(&calendar(
        "BEGIN:VEVENT\nUID:c\nDTSTART:20240101T090000Z\nDTEND:20240101T100000Z\nSTATUS:CANCELLED\nEND:VEVENT",
    ));
    assert!(
        cancelled
            .busy_periods(
                &range("20240101T000000Z", "20240102T000000Z"),
                &Options::default()
            )
            .unwrap()
            .is_empty()
    );
}

#[test]
fn periods_are_clipped_and_coalesced() {
    let periods = busy_in(
        &[
            "ical/handmade/thunderbird_style_berlin_weekly_dst.ics",
            "ical/google_daily_override_before_master.ics",
        ],
        "20240304T081000Z",
        "20240402T082000Z",
    );
    let got: Vec<_> = periods
        .iter()
        .map(|p| (format_utc(p.start), format_utc(p.end), p.kind))
        .collect();
    let row = |s: &str, e: &str, k| (s.to_owned(), e.to_owned(), k);
    assert_eq!(
        got,
        [
            row("20240304T081000Z", "20240304T081500Z", BusyKind::Busy),
            row("20240311T080000Z", "20240311T081500Z", BusyKind::Busy),
            row("20240325T080000Z", "20240325T081500Z", BusyKind::Busy),
            row(
                "20240402T080000Z",
                "20240402T082000Z",
                BusyKind::BusyTentative
            ),
        ]
    );
    // Overlapping events of one kind become one period.
    let a = parse(&calendar(
        "BEGIN:VEVENT\nUID:a\nDTSTART:20240101T090000Z\nDTEND:20240101T110000Z\nEND:VEVENT",
    ));
    let b = parse(&calendar(
        "BEGIN:VEVENT\nUID:b\nDTSTART:20240101T100000Z\nDTEND:20240101T120000Z\nEND:VEVENT",
    ));
    let window = range("20240101T000000Z", "20240102T000000Z");
    let mut both = a.busy_periods(&window, &Options::default()).unwrap();
    both.extend(b.busy_periods(&window, &Options::default()).unwrap());
    let merged = merge_busy(both);
    assert_eq!(merged.len(), 1);
    assert_eq!(
        (format_utc(merged[0].start), format_utc(merged[0].end)),
        ("20240101T090000Z".into(), "20240101T120000Z".into())
    );
}
