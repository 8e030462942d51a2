//! Bad input: paths that could escape the tree, malformed and oversized XML. A clear 4xx,
//! never a 500, never a panic.

use crate::common::TestServer;
use crate::common::raw::{self, alice_auth};

async fn raw_status(
    srv: &TestServer,
    method: &str,
    path: &str,
    extra: &str,
    body: &str,
) -> raw::RawResponse {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        alice_auth(),
        body.len()
    );
    raw::send(srv.addr(), request.as_bytes()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_cannot_escape_the_tree() {
    let srv = TestServer::start().await;
    srv.alice().put("/files/inside.txt", "x").await.status(201);
    for path in [
        "/files/../trash/",
        "/files/a/../../etc/passwd",
        "/files/%2e%2e/%2e%2e/etc/passwd",
        "/files/%2E%2E/x",
        "/files/./inside.txt",
        "/files/a%00b",
        "/files/a%5c..%5cb",
        "/files/a%2fb",
        "/files/%zz",
        "/files/%C3%28",
    ] {
        let resp = raw_status(&srv, "GET", path, "", "").await;
        assert_eq!(resp.status, 400, "{path}: {resp:?}");
        assert!(resp.body.contains("invalid path"), "{path}: {}", resp.body);
    }
    let resp = raw_status(&srv, "GET", "/files/a\\b", "", "").await;
    assert_eq!(resp.status, 400, "a raw backslash: {resp:?}");
    let dest = format!("Destination: http://{}/files/../../outside\r\n", srv.addr());
    let resp = raw_status(&srv, "COPY", "/files/inside.txt", &dest, "").await;
    assert_eq!(resp.status, 400, "{resp:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_xml_gets_400_with_a_reason() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.put("/files/f.txt", "x").await.status(201);
    for (method, body) in [
        ("PROPFIND", "<D:propfind xmlns:D=\"DAV:\"><D:prop>"),
        ("PROPFIND", "<?xml version=\"1.0\"?><a></b>"),
        ("PROPPATCH", "not xml at all"),
        ("LOCK", "<D:lockinfo xmlns:D=\"DAV:\">&bogus;</D:lockinfo>"),
        ("PROPFIND", "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><x>&a;</x>"),
    ] {
        dav.req(method, "/files/f.txt")
            .header("Depth", "0")
            .body(body)
            .send()
            .await
            .status(400)
            .says("not well-formed XML");
    }
    // Well-formed but not a propfind: still a 400, not a 500.
    dav.req("PROPFIND", "/files/f.txt")
        .header("Depth", "0")
        .body("<hello/>")
        .send()
        .await
        .status(400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_xml_is_refused_before_parsing() {
    let srv = TestServer::start().await;
    let huge = format!(
        "<D:propfind xmlns:D=\"DAV:\"><D:prop>{}</D:prop></D:propfind>",
        "<D:x/>".repeat(50_000)
    );
    srv.alice()
        .req("PROPFIND", "/files/")
        .header("Depth", "0")
        .body(huge)
        .send()
        .await
        .status(413)
        .says("limited to 64 KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_requests_never_get_a_500() {
    let srv = TestServer::start().await;
    srv.alice().put("/files/f.txt", "x").await.status(201);
    let cases = [
        ("FROBNICATE", "/files/f.txt", "", ""),
        ("PUT", "/files/f.txt", "Content-Range: bytes 0-0/1\r\n", "x"),
        ("PATCH", "/files/f.txt", "", "x"),
        ("MOVE", "/files/f.txt", "", ""),
        ("COPY", "/files/f.txt", "Destination: ::::\r\n", ""),
        ("LOCK", "/files/f.txt", "", ""),
        ("UNLOCK", "/files/f.txt", "Lock-Token: <nope>\r\n", ""),
        ("PROPFIND", "/files/f.txt", "Depth: banana\r\n", ""),
        ("DELETE", "/files/", "", ""),
        ("MKCOL", "/files/x", "", "a body"),
        ("GET", "/files/f.txt", "Range: bytes=9-1\r\n", ""),
        ("PUT", "/files/", "", "x"),
    ];
    for (method, path, extra, body) in cases {
        let resp = raw_status(&srv, method, path, extra, body).await;
        // 501 is HTTP's answer to a method nobody implements; anything else must be a
        // success or a client error, never a server failure.
        let acceptable = (200..300).contains(&resp.status)
            || (400..500).contains(&resp.status)
            || (resp.status == 501 && method == "FROBNICATE");
        assert!(acceptable, "{method} {path} {extra:?}: {}", resp.head);
    }
}
