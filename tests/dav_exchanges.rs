//! Golden exchanges: a fixed CalDAV/CardDAV session against a live server, with request
//! bodies captured from real clients (tests/golden/requests) where one exists, and every
//! response compared with `tests/golden/exchanges/NN-name.txt` (status line and pretty
//! XML). Values that change from run to run (ETags, sync tokens, ctags, dates) are masked
//! first. `UPDATE_GOLDEN=1` rewrites the files; review the diff like code.

use std::fs;
use std::path::{Path, PathBuf};

use crate::caldav::put;
use crate::common::golden::{check_text, pretty};
use crate::common::{Dav, TestServer};

/// Where a request body comes from.
enum Body {
    /// `tests/golden/requests/NAME.xml`, as a client sent it.
    Captured(&'static str),
    Inline(&'static str),
}

struct Exchange {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    depth: Option<&'static str>,
    body: Body,
}

const fn ex(
    name: &'static str,
    method: &'static str,
    path: &'static str,
    depth: Option<&'static str>,
    body: Body,
) -> Exchange {
    Exchange {
        name,
        method,
        path,
        depth,
        body,
    }
}

const WEEKLY: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//davgate golden//EN\r\n\
BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n\
BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n\
TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:standup\r\nDTSTAMP:20261001T000000Z\r\n\
DTSTART;TZID=Europe/Berlin:20261019T093000\r\nDTEND;TZID=Europe/Berlin:20261019T094500\r\n\
RRULE:FREQ=WEEKLY;BYDAY=MO\r\nEXDATE;TZID=Europe/Berlin:20261109T093000\r\nSUMMARY:Stand-up\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:standup\r\nDTSTAMP:20261001T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261116T093000\r\n\
DTSTART;TZID=Europe/Berlin:20261116T140000\r\nDTEND;TZID=Europe/Berlin:20261116T141500\r\nSUMMARY:Stand-up (afternoon)\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

const TODO: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//davgate golden//EN\r\n\
BEGIN:VTODO\r\nUID:tax\r\nDTSTAMP:20261001T000000Z\r\nDUE;VALUE=DATE:20261130\r\nSUMMARY:File taxes\r\n\
END:VTODO\r\nEND:VCALENDAR\r\n";

const BROKEN: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//davgate golden//EN\r\n\
BEGIN:VEVENT\r\nUID:broken\r\nDTSTAMP:20261001T000000Z\r\nDTSTART:20261301T250000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

const ADA: &str = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:ada\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\n\
EMAIL;TYPE=work:ada@example.org\r\nTEL:+44 20 7946 0000\r\nEND:VCARD\r\n";

const JOSE: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:jose\r\nFN:José García\r\nN:García;José;;;\r\n\
EMAIL:jose@example.com\r\nEND:VCARD\r\n";

const EXCHANGES: &[Exchange] = &[
    // Discovery, as iOS, macOS Calendar and macOS Contacts do it.
    ex(
        "01-ios-discovery",
        "PROPFIND",
        "/dav/",
        Some("0"),
        Body::Captured("propfind-001"),
    ),
    ex(
        "02-macos-principal",
        "PROPFIND",
        "/dav/principals/alice/",
        Some("0"),
        Body::Captured("propfind-002"),
    ),
    ex(
        "03-macos-contacts-principal",
        "PROPFIND",
        "/dav/principals/alice/",
        Some("0"),
        Body::Captured("propfind-003"),
    ),
    // vdirsyncer creates a calendar; macOS lists the home.
    ex(
        "04-vdirsyncer-mkcalendar",
        "MKCALENDAR",
        "/dav/calendars/alice/work/",
        None,
        Body::Captured("mkcalendar-002"),
    ),
    ex(
        "05-macos-calendar-home",
        "PROPFIND",
        "/dav/calendars/alice/",
        Some("1"),
        Body::Captured("propfind-009"),
    ),
    // DAVx5 checks the sync state, then syncs from scratch.
    ex(
        "06-davx5-sync-state",
        "PROPFIND",
        "/dav/calendars/alice/work/",
        Some("0"),
        Body::Captured("propfind-004"),
    ),
    ex(
        "07-initial-sync",
        "REPORT",
        "/dav/calendars/alice/work/",
        Some("1"),
        Body::Captured("sync-collection-001"),
    ),
    // The Python caldav library's month view, expanded: the exception moves one Monday,
    // the EXDATE drops another, and the zone turns CEST into CET in between.
    ex(
        "08-expanded-month",
        "REPORT",
        "/dav/calendars/alice/work/",
        Some("1"),
        Body::Inline(
            r#"<?xml version='1.0' encoding='utf-8'?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data><C:expand start="20261101T000000Z" end="20261201T000000Z"/></C:calendar-data></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20261101T000000Z" end="20261201T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#,
        ),
    ),
    ex(
        "09-open-todos",
        "REPORT",
        "/dav/calendars/alice/work/",
        Some("1"),
        Body::Inline(
            r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"><C:prop-filter name="COMPLETED"><C:is-not-defined/></C:prop-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#,
        ),
    ),
    ex(
        "10-multiget-with-a-missing-href",
        "REPORT",
        "/dav/calendars/alice/work/",
        None,
        Body::Inline(
            r#"<C:calendar-multiget xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><prop><getetag/><C:calendar-data><C:comp name="VCALENDAR"><C:prop name="VERSION"/><C:comp name="VTODO"><C:prop name="SUMMARY"/><C:prop name="UID"/></C:comp></C:comp></C:calendar-data></prop><href>/dav/calendars/alice/work/tax.ics</href><href>/dav/calendars/alice/work/gone.ics</href></C:calendar-multiget>"#,
        ),
    ),
    ex(
        "11-free-busy",
        "REPORT",
        "/dav/calendars/alice/work/",
        None,
        Body::Inline(
            r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20261109T000000Z" end="20261121T000000Z"/></C:free-busy-query>"#,
        ),
    ),
    ex(
        "12-unknown-sync-token",
        "REPORT",
        "/dav/calendars/alice/work/",
        None,
        Body::Inline(
            r#"<sync-collection xmlns="DAV:"><sync-token>http://example.org/ns/sync/1</sync-token><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>"#,
        ),
    ),
    // CardDAV: a query by e-mail with property selection, and a multiget.
    ex(
        "13-addressbook-query",
        "REPORT",
        "/dav/addressbooks/alice/default/",
        Some("1"),
        Body::Inline(
            r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data><C:prop name="FN"/><C:prop name="EMAIL"/></C:address-data></D:prop><C:filter test="anyof"><C:prop-filter name="EMAIL"><C:text-match collation="i;unicode-casemap" match-type="ends-with">@EXAMPLE.ORG</C:text-match></C:prop-filter></C:filter></C:addressbook-query>"#,
        ),
    ),
    ex(
        "14-addressbook-multiget",
        "REPORT",
        "/dav/addressbooks/alice/default/",
        None,
        Body::Inline(
            r#"<CD:addressbook-multiget xmlns:CD="urn:ietf:params:xml:ns:carddav" xmlns="DAV:"><prop><getetag/><CD:address-data/></prop><href>/dav/addressbooks/alice/default/jose.vcf</href></CD:addressbook-multiget>"#,
        ),
    ),
];

/// Elements whose text differs between runs.
const MASKED: &[&str] = &[
    "getetag",
    "sync-token",
    "getctag",
    "getlastmodified",
    "creationdate",
];

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Replaces the text of every `<p:NAME>…</p:NAME>` in [`MASKED`] with `(NAME)`, and a
/// VFREEBUSY's DTSTAMP (the time of the request) likewise.
fn mask(text: &str) -> String {
    let mut out = text.to_owned();
    for name in MASKED {
        let mut from = 0;
        let needle = format!(":{name}>");
        while let Some(found) = out[from..].find(&needle) {
            let end_of_tag = from + found + needle.len();
            let tag_start = out[..from + found].rfind('<').expect("a tag");
            from = end_of_tag;
            if out[tag_start..].starts_with("</") {
                continue;
            }
            let Some(close) = out[end_of_tag..].find('<') else {
                break;
            };
            let placeholder = format!("({name})");
            out.replace_range(end_of_tag..end_of_tag + close, &placeholder);
            from = end_of_tag + placeholder.len();
        }
    }
    out.lines()
        .map(|line| {
            if line.starts_with("DTSTAMP:") && text.contains("BEGIN:VFREEBUSY") {
                "DTSTAMP:(now)"
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn setup(dav: &Dav) {
    // The first request creates the default collections.
    dav.propfind("/dav/principals/alice/", "0")
        .await
        .status(207);
}

async fn fill(dav: &Dav, exchange: &str) {
    match exchange {
        "06-davx5-sync-state" => {
            for (name, body) in [("standup.ics", WEEKLY), ("tax.ics", TODO)] {
                put(dav, &format!("/dav/calendars/alice/work/{name}"), body)
                    .await
                    .status(201);
            }
        }
        "12-unknown-sync-token" => {
            let resp = put(dav, "/dav/calendars/alice/work/broken.ics", BROKEN).await;
            assert_eq!(resp.status, 403, "{}", resp.text());
        }
        "13-addressbook-query" => {
            for (name, body) in [("ada.vcf", ADA), ("jose.vcf", JOSE)] {
                dav.req("PUT", &format!("/dav/addressbooks/alice/default/{name}"))
                    .header("Content-Type", "text/vcard")
                    .body(body)
                    .send()
                    .await
                    .status(201);
            }
        }
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_session_matches_its_golden_exchanges() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    setup(&dav).await;
    let dir = golden_dir();
    let mut failures = Vec::new();
    for exchange in EXCHANGES {
        fill(&dav, exchange.name).await;
        let mut req = dav.req(exchange.method, exchange.path);
        if let Some(depth) = exchange.depth {
            req = req.header("Depth", depth);
        }
        let body = match exchange.body {
            Body::Captured(name) => {
                fs::read(dir.join("requests").join(format!("{name}.xml"))).expect("captured body")
            }
            Body::Inline(text) => text.as_bytes().to_vec(),
        };
        req = req
            .header("Content-Type", "application/xml; charset=utf-8")
            .body(body);
        let resp = req.send().await;
        let text = resp.text();
        let shown = if text.starts_with("<?xml") {
            pretty(&text)
        } else {
            text.replace("\r\n", "\n")
        };
        let actual = format!(
            "{} {}\n\n{}\n",
            exchange.method,
            resp.status,
            mask(&shown).trim_end()
        );
        let path = dir.join("exchanges").join(format!("{}.txt", exchange.name));
        check_text(&path, &actual, &mut failures);
    }
    // A golden without an exchange would never be compared again.
    for entry in fs::read_dir(dir.join("exchanges")).expect("tests/golden/exchanges") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if !EXCHANGES.iter().any(|e| format!("{}.txt", e.name) == name) {
            failures.push(format!(
                "exchanges/{name} has no exchange in tests/dav_exchanges.rs"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}
