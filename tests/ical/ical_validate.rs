//! PUT validation: what is accepted from real clients, what is refused and
//! with which reason and precondition.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use davgate::dav::ical::{
    self, CalendarDataRequest, ComponentKind, IcalError, Options, Precondition,
};

use crate::ical::common::{calendar, data_dir, files, object, parse, read, utc};

#[test]
fn every_client_sample_validates() {
    let mut checked = 0;
    for path in files("ical", "ics") {
        let data = std::fs::read(&path).unwrap();
        let started = Instant::now();
        let result = ical::validate(&data);
        assert!(result.is_ok(), "{}: {:?}", path.display(), result.err());
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{} is slow",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 20, "corpus went missing: {checked} files");
}

#[test]
fn rfc4791_appendix_b_objects() {
    let expected = [
        (
            "abcd1",
            "74855313FA803DA593CD579A@example.com",
            ComponentKind::Event,
            false,
        ),
        (
            "abcd2",
            "00959BC664CA650E933C892C@example.com",
            ComponentKind::Event,
            true,
        ),
        (
            "abcd3",
            "DC6C50A017428C5216A2F1CD@example.com",
            ComponentKind::Event,
            false,
        ),
        (
            "abcd4",
            "DDDEEB7915FA61233B861457@example.com",
            ComponentKind::Todo,
            false,
        ),
        (
            "abcd5",
            "E10BA47467C5C69BB74E8720@example.com",
            ComponentKind::Todo,
            false,
        ),
        (
            "abcd6",
            "E10BA47467C5C69BB74E8722@example.com",
            ComponentKind::Todo,
            false,
        ),
        (
            "abcd7",
            "E10BA47467C5C69BB74E8725@example.com",
            ComponentKind::Todo,
            false,
        ),
    ];
    for (name, uid, kind, recurring) in expected {
        let object = object(&format!("rfc4791/{name}.ics"));
        assert_eq!(object.uid(), uid, "{name}");
        assert_eq!(object.kind(), kind, "{name}");
        assert_eq!(object.is_recurring(), recurring, "{name}");
    }
    // abcd8 is a stored VFREEBUSY, which davgate does not accept.
    let err = ical::validate(&read("rfc4791/abcd8.ics")).unwrap_err();
    assert_eq!(err, IcalError::UnsupportedComponent("VFREEBUSY".into()));
    assert_eq!(
        err.precondition(),
        Some(Precondition::SupportedCalendarComponent)
    );
}

#[test]
fn index_span_covers_every_instance() {
    // abcd2: five daily instances from 2006-01-02 12:00 EST, one moved.
    let abcd2 = object("rfc4791/abcd2.ics");
    assert_eq!(abcd2.first_start(), Some(utc("20060102T170000Z")));
    assert_eq!(abcd2.last_end(), Some(utc("20060106T180000Z")));
    // An endless rule has no end.
    let endless = object_text("RRULE:FREQ=WEEKLY");
    assert_eq!(endless.first_start(), Some(utc("20240101T090000Z")));
    assert_eq!(endless.last_end(), None);
    // Floating and all-day values hold in every zone: ±14 hours.
    let allday = object("ical/exchange_allday.ics");
    let (first, last) = (allday.first_start().unwrap(), allday.last_end().unwrap());
    assert_eq!(last - first, 86_400 + 2 * 14 * 3600);
    assert!(allday.has_floating());
    // The alarm fires a day before the first instance, so the span does too.
    let alarmed = object("ical/davx5_daily_many_exdates_overrides.ics");
    assert!(alarmed.first_start().is_some());
}

fn object_text(rule: &str) -> ical::CalendarObject {
    parse(&calendar(&format!(
        "BEGIN:VEVENT
         UID:span@example.org
         DTSTART:20240101T090000Z
         DURATION:PT1H
         {rule}
         END:VEVENT"
    )))
}

#[test]
fn may_overlap_is_a_superset_of_matching() {
    let object = object("rfc4791/abcd2.ics");
    assert!(object.may_overlap(&crate::ical::common::range(
        "20060105T000000Z",
        "20060106T000000Z"
    )));
    assert!(!object.may_overlap(&crate::ical::common::range(
        "20060107T000000Z",
        "20060108T000000Z"
    )));
    assert!(!object.may_overlap(&crate::ical::common::range(
        "20050101T000000Z",
        "20060102T165959Z"
    )));
}

#[test]
fn stored_text_is_returned_byte_for_byte() {
    for path in files("", "ics") {
        let data = std::fs::read(&path).unwrap();
        let Ok(object) = ical::validate(&data) else {
            continue;
        };
        let text = object
            .calendar_data(&CalendarDataRequest::default(), &Options::default())
            .unwrap();
        assert!(matches!(text, Cow::Borrowed(_)), "{}", path.display());
        assert_eq!(text.as_bytes(), &data[..], "{}", path.display());
    }
}

/// (reason expected, precondition, calendar body)
const REFUSED: &[(&str, Precondition, &str)] = &[
    (
        "two different UIDs: a and b",
        Precondition::ValidCalendarObjectResource,
        "BEGIN:VEVENT\nUID:a\nDTSTART:20240101T090000Z\nEND:VEVENT\nBEGIN:VEVENT\nUID:b\nDTSTART:20240102T090000Z\nEND:VEVENT",
    ),
    (
        "VEVENT without DTSTART",
        Precondition::ValidCalendarData,
        "BEGIN:VEVENT\nUID:a\nSUMMARY:when?\nEND:VEVENT",
    ),
    (
        "VEVENT without UID",
        Precondition::ValidCalendarData,
        "BEGIN:VEVENT\nDTSTART:20240101T090000Z\nEND:VEVENT",
    ),
    (
        "a calendar object resource holds one component type, found VEVENT and VTODO",
        Precondition::ValidCalendarObjectResource,
        "BEGIN:VEVENT\nUID:a\nDTSTART:20240101T090000Z\nEND:VEVENT\nBEGIN:VTODO\nUID:a\nEND:VTODO",
    ),
    (
        "calendar object resources must not carry a METHOD property",
        Precondition::ValidCalendarObjectResource,
        "METHOD:REQUEST\nBEGIN:VEVENT\nUID:a\nDTSTART:20240101T090000Z\nEND:VEVENT",
    ),
    (
        "VFREEBUSY components are not supported in a calendar collection",
        Precondition::SupportedCalendarComponent,
        "BEGIN:VFREEBUSY\nUID:a\nDTSTART:20240101T090000Z\nEND:VFREEBUSY",
    ),
    (
        "no VEVENT, VTODO or VJOURNAL in the calendar data",
        Precondition::SupportedCalendarComponent,
        "X-WR-CALNAME:empty",
    ),
    (
        "TZID \"Mars/Olympus\" has no VTIMEZONE and is not a known time zone name",
        Precondition::ValidCalendarData,
        "BEGIN:VEVENT\nUID:a\nDTSTART;TZID=Mars/Olympus:20240101T090000\nEND:VEVENT",
    ),
    (
        "VEVENT has both DTEND and DURATION",
        Precondition::ValidCalendarData,
        "BEGIN:VEVENT\nUID:a\nDTSTART:20240101T090000Z\nDTEND:20240101T100000Z\nDURATION:PT1H\nEND:VEVENT",
    ),
    (
        "DTSTART value \"next monday\" is not a DATE or DATE-TIME",
        Precondition::ValidCalendarData,
        "BEGIN:VEVENT\nUID:a\nDTSTART:next monday\nEND:VEVENT",
    ),
    (
        "RRULE value \"every day\" is not a recurrence rule",
        Precondition::ValidCalendarData,
        "BEGIN:VEVENT\nUID:a\nDTSTART:20240101T090000Z\nRRULE:every day\nEND:VEVENT",
    ),
    (
        "line 7: END:VTODO closes BEGIN:VEVENT",
        Precondition::ValidCalendarData,
        "BEGIN:VEVENT\nUID:a\nDTSTART:20240101T090000Z\nEND:VTODO",
    ),
    (
        "VEVENT with UID a appears twice without RECURRENCE-ID",
        Precondition::ValidCalendarObjectResource,
        "BEGIN:VEVENT\nUID:a\nDTSTART:20240101T090000Z\nEND:VEVENT\nBEGIN:VEVENT\nUID:a\nDTSTART:20240102T090000Z\nEND:VEVENT",
    ),
    (
        "VEVENT with UID a appears twice with RECURRENCE-ID 20240102T090000Z",
        Precondition::ValidCalendarObjectResource,
        "BEGIN:VEVENT\nUID:a\nDTSTART:20240101T090000Z\nRRULE:FREQ=DAILY\nEND:VEVENT\nBEGIN:VEVENT\nUID:a\nRECURRENCE-ID:20240102T090000Z\nDTSTART:20240102T100000Z\nEND:VEVENT\nBEGIN:VEVENT\nUID:a\nRECURRENCE-ID;TZID=Europe/Berlin:20240102T100000\nDTSTART:20240102T110000Z\nEND:VEVENT",
    ),
    (
        "VTODO with DURATION without DTSTART",
        Precondition::ValidCalendarData,
        "BEGIN:VTODO\nUID:a\nDURATION:PT1H\nEND:VTODO",
    ),
    (
        "RRULE cannot be expanded: RRule error: Invalid value `13` for field `BYMONTH`",
        Precondition::ValidCalendarData,
        "BEGIN:VEVENT\nUID:a\nDTSTART:20240101T090000Z\nRRULE:FREQ=DAILY;BYMONTH=13\nEND:VEVENT",
    ),
];

#[test]
fn refusals_name_the_reason_and_precondition() {
    for (reason, precondition, body) in REFUSED {
        let err = ical::validate(calendar(body).as_bytes()).unwrap_err();
        assert!(
            err.to_string().starts_with(reason),
            "expected \"{reason}\", got \"{err}\""
        );
        assert_eq!(err.precondition(), Some(*precondition), "{err}");
    }
}

#[test]
fn refusals_outside_the_calendar_body() {
    let not_utf8 = b"BEGIN:VCALENDAR\r\nSUMMARY:caf\xe9\r\nEND:VCALENDAR\r\n";
    assert_eq!(
        ical::validate(not_utf8).unwrap_err(),
        IcalError::NotUtf8 { offset: 28 }
    );
    let vcalendar_1 = "BEGIN:VCALENDAR\r\nVERSION:1.0\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20240101T090000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    assert_eq!(
        ical::validate(vcalendar_1.as_bytes())
            .unwrap_err()
            .to_string(),
        "VERSION:1.0 is not supported, only iCalendar 2.0"
    );
    let bare_event = "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20240101T090000Z\r\nEND:VEVENT\r\n";
    assert_eq!(
        ical::validate(bare_event.as_bytes())
            .unwrap_err()
            .to_string(),
        "line 1: expected BEGIN:VCALENDAR, found BEGIN:VEVENT"
    );
    let two = format!(
        "{}{}",
        calendar("BEGIN:VEVENT\nUID:a\nDTSTART:20240101T090000Z\nEND:VEVENT"),
        calendar("")
    );
    assert!(
        ical::validate(two.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("content after END:VCALENDAR")
    );
}

#[test]
fn sloppy_but_harmless_input_is_accepted() {
    // No VERSION, no PRODID, no DTSTAMP, LF line endings, an IANA TZID
    // without VTIMEZONE (RFC 7809 style), an X- component and property.
    let text = "BEGIN:VCALENDAR\nX-WR-CALNAME:Home\nBEGIN:X-APPLE-THING\nX-FOO:bar\nEND:X-APPLE-THING\nBEGIN:VEVENT\nUID:sloppy\nDTSTART;TZID=Europe/Berlin:20240101T090000\nX-MOZ-LASTACK:20240101T080000Z\nEND:VEVENT\nEND:VCALENDAR\n";
    let sloppy = ical::validate(text.as_bytes()).unwrap();
    assert_eq!(sloppy.first_start(), Some(utc("20240101T080000Z")));
    // Overrides without their master are a valid calendar object resource.
    let orphan = calendar(
        "BEGIN:VEVENT
         UID:orphan
         RECURRENCE-ID:20240108T090000Z
         DTSTART:20240108T100000Z
         END:VEVENT",
    );
    assert!(!parse(&orphan).is_recurring());
    // A recurring task with DUE only (DAVdroid, OpenTasks) recurs on DUE.
    let task = object("ical/davdroid_todo_rrule_due_only.ics");
    assert!(task.is_recurring());
    assert_eq!(task.kind(), ComponentKind::Todo);
}

#[test]
fn corpus_readme_lists_every_file() {
    let readme = std::fs::read_to_string(data_dir().join("README.md")).unwrap();
    for path in files("", "ics").into_iter().chain(files("", "vcf")) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            readme.contains(&name),
            "tests/data/README.md does not mention {name}"
        );
    }
}
