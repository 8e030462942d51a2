//! calendar-query filters (RFC 4791 §9.7), checked against the examples
//! of §7.8 over the Appendix B collection, plus the corners around them.

use davgate::dav::ical::{
    CalendarObject, Collation, CompFilter, Options, ParamFilter, ParamTest, PropFilter, TextMatch,
    TimeRange,
};

use crate::ical::common::{calendar, object, parse, range};

/// Names of the Appendix B resources (abcd1..abcd7) the filter matches.
fn matching(filter: &CompFilter) -> Vec<String> {
    (1..=7)
        .filter(|n| {
            object(&format!("rfc4791/abcd{n}.ics"))
                .matches(filter, &Options::default())
                .unwrap()
        })
        .map(|n| format!("abcd{n}"))
        .collect()
}

fn in_vcalendar(filter: CompFilter) -> CompFilter {
    CompFilter::named("VCALENDAR").with_comp(filter)
}

#[test]
fn rfc4791_7_8_1_events_by_time_range() {
    let filter = in_vcalendar(
        CompFilter::named("VEVENT").with_time_range(range("20060104T000000Z", "20060105T000000Z")),
    );
    assert_eq!(matching(&filter), ["abcd2", "abcd3"]);
}

#[test]
fn rfc4791_7_8_6_event_by_uid() {
    let uid =
        TextMatch::caldav("DC6C50A017428C5216A2F1CD@example.com").with_collation(Collation::Octet);
    let filter = in_vcalendar(CompFilter::named("VEVENT").with_prop(PropFilter::text("UID", uid)));
    assert_eq!(matching(&filter), ["abcd3"]);
}

#[test]
fn rfc4791_7_8_7_events_by_partstat() {
    let attendee = PropFilter::text("ATTENDEE", TextMatch::caldav("mailto:lisa@example.com"))
        .with_param(ParamFilter {
            name: "PARTSTAT".into(),
            test: ParamTest::TextMatch(TextMatch::caldav("NEEDS-ACTION")),
        });
    let filter = in_vcalendar(CompFilter::named("VEVENT").with_prop(attendee));
    assert_eq!(matching(&filter), ["abcd3"]);
    // The parameter must be on the same ATTENDEE: Cyrus has ACCEPTED.
    let cyrus = PropFilter::text("ATTENDEE", TextMatch::caldav("cyrus")).with_param(ParamFilter {
        name: "PARTSTAT".into(),
        test: ParamTest::TextMatch(TextMatch::caldav("NEEDS-ACTION")),
    });
    assert!(matching(&in_vcalendar(CompFilter::named("VEVENT").with_prop(cyrus))).is_empty());
}

#[test]
fn rfc4791_7_8_8_events_only() {
    assert_eq!(
        matching(&in_vcalendar(CompFilter::named("VEVENT"))),
        ["abcd1", "abcd2", "abcd3"]
    );
    assert_eq!(
        matching(&in_vcalendar(CompFilter::is_not_defined("VEVENT"))),
        ["abcd4", "abcd5", "abcd6", "abcd7"]
    );
}

#[test]
fn rfc4791_7_8_9_pending_todos() {
    let filter = in_vcalendar(
        CompFilter::named("VTODO")
            .with_prop(PropFilter::is_not_defined("COMPLETED"))
            .with_prop(PropFilter::text(
                "STATUS",
                TextMatch::caldav("CANCELLED").negated(),
            )),
    );
    assert_eq!(matching(&filter), ["abcd4", "abcd5"]);
}

#[test]
fn top_level_must_be_vcalendar() {
    let event = object("rfc4791/abcd1.ics");
    let options = Options::default();
    assert!(
        !event
            .matches(&CompFilter::named("VEVENT"), &options)
            .unwrap()
    );
    assert!(
        event
            .matches(&CompFilter::named("VCALENDAR"), &options)
            .unwrap()
    );
    assert!(
        !event
            .matches(&CompFilter::is_not_defined("VCALENDAR"), &options)
            .unwrap()
    );
}

#[test]
fn nested_components_and_parameters() {
    let weekly = object("ical/handmade/thunderbird_style_berlin_weekly_dst.ics");
    let options = Options::default();
    let with_alarm =
        in_vcalendar(CompFilter::named("VEVENT").with_comp(CompFilter::named("VALARM")));
    assert!(weekly.matches(&with_alarm, &options).unwrap());
    // The override has no VALARM, so "some VEVENT without one" matches.
    let without_alarm =
        in_vcalendar(CompFilter::named("VEVENT").with_comp(CompFilter::is_not_defined("VALARM")));
    assert!(weekly.matches(&without_alarm, &options).unwrap());
    let no_role = PropFilter::named("ATTENDEE").with_param(ParamFilter {
        name: "ROLE".into(),
        test: ParamTest::IsNotDefined,
    });
    assert!(
        weekly
            .matches(
                &in_vcalendar(CompFilter::named("VEVENT").with_prop(no_role)),
                &options
            )
            .unwrap()
    );
    let has_cn = PropFilter::named("ATTENDEE").with_param(ParamFilter {
        name: "cn".into(),
        test: ParamTest::Defined,
    });
    assert!(
        weekly
            .matches(
                &in_vcalendar(CompFilter::named("VEVENT").with_prop(has_cn)),
                &options
            )
            .unwrap()
    );
}

#[test]
fn time_range_and_properties_apply_to_the_same_component() {
    // The moved Easter instance is the only TENTATIVE one: it matches in
    // its own week, and the master's instances do not carry STATUS.
    let weekly = object("ical/handmade/thunderbird_style_berlin_weekly_dst.ics");
    let tentative = |start: &str, end: &str| {
        in_vcalendar(
            CompFilter::named("VEVENT")
                .with_time_range(range(start, end))
                .with_prop(PropFilter::text("STATUS", TextMatch::caldav("tentative"))),
        )
    };
    let options = Options::default();
    assert!(
        weekly
            .matches(&tentative("20240401T000000Z", "20240407T000000Z"), &options)
            .unwrap()
    );
    assert!(
        !weekly
            .matches(&tentative("20240408T000000Z", "20240414T000000Z"), &options)
            .unwrap()
    );
}

fn summary(text: &str) -> CalendarObject {
    parse(&calendar(&format!(
        "BEGIN:VEVENT\nUID:text@example.org\nDTSTART:20240101T090000Z\nSUMMARY:{text}\nCATEGORIES:Work,Urgent\nEND:VEVENT"
    )))
}

#[test]
fn text_match_collations_and_negation() {
    let options = Options::default();
    let find = |object: &CalendarObject, prop: &str, text: TextMatch| {
        let filter =
            in_vcalendar(CompFilter::named("VEVENT").with_prop(PropFilter::text(prop, text)));
        object.matches(&filter, &options).unwrap()
    };
    let meeting = summary("Quarterly Review\\, Größe");
    assert!(find(
        &meeting,
        "SUMMARY",
        TextMatch::caldav("quarterly review, ")
    ));
    assert!(!find(
        &meeting,
        "SUMMARY",
        TextMatch::caldav("quarterly").with_collation(Collation::Octet)
    ));
    assert!(find(
        &meeting,
        "SUMMARY",
        TextMatch::caldav("GRÖSSE").with_collation(Collation::UnicodeCasemap)
    ));
    assert!(!find(&meeting, "SUMMARY", TextMatch::caldav("GRÖSSE")));
    assert!(find(&meeting, "CATEGORIES", TextMatch::caldav("urgent")));
    assert!(!find(
        &meeting,
        "CATEGORIES",
        TextMatch::caldav("urgent").negated()
    ));
    assert!(find(
        &meeting,
        "SUMMARY",
        TextMatch::caldav("lunch").negated()
    ));
    // A missing property does not match a text-match, negated or not.
    assert!(!find(
        &meeting,
        "LOCATION",
        TextMatch::caldav("x").negated()
    ));
}

#[test]
fn one_expansion_serves_several_ranges() {
    let weekly = object("ical/handmade/thunderbird_style_berlin_weekly_dst.ics");
    let either = CompFilter::named("VCALENDAR")
        .with_comp(
            CompFilter::named("VEVENT")
                .with_time_range(range("20240304T000000Z", "20240305T000000Z")),
        )
        .with_comp(
            CompFilter::named("VEVENT").with_comp(
                CompFilter::named("VALARM")
                    .with_time_range(range("20240408T065000Z", "20240408T065001Z")),
            ),
        );
    assert!(weekly.matches(&either, &Options::default()).unwrap());
    let open = TimeRange::new(Some(crate::ical::common::utc("20240409T000000Z")), None).unwrap();
    let later = in_vcalendar(CompFilter::named("VEVENT").with_time_range(open));
    assert!(!weekly.matches(&later, &Options::default()).unwrap());
}
