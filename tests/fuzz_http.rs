//! The parser fuzz over HTTP: mutated request bodies (XML, iCalendar, vCard), paths and
//! headers (`If`, `If-Match`, `If-Range`, `Range`, `Destination`, `Overwrite`, `Depth`,
//! `Timeout`, `Authorization`) sent raw to a running server. Every request must get an
//! answer — never a 500, never a closed connection — and the server must keep serving.
//! The pure parsers get thousands of cases each in the library's `parser_fuzz`; here a
//! few hundred per target check what the handlers do with what the parsers let through.
//! The inputs the fuzz found to break the server are kept below as regression tests.

use std::fs;
use std::net::SocketAddr;
use std::path::Path;

#[allow(dead_code)]
#[path = "../src/mutation.rs"]
mod mutation;

use mutation::Mutator;

use crate::common::TestServer;
use crate::common::raw::{self, alice_auth};

/// Requests per target.
const CASES: usize = 250;

const CAL: &str = "/dav/calendars/alice/default/";
const BOOK: &str = "/dav/addressbooks/alice/default/";

/// One raw request: method, target, extra header lines, body.
struct Raw<'a> {
    method: &'a str,
    target: Vec<u8>,
    headers: Vec<(&'a str, Vec<u8>)>,
    body: Vec<u8>,
}

impl<'a> Raw<'a> {
    fn new(method: &'a str, target: &str) -> Self {
        Raw {
            method,
            target: target.as_bytes().to_vec(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn header(mut self, name: &'a str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The bytes on the wire. A mutated value keeps its bytes except line breaks,
    /// which would only make it another request.
    fn bytes(&self) -> Vec<u8> {
        let line = |v: &[u8]| -> Vec<u8> {
            v.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
                .collect()
        };
        let mut out = Vec::new();
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend(line(&self.target).into_iter().filter(|&b| b != b' '));
        out.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        if !self.headers.iter().any(|(n, _)| *n == "Authorization") {
            out.extend_from_slice(format!("Authorization: {}\r\n", alice_auth()).as_bytes());
        }
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend(line(value));
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", self.body.len()).as_bytes());
        out.extend_from_slice(&self.body);
        out
    }
}

/// Sends each request and fails on a 500 or a connection closed without an answer.
struct Checker {
    addr: SocketAddr,
    seed: u64,
    failures: Vec<String>,
}

impl Checker {
    fn new(srv: &TestServer) -> Self {
        Checker {
            addr: srv.addr(),
            seed: Mutator::run_seed(),
            failures: Vec::new(),
        }
    }

    async fn send(&mut self, request: Raw<'_>) -> u16 {
        let wire = request.bytes();
        let response = raw::send(self.addr, &wire).await;
        // 502 is RFC 4918's answer to a COPY or MOVE whose Destination is outside the
        // namespace (§9.8.5), 507 is a full disk or quota; any other 5xx is a defect.
        let expected_5xx = match response.status {
            502 => matches!(request.method, "COPY" | "MOVE"),
            507 => true,
            _ => false,
        };
        if response.status == 0 || (response.status >= 500 && !expected_5xx) {
            self.failures.push(format!(
                "{} answered {:?}\n{}\nrequest: {:?}",
                request.method,
                response.status,
                response.body,
                String::from_utf8_lossy(&wire)
            ));
        }
        response.status
    }

    /// Fails with every bad exchange, and checks the server still answers.
    async fn finish(self, srv: &TestServer, target: &str) {
        assert!(
            self.failures.is_empty(),
            "{target}: {} bad answers (DAVGATE_FUZZ_SEED={}):\n{}",
            self.failures.len(),
            self.seed,
            self.failures.join("\n\n")
        );
        // Not as alice: the Authorization target leaves her address throttled.
        srv.anonymous().get("/healthz").await.status(200);
    }
}

fn read_dir(dir: &str, extension: &str) -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for path in fs::read_dir(&dir)
            .expect("corpus dir")
            .flatten()
            .map(|e| e.path())
        {
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == extension) {
                let name = path.file_stem().unwrap().to_string_lossy().into_owned();
                out.push((name, fs::read(&path).expect("corpus file")));
            }
        }
    }
    out.sort();
    out
}

/// A server with a file, a folder and a calendar event to aim at.
async fn server() -> TestServer {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.put("/files/doc.txt", vec![b'x'; 10_000])
        .await
        .status(201);
    dav.mkcol("/files/folder/").await.status(201);
    let event =
        fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rfc4791/abcd1.ics"))
            .unwrap();
    dav.put(&format!("{CAL}abcd1.ics"), event).await.status(201);
    srv
}

const LOCK_BODY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>
<D:locktype><D:write/></D:locktype><D:owner><D:href>mailto:a@b</D:href></D:owner></D:lockinfo>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_xml_bodies_get_an_answer_not_a_500() {
    let srv = server().await;
    let mut corpus = read_dir("tests/golden/requests", "xml");
    corpus.push(("lock".into(), LOCK_BODY.into()));
    let mut check = Checker::new(&srv);
    let mut mutator = Mutator::new(check.seed);
    for case in 0..CASES * 2 {
        let (kind, input) = mutator.pick(&corpus);
        let donor = &mutator.pick(&corpus).1;
        let body = mutator.mutate(input, donor);
        let on_files = mutator.below(2) == 0;
        let request = match kind.rsplit_once('-').map_or(kind.as_str(), |(k, _)| k) {
            "propfind" if on_files => Raw::new("PROPFIND", "/files/").header("Depth", "1"),
            "propfind" => Raw::new("PROPFIND", CAL).header("Depth", "1"),
            "proppatch" if on_files => Raw::new("PROPPATCH", "/files/doc.txt"),
            "proppatch" => Raw::new("PROPPATCH", CAL),
            "mkcalendar" => Raw::new("MKCALENDAR", "/dav/calendars/alice/fz/"),
            "mkcol" if on_files => Raw::new("MKCOL", "/files/fz/"),
            "mkcol" => Raw::new("MKCOL", "/dav/addressbooks/alice/fz/"),
            "lock" => Raw::new("LOCK", "/files/folder/lock.txt"),
            k if k.starts_with("addressbook") => Raw::new("REPORT", BOOK).header("Depth", "1"),
            _ => Raw::new("REPORT", CAL).header("Depth", "1"),
        };
        let mut request = request.body(body);
        if case % 7 == 0 {
            request = request.header("Content-Type", "application/xml; charset=utf-8");
        }
        check.send(request).await;
    }
    check.finish(&srv, "XML bodies").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_calendars_and_cards_get_an_answer_not_a_500() {
    let srv = server().await;
    let mut calendars = read_dir("tests/data/ical", "ics");
    calendars.extend(read_dir("tests/data/rfc4791", "ics"));
    let cards = read_dir("tests/data/vcard", "vcf");
    let mut check = Checker::new(&srv);
    let mut mutator = Mutator::new(check.seed);
    for case in 0..CASES {
        let (collection, corpus, ext) = if case % 2 == 0 {
            (CAL, &calendars, "ics")
        } else {
            (BOOK, &cards, "vcf")
        };
        let input = &mutator.pick(corpus).1;
        let donor = &mutator.pick(corpus).1;
        let body = mutator.mutate(input, donor);
        let path = format!("{collection}fz{case}.{ext}");
        check.send(Raw::new("PUT", &path).body(body)).await;
    }
    // What was stored is then read back by the reports that parse it again.
    for name in [
        "calendar-query-004",
        "calendar-query-007",
        "calendar-multiget-001",
        "free-busy-query-001",
        "sync-collection-001",
    ] {
        let body = fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/requests/{name}.xml")),
        )
        .unwrap();
        check
            .send(Raw::new("REPORT", CAL).header("Depth", "1").body(body))
            .await;
    }
    for name in ["addressbook-query-001", "addressbook-query-003"] {
        let body = fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/requests/{name}.xml")),
        )
        .unwrap();
        check
            .send(Raw::new("REPORT", BOOK).header("Depth", "1").body(body))
            .await;
    }
    check
        .send(Raw::new("PROPFIND", CAL).header("Depth", "1"))
        .await;
    check.finish(&srv, "calendars and cards").await;
}

const PATHS: &[&str] = &[
    "/files/doc.txt",
    "/files/folder/",
    "/files/caf%C3%A9%20cr%C3%A8me/na%C3%AFve.txt",
    "/trash/",
    "/dav/calendars/alice/default/abcd1.ics",
    "/dav/addressbooks/alice/default/",
    "/dav/principals/alice/",
    "/.well-known/caldav",
    "/",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_paths_get_an_answer_not_a_500() {
    let srv = server().await;
    let corpus: Vec<Vec<u8>> = PATHS.iter().map(|p| p.as_bytes().to_vec()).collect();
    let mut check = Checker::new(&srv);
    let mut mutator = Mutator::new(check.seed);
    for case in 0..CASES * 2 {
        let input = mutator.pick(&corpus);
        let donor = mutator.pick(&corpus);
        let target = mutator.mutate(input, donor);
        let method = ["GET", "HEAD", "PROPFIND", "OPTIONS", "MKCOL"][case % 5];
        let mut request = Raw::new(method, "");
        request.target = target;
        if method == "PROPFIND" {
            request = request.header("Depth", "1");
        }
        check.send(request).await;
    }
    check.finish(&srv, "paths").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_headers_get_an_answer_not_a_500() {
    let srv = server().await;
    // (header, values real clients send, the method and path it goes with)
    let targets: &[(&str, &[&str], &str, &str)] = &[
        (
            "Range",
            &[
                "bytes=0-499",
                "bytes=500-999, -100",
                "bytes=9500-",
                "bytes=0-0,-1",
            ],
            "GET",
            "/files/doc.txt",
        ),
        (
            "If",
            &[
                "(<urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2>)",
                "</files/doc.txt> ([\"abc\"]) (Not <DAV:no-lock>)",
            ],
            "PUT",
            "/files/folder/if.txt",
        ),
        (
            "If-Match",
            &["\"abc\", W/\"def\"", "*"],
            "PUT",
            "/files/folder/m.txt",
        ),
        (
            "If-Range",
            &["\"abc\"", "Thu, 01 Jan 1970 00:00:00 GMT"],
            "GET",
            "/files/doc.txt",
        ),
        (
            "Destination",
            &[
                "http://localhost/files/folder/copy.txt",
                "/files/folder/caf%C3%A9.txt",
                "http://localhost/trash/x",
            ],
            "COPY",
            "/files/doc.txt",
        ),
        ("Overwrite", &["F", "T"], "COPY", "/files/doc.txt"),
        ("Depth", &["0", "1", "infinity"], "PROPFIND", "/files/"),
        // The CalDAV room reads the same headers with its own code.
        ("Depth", &["0", "1", "infinity"], "PROPFIND", CAL),
        (
            "If-Match",
            &["\"abc\", W/\"def\"", "*"],
            "PUT",
            "/dav/calendars/alice/default/abcd1.ics",
        ),
        (
            "If-None-Match",
            &["*", "\"abc\""],
            "PUT",
            "/dav/calendars/alice/default/new.ics",
        ),
        (
            "Timeout",
            &["Infinite, Second-4100000000", "Second-3600"],
            "LOCK",
            "/files/folder/lock.txt",
        ),
        (
            "Authorization",
            &[
                "Basic YWxpY2U6Y29ycmVjdCBob3JzZSBiYXR0ZXJ5",
                "Basic Ym9iOnNlY3JldDp3aXRoOmNvbG9ucw==",
            ],
            "GET",
            "/files/doc.txt",
        ),
    ];
    let event =
        fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rfc4791/abcd1.ics"))
            .unwrap();
    let mut check = Checker::new(&srv);
    let mut mutator = Mutator::new(check.seed);
    // Authorization last: wrong passwords throttle the address for what follows.
    for (name, values, method, path) in targets {
        let corpus: Vec<Vec<u8>> = values.iter().map(|v| v.as_bytes().to_vec()).collect();
        for case in 0..CASES / 2 {
            let input = mutator.pick(&corpus);
            let donor = mutator.pick(&corpus);
            let value = mutator.mutate(input, donor);
            let mut request = Raw::new(method, path).header(name, value);
            match *method {
                "PUT" if path.starts_with("/dav/") => request = request.body(event.clone()),
                "PUT" => request = request.body(format!("case {case}")),
                "LOCK" => request = request.body(LOCK_BODY),
                "COPY" if *name != "Destination" => {
                    request = request.header("Destination", format!("/files/folder/c{case}.txt"))
                }
                "COPY" => request = request.header("Overwrite", "T"),
                _ => {}
            }
            check.send(request).await;
        }
    }
    check.finish(&srv, "headers").await;
}

/// Found by the header fuzz: dav-server splits `If-Match` on every comma and panicked
/// (500) on the lone `"` left of `W/"de,"`, on an `If-Range` of `"` or `W/"`, and on a
/// `"` inside an `If` header's `<…>`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_tags_dav_server_cannot_read_are_a_400_not_a_500() {
    let srv = server().await;
    let mut check = Checker::new(&srv);
    for (name, value, method) in [
        ("If-Match", &b", W/\"de,\""[..], "PUT"),
        ("If-None-Match", b"\"a, \"", "PUT"),
        ("If-Match", b"\"a, \"", "GET"),
        ("If-Range", b"\"", "GET"),
        ("If-Range", b"W/\"", "GET"),
        // dav-server took the '"' inside the token for a quote and read past the end.
        (
            "If",
            b"(<urn:uuid:181d4fae-7d8c-11\"z/d0-a0c91e6bf2>)",
            "PUT",
        ),
        ("If", b"<http://x/\"> (<urn:uuid:1>)", "PUT"),
    ] {
        let request = Raw::new(method, "/files/doc.txt")
            .header(name, value)
            .header("Range", "bytes=0-9")
            .body(if method == "PUT" { &b"new"[..] } else { b"" });
        let status = check.send(request).await;
        assert_eq!(status, 400, "{name}: {}", String::from_utf8_lossy(value));
    }
    check.finish(&srv, "entity tags").await;
    srv.alice().get("/files/doc.txt").await.status(200);
    // What dav-server reads well still works.
    let resp = srv
        .alice()
        .req("GET", "/files/doc.txt")
        .header("Range", "bytes=0-9")
        .header("If-Range", "Thu, 01 Jan 1970 00:00:00 GMT")
        .send()
        .await;
    assert_eq!(
        resp.status, 200,
        "a stale If-Range date gets the whole file"
    );
}

/// Found by the Authorization fuzz: once a throttled address's wait ran out, its next
/// sign-in hung for 30 seconds and got a 503 (and so on for minutes) instead of a turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_address_gets_its_turn_when_the_wait_is_over() {
    let srv = server().await;
    let wrong = b"GET /files/doc.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
                  Authorization: Basic Ym9iOnNlY3JldDp3aXRoOmNvbG9u\r\n\r\n";
    let mut statuses = Vec::new();
    while statuses.last() != Some(&429) {
        statuses.push(raw::send(srv.addr(), wrong).await.status);
        assert!(statuses.len() <= 10, "never throttled: {statuses:?}");
    }
    assert!(statuses[..statuses.len() - 1].iter().all(|&s| s == 401));
    // Retry-After: 1.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let asked = std::time::Instant::now();
    let status = raw::send(srv.addr(), wrong).await.status;
    assert_eq!(
        status,
        401,
        "the check takes its turn after {:?}",
        asked.elapsed()
    );
    assert!(asked.elapsed() < std::time::Duration::from_secs(5));
}
