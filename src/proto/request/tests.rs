use super::super::error::{Family, XmlError};
use super::super::names::{
    AppleProperty, CalDavProperty, ComponentType, DavProperty, Namespace, Property, ResourceType,
};
use super::super::precondition::Precondition;
use super::super::reader::Limits;
use super::super::value::{IcalUtc, Rgba};
use super::*;

const L: &Limits = &Limits::DEFAULT;

fn report(xml: &str) -> Result<Report, XmlError> {
    parse_report(xml.as_bytes(), L)
}

fn dav(p: DavProperty) -> Property {
    Property::Dav(p)
}

#[test]
fn propfind_forms() {
    let all = PropFind::AllProp { include: vec![] };
    assert_eq!(parse_propfind(b"", L), Ok(all.clone()));
    assert_eq!(parse_propfind(b"<propfind xmlns='DAV:'/>", L), Ok(all));
    assert_eq!(
        parse_propfind(b"<propfind xmlns='DAV:'><propname/></propfind>", L),
        Ok(PropFind::PropName)
    );
    let body = br#"<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
        <D:allprop/><D:include><C:calendar-home-set/></D:include></D:propfind>"#;
    assert_eq!(
        parse_propfind(body, L),
        Ok(PropFind::AllProp {
            include: vec![Property::CalDav(CalDavProperty::CalendarHomeSet)]
        })
    );
}

#[test]
fn propfind_prop_list_is_deduplicated_in_order() {
    let body = br#"<x0:propfind xmlns:x0="DAV:"><x0:prop>
        <x0:resourcetype/><x0:getetag/><x0:resourcetype/><y:z xmlns:y="urn:y"/>
        </x0:prop></x0:propfind>"#;
    assert_eq!(
        parse_propfind(body, L),
        Ok(PropFind::Prop(vec![
            dav(DavProperty::ResourceType),
            dav(DavProperty::GetEtag),
            Property::Dead {
                namespace: Namespace::Other("urn:y".into()),
                name: "z".into()
            },
        ]))
    );
}

#[test]
fn propfind_rejects_mixed_forms_and_foreign_roots() {
    let mixed = b"<propfind xmlns='DAV:'><allprop/><prop><getetag/></prop></propfind>";
    assert!(matches!(
        parse_propfind(mixed, L),
        Err(XmlError::Invalid { .. })
    ));
    let stray = b"<propfind xmlns='DAV:'><propname/><include><getetag/></include></propfind>";
    assert!(matches!(
        parse_propfind(stray, L),
        Err(XmlError::Invalid { .. })
    ));
    // Right local name, wrong namespace: not a PROPFIND.
    let wrong = b"<propfind xmlns='urn:not-dav'><allprop/></propfind>";
    assert_eq!(
        parse_propfind(wrong, L),
        Err(XmlError::UnexpectedRoot {
            expected: "{DAV:}propfind",
            found: "{urn:not-dav}propfind".into()
        })
    );
    assert!(matches!(
        parse_propfind(b"<D:propfind xmlns:D='DAV:'><D:prop>", L),
        Err(XmlError::Malformed { .. })
    ));
}

#[test]
fn proppatch_keeps_order_typed_values_and_raw_xml() {
    let body = br##"<D:propertyupdate xmlns:D="DAV:" xmlns:I="http://apple.com/ns/ical/">
      <D:set><D:prop><I:calendar-color>#FF2968</I:calendar-color></D:prop></D:set>
      <D:remove><D:prop><I:calendar-order/></D:prop></D:remove>
      <D:set><D:prop>
        <I:calendar-order>x</I:calendar-order>
        <D:displayname xml:lang="fr">Agenda &amp; co</D:displayname>
        <Z:weird xmlns:Z="urn:z"><Z:a>1</Z:a></Z:weird>
      </D:prop></D:set>
    </D:propertyupdate>"##;
    let update = parse_proppatch(body, L).unwrap();
    let i = &update.instructions;
    assert_eq!(i.len(), 5);
    let Instruction::Set(color) = &i[0] else {
        panic!()
    };
    assert_eq!(
        color.value,
        PropertyValue::Color(Rgba::parse("#FF2968").unwrap())
    );
    assert_eq!(
        i[1],
        Instruction::Remove(Property::Apple(AppleProperty::CalendarOrder))
    );
    let Instruction::Set(order) = &i[2] else {
        panic!()
    };
    assert!(matches!(order.value, PropertyValue::Invalid(_)));
    let Instruction::Set(name) = &i[3] else {
        panic!()
    };
    assert_eq!(name.value, PropertyValue::Text("Agenda & co".into()));
    assert_eq!(name.raw.as_str(), "Agenda &amp; co");
    assert_eq!(name.lang.as_deref(), Some("fr"));
    let Instruction::Set(dead) = &i[4] else {
        panic!()
    };
    assert_eq!(dead.value, PropertyValue::Raw);
    assert_eq!(dead.raw.as_str(), "<Z:a xmlns:Z=\"urn:z\">1</Z:a>");
}

#[test]
fn proppatch_needs_something_to_do() {
    let empty = b"<propertyupdate xmlns='DAV:'><set><prop/></set></propertyupdate>";
    assert!(matches!(
        parse_proppatch(empty, L),
        Err(XmlError::Invalid { .. })
    ));
    assert_eq!(parse_proppatch(b"", L), Err(XmlError::EmptyBody));
}

#[test]
fn mkcalendar_and_mkcol() {
    let bare = parse_mkcalendar(b"", L).unwrap();
    assert_eq!(bare.kind, MkColKind::MkCalendar);
    assert_eq!(
        bare.resource_type,
        vec![ResourceType::Collection, ResourceType::Calendar]
    );
    let body = br#"<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">
      <D:set><D:prop>
        <D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>
        <D:displayname>Friends</D:displayname>
      </D:prop></D:set></D:mkcol>"#;
    let mkcol = parse_mkcol(body, L).unwrap();
    assert_eq!(
        mkcol.resource_type,
        vec![ResourceType::Collection, ResourceType::Addressbook]
    );
    assert_eq!(mkcol.set.len(), 1);
    assert_eq!(mkcol.set[0].property, dav(DavProperty::DisplayName));
    assert_eq!(
        parse_mkcol(b"", L).unwrap().resource_type,
        vec![ResourceType::Collection]
    );
    // A MKCALENDAR body sent to MKCOL is the wrong root.
    let swapped = b"<C:mkcalendar xmlns:C='urn:ietf:params:xml:ns:caldav'/>";
    assert!(matches!(
        parse_mkcol(swapped, L),
        Err(XmlError::UnexpectedRoot { .. })
    ));
}

#[test]
fn unknown_reports_are_typed() {
    for (xml, ns, name) in [
        (
            "<D:expand-property xmlns:D='DAV:'/>",
            "DAV:",
            "expand-property",
        ),
        (
            "<D:acl-principal-prop-set xmlns:D='DAV:'/>",
            "DAV:",
            "acl-principal-prop-set",
        ),
        // A CalDAV report name in the DAV: namespace is not that report.
        ("<calendar-query xmlns='DAV:'/>", "DAV:", "calendar-query"),
    ] {
        let err = report(xml).unwrap_err();
        assert_eq!(
            err,
            XmlError::UnsupportedReport {
                namespace: ns.into(),
                name: name.into()
            }
        );
        assert_eq!(err.precondition(), Some(Precondition::SupportedReport));
    }
}

#[test]
fn calendar_filter_errors_carry_caldav_preconditions() {
    let wrap = |inner: &str| {
        format!(
            "<C:calendar-query xmlns:D='DAV:' xmlns:C='urn:ietf:params:xml:ns:caldav'>\
             <C:filter><C:comp-filter name='VCALENDAR'>{inner}</C:comp-filter></C:filter>\
             </C:calendar-query>"
        )
    };
    let backwards = wrap(
        "<C:comp-filter name='VEVENT'><C:time-range start='20240102T000000Z' \
         end='20240101T000000Z'/></C:comp-filter>",
    );
    let err = report(&backwards).unwrap_err();
    assert_eq!(err.precondition(), Some(Precondition::CalendarValidFilter));
    let unknown = wrap("<C:comp-filter name='VEVENT'><C:regex>.*</C:regex></C:comp-filter>");
    assert_eq!(
        report(&unknown),
        Err(XmlError::UnsupportedFilter {
            family: Family::CalDav,
            element: "{urn:ietf:params:xml:ns:caldav}regex".into()
        })
    );
    let collation = wrap(
        "<C:comp-filter name='VEVENT'><C:prop-filter name='UID'>\
         <C:text-match collation='i;basic'>x</C:text-match></C:prop-filter></C:comp-filter>",
    );
    assert_eq!(
        report(&collation).unwrap_err().precondition(),
        Some(Precondition::CalendarSupportedCollation)
    );
    let mixed = wrap("<C:is-not-defined/><C:comp-filter name='VTODO'/>");
    assert!(matches!(
        report(&mixed),
        Err(XmlError::InvalidFilter { .. })
    ));
    let nameless = wrap("<C:comp-filter/>");
    assert!(matches!(
        report(&nameless),
        Err(XmlError::InvalidFilter { .. })
    ));
}

#[test]
fn calendar_query_without_filter_means_everything() {
    let body = "<C:calendar-query xmlns:D='DAV:' xmlns:C='urn:ietf:params:xml:ns:caldav'>\
                <D:prop><D:getetag/></D:prop><C:filter/></C:calendar-query>";
    let Ok(Report::CalendarQuery(q)) = report(body) else {
        panic!()
    };
    assert_eq!(q.filter, None);
    assert_eq!(
        q.props.props,
        PropFind::Prop(vec![dav(DavProperty::GetEtag)])
    );
}

#[test]
fn carddav_filter_with_caldav_elements_is_refused() {
    // Nextcloud cdav-library once sent CalDAV prop-filters inside a CardDAV filter;
    // ignoring them would return every contact.
    let body = r#"<x3:addressbook-query xmlns:x3="urn:ietf:params:xml:ns:carddav">
        <x0:prop xmlns:x0="DAV:"><x0:getetag/></x0:prop>
        <x3:filter test="allof"><x1:prop-filter xmlns:x1="urn:ietf:params:xml:ns:caldav" name="TITLE">
        <x1:text-match>ssss</x1:text-match></x1:prop-filter></x3:filter></x3:addressbook-query>"#;
    let err = report(body).unwrap_err();
    assert_eq!(
        err,
        XmlError::UnsupportedFilter {
            family: Family::CardDav,
            element: "{urn:ietf:params:xml:ns:caldav}prop-filter".into()
        }
    );
    assert_eq!(
        err.precondition(),
        Some(Precondition::AddressbookSupportedFilter)
    );
}

#[test]
fn addressbook_query_limits_and_tests() {
    let body = r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
        <D:prop><C:address-data/></D:prop>
        <C:filter test="sometimes"/></C:addressbook-query>"#;
    assert!(matches!(report(body), Err(XmlError::InvalidFilter { .. })));
    let body = r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
        <C:limit><C:nresults>-1</C:nresults></C:limit></C:addressbook-query>"#;
    assert!(matches!(report(body), Err(XmlError::Invalid { .. })));
    let body = r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
        <D:prop><C:address-data/></D:prop></C:addressbook-query>"#;
    let Ok(Report::AddressbookQuery(q)) = report(body) else {
        panic!()
    };
    assert!(q.filter.props.is_empty());
    assert_eq!(q.props.address_data.unwrap().props, Selection::All);
}

#[test]
fn sync_collection_tokens_and_levels() {
    let body = |inner: &str| {
        format!("<sync-collection xmlns='DAV:'>{inner}<prop><getetag/></prop></sync-collection>")
    };
    let Ok(Report::SyncCollection(s)) = report(&body("<sync-token/><sync-level>1</sync-level>"))
    else {
        panic!()
    };
    assert_eq!(s.sync_token, None);
    assert_eq!(s.sync_level, SyncLevel::One);
    let Ok(Report::SyncCollection(s)) = report(&body(
        "<sync-token> http://davgate.org/ns/sync/42 </sync-token><sync-level>infinite</sync-level>\
         <limit><nresults>100</nresults></limit>",
    )) else {
        panic!()
    };
    assert_eq!(
        s.sync_token.as_deref(),
        Some("http://davgate.org/ns/sync/42")
    );
    assert_eq!(s.sync_level, SyncLevel::Infinite);
    assert_eq!(s.limit, Some(100));
    assert!(matches!(
        report(&body("<sync-level>2</sync-level>")),
        Err(XmlError::Invalid { .. })
    ));
}

#[test]
fn calendar_data_selection_needs_closed_ranges() {
    let body = r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
        <D:prop><C:calendar-data><C:expand start="20240101T000000Z"/></C:calendar-data></D:prop>
        <D:href>/a.ics</D:href></C:calendar-multiget>"#;
    assert!(matches!(report(body), Err(XmlError::Invalid { .. })));
    let body = r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
        <D:prop><C:calendar-data><C:comp name="VCALENDAR"><C:allprop/>
        <C:comp name="vevent"><C:prop name="summary" novalue="yes"/></C:comp></C:comp>
        <C:expand start="20240101T000000Z" end="20240201T000000Z"/></C:calendar-data></D:prop>
        <D:href> /a.ics </D:href><D:href/></C:calendar-multiget>"#;
    let Ok(Report::CalendarMultiget(m)) = report(body) else {
        panic!()
    };
    assert_eq!(m.hrefs, vec!["/a.ics".to_owned()]);
    let data = m.props.calendar_data.unwrap();
    let comp = data.comp.unwrap();
    assert_eq!(comp.props, Selection::All);
    let Selection::Only(inner) = comp.comps else {
        panic!()
    };
    assert_eq!(inner[0].name, ComponentType::VEvent);
    assert_eq!(
        inner[0].props,
        Selection::Only(vec![PropSelector {
            name: "SUMMARY".into(),
            novalue: true
        }])
    );
    assert_eq!(
        data.expand.unwrap().start,
        Some(IcalUtc::parse("20240101T000000Z").unwrap())
    );
}

#[test]
fn free_busy_needs_a_time_range() {
    let body = "<C:free-busy-query xmlns:C='urn:ietf:params:xml:ns:caldav'/>";
    assert!(matches!(report(body), Err(XmlError::Invalid { .. })));
}
