//! Bounded mutation fuzz of every pure parser that reads client input: XML request
//! bodies, iCalendar and vCard data, URL paths and hrefs, and the `If`, `If-Match`,
//! `If-Range`, `Destination`, `Overwrite`, `Depth`, `Timeout` and `Authorization`
//! headers (the `Range` header's reader is private to `files::ranges` and fuzzed in
//! its own tests).
//!
//! Each target takes real inputs — the golden request bodies, the client-captured
//! calendars and cards under `tests/data`, header values real clients send — mutates
//! them with [`Mutator`] a few thousand times and checks that the parser, and what
//! the server then does with a parsed value, returns instead of panicking. A panic
//! found here is a defect: keep the input as a regression test beside the parser.
//! The HTTP side (no 500, no dropped connection) is `tests/fuzz_http.rs`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, Request};

use crate::auth::basic;
use crate::dav::{ical, vcard};
use crate::files::lock_timeout;
use crate::mutation::Mutator;
use crate::proto::Depth;
use crate::proto::Limits;
use crate::proto::href::decode_href;
use crate::proto::request::{
    parse_mkcalendar, parse_mkcol, parse_propfind, parse_proppatch, parse_report,
};
use crate::route::{IfState, Route, check_if_range, decode_path, parse_conditions};

/// Cases per target: thousands, and still a few seconds for the whole module in debug.
const CASES: usize = 3000;

/// Runs `check` on `cases` mutations of the corpus; fails naming every input that panicked.
fn fuzz(target: &str, corpus: &[Vec<u8>], cases: usize, check: impl Fn(&[u8])) {
    assert!(!corpus.is_empty(), "{target}: empty corpus");
    let seed = Mutator::run_seed();
    let mut mutator = Mutator::new(seed);
    let mut panics = Vec::new();
    for case in 0..cases {
        let input = mutator.pick(corpus);
        let donor = mutator.pick(corpus);
        let mutated = mutator.mutate(input, donor);
        if catch_unwind(AssertUnwindSafe(|| check(&mutated))).is_err() {
            panics.push(format!(
                "case {case}: {:?}",
                String::from_utf8_lossy(&mutated)
            ));
        }
    }
    assert!(
        panics.is_empty(),
        "{target}: {} of {cases} inputs panicked (DAVGATE_FUZZ_SEED={seed}):\n{}",
        panics.len(),
        panics.join("\n")
    );
}

/// Files below `dir` (relative to the crate) whose names end in one of `extensions`.
fn corpus(dir: &str, extensions: &[&str]) -> Vec<Vec<u8>> {
    fn walk(dir: &Path, extensions: &[&str], out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() {
                walk(&path, extensions, out);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| extensions.contains(&e))
            {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(dir),
        extensions,
        &mut paths,
    );
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read(p).expect("corpus file"))
        .collect()
}

fn strings(values: &[&str]) -> Vec<Vec<u8>> {
    values.iter().map(|v| v.as_bytes().to_vec()).collect()
}

#[test]
fn xml_request_bodies() {
    let limits = Limits::DEFAULT;
    fuzz(
        "XML bodies",
        &corpus("tests/golden/requests", &["xml"]),
        CASES,
        |body| {
            let _ = parse_propfind(body, &limits);
            let _ = parse_proppatch(body, &limits);
            let _ = parse_mkcalendar(body, &limits);
            let _ = parse_mkcol(body, &limits);
            if let Ok(report) = parse_report(body, &limits) {
                let _ = format!("{report:?}");
            }
        },
    );
}

#[test]
fn icalendar_objects() {
    let mut inputs = corpus("tests/data/ical", &["ics"]);
    inputs.extend(corpus("tests/data/rfc4791", &["ics"]));
    let options = ical::Options::default();
    let year = ical::TimeRange::between(1_735_689_600, 1_767_225_600).expect("2025");
    let filter = ical::CompFilter::named("VCALENDAR")
        .with_comp(ical::CompFilter::named("VEVENT").with_time_range(year));
    fuzz("iCalendar", &inputs, CASES / 2, |data| {
        // What a PUT runs, then what a query, an expansion and free-busy run.
        let Ok(object) = ical::validate(data) else {
            return;
        };
        let _ = object.matches(&filter, &options);
        let _ = object.expand(&year, &options);
        let _ = object.limit_recurrence_set(&year, &options);
        let _ = object.busy_periods(&year, &options);
    });
}

#[test]
fn vcards() {
    let request = vcard::AddressDataRequest::Props(
        ["FN", "EMAIL", "PHOTO"]
            .map(|name| vcard::PropRequest {
                name: name.into(),
                value: vcard::ValueMode::Full,
            })
            .to_vec(),
    );
    fuzz(
        "vCard",
        &corpus("tests/data/vcard", &["vcf"]),
        CASES,
        |data| {
            if let Ok(card) = vcard::validate(data) {
                let _ = (card.uid(), card.version(), card.display_name());
                let _ = card.address_data(&request);
            }
        },
    );
}

const PATHS: &[&str] = &[
    "/files/",
    "/files/Documents/report%20final.pdf",
    "/files/a/b/c/d.txt",
    "/files/caf%C3%A9/na%C3%AFve.txt",
    "/trash/old.d1700000000/notes.txt",
    "/dav/calendars/alice/work/standup.ics",
    "/dav/addressbooks/alice/contacts/x%40y.vcf",
    "/dav/principals/alice/",
    "/.well-known/caldav",
    "http://example.com/files/x.txt",
    "../work/other.ics",
    "100%.ics",
];

#[test]
fn paths_and_hrefs() {
    fuzz("paths", &strings(PATHS), CASES, |raw| {
        let text = String::from_utf8_lossy(raw);
        let _ = decode_path(&text);
        let _ = decode_href(&text, "/dav/calendars/alice/work/");
        for method in ["GET", "PROPFIND", "OPTIONS", "MOVE"] {
            let Ok(request) = Request::builder().method(method).uri(raw).body(()) else {
                return;
            };
            let (parts, ()) = request.into_parts();
            let _ = Route::from_request(&parts, None);
            let _ = Route::from_request(&parts, Some(&files_host()));
        }
    });
}

/// A files host, so the fuzz also reaches the routes that serve files at `/`.
fn files_host() -> crate::route::FilesHost {
    crate::route::FilesHost::new("localhost").expect("a valid host name")
}

/// `name: value` lines real clients send, the corpus of the header fuzz.
const HEADERS: &[&str] = &[
    "if: (<urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2>)",
    "if: <http://x/files/a.txt> (<opaquelocktoken:e71d4fae-5dec> [\"etag\"]) (Not <DAV:no-lock>)",
    "if: ([W/\"abc\"])",
    "if-match: \"a\", W/\"b\"",
    "if-none-match: *",
    "if-range: \"abc\"",
    "if-range: Thu, 01 Jan 1970 00:00:00 GMT",
    "destination: http://localhost/files/b%20c.txt",
    "destination: /files/folder/",
    "destination: https://host:8443/trash/x.d1/",
    "overwrite: F",
    "depth: infinity",
    "depth: 1",
    "timeout: Infinite, Second-4100000000",
    "timeout: Second-3600",
    "authorization: Basic YWxpY2U6Y29ycmVjdCBob3JzZSBiYXR0ZXJ5",
    "authorization: basic   Ym9iOnNlY3JldDp3aXRoOmNvbG9ucw==",
    "authorization: Bearer abc",
];

#[test]
fn request_headers() {
    fuzz("headers", &strings(HEADERS), CASES * 2, |line| {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            return;
        };
        let mut headers = HeaderMap::new();
        headers.insert(name, value.clone());
        let _ = check_if_range(value.as_bytes());
        let value = Some(value.as_bytes());
        if let Ok(conditions) = parse_conditions(value, value, value) {
            let tokens = conditions.lock_tokens();
            let _ = conditions.if_holds(|_| {
                Some(IfState {
                    etag: Some("abc"),
                    lock_tokens: &tokens,
                })
            });
            let _ = conditions.http_hold("abc");
        }
        let _ = Depth::parse(value);
        let _ = lock_timeout::granted(&headers, Duration::from_secs(3600));
        let _ = basic::parse(&headers);
        for method in ["COPY", "MOVE", "DELETE", "GET"] {
            let mut request = Request::builder()
                .method(method)
                .uri("/files/a.txt")
                .body(())
                .expect("request");
            *request.headers_mut() = headers.clone();
            let (parts, ()) = request.into_parts();
            let _ = Route::from_request(&parts, None);
            let _ = Route::from_request(&parts, Some(&files_host()));
        }
    });
}
