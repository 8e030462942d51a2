use super::super::names::{AppleProperty, CalDavProperty, DavProperty};
use super::super::reader::{Element, Limits, parse_document};
use super::*;

/// Our output, parsed back by our reader: every test doubles as a well-formedness check.
#[track_caller]
fn parsed(bytes: Vec<u8>) -> Element {
    let text = String::from_utf8(bytes).expect("UTF-8");
    parse_document(text.as_bytes(), &Limits::DEFAULT).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn dav(name: &str) -> (Namespace, String) {
    (Namespace::Dav, name.to_owned())
}

/// A propstat as (status line, property Clark names).
type Group = (String, Vec<String>);

/// The `D:response` elements, as (href, groups).
fn summary(doc: &Element) -> Vec<(String, Vec<Group>)> {
    doc.elements()
        .filter(|e| e.is(&Namespace::Dav, "response"))
        .map(|response| {
            let href = response.child(&Namespace::Dav, "href").unwrap().text();
            let mut groups: Vec<Group> = response
                .elements()
                .filter(|e| e.is(&Namespace::Dav, "propstat"))
                .map(|propstat| {
                    let status = propstat.child(&Namespace::Dav, "status").unwrap().text();
                    let props = propstat
                        .child(&Namespace::Dav, "prop")
                        .unwrap()
                        .elements()
                        .map(Element::clark)
                        .collect();
                    (status, props)
                })
                .collect();
            if let Some(status) = response.child(&Namespace::Dav, "status") {
                groups.push((status.text(), Vec::new()));
            }
            (href, groups)
        })
        .collect()
}

fn prop<'a>(doc: &'a Element, name: &str) -> &'a Element {
    fn find<'a>(e: &'a Element, name: &str) -> Option<&'a Element> {
        if e.clark() == name {
            return Some(e);
        }
        e.elements().find_map(|c| find(c, name))
    }
    find(doc, name).unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn properties_are_grouped_by_status_in_first_seen_order() {
    let mut ms = Multistatus::new();
    let mut r = Response::new("/dav/calendars/ann/work/");
    r.prop(
        Status::OK,
        &Property::Dav(DavProperty::DisplayName),
        Value::Text("Work"),
    )
    .prop(
        Status::NOT_FOUND,
        &Property::Apple(AppleProperty::CalendarOrder),
        Value::Empty,
    )
    .prop(
        Status::OK,
        &Property::Dav(DavProperty::GetEtag),
        Value::Text("\"1\""),
    );
    ms.push(r);
    let doc = parsed(ms.finish(None));
    assert!(doc.is(&dav("multistatus").0, "multistatus"));
    assert_eq!(
        summary(&doc),
        vec![(
            "/dav/calendars/ann/work/".to_owned(),
            vec![
                (
                    "HTTP/1.1 200 OK".to_owned(),
                    vec!["{DAV:}displayname".to_owned(), "{DAV:}getetag".to_owned()]
                ),
                (
                    "HTTP/1.1 404 Not Found".to_owned(),
                    vec!["{http://apple.com/ns/ical/}calendar-order".to_owned()]
                ),
            ]
        )]
    );
}

#[test]
fn sync_deletions_are_status_only_and_the_token_comes_last() {
    let mut ms = Multistatus::new();
    ms.push_status("/dav/calendars/ann/work/gone one.ics", Status::NOT_FOUND);
    let text = String::from_utf8(ms.finish(Some("http://davgate.org/ns/sync/7"))).unwrap();
    assert!(text.ends_with(
        "<D:response><D:href>/dav/calendars/ann/work/gone%20one.ics</D:href>\
         <D:status>HTTP/1.1 404 Not Found</D:status></D:response>\
         <D:sync-token>http://davgate.org/ns/sync/7</D:sync-token></D:multistatus>"
    ));
}

#[test]
fn hostile_text_survives_a_round_trip_exactly() {
    let ical = "BEGIN:VCALENDAR\r\nSUMMARY:a <b> & \"c\" 'd' ]]> e\r\nEND:VCALENDAR\r\n";
    let mut ms = Multistatus::new();
    let mut r = Response::new("/dav/c/<x>&.ics");
    r.prop(
        Status::OK,
        &Property::CalDav(CalDavProperty::CalendarData),
        Value::Text(ical),
    )
    .prop(
        Status::OK,
        &Property::Dav(DavProperty::DisplayName),
        Value::Text("bell\u{7}\u{0}"),
    );
    ms.push(r);
    let bytes = ms.finish(None);
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(!text.contains("<![CDATA["));
    let doc = parsed(bytes);
    assert_eq!(
        prop(&doc, "{urn:ietf:params:xml:ns:caldav}calendar-data").text(),
        ical
    );
    assert_eq!(
        prop(&doc, "{DAV:}displayname").text(),
        "bell\u{FFFD}\u{FFFD}"
    );
    assert_eq!(prop(&doc, "{DAV:}href").text(), "/dav/c/%3Cx%3E%26.ics");
}

#[test]
fn dead_properties_keep_their_namespaces() {
    let body = br#"<D:propertyupdate xmlns:D="DAV:" xmlns:M="urn:m"><D:set><D:prop>
        <M:tags><M:tag lang="en">one</M:tag><tag2 xmlns="urn:n">two</tag2></M:tags>
        </D:prop></D:set></D:propertyupdate>"#;
    let update = super::super::request::parse_proppatch(body, &Limits::DEFAULT).unwrap();
    let super::super::request::Instruction::Set(set) = &update.instructions[0] else {
        panic!()
    };
    let mut ms = Multistatus::new();
    let mut r = Response::new("/dav/x/");
    r.prop(Status::OK, &set.property, Value::Raw(&set.raw));
    ms.push(r);
    let doc = parsed(ms.finish(None));
    let tags = prop(&doc, "{urn:m}tags");
    let children: Vec<String> = tags.elements().map(Element::clark).collect();
    assert_eq!(children, vec!["{urn:m}tag", "{urn:n}tag2"]);
    assert_eq!(
        tags.elements().next().unwrap().attribute("lang"),
        Some("en")
    );
}

#[test]
fn structured_values() {
    let homes = vec!["/dav/calendars/ann/".to_owned()];
    let addresses = vec!["mailto:ann@example.com".to_owned()];
    let none: Vec<String> = Vec::new();
    let mut r = Response::new("/dav/principals/ann/");
    r.prop(
        Status::OK,
        &Property::Dav(DavProperty::ResourceType),
        Value::ResourceType(&[ResourceType::Collection, ResourceType::Calendar]),
    )
    .prop(
        Status::OK,
        &Property::CalDav(CalDavProperty::CalendarHomeSet),
        Value::Hrefs(&homes),
    )
    .prop(
        Status::OK,
        &Property::CalDav(CalDavProperty::CalendarUserAddressSet),
        Value::Uris(&addresses),
    )
    .prop(
        Status::OK,
        &Property::Dav(DavProperty::PrincipalCollectionSet),
        Value::Hrefs(&none),
    )
    .prop(
        Status::OK,
        &Property::CalDav(CalDavProperty::SupportedCalendarComponentSet),
        Value::Components(&[ComponentType::VEvent, ComponentType::VTodo]),
    )
    .prop(
        Status::OK,
        &Property::Dav(DavProperty::SupportedReportSet),
        Value::Reports(&[ReportName::SyncCollection]),
    )
    .prop(
        Status::OK,
        &Property::Dav(DavProperty::CurrentUserPrivilegeSet),
        Value::Privileges(&[Privilege::Read]),
    )
    .prop(
        Status::OK,
        &Property::CalDav(CalDavProperty::SupportedCalendarData),
        Value::DataTypes(&[DataType {
            content_type: "text/calendar",
            version: "2.0",
        }]),
    )
    .prop(
        Status::OK,
        &Property::CardDav(CardDavProperty::SupportedAddressData),
        Value::DataTypes(&[DataType {
            content_type: "text/vcard",
            version: "4.0",
        }]),
    )
    .prop(
        Status::OK,
        &Property::Dav(DavProperty::QuotaUsedBytes),
        Value::Number(1234),
    )
    .prop(
        Status::OK,
        &Property::Dav(DavProperty::SupportedLock),
        Value::Xml(&|w: &mut XmlWriter| {
            w.open(&Namespace::Dav, "lockentry");
            w.close(&Namespace::Dav, "lockentry");
        }),
    );
    let mut ms = Multistatus::new();
    ms.push(r);
    let text = String::from_utf8(ms.finish(None)).unwrap();
    for expected in [
        "<D:resourcetype><D:collection/><C:calendar/></D:resourcetype>",
        "<C:calendar-home-set><D:href>/dav/calendars/ann/</D:href></C:calendar-home-set>",
        "<C:calendar-user-address-set><D:href>mailto:ann@example.com</D:href></C:calendar-user-address-set>",
        "<D:principal-collection-set/>",
        "<C:supported-calendar-component-set><C:comp name=\"VEVENT\"/><C:comp name=\"VTODO\"/></C:supported-calendar-component-set>",
        "<D:supported-report-set><D:supported-report><D:report><D:sync-collection/></D:report></D:supported-report></D:supported-report-set>",
        "<D:current-user-privilege-set><D:privilege><D:read/></D:privilege></D:current-user-privilege-set>",
        "<C:supported-calendar-data><C:calendar-data content-type=\"text/calendar\" version=\"2.0\"/></C:supported-calendar-data>",
        "<CR:supported-address-data><CR:address-data-type content-type=\"text/vcard\" version=\"4.0\"/></CR:supported-address-data>",
        "<D:quota-used-bytes>1234</D:quota-used-bytes>",
        "<D:supportedlock><D:lockentry></D:lockentry></D:supportedlock>",
    ] {
        assert!(text.contains(expected), "missing {expected}\nin {text}");
    }
    parsed(text.into_bytes());
}

#[test]
fn empty_responses_errors_and_descriptions() {
    let mut ms = Multistatus::new();
    ms.push(Response::new("/dav/a/"));
    let mut r = Response::new("/dav/b.ics");
    r.prop(
        Status::FORBIDDEN,
        &Property::Dav(DavProperty::GetEtag),
        Value::Empty,
    )
    .error(Precondition::CannotModifyProtectedProperty)
    .description("getetag is computed by the server");
    ms.push(r);
    let text = String::from_utf8(ms.finish(None)).unwrap();
    assert!(text.contains(
        "<D:href>/dav/a/</D:href><D:propstat><D:prop/><D:status>HTTP/1.1 200 OK</D:status></D:propstat>"
    ));
    assert!(text.contains(
        "<D:status>HTTP/1.1 403 Forbidden</D:status></D:propstat>\
         <D:error><D:cannot-modify-protected-property/></D:error>\
         <D:responsedescription>getetag is computed by the server</D:responsedescription></D:response>"
    ));
    parsed(text.into_bytes());
}

#[test]
fn dead_property_names_from_storage_cannot_inject_markup() {
    let bad = Property::Dead {
        namespace: Namespace::Other("urn:\"x\"".into()),
        name: "a><evil/".into(),
    };
    let mut r = Response::new("/x");
    r.prop(Status::OK, &bad, Value::Text("v"));
    let mut ms = Multistatus::new();
    ms.push(r);
    let doc = parsed(ms.finish(None));
    let names: Vec<String> = summary(&doc)[0].1[0].1.clone();
    assert_eq!(names, vec!["{urn:\"x\"}a__evil_".to_owned()]);
}

#[test]
fn status_lines() {
    assert_eq!(
        Status::FAILED_DEPENDENCY.to_string(),
        "HTTP/1.1 424 Failed Dependency"
    );
    assert_eq!(Status::from_code(299).to_string(), "HTTP/1.1 299 ");
    assert_eq!(Status::INSUFFICIENT_STORAGE.code(), 507);
}

#[test]
fn a_long_multistatus_comes_in_pieces_that_make_one_document() {
    let mut ms = Multistatus::new();
    let text = "x".repeat(1000);
    for i in 0..200 {
        let mut r = Response::new(&format!("/dav/calendars/ann/work/{i}.ics"));
        r.prop(
            Status::OK,
            &Property::Dav(DavProperty::DisplayName),
            Value::Text(&text),
        );
        ms.push(r);
        ms.push_status(
            &format!("/dav/calendars/ann/work/gone-{i}.ics"),
            Status::NOT_FOUND,
        );
    }
    let whole = ms.clone().finish(Some("http://davgate.org/ns/sync/7"));
    let pieces = ms.into_pieces(Some("http://davgate.org/ns/sync/7"));
    assert!(pieces.len() >= 3, "{} pieces", pieces.len());
    // Each piece but the last was sealed as soon as it passed the length.
    for piece in &pieces[..pieces.len() - 1] {
        assert!(
            piece.len() >= PIECE_LEN && piece.len() < PIECE_LEN + 2048,
            "{}",
            piece.len()
        );
    }
    assert_eq!(pieces.concat().into_bytes(), whole);
    assert_eq!(summary(&parsed(whole)).len(), 400);
}
