//! CardDAV: address books, vCard 3.0 and 4.0, queries with collations and limits,
//! multiget with property selection, and macOS Contacts' one-address-book view.

use crate::caldav::CAL;
use crate::common::{Dav, TestServer};

pub const BOOK: &str = "/dav/addressbooks/alice/default/";

pub fn card(uid: &str, name: &str, email: &str, version: &str) -> String {
    format!(
        "BEGIN:VCARD\r\nVERSION:{version}\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\nEMAIL;TYPE=work:{email}\r\nTEL:+1 555 0100\r\nEND:VCARD\r\n"
    )
}

async fn put(dav: &Dav, path: &str, body: &str) -> crate::common::client::Resp {
    dav.req("PUT", path)
        .header("Content-Type", "text/vcard")
        .body(body.to_owned())
        .send()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_books_take_vcard_3_and_4_and_refuse_broken_ones() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let mk = r#"<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype><D:displayname>Friends</D:displayname><CR:addressbook-description>People</CR:addressbook-description></D:prop></D:set></D:mkcol>"#;
    dav.req("MKCOL", "/dav/addressbooks/alice/friends/")
        .body(mk)
        .send()
        .await
        .status(201);
    let props = dav
        .req("PROPFIND", "/dav/addressbooks/alice/friends/")
        .header("Depth", "0")
        .body(r#"<D:propfind xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:prop><D:displayname/><CR:addressbook-description/><CR:supported-address-data/><D:resourcetype/></D:prop></D:propfind>"#)
        .send()
        .await
        .status(207);
    assert_eq!(props.prop("displayname"), "Friends");
    assert!(
        props.text().contains("<CR:addressbook/>") && props.text().contains(r#"version="4.0""#),
        "{}",
        props.text()
    );
    let patch = r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>Good friends</D:displayname></D:prop></D:set></D:propertyupdate>"#;
    dav.req("PROPPATCH", "/dav/addressbooks/alice/friends/")
        .body(patch)
        .send()
        .await
        .status(207);

    put(
        &dav,
        &format!("{BOOK}ann.vcf"),
        &card("ann", "Ann Smith", "ann@example.org", "3.0"),
    )
    .await
    .status(201);
    put(
        &dav,
        &format!("{BOOK}bob.vcf"),
        &card("bob", "Bob Jones", "bob@example.com", "4.0"),
    )
    .await
    .status(201);
    let text = card("ann", "Ann Smith", "ann@example.org", "3.0");
    assert_eq!(
        dav.get(&format!("{BOOK}ann.vcf")).await.status(200).text(),
        text
    );
    put(
        &dav,
        &format!("{BOOK}junk.vcf"),
        "BEGIN:VCARD\r\nEND:VCARD\r\n",
    )
    .await
    .status(403)
    .says("valid-address-data");
    put(
        &dav,
        &format!("{BOOK}nouid.vcf"),
        &text.replace("UID:ann\r\n", ""),
    )
    .await
    .status(403)
    .says("UID");
    put(&dav, &format!("{BOOK}ann2.vcf"), &text)
        .await
        .status(409)
        .says("no-uid-conflict");
    // A vCard does not go into a calendar, nor an event into an address book.
    put(&dav, &format!("{CAL}ann.vcf"), &text).await.status(403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_match_with_collations_and_honour_limits() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    put(
        &dav,
        &format!("{BOOK}ann.vcf"),
        &card("ann", "Ann Smith", "Ann@Example.org", "3.0"),
    )
    .await
    .status(201);
    put(
        &dav,
        &format!("{BOOK}bob.vcf"),
        &card("bob", "Bob Jones", "bob@example.com", "4.0"),
    )
    .await
    .status(201);
    put(
        &dav,
        &format!("{BOOK}cy.vcf"),
        &card("cy", "Cy Smithers", "cy@example.net", "4.0"),
    )
    .await
    .status(201);
    let query = |filter: &str, limit: &str| {
        format!(
            r#"<CR:addressbook-query xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><CR:address-data><CR:prop name="FN"/><CR:prop name="EMAIL"/></CR:address-data></D:prop>{filter}{limit}</CR:addressbook-query>"#
        )
    };
    let by_email = query(
        r#"<CR:filter><CR:prop-filter name="EMAIL"><CR:text-match collation="i;unicode-casemap" match-type="equals">ann@example.ORG</CR:text-match></CR:prop-filter></CR:filter>"#,
        "",
    );
    let resp = dav
        .req("REPORT", BOOK)
        .header("Depth", "1")
        .body(by_email)
        .send()
        .await
        .status(207);
    assert_eq!(resp.hrefs(), [format!("{BOOK}ann.vcf")]);
    let data = resp.prop("address-data");
    assert!(
        data.contains("FN:Ann Smith") && data.contains("EMAIL") && !data.contains("TEL"),
        "property selection: {data}"
    );
    let allof = query(
        r#"<CR:filter test="allof"><CR:prop-filter name="FN"><CR:text-match match-type="starts-with">cy</CR:text-match></CR:prop-filter><CR:prop-filter name="EMAIL"><CR:text-match match-type="ends-with">.net</CR:text-match></CR:prop-filter></CR:filter>"#,
        "",
    );
    assert_eq!(
        dav.req("REPORT", BOOK).body(allof).send().await.hrefs(),
        [format!("{BOOK}cy.vcf")]
    );
    let anyof = query(
        r#"<CR:filter test="anyof"><CR:prop-filter name="FN"><CR:text-match>smith</CR:text-match></CR:prop-filter><CR:prop-filter name="EMAIL"><CR:text-match>.com</CR:text-match></CR:prop-filter></CR:filter>"#,
        "",
    );
    assert_eq!(
        dav.req("REPORT", BOOK)
            .body(anyof.clone())
            .send()
            .await
            .hrefs()
            .len(),
        3
    );
    let limited = query(
        r#"<CR:filter><CR:prop-filter name="FN"><CR:text-match>smith</CR:text-match></CR:prop-filter></CR:filter>"#,
        "<CR:limit><CR:nresults>1</CR:nresults></CR:limit>",
    );
    let resp = dav
        .req("REPORT", BOOK)
        .body(limited)
        .send()
        .await
        .status(207);
    assert!(
        resp.text().contains("507") && resp.text().contains("number-of-matches-within-limits"),
        "{}",
        resp.text()
    );
    assert_eq!(resp.values("address-data").len(), 1);

    let multiget = format!(
        r#"<CR:addressbook-multiget xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><CR:address-data/></D:prop><D:href>{BOOK}bob.vcf</D:href><D:href>http://example.org{BOOK}cy.vcf</D:href></CR:addressbook-multiget>"#
    );
    let got = dav
        .req("REPORT", BOOK)
        .body(multiget)
        .send()
        .await
        .status(207);
    assert_eq!(got.values("address-data").len(), 2, "{}", got.text());
    dav.delete(&format!("{BOOK}bob.vcf")).await.status(204);
}

/// Apple's Contacts apps, on macOS and on iOS, use one address book per account; iOS
/// syncs through its account daemon, whose user agent is the same for calendars.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apple_contacts_on_macos_and_ios_sees_only_the_default_address_book() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.mkcol("/dav/addressbooks/alice/work/").await.status(201);
    dav.req("MKCALENDAR", "/dav/calendars/alice/work/")
        .send()
        .await
        .status(201);
    let all = dav
        .propfind("/dav/addressbooks/alice/", "1")
        .await
        .status(207);
    assert_eq!(all.hrefs().len(), 3, "{:?}", all.hrefs());
    for agent in [
        "macOS/15.1 (24B83) AddressBookCore/2504.2",
        "iOS/17.0 (21A329) AddressBookCore/1",
        "iOS/16.6 (20G75) dataaccessd/1.0",
    ] {
        let apple = dav
            .req("PROPFIND", "/dav/addressbooks/alice/")
            .header("Depth", "1")
            .header("User-Agent", agent)
            .send()
            .await
            .status(207);
        assert_eq!(
            apple.hrefs(),
            [
                "/dav/addressbooks/alice/",
                "/dav/addressbooks/alice/default/"
            ],
            "{agent}"
        );
    }
    // The same iOS daemon syncs calendars, and sees every one of them.
    let calendars = dav
        .req("PROPFIND", "/dav/calendars/alice/")
        .header("Depth", "1")
        .header("User-Agent", "iOS/16.6 (20G75) dataaccessd/1.0")
        .send()
        .await
        .status(207)
        .hrefs();
    assert_eq!(calendars.len(), 3, "{calendars:?}");
}

/// Apple's colour on an address book means nothing to the server, but a client that
/// sets it (with MKCOL or PROPPATCH) gets it back instead of a 403.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_book_keeps_a_colour_a_client_gives_it() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let patch = r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><I:calendar-color xmlns:I="http://apple.com/ns/ical/">#FF2968</I:calendar-color></D:prop></D:set></D:propertyupdate>"#;
    let done = dav
        .req("PROPPATCH", BOOK)
        .body(patch)
        .send()
        .await
        .status(207);
    assert!(done.text().contains("200 OK"), "{}", done.text());
    let colour = dav
        .req("PROPFIND", BOOK)
        .header("Depth", "0")
        .body(r#"<D:propfind xmlns:D="DAV:"><D:prop><I:calendar-color xmlns:I="http://apple.com/ns/ical/"/></D:prop></D:propfind>"#)
        .send()
        .await
        .status(207)
        .prop("calendar-color");
    assert_eq!(colour, "#FF2968");
}
