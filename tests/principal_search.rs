//! Looking people up (RFC 3744 principal-property-search and
//! principal-search-property-set, as Apple Calendar, Contacts and Thunderbird send
//! them), and accounts named by e-mail address through discovery.

use davgate_storage::CollectionKind;

use crate::common::client::{Resp, elements};
use crate::common::server::PASSWORD;
use crate::common::{Dav, TestServer};

const PRINCIPALS: &str = "/dav/principals/";

/// alice shares her calendar with bob and carol@example.org; dave shares nothing.
async fn people() -> TestServer {
    let srv = TestServer::start().await;
    for name in ["bob", "carol@example.org", "dave"] {
        srv.add_account(name).await;
    }
    // Default collections appear on each account's first CalDAV request.
    for name in ["alice", "bob", "carol@example.org", "dave"] {
        srv.alice()
            .as_user(name, PASSWORD)
            .propfind("/dav/", "0")
            .await
            .status(207);
    }
    let alice = srv.account("alice").await;
    let calendar = srv
        .store
        .collection(alice.id, CollectionKind::Calendar, "default")
        .await
        .unwrap()
        .expect("alice's default calendar");
    for grantee in ["bob", "carol@example.org"] {
        let grantee = srv.account(grantee).await;
        srv.store
            .share(calendar.id, grantee.id, true)
            .await
            .unwrap();
    }
    srv
}

/// A principal-property-search body: `(property element, match-type, needle)` searches
/// combined by `test`, returning `props`.
fn search(test: &str, searches: &[(&str, &str, &str)], props: &str) -> String {
    let searches: String = searches
        .iter()
        .map(|(prop, match_type, needle)| {
            format!(
                r#"<D:property-search><D:prop>{prop}</D:prop><D:match match-type="{match_type}">{needle}</D:match></D:property-search>"#
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><D:principal-property-search xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/" test="{test}">{searches}<D:prop>{props}</D:prop></D:principal-property-search>"#
    )
}

/// The href of each `D:response` (not those inside its properties), sorted.
fn principals_found(resp: &Resp) -> Vec<String> {
    let mut hrefs: Vec<String> = resp
        .text()
        .split("<D:response>")
        .skip(1)
        .filter_map(|response| elements(response, "href").into_iter().next())
        .collect();
    hrefs.sort();
    hrefs
}

async fn found(dav: &Dav, path: &str, body: String) -> Vec<String> {
    let resp = dav
        .req("REPORT", path)
        .header("Depth", "0")
        .body(body)
        .send()
        .await
        .status(207);
    principals_found(&resp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_are_found_among_those_who_share_with_the_user() {
    let srv = people().await;
    let dav = srv.alice();
    let name = "<D:displayname/>";
    let email = "<CS:email-address-set/>";
    let address = "<C:calendar-user-address-set/>";

    // What can be searched, as a client asks before offering a search box.
    let set = dav
        .req("REPORT", PRINCIPALS)
        .header("Depth", "0")
        .body(r#"<D:principal-search-property-set xmlns:D="DAV:"/>"#)
        .send()
        .await
        .status(200);
    for prop in [
        "displayname",
        "calendar-user-address-set",
        "email-address-set",
    ] {
        assert!(set.text().contains(prop), "{}", set.text());
    }
    assert!(set.text().contains("<D:description xml:lang=\"en\">"));

    // Apple Calendar, as the user types an attendee: anyof, starts-with, any case.
    let apple = search(
        "anyof",
        &[(name, "starts-with", "CAR"), (email, "starts-with", "CAR")],
        "<D:displayname/><C:calendar-user-address-set/><CS:email-address-set/><D:principal-URL/><C:calendar-user-type/>",
    );
    let resp = dav
        .req("REPORT", PRINCIPALS)
        .header("Depth", "0")
        .body(apple)
        .send()
        .await
        .status(207);
    assert_eq!(
        principals_found(&resp),
        ["/dav/principals/carol@example.org/"]
    );
    assert_eq!(resp.prop("displayname"), "carol@example.org");
    assert_eq!(resp.prop("email-address"), "carol@example.org");
    assert_eq!(resp.prop("calendar-user-type"), "INDIVIDUAL");
    assert!(
        resp.values("href")
            .contains(&"mailto:carol@example.org".to_owned()),
        "{}",
        resp.text()
    );

    let cases: Vec<(String, Vec<&str>)> = vec![
        // Contains is the default, and finds everyone visible for an empty needle…
        (
            search("anyof", &[(name, "contains", "")], name),
            vec!["alice", "bob", "carol@example.org"],
        ),
        // …but never dave, who shares nothing with alice, however exact the search.
        (search("anyof", &[(name, "equals", "dave")], name), vec![]),
        // Equals is the whole value, in any case.
        (
            search("allof", &[(name, "equals", "BOB")], name),
            vec!["bob"],
        ),
        (search("allof", &[(name, "equals", "bo")], name), vec![]),
        // An address as a client writes it: mailto:, bare, or only the domain.
        (
            search(
                "anyof",
                &[(address, "equals", "MAILTO:carol@example.org")],
                name,
            ),
            vec!["carol@example.org"],
        ),
        (
            search("anyof", &[(address, "ends-with", "@example.org")], name),
            vec!["carol@example.org"],
        ),
        // allof: every condition must hold.
        (
            search(
                "allof",
                &[(name, "contains", "o"), (email, "contains", "example")],
                name,
            ),
            vec!["carol@example.org"],
        ),
        // A property no account has (first-name) finds nothing.
        (
            search("anyof", &[("<CS:first-name/>", "contains", "")], name),
            vec![],
        ),
    ];
    for (body, expected) in cases {
        let expected: Vec<String> = expected
            .iter()
            .map(|user| format!("/dav/principals/{user}/"))
            .collect();
        assert_eq!(
            found(&dav, PRINCIPALS, body.clone()).await,
            expected,
            "{body}"
        );
    }

    // bob sees alice (she shares with him), not carol: they share nothing together.
    let bob = dav.as_user("bob", PASSWORD);
    assert_eq!(
        found(
            &bob,
            PRINCIPALS,
            search("anyof", &[(name, "contains", "")], name)
        )
        .await,
        ["/dav/principals/alice/", "/dav/principals/bob/"]
    );
    // dave finds only himself.
    let dave = dav.as_user("dave", PASSWORD);
    assert_eq!(
        found(
            &dave,
            PRINCIPALS,
            search("anyof", &[(name, "contains", "")], name)
        )
        .await,
        ["/dav/principals/dave/"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn principal_searches_answer_where_clients_send_them() {
    let srv = people().await;
    let dav = srv.alice();
    let name = "<D:displayname/>";

    // Principals advertise both reports, which is what turns lookup on in macOS.
    let reports = dav
        .props("/dav/principals/alice/", "0", &["supported-report-set"])
        .await
        .status(207);
    for report in ["principal-property-search", "principal-search-property-set"] {
        assert!(reports.text().contains(report), "{}", reports.text());
    }

    // Thunderbird looks for its own principal by calendar home, at Depth 1.
    let thunderbird = search(
        "allof",
        &[("<C:calendar-home-set/>", "contains", "/dav/calendars/alice")],
        "<C:calendar-home-set/><C:calendar-user-address-set/>",
    );
    let resp = dav
        .req("REPORT", PRINCIPALS)
        .header("Depth", "1")
        .body(thunderbird)
        .send()
        .await
        .status(207);
    assert_eq!(principals_found(&resp), ["/dav/principals/alice/"]);
    assert_eq!(resp.prop("calendar-home-set"), "/dav/calendars/alice/");

    // On a principal URL too.
    assert_eq!(
        found(
            &dav,
            "/dav/principals/alice/",
            search("anyof", &[(name, "equals", "bob")], name)
        )
        .await,
        ["/dav/principals/bob/"]
    );
    // Elsewhere only with apply-to-principal-collection-set.
    let body = search("anyof", &[(name, "equals", "bob")], name);
    dav.req("REPORT", "/dav/calendars/alice/default/")
        .body(body.clone())
        .send()
        .await
        .status(403)
        .says("supported-report");
    let anywhere = body.replace(
        "<D:prop><D:displayname/></D:prop></D:principal",
        "<D:apply-to-principal-collection-set/><D:prop><D:displayname/></D:prop></D:principal",
    );
    assert_eq!(
        found(&dav, "/dav/calendars/alice/default/", anywhere).await,
        ["/dav/principals/bob/"]
    );

    // A bounded answer: past the client's limit, a 507 says to narrow the search.
    let limited = search("anyof", &[(name, "contains", "")], name).replace(
        "<D:prop><D:displayname/></D:prop></D:principal",
        "<D:limit><D:nresults>2</D:nresults></D:limit><D:prop><D:displayname/></D:prop></D:principal",
    );
    let resp = dav
        .req("REPORT", PRINCIPALS)
        .body(limited)
        .send()
        .await
        .status(207);
    assert_eq!(resp.values("displayname").len(), 2, "{}", resp.text());
    assert!(
        resp.text().contains("507") && resp.text().contains("number-of-matches-within-limits"),
        "{}",
        resp.text()
    );

    // Broken searches are a 400 with the reason.
    dav.req("REPORT", PRINCIPALS)
        .body(r#"<D:principal-property-search xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:principal-property-search>"#)
        .send()
        .await
        .status(400)
        .says("property-search");
}

/// Client issue item 4: accounts named by e-mail address, from the bare server address
/// to the calendar, with Basic auth, and the principal and homes reached with `@` raw
/// or encoded as `%40` are the same resources with the same hrefs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_mail_accounts_go_through_discovery_with_raw_and_encoded_at() {
    let srv = TestServer::start().await;
    // Dav::new installs the TLS provider reqwest needs before any client is built.
    let anonymous = srv.anonymous();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for user in ["alice@example.org", "a.b+sync@example.org"] {
        srv.add_account(user).await;
        // Basic auth carries the address as the user name.
        let dav = srv.alice().as_user(user, PASSWORD);
        let moved = no_redirects
            .request(
                reqwest::Method::from_bytes(b"PROPFIND").unwrap(),
                anonymous.url("/.well-known/caldav"),
            )
            .basic_auth(user, Some(PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(moved.status(), 301, "{user}");
        let root = moved.headers()["location"].to_str().unwrap().to_owned();
        let principal = dav
            .props(&root, "0", &["current-user-principal"])
            .await
            .status(207)
            .prop("current-user-principal");
        let encoded_user = user.replace('+', "%2B");
        assert_eq!(principal, format!("/dav/principals/{encoded_user}/"));
        let body = r#"<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-home-set/><C:calendar-user-address-set/><D:principal-URL/></D:prop></D:propfind>"#;
        let as_found = dav
            .req("PROPFIND", &principal)
            .header("Depth", "0")
            .body(body)
            .send()
            .await
            .status(207);
        let home = as_found.prop("calendar-home-set");
        assert_eq!(home, format!("/dav/calendars/{encoded_user}/"));
        // The principal URL inside calendar-user-address-set is written as its href is.
        let addresses = as_found.values("href");
        assert!(
            addresses.contains(&format!("mailto:{user}"))
                && addresses.iter().filter(|h| **h == principal).count() == 3,
            "{}",
            as_found.text()
        );
        let calendars = dav.propfind(&home, "1").await.status(207).hrefs();
        assert!(
            calendars.contains(&format!("{home}default/")),
            "{calendars:?}"
        );

        // '@' raw or as %40: the same resources, answered with the same hrefs.
        let percent = encoded_user.replace('@', "%40");
        for (raw, encoded) in [
            (principal.clone(), format!("/dav/principals/{percent}/")),
            (home.clone(), format!("/dav/calendars/{percent}/")),
            (
                format!("{home}default/"),
                format!("/dav/calendars/{percent}/default/"),
            ),
        ] {
            let a = dav.propfind(&raw, "0").await.status(207).hrefs();
            let b = dav.propfind(&encoded, "0").await.status(207).hrefs();
            assert_eq!(a, std::slice::from_ref(&raw));
            assert_eq!(a, b, "{encoded}");
        }
        // Another account's address is not a way in.
        dav.propfind("/dav/calendars/alice/", "0").await.status(403);
    }
}
