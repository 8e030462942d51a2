//! calendar-data in REPORT responses (RFC 4791 §9.6): expand,
//! limit-recurrence-set, component and property selection.

use davgate::dav::ical::{
    self, CalendarDataRequest, CompRequest, CompsRequest, Options, PropRequest, PropsRequest,
    RecurrenceRequest, ValueMode,
};

use crate::ical::common::{object, range};

#[test]
fn rfc4791_7_8_3_expanded_recurring_event() {
    let object = object("rfc4791/abcd2.ics");
    let text = object
        .expand(
            &range("20060103T000000Z", "20060105T000000Z"),
            &Options::default(),
        )
        .unwrap();
    // The RFC's example writes local times; §9.6.5 itself demands UTC
    // (a known erratum), which is what clients rely on.
    assert_eq!(
        text,
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example Corp.//CalDAV Client//EN\r\n\
         BEGIN:VEVENT\r\nDTSTAMP:20060206T001121Z\r\nDTSTART:20060103T170000Z\r\nDURATION:PT1H\r\n\
         SUMMARY:Event #2\r\nUID:00959BC664CA650E933C892C@example.com\r\n\
         RECURRENCE-ID:20060103T170000Z\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nDTSTAMP:20060206T001121Z\r\nDTSTART:20060104T190000Z\r\nDURATION:PT1H\r\n\
         RECURRENCE-ID:20060104T170000Z\r\nSUMMARY:Event #2 bis\r\n\
         UID:00959BC664CA650E933C892C@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    // The expansion is itself a valid calendar object resource.
    let reparsed = ical::validate(text.as_bytes()).unwrap();
    assert!(!reparsed.is_recurring());
}

#[test]
fn expansion_drops_recurrence_and_zones_and_keeps_the_rest() {
    let object = object("ical/handmade/thunderbird_style_berlin_weekly_dst.ics");
    let text = object
        .expand(
            &range("20240301T000000Z", "20240410T000000Z"),
            &Options::default(),
        )
        .unwrap();
    for gone in ["RRULE", "EXDATE", "VTIMEZONE", "TZID="] {
        assert!(!text.contains(gone), "{gone} left in:\n{text}");
    }
    assert_eq!(text.matches("BEGIN:VEVENT").count(), 5);
    assert_eq!(
        text.matches("BEGIN:VALARM").count(),
        4,
        "the override has none"
    );
    assert!(text.contains("DTSTART:20240408T070000Z\r\nDTEND:20240408T071500Z\r\n"));
    assert!(text.contains("RECURRENCE-ID:20240401T070000Z\r\n"));
    // Untouched lines are copied as they were, folding and all.
    assert!(text.contains("ATTENDEE;CN=Anna;PARTSTAT=ACCEPTED:mailto:anna@example.org\r\n"));
    // All-day instances stay dates.
    let birthday = object_text(
        "ical/handmade/apple_style_allday_yearly_leap_day.ics",
        "20280101T000000Z",
        "20290101T000000Z",
    );
    assert!(
        birthday.contains("DTSTART;VALUE=DATE:20280229\r\nDTEND;VALUE=DATE:20280301\r\n"),
        "{birthday}"
    );
    assert!(birthday.contains("RECURRENCE-ID;VALUE=DATE:20280229\r\n"));
    // LF input gives LF output.
    let floating = object_text(
        "ical/handmade/floating_daily_lf.ics",
        "20240611T000000Z",
        "20240612T000000Z",
    );
    assert!(!floating.contains('\r'));
    assert!(floating.contains("DTSTART:20240611T070000Z\n"));
}

fn object_text(path: &str, start: &str, end: &str) -> String {
    object(path)
        .expand(&range(start, end), &Options::default())
        .unwrap()
}

#[test]
fn expanded_task_recurring_on_due() {
    let text = object_text(
        "ical/davdroid_todo_rrule_due_only.ics",
        "20130907T000000Z",
        "20130909T000000Z",
    );
    // The DAVdroid file uses LF line endings, and so does its expansion.
    assert!(
        text.contains("DUE;VALUE=DATE:20130908\nRECURRENCE-ID;VALUE=DATE:20130908\n"),
        "{text}"
    );
    assert!(!text.contains("RRULE"));
}

#[test]
fn limit_recurrence_set_keeps_master_and_relevant_overrides() {
    let object = object("rfc4791/abcd2.ics");
    let options = Options::default();
    // The override (moved from 4 Jan 12:00 to 14:00 EST) matters on 4 Jan.
    let around = object
        .limit_recurrence_set(&range("20060104T000000Z", "20060105T000000Z"), &options)
        .unwrap();
    assert_eq!(around, object.raw());
    let later = object
        .limit_recurrence_set(&range("20060105T000000Z", "20060106T000000Z"), &options)
        .unwrap();
    assert!(later.contains("RRULE:FREQ=DAILY;COUNT=5"));
    assert!(later.contains("BEGIN:VTIMEZONE"));
    assert!(!later.contains("Event #2 bis"));
    // THISANDFUTURE overrides affect everything after them.
    let ny = crate::ical::common::object("ical/handmade/new_york_monthly_thisandfuture.ics");
    let december = ny
        .limit_recurrence_set(&range("20241201T000000Z", "20241231T000000Z"), &options)
        .unwrap();
    assert!(december.contains("RANGE=THISANDFUTURE"));
    let january = ny
        .limit_recurrence_set(&range("20240101T000000Z", "20240131T000000Z"), &options)
        .unwrap();
    assert!(!january.contains("RANGE=THISANDFUTURE"));
}

#[test]
fn rfc4791_7_8_1_partial_retrieval() {
    let object = object("rfc4791/abcd3.ics");
    let request = CalendarDataRequest {
        comp: Some(CompRequest::only(
            "VCALENDAR",
            &["VERSION"],
            vec![
                CompRequest::only(
                    "VEVENT",
                    &[
                        "SUMMARY",
                        "UID",
                        "DTSTART",
                        "DTEND",
                        "DURATION",
                        "RRULE",
                        "RDATE",
                        "EXRULE",
                        "EXDATE",
                        "RECURRENCE-ID",
                    ],
                    Vec::new(),
                ),
                CompRequest::all("VTIMEZONE"),
            ],
        )),
        recurrence: None,
    };
    let text = object.calendar_data(&request, &Options::default()).unwrap();
    assert!(text.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTIMEZONE\r\n"));
    assert!(text.contains(
        "BEGIN:VEVENT\r\nDTSTART;TZID=US/Eastern:20060104T100000\r\nDURATION:PT1H\r\nSUMMARY:Event #3\r\nUID:DC6C50A017428C5216A2F1CD@example.com\r\nEND:VEVENT\r\n"
    ));
    assert!(!text.contains("ATTENDEE"));
    assert!(!text.contains("PRODID"));
}

#[test]
fn novalue_and_expand_with_selection() {
    let object = object("rfc4791/abcd3.ics");
    let request = CalendarDataRequest {
        comp: Some(CompRequest::only(
            "VCALENDAR",
            &[],
            vec![CompRequest {
                name: "VEVENT".into(),
                props: PropsRequest::Only(vec![
                    PropRequest {
                        name: "ATTENDEE".into(),
                        value: ValueMode::Omit,
                    },
                    PropRequest {
                        name: "DTSTART".into(),
                        value: ValueMode::Full,
                    },
                ]),
                comps: CompsRequest::All,
            }],
        )),
        recurrence: Some(RecurrenceRequest::Expand(range(
            "20060101T000000Z",
            "20060201T000000Z",
        ))),
    };
    let text = object.calendar_data(&request, &Options::default()).unwrap();
    assert_eq!(
        text,
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nATTENDEE;PARTSTAT=ACCEPTED;ROLE=CHAIR:\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:\r\nDTSTART:20060104T150000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    );
}
