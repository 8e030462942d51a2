//! CalDAV: discovery, calendars, objects with their preconditions, reports, bad input.

use crate::common::{Dav, TestServer};

pub const CAL: &str = "/dav/calendars/alice/default/";

/// A one-event calendar object.
pub fn event(uid: &str, start: &str, end: &str, extra: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//davgate tests//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
         DTSTAMP:20260101T000000Z\r\nDTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:{uid}\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

pub async fn put(dav: &Dav, path: &str, body: &str) -> crate::common::client::Resp {
    dav.req("PUT", path)
        .header("Content-Type", "text/calendar")
        .body(body.to_owned())
        .send()
        .await
}

fn query(start: &str, end: &str, expand: bool) -> String {
    let data = if expand {
        format!(r#"<C:calendar-data><C:expand start="{start}" end="{end}"/></C:calendar-data>"#)
    } else {
        String::new()
    };
    format!(
        r#"<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
        <D:prop><D:getetag/>{data}</D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
        <C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_finds_the_principal_and_homes_from_the_bare_server() {
    let srv = TestServer::start().await;
    let anon = srv.anonymous();
    for well_known in ["/.well-known/caldav", "/.well-known/carddav"] {
        let resp = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .request(
                reqwest::Method::from_bytes(b"PROPFIND").unwrap(),
                anon.url(well_known),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 301, "{well_known}");
        assert_eq!(resp.headers()["location"], "/dav/");
    }
    let dav = srv.alice();
    for path in ["/", "/dav/", "/dav/principals/alice/", CAL] {
        let resp = dav
            .props(path, "0", &["current-user-principal"])
            .await
            .status(207);
        assert_eq!(
            resp.prop("current-user-principal"),
            "/dav/principals/alice/",
            "{path}"
        );
    }
    let body = r#"<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CR="urn:ietf:params:xml:ns:carddav">
      <D:prop><C:calendar-home-set/><CR:addressbook-home-set/><D:displayname/><C:calendar-user-address-set/>
      <D:principal-URL/><D:supported-report-set/><D:resourcetype/></D:prop></D:propfind>"#;
    let principal = dav
        .req("PROPFIND", "/dav/principals/alice/")
        .header("Depth", "0")
        .body(body)
        .send()
        .await
        .status(207);
    assert_eq!(principal.prop("calendar-home-set"), "/dav/calendars/alice/");
    assert_eq!(
        principal.prop("addressbook-home-set"),
        "/dav/addressbooks/alice/"
    );
    assert_eq!(principal.prop("displayname"), "alice");
    assert_eq!(principal.prop("principal-URL"), "/dav/principals/alice/");
    assert!(
        principal.text().contains("<D:principal/>"),
        "{}",
        principal.text()
    );
    assert!(
        !principal.text().contains("404"),
        "every asked property exists: {}",
        principal.text()
    );
    // A default calendar (events, tasks, journals) and address book exist on first access.
    let homes = dav.propfind("/dav/calendars/alice/", "1").await.status(207);
    assert!(
        homes.hrefs().contains(&CAL.to_owned()),
        "{:?}",
        homes.hrefs()
    );
    let books = dav
        .propfind("/dav/addressbooks/alice/", "1")
        .await
        .status(207);
    assert!(
        books
            .hrefs()
            .contains(&"/dav/addressbooks/alice/default/".to_owned())
    );
    // Someone else's home is not reachable.
    srv.add_account("bob").await;
    dav.propfind("/dav/calendars/bob/", "0").await.status(403);
    let dav_header = dav
        .req("OPTIONS", "/dav/")
        .send()
        .await
        .status(200)
        .header("dav")
        .unwrap();
    assert!(
        dav_header.contains("calendar-access") && dav_header.contains("addressbook"),
        "{dav_header}"
    );

    // An e-mail-like user name, and the %40 Apple clients write for its '@'.
    srv.add_account("carol@example.org").await;
    let carol = dav.as_user("carol@example.org", crate::common::server::PASSWORD);
    let me = carol
        .props("/dav/", "0", &["current-user-principal"])
        .await
        .status(207)
        .prop("current-user-principal");
    assert_eq!(me, "/dav/principals/carol@example.org/");
    for path in [
        "/dav/principals/carol%40example.org/",
        "/dav/calendars/carol%40example.org/default/",
    ] {
        carol.propfind(path, "0").await.status(207);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendars_are_created_changed_and_deleted() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let mk = r##"<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:I="http://apple.com/ns/ical/">
      <D:set><D:prop><D:displayname>Work</D:displayname><C:calendar-description>Office</C:calendar-description>
      <I:calendar-color>#FF0000FF</I:calendar-color><C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set>
      </D:prop></D:set></C:mkcalendar>"##;
    dav.req("MKCALENDAR", "/dav/calendars/alice/work/")
        .body(mk)
        .send()
        .await
        .status(201);
    dav.req("MKCALENDAR", "/dav/calendars/alice/work/")
        .body(mk)
        .send()
        .await
        .status(405)
        .says("resource-must-be-null");
    let props = dav
        .req("PROPFIND", "/dav/calendars/alice/work/")
        .header("Depth", "0")
        .body(r#"<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:I="http://apple.com/ns/ical/" xmlns:CS="http://calendarserver.org/ns/"><D:prop><D:displayname/><C:calendar-description/><I:calendar-color/><C:supported-calendar-component-set/><C:max-resource-size/><CS:getctag/><D:sync-token/></D:prop></D:propfind>"#)
        .send()
        .await
        .status(207);
    assert_eq!(props.prop("displayname"), "Work");
    assert_eq!(props.prop("calendar-description"), "Office");
    assert_eq!(props.prop("calendar-color"), "#FF0000FF");
    assert!(props.text().contains(r#"<C:comp name="VEVENT"/>"#) && !props.text().contains("VTODO"));
    assert_eq!(props.prop("max-resource-size"), (10 << 20).to_string());
    let ctag = props.prop("getctag");

    let patch = r##"<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:I="http://apple.com/ns/ical/">
      <D:set><D:prop><D:displayname>Work (2026)</D:displayname><I:calendar-order>3</I:calendar-order>
      <C:calendar-timezone>BEGIN:VCALENDAR&#13;
VERSION:2.0&#13;
BEGIN:VTIMEZONE&#13;
TZID:Europe/Berlin&#13;
BEGIN:STANDARD&#13;
DTSTART:19701025T030000&#13;
TZOFFSETFROM:+0200&#13;
TZOFFSETTO:+0100&#13;
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU&#13;
END:STANDARD&#13;
BEGIN:DAYLIGHT&#13;
DTSTART:19700329T020000&#13;
TZOFFSETFROM:+0100&#13;
TZOFFSETTO:+0200&#13;
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU&#13;
END:DAYLIGHT&#13;
END:VTIMEZONE&#13;
END:VCALENDAR&#13;
</C:calendar-timezone></D:prop></D:set></D:propertyupdate>"##;
    dav.req("PROPPATCH", "/dav/calendars/alice/work/")
        .body(patch)
        .send()
        .await
        .status(207);
    let after = dav
        .props("/dav/calendars/alice/work/", "0", &["displayname"])
        .await;
    assert_eq!(after.prop("displayname"), "Work (2026)");
    let ctag2 = dav
        .req("PROPFIND", "/dav/calendars/alice/work/")
        .header("Depth", "0")
        .body(r#"<D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/"><D:prop><CS:getctag/></D:prop></D:propfind>"#)
        .send()
        .await
        .prop("getctag");
    assert_ne!(ctag, ctag2, "property changes move the CTag");
    // Protected properties are refused, and the whole PROPPATCH with them.
    let protected = r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>X</D:displayname><D:getetag>"x"</D:getetag></D:prop></D:set></D:propertyupdate>"#;
    let resp = dav
        .req("PROPPATCH", "/dav/calendars/alice/work/")
        .body(protected)
        .send()
        .await
        .status(207);
    assert!(
        resp.text().contains("403") && resp.text().contains("424"),
        "{}",
        resp.text()
    );
    assert_eq!(
        dav.props("/dav/calendars/alice/work/", "0", &["displayname"])
            .await
            .prop("displayname"),
        "Work (2026)"
    );

    // Extended MKCOL with a calendar resourcetype; unrestricted: VEVENT, VTODO and VJOURNAL.
    let ext = r#"<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:resourcetype><D:collection/><C:calendar/></D:resourcetype><D:displayname>Journal</D:displayname></D:prop></D:set></D:mkcol>"#;
    dav.req("MKCOL", "/dav/calendars/alice/journal/")
        .body(ext)
        .send()
        .await
        .status(201);
    let journal = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VJOURNAL\r\nUID:j1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20261101\r\nSUMMARY:Notes\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n";
    put(&dav, "/dav/calendars/alice/journal/j1.ics", journal)
        .await
        .status(201);
    // The Work calendar only takes events.
    put(&dav, "/dav/calendars/alice/work/j1.ics", journal)
        .await
        .status(403)
        .says("supported-calendar-component");

    dav.delete("/dav/calendars/alice/work/").await.status(204);
    dav.propfind("/dav/calendars/alice/work/", "0")
        .await
        .status(404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_are_validated_and_stored_byte_for_byte() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let text = event(
        "e1",
        "20261201T100000Z",
        "20261201T110000Z",
        "X-CUSTOM;X-A=1:keep me exactly\r\n",
    );
    let created = put(&dav, &format!("{CAL}e1.ics"), &text).await.status(201);
    let etag = created.header("etag").expect("an ETag");
    let got = dav.get(&format!("{CAL}e1.ics")).await.status(200);
    assert_eq!(got.text(), text, "returned byte for byte");
    assert_eq!(got.header("etag"), Some(etag.clone()));
    assert!(
        got.header("content-type")
            .unwrap()
            .starts_with("text/calendar")
    );

    // Safe creates and updates.
    dav.req("PUT", &format!("{CAL}e1.ics"))
        .header("If-None-Match", "*")
        .body(text.clone())
        .send()
        .await
        .status(412);
    dav.req("PUT", &format!("{CAL}e1.ics"))
        .header("If-Match", "\"stale\"")
        .body(text.clone())
        .send()
        .await
        .status(412);
    dav.req("PUT", &format!("{CAL}e1.ics"))
        .header("If-Match", &etag)
        .body(text.clone())
        .send()
        .await
        .status(204);

    // Preconditions, each with a readable reason.
    let cases = [
        ("bad.ics", "this is not iCalendar".to_owned(), 403, "valid-calendar-data"),
        (
            "two.ics",
            text.replace("END:VCALENDAR", "BEGIN:VEVENT\r\nUID:other\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20261201T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR"),
            403,
            "valid-calendar-object-resource",
        ),
        ("dup.ics", text.clone(), 409, "no-uid-conflict"),
        ("nostart.ics", text.replace("DTSTART:20261201T100000Z\r\n", ""), 403, "valid-calendar-data"),
    ];
    for (name, body, status, condition) in cases {
        let resp = put(&dav, &format!("{CAL}{name}"), &body)
            .await
            .status(status)
            .says(condition);
        assert!(
            resp.text().contains("responsedescription") || resp.text().contains("hint"),
            "a readable reason: {}",
            resp.text()
        );
        dav.get(&format!("{CAL}{name}")).await.status(404);
    }
    put(&dav, &format!("{CAL}dup.ics"), &text)
        .await
        .says("e1.ics");
    let big = event(
        "big",
        "20261201T100000Z",
        "20261201T110000Z",
        &format!("DESCRIPTION:{}\r\n", "x".repeat(11 << 20)),
    );
    put(&dav, &format!("{CAL}big.ics"), &big)
        .await
        .status(413)
        .says("max-resource-size");
    put(
        &dav,
        "/dav/calendars/alice/nope/e.ics",
        &text.replace("e1", "e9"),
    )
    .await
    .status(409);

    dav.delete(&format!("{CAL}e1.ics")).await.status(204);
    dav.get(&format!("{CAL}e1.ics")).await.status(404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_expand_recurrences_across_zones_and_tasks() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    // Weekly in Berlin (CET/CEST), one instance excluded, one moved.
    let weekly = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n\
BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n\
BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20261005T100000\r\nDTEND;TZID=Europe/Berlin:20261005T110000\r\n\
RRULE:FREQ=WEEKLY\r\nEXDATE;TZID=Europe/Berlin:20261026T100000\r\nSUMMARY:Weekly\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261102T100000\r\nDTSTART;TZID=Europe/Berlin:20261104T150000\r\nDTEND;TZID=Europe/Berlin:20261104T160000\r\nSUMMARY:Moved\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    put(&dav, &format!("{CAL}weekly.ics"), weekly)
        .await
        .status(201);
    put(
        &dav,
        &format!("{CAL}far.ics"),
        &event("far", "20300101T100000Z", "20300101T110000Z", ""),
    )
    .await
    .status(201);
    // Late October to mid-November: Oct 19 (CEST, 08:00Z), Oct 26 excluded, Nov 4 moved (14:00Z), Nov 9 (CET, 09:00Z).
    let resp = dav
        .req("REPORT", CAL)
        .header("Depth", "1")
        .body(query("20261019T000000Z", "20261110T000000Z", true))
        .send()
        .await
        .status(207);
    assert_eq!(
        resp.hrefs(),
        [format!("{CAL}weekly.ics")],
        "the far event is not in range"
    );
    let data = resp.prop("calendar-data");
    let starts: Vec<&str> = data.lines().filter(|l| l.starts_with("DTSTART")).collect();
    assert_eq!(
        starts,
        [
            "DTSTART:20261019T080000Z",
            "DTSTART:20261104T140000Z",
            "DTSTART:20261109T090000Z"
        ],
        "{data}"
    );
    assert!(
        !data.contains("RRULE"),
        "expanded instances carry no RRULE: {data}"
    );
    // A week with only the excluded instance matches nothing.
    let none = dav
        .req("REPORT", CAL)
        .body(query("20261026T000000Z", "20261027T000000Z", false))
        .send()
        .await
        .status(207);
    assert!(none.hrefs().is_empty(), "{:?}", none.hrefs());

    // Tasks: due in range matches; a todo completed outside does not.
    let todo = |uid: &str, extra: &str| {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n{extra}SUMMARY:{uid}\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
        )
    };
    put(
        &dav,
        &format!("{CAL}t1.ics"),
        &todo("t1", "DUE:20261115T120000Z\r\n"),
    )
    .await
    .status(201);
    put(
        &dav,
        &format!("{CAL}t2.ics"),
        &todo("t2", "COMPLETED:20260101T120000Z\r\nSTATUS:COMPLETED\r\n"),
    )
    .await
    .status(201);
    let todo_query = r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>
      <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"><C:time-range start="20261101T000000Z" end="20261201T000000Z"/>
      </C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#;
    let tasks = dav
        .req("REPORT", CAL)
        .body(todo_query)
        .send()
        .await
        .status(207);
    assert_eq!(tasks.hrefs(), [format!("{CAL}t1.ics")]);

    // Multiget, including Apple's over-encoded hrefs and a missing one.
    let multiget = format!(
        r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>
        <D:href>{CAL}weekly.ics</D:href><D:href>/dav/calendars/alice/default/%66ar.ics</D:href><D:href>{CAL}missing.ics</D:href><D:href>{abs}t1.ics</D:href></C:calendar-multiget>"#,
        abs = dav.url(CAL)
    );
    let got = dav
        .req("REPORT", CAL)
        .body(multiget)
        .send()
        .await
        .status(207);
    // Absolute URLs (as some Apple versions send) name the same objects.
    assert_eq!(got.values("calendar-data").len(), 3, "{}", got.text());
    assert!(got.text().contains("404"), "{}", got.text());

    // Free-busy: the moved instance is busy time.
    let fb = r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20261103T000000Z" end="20261105T000000Z"/></C:free-busy-query>"#;
    let busy = dav.req("REPORT", CAL).body(fb).send().await.status(200);
    assert!(
        busy.text().contains("BEGIN:VFREEBUSY")
            && busy.text().contains("20261104T140000Z/20261104T150000Z"),
        "{}",
        busy.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_gets_a_bounded_answer() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.req("REPORT", CAL)
        .body("<nope")
        .send()
        .await
        .status(400)
        .says("malformed XML");
    let unknown = r#"<D:expand-property xmlns:D="DAV:"/>"#;
    dav.req("REPORT", CAL)
        .body(unknown)
        .send()
        .await
        .status(403)
        .says("supported-report");
    dav.req("PROPFIND", "/dav/")
        .header("Depth", "infinity")
        .send()
        .await
        .status(403)
        .says("propfind-finite-depth");
    // Every second, forever: a query over 1,000 years must come back quickly.
    let storm = event(
        "storm",
        "20260101T000000Z",
        "20260101T000001Z",
        "RRULE:FREQ=SECONDLY\r\n",
    );
    put(&dav, &format!("{CAL}storm.ics"), &storm)
        .await
        .status(201);
    // Expansion stops at the instance cap: the object comes back as stored, and a 507
    // on the collection says which one and what to do.
    let resp = dav
        .req("REPORT", CAL)
        .body(query("20000101T000000Z", "30000101T000000Z", true))
        .send()
        .await
        .status(207);
    let text = resp.text();
    assert!(text.contains("RRULE:FREQ=SECONDLY"), "{text}");
    assert!(text.contains("507 Insufficient Storage"), "{text}");
    assert!(text.contains("number-of-matches-within-limits"), "{text}");
    assert!(text.contains("storm.ics repeats more than"), "{text}");
    // Free-busy cannot leave it out (that would show busy time as free): it refuses.
    let fb = r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20000101T000000Z" end="30000101T000000Z"/></C:free-busy-query>"#;
    dav.req("REPORT", CAL)
        .body(fb)
        .send()
        .await
        .status(507)
        .says("number-of-matches-within-limits")
        .says("shorter range");
    // Near its start the instances stay under the cap, and every second is busy.
    let hour = r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20260101T010000Z" end="20260101T020000Z"/></C:free-busy-query>"#;
    let busy = dav
        .req("REPORT", CAL)
        .body(hour)
        .send()
        .await
        .status(200)
        .text();
    assert!(
        busy.contains("FREEBUSY:20260101T010000Z/20260101T020000Z"),
        "{busy}"
    );
    let huge = format!(
        "<D:propfind xmlns:D=\"DAV:\"><D:prop>{}</D:prop></D:propfind>",
        "<D:x/>".repeat(300_000)
    );
    dav.req("PROPFIND", "/dav/")
        .body(huge)
        .send()
        .await
        .status(413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_filters_collations_and_limit_recurrence_set() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let lunch = event(
        "lunch",
        "20261201T120000Z",
        "20261201T130000Z",
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:x@example.org\r\n",
    )
    .replace("SUMMARY:lunch", "SUMMARY:Team Lunch");
    let dinner = event(
        "dinner",
        "20261201T190000Z",
        "20261201T200000Z",
        "ATTENDEE;PARTSTAT=DECLINED:mailto:x@example.org\r\n",
    )
    .replace("SUMMARY:dinner", "SUMMARY:team dinner");
    put(&dav, &format!("{CAL}lunch.ics"), &lunch)
        .await
        .status(201);
    put(&dav, &format!("{CAL}dinner.ics"), &dinner)
        .await
        .status(201);
    let filtered = |inner: &str| {
        format!(
            r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>
            <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">{inner}</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#
        )
    };
    let cases = [
        (
            r#"<C:prop-filter name="ATTENDEE"><C:param-filter name="PARTSTAT"><C:text-match>ACCEPTED</C:text-match></C:param-filter></C:prop-filter>"#,
            vec!["lunch.ics"],
        ),
        (
            r#"<C:prop-filter name="SUMMARY"><C:text-match collation="i;ascii-casemap">TEAM</C:text-match></C:prop-filter>"#,
            vec!["dinner.ics", "lunch.ics"],
        ),
        (
            r#"<C:prop-filter name="SUMMARY"><C:text-match collation="i;octet">team</C:text-match></C:prop-filter>"#,
            vec!["dinner.ics"],
        ),
        (
            r#"<C:prop-filter name="SUMMARY"><C:text-match negate-condition="yes">lunch</C:text-match></C:prop-filter>"#,
            vec!["dinner.ics"],
        ),
        (
            r#"<C:prop-filter name="ATTENDEE"><C:param-filter name="ROLE"><C:is-not-defined/></C:param-filter></C:prop-filter>"#,
            vec!["dinner.ics", "lunch.ics"],
        ),
    ];
    for (inner, expected) in cases {
        let mut got: Vec<String> = dav
            .req("REPORT", CAL)
            .body(filtered(inner))
            .send()
            .await
            .status(207)
            .hrefs();
        got.sort();
        let expected: Vec<String> = expected.iter().map(|n| format!("{CAL}{n}")).collect();
        assert_eq!(got, expected, "{inner}");
    }

    // limit-recurrence-set: the master and only the overrides that touch the range.
    let series = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n\
BEGIN:VEVENT\r\nUID:series\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20261005T100000Z\r\nDTEND:20261005T110000Z\r\nRRULE:FREQ=WEEKLY\r\nSUMMARY:Series\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:series\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID:20261012T100000Z\r\nDTSTART:20261012T150000Z\r\nDTEND:20261012T160000Z\r\nSUMMARY:October move\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:series\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID:20261207T100000Z\r\nDTSTART:20261207T150000Z\r\nDTEND:20261207T160000Z\r\nSUMMARY:December move\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";
    put(&dav, &format!("{CAL}series.ics"), series)
        .await
        .status(201);
    let body = format!(
        r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data>
        <C:limit-recurrence-set start="20261201T000000Z" end="20270101T000000Z"/></C:calendar-data></D:prop>
        <D:href>{CAL}series.ics</D:href></C:calendar-multiget>"#
    );
    let data = dav
        .req("REPORT", CAL)
        .body(body)
        .send()
        .await
        .status(207)
        .prop("calendar-data");
    assert!(data.contains("RRULE:FREQ=WEEKLY"), "{data}");
    assert!(data.contains("December move"), "{data}");
    assert!(!data.contains("October move"), "{data}");
}

/// A jtx Board note: a VJOURNAL with a date, as jtx Board writes its journal entries.
fn journal(uid: &str, date: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:+//IDN bitfire.at//ical4android (at.techbee.jtx)\r\n\
         BEGIN:VJOURNAL\r\nUID:{uid}\r\nDTSTAMP:20261101T080000Z\r\nDTSTART;VALUE=DATE:{date}\r\n\
         SUMMARY:Note {uid}\r\nDESCRIPTION:Written in jtx Board\r\nSTATUS:FINAL\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n"
    )
}

/// A calendar-query for VJOURNALs, within a time range when one is given.
fn journal_query(range: Option<(&str, &str)>) -> String {
    let range = range.map_or(String::new(), |(start, end)| {
        format!(r#"<C:time-range start="{start}" end="{end}"/>"#)
    });
    format!(
        r#"<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
        <D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR">
        <C:comp-filter name="VJOURNAL">{range}</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#
    )
}

/// Client issue item 3: the default calendar refused VJOURNAL with 403, so jtx Board
/// users had nowhere for their notes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_calendar_keeps_journals_for_jtx_board() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let props = dav
        .req("PROPFIND", CAL)
        .header("Depth", "0")
        .body(r#"<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:supported-calendar-component-set/></D:prop></D:propfind>"#)
        .send()
        .await
        .status(207);
    for comp in ["VEVENT", "VTODO", "VJOURNAL"] {
        assert!(
            props
                .text()
                .contains(&format!(r#"<C:comp name="{comp}"/>"#)),
            "the default calendar should offer {comp}: {}",
            props.text()
        );
    }

    let note = journal("note-1", "20261105");
    put(&dav, &format!("{CAL}note-1.ics"), &note)
        .await
        .status(201);
    let got = dav.get(&format!("{CAL}note-1.ics")).await.status(200);
    assert_eq!(got.text(), note, "returned byte for byte");
    put(
        &dav,
        &format!("{CAL}e1.ics"),
        &event("e1", "20261105T100000Z", "20261105T110000Z", ""),
    )
    .await
    .status(201);

    let note_href = format!("{CAL}note-1.ics");
    let all = dav
        .req("REPORT", CAL)
        .header("Depth", "1")
        .body(journal_query(None))
        .send()
        .await
        .status(207)
        .href_set(&[&note_href]);
    assert!(all.prop("calendar-data").contains("BEGIN:VJOURNAL"));
    dav.req("REPORT", CAL)
        .header("Depth", "1")
        .body(journal_query(Some((
            "20261101T000000Z",
            "20261201T000000Z",
        ))))
        .send()
        .await
        .status(207)
        .href_set(&[&note_href]);
    dav.req("REPORT", CAL)
        .header("Depth", "1")
        .body(journal_query(Some((
            "20261201T000000Z",
            "20270101T000000Z",
        ))))
        .send()
        .await
        .status(207)
        .href_set(&[]);
}

/// A calendar-query body whose filter is `filter` (the inside of `C:filter`).
fn query_with_filter(filter: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
        <D:prop><D:getetag/></D:prop><C:filter>{filter}</C:filter></C:calendar-query>"#
    )
}

/// Client issue item 5: a search over every component type (the Python caldav
/// library's `search(start, end)`, a text search) names no component in its filter,
/// and matched nothing or was refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_without_a_component_type_searches_every_component() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    put(
        &dav,
        &format!("{CAL}lunch.ics"),
        &event("lunch", "20261105T120000Z", "20261105T130000Z", "")
            .replace("SUMMARY:lunch", "SUMMARY:Team lunch"),
    )
    .await
    .status(201);
    put(
        &dav,
        &format!("{CAL}far.ics"),
        &event("far", "20300101T100000Z", "20300101T110000Z", ""),
    )
    .await
    .status(201);
    put(
        &dav,
        &format!("{CAL}note.ics"),
        &journal("note", "20261106"),
    )
    .await
    .status(201);
    let todo = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTODO\r\nUID:task\r\n\
DTSTAMP:20260101T000000Z\r\nDUE:20261107T170000Z\r\nSUMMARY:Book the team room\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
    put(&dav, &format!("{CAL}task.ics"), todo).await.status(201);

    let november = r#"<C:time-range start="20261101T000000Z" end="20261201T000000Z"/>"#;
    let team = r#"<C:prop-filter name="SUMMARY"><C:text-match>TEAM</C:text-match></C:prop-filter>"#;
    let cases = [
        // A time range right on VCALENDAR: events, journals and tasks alike.
        (
            format!(r#"<C:comp-filter name="VCALENDAR">{november}</C:comp-filter>"#),
            vec!["lunch.ics", "note.ics", "task.ics"],
        ),
        // A text search on VCALENDAR: every component's SUMMARY.
        (
            format!(r#"<C:comp-filter name="VCALENDAR">{team}</C:comp-filter>"#),
            vec!["lunch.ics", "task.ics"],
        ),
        // Both at once must hold for the same component.
        (
            format!(
                r#"<C:comp-filter name="VCALENDAR"><C:time-range start="20261107T000000Z" end="20261108T000000Z"/>{team}</C:comp-filter>"#
            ),
            vec!["task.ics"],
        ),
        // A prop-filter straight in the filter, with no comp-filter at all.
        (team.to_owned(), vec!["lunch.ics", "task.ics"]),
        // A property of the VCALENDAR itself still matches there.
        (
            r#"<C:comp-filter name="VCALENDAR"><C:prop-filter name="PRODID"><C:text-match>jtx</C:text-match></C:prop-filter></C:comp-filter>"#
                .to_owned(),
            vec!["note.ics"],
        ),
        // Negated and undefined properties are tested on the component too.
        (
            r#"<C:comp-filter name="VCALENDAR"><C:prop-filter name="DTEND"><C:is-not-defined/></C:prop-filter></C:comp-filter>"#
                .to_owned(),
            vec!["note.ics", "task.ics"],
        ),
        // A component named without its VCALENDAR.
        (
            r#"<C:comp-filter name="VJOURNAL"/>"#.to_owned(),
            vec!["note.ics"],
        ),
    ];
    for (filter, expected) in cases {
        let mut got = dav
            .req("REPORT", CAL)
            .header("Depth", "1")
            .body(query_with_filter(&filter))
            .send()
            .await
            .status(207)
            .hrefs();
        got.sort();
        let expected: Vec<String> = expected.iter().map(|n| format!("{CAL}{n}")).collect();
        assert_eq!(got, expected, "{filter}");
    }

    // Filters that are really invalid keep their RFC 4791 preconditions.
    for invalid in [
        r#"<C:comp-filter name="VCALENDAR"/><C:comp-filter name="VCALENDAR"/>"#.to_owned(),
        format!(r#"{november}{november}"#),
        r#"<C:comp-filter name="VCALENDAR"><C:time-range start="20261201T000000Z" end="20261101T000000Z"/></C:comp-filter>"#.to_owned(),
        format!(r#"<C:comp-filter name="VCALENDAR"><C:is-not-defined/></C:comp-filter>{team}"#),
    ] {
        dav.req("REPORT", CAL)
            .body(query_with_filter(&invalid))
            .send()
            .await
            .status(403)
            .says("valid-filter");
    }
    dav.req("REPORT", CAL)
        .body(query_with_filter("<C:regex>.*</C:regex>"))
        .send()
        .await
        .status(403)
        .says("supported-filter");
}

/// Client issue item 5: calendar-color under Apple's name, which DAVx5 and Thunderbird
/// use too, comes back as each client wrote it, and persists across a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_colour_and_order_round_trip_as_clients_write_them() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let colour_of = |path: &'static str| {
        let dav = dav.clone();
        async move {
            dav.req("PROPFIND", path)
                .header("Depth", "0")
                .body(r#"<D:propfind xmlns:D="DAV:"><D:prop><calendar-color xmlns="http://apple.com/ns/ical/"/><I:calendar-order xmlns:I="http://apple.com/ns/ical/"/></D:prop></D:propfind>"#)
                .send()
                .await
                .status(207)
        }
    };
    // DAVx5 creates calendars with #RRGGBBAA in MKCALENDAR.
    let davx5 = r#"<?xml version="1.0" encoding="UTF-8"?><CAL:mkcalendar xmlns="DAV:" xmlns:CAL="urn:ietf:params:xml:ns:caldav" xmlns:ICAL="http://apple.com/ns/ical/"><set><prop><displayname>Phone</displayname><ICAL:calendar-color>#0082C9FF</ICAL:calendar-color></prop></set></CAL:mkcalendar>"#;
    dav.req("MKCALENDAR", "/dav/calendars/alice/phone/")
        .body(davx5)
        .send()
        .await
        .status(201);
    assert_eq!(
        colour_of("/dav/calendars/alice/phone/")
            .await
            .prop("calendar-color"),
        "#0082C9FF"
    );
    // Thunderbird sets #RRGGBB (some clients in lower case) and reads back that form.
    for (colour, order) in [("#a8c2e1", "2"), ("#FF2968", "-1"), ("#11223344", "0")] {
        let patch = format!(
            r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><A:calendar-color xmlns:A="http://apple.com/ns/ical/">{colour}</A:calendar-color><A:calendar-order xmlns:A="http://apple.com/ns/ical/">{order}</A:calendar-order></D:prop></D:set></D:propertyupdate>"#
        );
        let done = dav
            .req("PROPPATCH", CAL)
            .body(patch)
            .send()
            .await
            .status(207);
        assert!(!done.text().contains("409"), "{}", done.text());
        let got = colour_of(CAL).await;
        assert_eq!(got.prop("calendar-color"), colour);
        assert_eq!(got.prop("calendar-order"), order);
    }
    // Not a colour: refused with a reason, the old value kept.
    let bad = r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><A:calendar-color xmlns:A="http://apple.com/ns/ical/">purple</A:calendar-color></D:prop></D:set></D:propertyupdate>"#;
    dav.req("PROPPATCH", CAL)
        .body(bad)
        .send()
        .await
        .status(207)
        .says("409");
    assert_eq!(colour_of(CAL).await.prop("calendar-color"), "#11223344");
    // Removed, it is gone (404 in PROPFIND).
    let remove = r#"<D:propertyupdate xmlns:D="DAV:"><D:remove><D:prop><A:calendar-color xmlns:A="http://apple.com/ns/ical/"/></D:prop></D:remove></D:propertyupdate>"#;
    dav.req("PROPPATCH", CAL)
        .body(remove)
        .send()
        .await
        .status(207);
    assert!(colour_of(CAL).await.text().contains("404"));

    // Kept in the database: a restarted server returns it.
    let mut srv = srv;
    let settings = crate::common::server::settings(srv.dir.path(), "");
    srv.running.take().unwrap().shutdown().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    srv.running = Some(davgate::server::start_on(settings, listener).await.unwrap());
    let resp = srv
        .alice()
        .req("PROPFIND", "/dav/calendars/alice/phone/")
        .header("Depth", "0")
        .body(r#"<D:propfind xmlns:D="DAV:"><D:prop><I:calendar-color xmlns:I="http://apple.com/ns/ical/"/></D:prop></D:propfind>"#)
        .send()
        .await
        .status(207);
    assert_eq!(resp.prop("calendar-color"), "#0082C9FF");
}
