//! RFC 4791 §9.9, table by table and row by row, through whole objects
//! and comp-filters, the way a calendar-query evaluates them.

use davgate::dav::ical::{CalendarObject, CompFilter, Options, PropFilter, TimeRange};

use crate::ical::common::{calendar, floating, object, parse, utc};

/// An object with one component `kind` holding `props`.
fn component(kind: &str, props: &str) -> CalendarObject {
    parse(&calendar(&format!(
        "BEGIN:{kind}\nUID:row@example.org\n{props}\nEND:{kind}"
    )))
}

/// Does a `comp-filter name=kind` with `time-range start end` match?
fn hit_with(
    object: &CalendarObject,
    start: Option<&str>,
    end: Option<&str>,
    options: &Options,
) -> bool {
    let range = TimeRange::parse(start, end).unwrap();
    let kind = object.kind().name();
    let filter =
        CompFilter::named("VCALENDAR").with_comp(CompFilter::named(kind).with_time_range(range));
    object.matches(&filter, options).unwrap()
}

fn hit(object: &CalendarObject, start: &str, end: &str) -> bool {
    hit_with(object, Some(start), Some(end), &Options::default())
}

#[test]
fn vevent_row_dtend() {
    // (start < DTEND AND end > DTSTART)
    let event = component("VEVENT", "DTSTART:20240110T100000Z\nDTEND:20240110T110000Z");
    assert!(hit(&event, "20240110T105959Z", "20240110T120000Z"));
    assert!(!hit(&event, "20240110T110000Z", "20240110T120000Z"));
    assert!(!hit(&event, "20240110T090000Z", "20240110T100000Z"));
    assert!(hit(&event, "20240110T090000Z", "20240110T100001Z"));
}

#[test]
fn vevent_row_positive_duration() {
    // (start < DTSTART+DURATION AND end > DTSTART)
    let event = component("VEVENT", "DTSTART:20240110T100000Z\nDURATION:PT1H");
    assert!(hit(&event, "20240110T105959Z", "20240110T120000Z"));
    assert!(!hit(&event, "20240110T110000Z", "20240110T120000Z"));
    assert!(!hit(&event, "20240110T090000Z", "20240110T100000Z"));
}

#[test]
fn vevent_row_zero_duration() {
    // (start <= DTSTART AND end > DTSTART)
    let event = component("VEVENT", "DTSTART:20240110T100000Z\nDURATION:PT0S");
    assert!(hit(&event, "20240110T100000Z", "20240110T100001Z"));
    assert!(!hit(&event, "20240110T090000Z", "20240110T100000Z"));
    assert!(!hit(&event, "20240110T100001Z", "20240110T110000Z"));
}

#[test]
fn vevent_row_date_time_without_end() {
    // (start <= DTSTART AND end > DTSTART)
    let event = component("VEVENT", "DTSTART:20240110T100000Z");
    assert!(hit(&event, "20240110T100000Z", "20240110T100001Z"));
    assert!(!hit(&event, "20240110T090000Z", "20240110T100000Z"));
}

#[test]
fn vevent_row_date_without_end() {
    // (start < DTSTART+P1D AND end > DTSTART), the day read in the
    // floating zone (RFC 4791 §7.3).
    let event = component("VEVENT", "DTSTART;VALUE=DATE:20240110");
    assert!(hit(&event, "20240110T235959Z", "20240111T120000Z"));
    assert!(!hit(&event, "20240111T000000Z", "20240111T120000Z"));
    assert!(!hit(&event, "20240109T000000Z", "20240110T000000Z"));
    let berlin = floating("Europe/Berlin");
    assert!(hit_with(
        &event,
        Some("20240109T230000Z"),
        Some("20240109T230001Z"),
        &berlin
    ));
    assert!(!hit_with(
        &event,
        Some("20240110T230000Z"),
        Some("20240111T000000Z"),
        &berlin
    ));
}

#[test]
fn vevent_from_clients() {
    // Exchange all-day event, 2022-12-31 in the floating zone.
    let allday = object("ical/exchange_allday.ics");
    let day = TimeRange::parse(Some("20221231T000000Z"), Some("20230101T000000Z")).unwrap();
    assert_eq!(
        allday.instances(&day, &Options::default()).unwrap().len(),
        1
    );
    // Outlook's "W. Europe Standard Time" is Europe/Berlin: 12:00 CEST.
    let outlook = object("ical/outlook_windows_tzid.ics");
    assert!(hit(&outlook, "20180722T100000Z", "20180722T100001Z"));
    assert!(!hit(&outlook, "20180722T110000Z", "20180722T120000Z"));
}

#[test]
fn vtodo_row_start_and_duration() {
    // (start <= DTSTART+DURATION) AND ((end > DTSTART) OR (end >= DTSTART+DURATION))
    let todo = component("VTODO", "DTSTART:20240110T100000Z\nDURATION:PT1H");
    assert!(hit(&todo, "20240110T110000Z", "20240110T120000Z"));
    assert!(!hit(&todo, "20240110T110001Z", "20240110T120000Z"));
    assert!(hit(&todo, "20240110T090000Z", "20240110T100001Z"));
    assert!(!hit(&todo, "20240110T090000Z", "20240110T100000Z"));
}

#[test]
fn vtodo_row_start_and_due() {
    // ((start < DUE) OR (start <= DTSTART)) AND ((end > DTSTART) OR (end >= DUE))
    let todo = component("VTODO", "DTSTART:20240110T100000Z\nDUE:20240110T110000Z");
    assert!(hit(&todo, "20240110T105959Z", "20240110T120000Z"));
    assert!(!hit(&todo, "20240110T110000Z", "20240110T120000Z"));
    assert!(hit(&todo, "20240110T090000Z", "20240110T100001Z"));
    assert!(!hit(&todo, "20240110T090000Z", "20240110T100000Z"));
}

#[test]
fn vtodo_row_start_only() {
    // (start <= DTSTART) AND (end > DTSTART)
    let todo = component("VTODO", "DTSTART:20240110T100000Z");
    assert!(hit(&todo, "20240110T100000Z", "20240110T100001Z"));
    assert!(!hit(&todo, "20240110T090000Z", "20240110T100000Z"));
    assert!(!hit(&todo, "20240110T100001Z", "20240110T110000Z"));
}

#[test]
fn vtodo_row_due_only() {
    // (start < DUE) AND (end >= DUE): the range end is inclusive here.
    let todo = component("VTODO", "DUE:20240110T110000Z");
    assert!(hit(&todo, "20240110T090000Z", "20240110T110000Z"));
    assert!(!hit(&todo, "20240110T110000Z", "20240110T120000Z"));
    assert!(!hit(&todo, "20240110T090000Z", "20240110T105959Z"));
    // Apple Reminders: a DATE due date.
    let apple = object("ical/apple_todo_due_date_alarm.ics");
    assert!(hit(&apple, "20140911T000000Z", "20140912T000000Z"));
    assert!(!hit(&apple, "20140912T000000Z", "20140913T000000Z"));
}

#[test]
fn vtodo_row_completed_and_created() {
    // ((start <= CREATED) OR (start <= COMPLETED)) AND
    // ((end >= CREATED) OR (end >= COMPLETED))
    let todo = component(
        "VTODO",
        "CREATED:20240110T100000Z\nCOMPLETED:20240110T120000Z",
    );
    assert!(hit(&todo, "20240110T103000Z", "20240110T110000Z"));
    assert!(hit(&todo, "20240110T120000Z", "20240110T130000Z"));
    assert!(!hit(&todo, "20240110T120001Z", "20240110T130000Z"));
    assert!(hit(&todo, "20240110T090000Z", "20240110T100000Z"));
    assert!(!hit(&todo, "20240110T080000Z", "20240110T090000Z"));
    // Thunderbird, in Europe/Paris: created 2013-09-03 16:00Z, completed
    // 2013-09-20 16:00Z.
    let thunderbird = object("ical/thunderbird_todo_created_completed.ics");
    assert!(hit(&thunderbird, "20130910T000000Z", "20130911T000000Z"));
    assert!(!hit(&thunderbird, "20130920T160001Z", "20131001T000000Z"));
}

#[test]
fn vtodo_row_completed_only() {
    // (start <= COMPLETED) AND (end >= COMPLETED)
    let todo = component("VTODO", "COMPLETED:20240110T120000Z");
    assert!(hit(&todo, "20240110T120000Z", "20240110T120001Z"));
    assert!(hit(&todo, "20240110T110000Z", "20240110T120000Z"));
    assert!(!hit(&todo, "20240110T120001Z", "20240110T130000Z"));
    let thunderbird = object("ical/thunderbird_todo_completed.ics");
    assert!(hit(&thunderbird, "20130920T150000Z", "20130920T160000Z"));
    assert!(!hit(&thunderbird, "20130920T160001Z", "20130921T000000Z"));
}

#[test]
fn vtodo_row_created_only() {
    // (end > CREATED)
    let todo = component("VTODO", "CREATED:20240110T100000Z");
    assert!(hit(&todo, "20240110T090000Z", "20240110T100001Z"));
    assert!(!hit(&todo, "20240110T090000Z", "20240110T100000Z"));
    assert!(hit(&todo, "20990101T000000Z", "20990102T000000Z"));
    // Apple's undated reminder has CREATED only.
    let apple = object("ical/apple_todo_undated.ics");
    assert!(hit(&apple, "20200101T000000Z", "20200102T000000Z"));
    assert!(!hit(&apple, "20130101T000000Z", "20130102T000000Z"));
}

#[test]
fn vtodo_row_nothing() {
    // TRUE
    let todo = component("VTODO", "SUMMARY:someday");
    assert!(hit(&todo, "19700101T000000Z", "19700101T000001Z"));
    assert!(hit_with(
        &todo,
        None,
        Some("19000101T000000Z"),
        &Options::default()
    ));
}

#[test]
fn vjournal_rows() {
    // DATE-TIME: (start <= DTSTART) AND (end > DTSTART)
    let timed = component("VJOURNAL", "DTSTART:20240110T100000Z");
    assert!(hit(&timed, "20240110T100000Z", "20240110T100001Z"));
    assert!(!hit(&timed, "20240110T090000Z", "20240110T100000Z"));
    // DATE: (start < DTSTART+P1D) AND (end > DTSTART)
    let dated = component("VJOURNAL", "DTSTART;VALUE=DATE:20240110");
    assert!(hit(&dated, "20240110T230000Z", "20240111T000000Z"));
    assert!(!hit(&dated, "20240111T000000Z", "20240112T000000Z"));
    // No DTSTART: FALSE
    let undated = component("VJOURNAL", "SUMMARY:thoughts");
    assert!(!hit_with(&undated, None, None, &Options::default()));
}

fn alarm_filter(kind: &str, start: &str, end: &str) -> CompFilter {
    let range = TimeRange::parse(Some(start), Some(end)).unwrap();
    CompFilter::named("VCALENDAR").with_comp(
        CompFilter::named(kind).with_comp(CompFilter::named("VALARM").with_time_range(range)),
    )
}

#[test]
fn valarm_triggers() {
    // (start <= trigger-time) AND (end > trigger-time), per instance.
    let weekly = object("ical/handmade/thunderbird_style_berlin_weekly_dst.ics");
    let options = Options::default();
    // -PT10M before 2024-03-11 09:00 CET.
    assert!(
        weekly
            .matches(
                &alarm_filter("VEVENT", "20240311T075000Z", "20240311T075001Z"),
                &options
            )
            .unwrap()
    );
    assert!(
        !weekly
            .matches(
                &alarm_filter("VEVENT", "20240311T075001Z", "20240311T080000Z"),
                &options
            )
            .unwrap()
    );
    // The override has no alarm, so its instance triggers nothing.
    assert!(
        !weekly
            .matches(
                &alarm_filter("VEVENT", "20240402T074000Z", "20240402T080000Z"),
                &options
            )
            .unwrap()
    );
    // After the DST switch the same wall clock is an hour earlier in UTC.
    assert!(
        weekly
            .matches(
                &alarm_filter("VEVENT", "20240408T065000Z", "20240408T065001Z"),
                &options
            )
            .unwrap()
    );

    let repeating = component(
        "VEVENT",
        "DTSTART:20240110T100000Z\nDTEND:20240110T110000Z\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER;RELATED=END:PT5M\nREPEAT:2\nDURATION:PT10M\nEND:VALARM",
    );
    assert!(
        repeating
            .matches(
                &alarm_filter("VEVENT", "20240110T112500Z", "20240110T112501Z"),
                &options
            )
            .unwrap()
    );
    assert!(
        !repeating
            .matches(
                &alarm_filter("VEVENT", "20240110T113000Z", "20240110T120000Z"),
                &options
            )
            .unwrap()
    );

    // Absolute trigger (Thunderbird all-day event).
    let absolute = object("ical/thunderbird_allday_absolute_alarm.ics");
    assert!(
        absolute
            .matches(
                &alarm_filter("VEVENT", "20111019T000000Z", "20111019T000001Z"),
                &options
            )
            .unwrap()
    );
}

#[test]
fn valarm_on_a_task_with_due_only() {
    // RFC 4791 §7.8.5 (response version of Task #2): RELATED=START on a
    // task that only has DUE fires ten minutes before DUE.
    let task = component(
        "VTODO",
        "DUE;TZID=US/Eastern:20060106T120000\nBEGIN:VALARM\nACTION:AUDIO\nTRIGGER;RELATED=START:-PT10M\nEND:VALARM",
    );
    let options = Options::default();
    assert!(
        task.matches(
            &alarm_filter("VTODO", "20060106T100000Z", "20060107T100000Z"),
            &options
        )
        .unwrap()
    );
    assert!(
        !task
            .matches(
                &alarm_filter("VTODO", "20060106T165001Z", "20060107T100000Z"),
                &options
            )
            .unwrap()
    );
}

#[test]
fn property_time_ranges() {
    // (start <= date-time) AND (end > date-time), on the stated properties.
    let event = component(
        "VEVENT",
        "DTSTAMP:20240101T120000Z\nLAST-MODIFIED:20240105T000000Z\nDTSTART:20240110T100000Z\nDURATION:PT1H",
    );
    let with = |prop: PropFilter| {
        let filter =
            CompFilter::named("VCALENDAR").with_comp(CompFilter::named("VEVENT").with_prop(prop));
        event.matches(&filter, &Options::default()).unwrap()
    };
    let range = |s: &str, e: &str| TimeRange::between(utc(s), utc(e)).unwrap();
    assert!(with(PropFilter::time_range(
        "DTSTAMP",
        range("20240101T120000Z", "20240101T120001Z")
    )));
    assert!(!with(PropFilter::time_range(
        "DTSTAMP",
        range("20240101T110000Z", "20240101T120000Z")
    )));
    assert!(with(PropFilter::time_range(
        "LAST-MODIFIED",
        range("20240101T000000Z", "20240201T000000Z")
    )));
    // DTEND is absent: the effective DTSTART+DURATION is tested.
    assert!(with(PropFilter::time_range(
        "DTEND",
        range("20240110T110000Z", "20240110T110001Z")
    )));
    assert!(!with(PropFilter::time_range(
        "DTEND",
        range("20240110T100000Z", "20240110T110000Z")
    )));
    assert!(!with(PropFilter::time_range(
        "COMPLETED",
        range("19700101T000000Z", "20990101T000000Z")
    )));
}

#[test]
fn open_ended_ranges() {
    let event = component("VEVENT", "DTSTART:20240110T100000Z\nDTEND:20240110T110000Z");
    let options = Options::default();
    assert!(hit_with(&event, Some("20240110T105959Z"), None, &options));
    assert!(!hit_with(&event, Some("20240110T110000Z"), None, &options));
    assert!(hit_with(&event, None, Some("20240110T100001Z"), &options));
    assert!(!hit_with(&event, None, Some("20240110T100000Z"), &options));
}
