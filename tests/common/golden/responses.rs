//! The response goldens: each case builds a body the way a handler would, from the
//! situations the request goldens describe.

use std::fs;
use std::path::Path;

use davgate::proto::Limits;
use davgate::proto::names::{
    AppleProperty, CalDavProperty, CalendarServerProperty, CardDavProperty, ComponentType,
    DavProperty, Namespace, Privilege, Property, ReportName, ResourceType,
};
use davgate::proto::precondition::{NeededPrivilege, Precondition};
use davgate::proto::request::{Instruction, PropertyValue, parse_proppatch, parse_report};
use davgate::proto::response::{DataType, Multistatus, Response, Value, error_body};
use davgate::proto::status::Status;
use davgate::proto::writer::XmlWriter;

const LIMITS: &Limits = &Limits::DEFAULT;

/// A response golden: its number, what it shows, and how to build it.
pub struct Case {
    pub number: &'static str,
    pub builder: fn() -> Vec<u8>,
}

pub const CASES: &[Case] = &[
    Case {
        number: "001",
        builder: calendar_home_depth_1,
    },
    Case {
        number: "002",
        builder: principal_discovery,
    },
    Case {
        number: "003",
        builder: sync_collection_changes,
    },
    Case {
        number: "004",
        builder: calendar_multiget_hostile_data,
    },
    Case {
        number: "005",
        builder: addressbook_query_truncated,
    },
    Case {
        number: "006",
        builder: proppatch_failed_atomically,
    },
    Case {
        number: "007",
        builder: dead_properties_round_trip,
    },
    Case {
        number: "008",
        builder: propname_listing,
    },
    Case {
        number: "009",
        builder: error_valid_calendar_data,
    },
    Case {
        number: "010",
        builder: error_calendar_uid_conflict,
    },
    Case {
        number: "011",
        builder: error_need_privileges,
    },
    Case {
        number: "012",
        builder: error_valid_sync_token,
    },
    Case {
        number: "013",
        builder: error_from_unsupported_report,
    },
    Case {
        number: "014",
        builder: error_card_uid_conflict_hostile_hint,
    },
    Case {
        number: "015",
        builder: locks_via_custom_xml,
    },
];

fn read_request(name: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/requests");
    fs::read(dir.join(name)).expect("request golden")
}

/// 001: PROPFIND Depth 1 on a calendar home, answering what DAVx5 (propfind-004) and
/// macOS (propfind-009) ask: found properties under 200, unknown ones under 404.
fn calendar_home_depth_1() -> Vec<u8> {
    let dav = |p| Property::Dav(p);
    let cal = |p| Property::CalDav(p);
    let reports = [
        ReportName::CalendarQuery,
        ReportName::CalendarMultiget,
        ReportName::FreeBusyQuery,
        ReportName::SyncCollection,
    ];
    let types = [DataType {
        content_type: "text/calendar",
        version: "2.0",
    }];
    let bulk = Property::Dead {
        namespace: Namespace::Other("http://me.com/_namespace/".into()),
        name: "bulk-requests".into(),
    };
    let mut ms = Multistatus::new();
    let mut home = Response::new("/dav/calendars/ann@example.com/");
    home.prop(
        Status::OK,
        &dav(DavProperty::ResourceType),
        Value::ResourceType(&[ResourceType::Collection]),
    )
    .prop(
        Status::OK,
        &dav(DavProperty::CurrentUserPrivilegeSet),
        Value::Privileges(&[Privilege::Read, Privilege::Bind, Privilege::Unbind]),
    )
    .prop(Status::NOT_FOUND, &bulk, Value::Empty)
    .prop(
        Status::NOT_FOUND,
        &Property::CalendarServer(CalendarServerProperty::GetCtag),
        Value::Empty,
    );
    ms.push(home);
    for (slug, name, color, order, comps) in [
        ("work", "Work", "#FF2968FF", 1, &[ComponentType::VEvent][..]),
        (
            "tasks",
            "Tasks & Chores",
            "#1BADF8FF",
            2,
            &[ComponentType::VTodo][..],
        ),
    ] {
        let path = format!("/dav/calendars/ann@example.com/{slug}/");
        let token = format!("http://davgate.org/ns/sync/{order}0");
        let mut r = Response::new(&path);
        r.prop(
            Status::OK,
            &dav(DavProperty::ResourceType),
            Value::ResourceType(&[ResourceType::Collection, ResourceType::Calendar]),
        )
        .prop(
            Status::OK,
            &dav(DavProperty::DisplayName),
            Value::Text(name),
        )
        .prop(
            Status::OK,
            &Property::CalendarServer(CalendarServerProperty::GetCtag),
            Value::Text(&token),
        )
        .prop(
            Status::OK,
            &dav(DavProperty::SyncToken),
            Value::Text(&token),
        )
        .prop(
            Status::OK,
            &dav(DavProperty::SupportedReportSet),
            Value::Reports(&reports),
        )
        .prop(
            Status::OK,
            &cal(CalDavProperty::SupportedCalendarComponentSet),
            Value::Components(comps),
        )
        .prop(
            Status::OK,
            &cal(CalDavProperty::SupportedCalendarData),
            Value::DataTypes(&types),
        )
        .prop(
            Status::OK,
            &cal(CalDavProperty::MaxResourceSize),
            Value::Number(10 * 1024 * 1024),
        )
        .prop(
            Status::OK,
            &Property::Apple(AppleProperty::CalendarColor),
            Value::Text(color),
        )
        .prop(
            Status::OK,
            &Property::Apple(AppleProperty::CalendarOrder),
            Value::Number(order),
        )
        .prop(Status::NOT_FOUND, &bulk, Value::Empty);
        ms.push(r);
    }
    ms.finish(None)
}

/// 002: the principal, as iOS (propfind-001) and macOS (propfind-002/003) discover it.
fn principal_discovery() -> Vec<u8> {
    let homes = vec!["/dav/calendars/ann@example.com/".to_owned()];
    let books = vec!["/dav/addressbooks/ann@example.com/".to_owned()];
    let addresses = vec![
        "mailto:ann@example.com".to_owned(),
        "/dav/principals/ann@example.com/".to_owned(),
    ];
    let mut r = Response::new("/dav/principals/ann@example.com/");
    r.prop(
        Status::OK,
        &Property::Dav(DavProperty::CurrentUserPrincipal),
        Value::Href("/dav/principals/ann@example.com/"),
    )
    .prop(
        Status::OK,
        &Property::Dav(DavProperty::PrincipalUrl),
        Value::Href("/dav/principals/ann@example.com/"),
    )
    .prop(
        Status::OK,
        &Property::Dav(DavProperty::ResourceType),
        Value::ResourceType(&[ResourceType::Collection, ResourceType::Principal]),
    )
    .prop(
        Status::OK,
        &Property::Dav(DavProperty::DisplayName),
        Value::Text("Ann Example"),
    )
    .prop(
        Status::OK,
        &Property::CalDav(CalDavProperty::CalendarHomeSet),
        Value::Hrefs(&homes),
    )
    .prop(
        Status::OK,
        &Property::CardDav(CardDavProperty::AddressbookHomeSet),
        Value::Hrefs(&books),
    )
    .prop(
        Status::OK,
        &Property::CalDav(CalDavProperty::CalendarUserAddressSet),
        Value::Uris(&addresses),
    )
    .prop(
        Status::NOT_FOUND,
        &Property::CalDav(CalDavProperty::ScheduleInboxUrl),
        Value::Empty,
    )
    .prop(
        Status::NOT_FOUND,
        &Property::CalDav(CalDavProperty::ScheduleOutboxUrl),
        Value::Empty,
    );
    let mut ms = Multistatus::new();
    ms.push(r);
    ms.finish(None)
}

/// 003: sync-collection answer to sync-collection-002: two changes (names with a space,
/// `@` and non-ASCII, encoded once), one deletion as a status-only 404, token last.
fn sync_collection_changes() -> Vec<u8> {
    let mut ms = Multistatus::new();
    for (path, etag) in [
        (
            "/dav/calendars/ann@example.com/work/Team meeting.ics",
            "\"7f3a\"",
        ),
        (
            "/dav/calendars/ann@example.com/work/réunion+1.ics",
            "\"7f3b\"",
        ),
    ] {
        let mut r = Response::new(path);
        r.prop(
            Status::OK,
            &Property::Dav(DavProperty::GetContentType),
            Value::Text("text/calendar; charset=utf-8"),
        )
        .prop(
            Status::OK,
            &Property::Dav(DavProperty::GetEtag),
            Value::Text(etag),
        );
        ms.push(r);
    }
    ms.push_status(
        "/dav/calendars/ann@example.com/work/cancelled.ics",
        Status::NOT_FOUND,
    );
    ms.finish(Some("http://davgate.org/ns/sync/1290"))
}

/// 004: calendar-multiget with calendar-data whose text would break naive writers:
/// CRLF line ends, `<`, `&`, quotes, `]]>`, and a control character XML cannot carry.
fn calendar_multiget_hostile_data() -> Vec<u8> {
    let ical = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//davgate//golden//EN\r\nBEGIN:VEVENT\r\n\
        UID:hostile@example.com\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240102T090000Z\r\n\
        SUMMARY:<script>alert(\"x\")</script> & 'friends' ]]> \u{7}bell\r\n\
        DESCRIPTION:tab\there\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let mut ms = Multistatus::new();
    let mut r = Response::new("/dav/calendars/ann@example.com/work/hostile.ics");
    r.prop(
        Status::OK,
        &Property::Dav(DavProperty::GetEtag),
        Value::Text("\"h1\""),
    )
    .prop(
        Status::OK,
        &Property::CalDav(CalDavProperty::CalendarData),
        Value::Text(ical),
    );
    ms.push(r);
    ms.push_status(
        "/dav/calendars/ann@example.com/work/missing.ics",
        Status::NOT_FOUND,
    );
    ms.finish(None)
}

/// 005: addressbook-query answered with one vCard, then truncated at its limit
/// (addressbook-query-004 asks for 10): 507 on the collection with the condition.
fn addressbook_query_truncated() -> Vec<u8> {
    let card = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:1\r\nFN:Dan Smith\r\n\
        EMAIL;TYPE=work:cyrus@example.com\r\nEND:VCARD\r\n";
    let mut ms = Multistatus::new();
    let mut r = Response::new("/dav/addressbooks/ann@example.com/contacts/dan.vcf");
    r.prop(
        Status::OK,
        &Property::Dav(DavProperty::GetEtag),
        Value::Text("\"c1\""),
    )
    .prop(
        Status::OK,
        &Property::CardDav(CardDavProperty::AddressData),
        Value::Text(card),
    );
    ms.push(r);
    ms.push_status_with(
        "/dav/addressbooks/ann@example.com/contacts/",
        Status::INSUFFICIENT_STORAGE,
        Some(&Precondition::NumberOfMatchesWithinLimits),
        Some("Only the first 10 matches are returned."),
    );
    ms.finish(None)
}

/// 006: the PROPPATCH of proppatch-003 failed as a whole (RFC 4918 §9.2: all or
/// nothing): invalid values get 409, the protected getetag 403, every other 424.
fn proppatch_failed_atomically() -> Vec<u8> {
    let update =
        parse_proppatch(&read_request("proppatch-003.xml"), LIMITS).expect("proppatch-003");
    // One status per property; a later instruction for the same property decides it,
    // as it would have been applied last.
    let mut outcome: Vec<(&Property, Status)> = Vec::new();
    for instruction in &update.instructions {
        let (property, status) = match instruction {
            Instruction::Set(set) => {
                let status = match (&set.property, &set.value) {
                    (_, PropertyValue::Invalid(_)) => Status::CONFLICT,
                    (Property::Dav(DavProperty::GetEtag), _) => Status::FORBIDDEN,
                    _ => Status::FAILED_DEPENDENCY,
                };
                (&set.property, status)
            }
            Instruction::Remove(property) => (property, Status::FAILED_DEPENDENCY),
        };
        match outcome.iter_mut().find(|(p, _)| *p == property) {
            Some(entry) => entry.1 = status,
            None => outcome.push((property, status)),
        }
    }
    let mut r = Response::new("/dav/calendars/ann@example.com/work/");
    for (property, status) in outcome {
        r.prop(status, property, Value::Empty);
    }
    r.error(Precondition::CannotModifyProtectedProperty)
        .description("calendar-order must be an integer; calendar-color must look like #RRGGBB");
    let mut ms = Multistatus::new();
    ms.push(r);
    ms.finish(None)
}

/// 007: the litmus dead properties of proppatch-002 read back by PROPFIND, values
/// written from their stored raw XML with their namespaces intact.
fn dead_properties_round_trip() -> Vec<u8> {
    let update =
        parse_proppatch(&read_request("proppatch-002.xml"), LIMITS).expect("proppatch-002");
    let mut r = Response::new("/files/litmus/prop");
    for instruction in &update.instructions {
        match instruction {
            Instruction::Set(set) => r.prop(Status::OK, &set.property, Value::Raw(&set.raw)),
            Instruction::Remove(property) => r.prop(Status::NOT_FOUND, property, Value::Empty),
        };
    }
    let mut ms = Multistatus::new();
    ms.push(r);
    ms.finish(None)
}

/// 008: PROPFIND propname: names only, every family and a dead property.
fn propname_listing() -> Vec<u8> {
    let mut r = Response::new("/dav/calendars/ann@example.com/work/");
    for property in [
        Property::Dav(DavProperty::ResourceType),
        Property::Dav(DavProperty::DisplayName),
        Property::Dav(DavProperty::SyncToken),
        Property::CalDav(CalDavProperty::CalendarDescription),
        Property::CalDav(CalDavProperty::CalendarTimezone),
        Property::CardDav(CardDavProperty::MaxResourceSize),
        Property::CalendarServer(CalendarServerProperty::GetCtag),
        Property::Apple(AppleProperty::CalendarColor),
        Property::Dead {
            namespace: Namespace::Other("http://example.com/neon/litmus/".into()),
            name: "prop0".into(),
        },
        // Our own namespace must be declared where used here too (only error bodies
        // used it before).
        Property::Dead {
            namespace: Namespace::Other("http://davgate.org/ns".into()),
            name: "note".into(),
        },
    ] {
        r.prop(Status::OK, &property, Value::Empty);
    }
    let mut ms = Multistatus::new();
    ms.push(r);
    ms.finish(None)
}

/// 009: PUT of something that is not iCalendar.
fn error_valid_calendar_data() -> Vec<u8> {
    error_body(
        &Precondition::ValidCalendarData,
        Some("line 3: expected a property, found \"BEGIN VEVENT\""),
    )
}

/// 010: PUT of an event whose UID another resource already has.
fn error_calendar_uid_conflict() -> Vec<u8> {
    error_body(
        &Precondition::CalendarNoUidConflict {
            path: "/dav/calendars/ann@example.com/work/first copy.ics".into(),
        },
        Some("this UID is already used by another event in this calendar"),
    )
}

/// 011: MKCALENDAR in someone else's home.
fn error_need_privileges() -> Vec<u8> {
    error_body(
        &Precondition::NeedPrivileges(vec![NeededPrivilege {
            path: "/dav/calendars/bob@example.com/".into(),
            privilege: Privilege::Bind,
        }]),
        None,
    )
}

/// 012: sync-collection with a token from before a reset.
fn error_valid_sync_token() -> Vec<u8> {
    error_body(
        &Precondition::ValidSyncToken,
        Some("this sync token is unknown or too old; sync again without a token"),
    )
}

/// 013: the whole path for an unsupported REPORT: parse report-001, take the error's
/// precondition, put its message in the hint.
fn error_from_unsupported_report() -> Vec<u8> {
    let error = parse_report(&read_request("report-001.xml"), LIMITS).expect_err("unsupported");
    let condition = error.precondition().expect("supported-report");
    error_body(&condition, Some(&error.to_string()))
}

/// 014: a CardDAV UID clash, with a hint carrying hostile text (it can quote a client's
/// own bytes back).
fn error_card_uid_conflict_hostile_hint() -> Vec<u8> {
    error_body(
        &Precondition::AddressbookNoUidConflict {
            path: "/dav/addressbooks/ann@example.com/contacts/<dup>&.vcf".into(),
        },
        Some("UID \"</DG:hint><evil/>\" ]]> \u{0} is taken"),
    )
}

/// 015: lockdiscovery and supportedlock, written by the caller through `Value::Xml`.
fn locks_via_custom_xml() -> Vec<u8> {
    let dav = Namespace::Dav;
    let lock = |w: &mut XmlWriter| {
        w.open(&dav, "activelock");
        w.open(&dav, "locktype");
        w.empty(&dav, "write");
        w.close(&dav, "locktype");
        w.open(&dav, "lockscope");
        w.empty(&dav, "exclusive");
        w.close(&dav, "lockscope");
        w.text_element(&dav, "depth", "0");
        w.open(&dav, "owner");
        w.text_element(&dav, "href", "mailto:ann@example.com");
        w.close(&dav, "owner");
        w.text_element(&dav, "timeout", "Second-3600");
        w.open(&dav, "locktoken");
        w.text_element(
            &dav,
            "href",
            "urn:uuid:e71d4fae-5dec-22d6-fea5-00a0c91e6be4",
        );
        w.close(&dav, "locktoken");
        w.close(&dav, "activelock");
    };
    let supported = |w: &mut XmlWriter| {
        for scope in ["exclusive", "shared"] {
            w.open(&dav, "lockentry");
            w.open(&dav, "lockscope");
            w.empty(&dav, scope);
            w.close(&dav, "lockscope");
            w.open(&dav, "locktype");
            w.empty(&dav, "write");
            w.close(&dav, "locktype");
            w.close(&dav, "lockentry");
        }
    };
    let mut r = Response::new("/files/Report (final).odt");
    r.prop(
        Status::OK,
        &Property::Dav(DavProperty::LockDiscovery),
        Value::Xml(&lock),
    )
    .prop(
        Status::OK,
        &Property::Dav(DavProperty::SupportedLock),
        Value::Xml(&supported),
    )
    .prop(
        Status::OK,
        &Property::Dav(DavProperty::GetContentLength),
        Value::Number(48_213),
    );
    let mut ms = Multistatus::new();
    ms.push(r);
    ms.finish(None)
}
