//! The file methods davgate answers itself: the answers the RFCs give a client that is
//! refused (PROPPATCH per-property statuses, 423 conditions, 304 and 412 on GET), and
//! the requests no verb takes.

use crate::common::TestServer;

const LOCKINFO: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>tests</D:owner></D:lockinfo>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protected_property_fails_the_whole_proppatch() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.put("/files/f.txt", "x").await.status(201);
    let body = r#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:example:props"><D:set><D:prop><Z:colour>red</Z:colour><D:getetag>"forged"</D:getetag></D:prop></D:set></D:propertyupdate>"#;
    let resp = dav
        .req("PROPPATCH", "/files/f.txt")
        .body(body)
        .send()
        .await
        .status(207);
    let text = resp.text();
    assert!(text.contains("HTTP/1.1 403 Forbidden"), "{text}");
    assert!(text.contains("HTTP/1.1 424 Failed Dependency"), "{text}");
    assert!(text.contains("cannot-modify-protected-property"), "{text}");
    let resp = dav
        .props("/files/f.txt", "0", &["getetag"])
        .await
        .status(207);
    assert_ne!(resp.prop("getetag"), "\"forged\"");
    let stored = r#"<D:propfind xmlns:D="DAV:" xmlns:Z="urn:example:props"><D:prop><Z:colour/></D:prop></D:propfind>"#;
    let resp = dav
        .req("PROPFIND", "/files/f.txt")
        .header("Depth", "0")
        .body(stored)
        .send()
        .await
        .status(207);
    assert!(
        resp.values("colour").iter().all(String::is_empty),
        "nothing was kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_answers_name_the_lock_root() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.mkcol("/files/d/").await.status(201);
    dav.put("/files/d/f.txt", "x").await.status(201);
    dav.req("LOCK", "/files/d/")
        .body(LOCKINFO)
        .send()
        .await
        .status(200);
    // A write below a deep lock, without its token.
    let refused = dav.put("/files/d/f.txt", "y").await.status(423);
    let text = refused.text();
    assert!(text.contains("lock-token-submitted"), "{text}");
    assert!(text.contains("<D:href>/files/d</D:href>"), "{text}");
    // Another exclusive lock under it.
    let clash = dav
        .req("LOCK", "/files/d/f.txt")
        .body(LOCKINFO)
        .send()
        .await
        .status(423);
    assert!(
        clash.text().contains("no-conflicting-lock"),
        "{}",
        clash.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_requests_without_what_they_need_get_400() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.put("/files/f.txt", "x").await.status(201);
    dav.req("LOCK", "/files/f.txt")
        .send()
        .await
        .status(400)
        .says("exactly one lock token");
    dav.req("UNLOCK", "/files/f.txt")
        .send()
        .await
        .status(400)
        .says("Lock-Token");
    dav.req("UNLOCK", "/files/f.txt")
        .header("Lock-Token", "<urn:uuid:not-a-lock>")
        .send()
        .await
        .status(409);
    dav.req("LOCK", "/files/f.txt")
        .header("Depth", "1")
        .body(LOCKINFO)
        .send()
        .await
        .status(400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_answers_conditional_requests() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let put = dav.put("/files/f.txt", "hello").await.status(201);
    let etag = put.header("etag").expect("PUT answers the ETag");
    let got = dav.get("/files/f.txt").await.status(200);
    assert_eq!(got.header("etag").as_deref(), Some(etag.as_str()));
    let modified = got.header("last-modified").expect("Last-Modified");
    dav.req("GET", "/files/f.txt")
        .header("If-None-Match", &etag)
        .send()
        .await
        .status(304);
    dav.req("GET", "/files/f.txt")
        .header("If-Modified-Since", &modified)
        .send()
        .await
        .status(304);
    dav.req("GET", "/files/f.txt")
        .header("If-Match", "\"other\"")
        .send()
        .await
        .status(412);
    // If-Range with another tag: the whole file, not the range.
    let whole = dav
        .req("GET", "/files/f.txt")
        .header("Range", "bytes=0-1")
        .header("If-Range", "\"other\"")
        .send()
        .await
        .status(200);
    assert_eq!(whole.text(), "hello");
    let part = dav
        .req("GET", "/files/f.txt")
        .header("Range", "bytes=0-1")
        .header("If-Range", &etag)
        .send()
        .await
        .status(206);
    assert_eq!(part.text(), "he");
    let head = dav.req("HEAD", "/files/f.txt").send().await.status(200);
    assert_eq!(head.header("content-length").as_deref(), Some("5"));
    assert!(head.body.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_reads_as_an_index_and_unknown_methods_get_405() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.mkcol("/files/d/").await.status(201);
    dav.put("/files/d/a%20b.txt", "x").await.status(201);
    dav.put("/files/d/.hidden", "x").await.status(201);
    // Without the slash: redirected to the folder's URL, which lists it.
    let index = dav.get("/files/d").await.status(200);
    assert!(
        index.text().contains("href=\"/files/d/a%20b.txt\""),
        "{}",
        index.text()
    );
    assert!(!index.text().contains(".hidden"));
    let refused = dav
        .req("PATCH", "/files/d/a%20b.txt")
        .send()
        .await
        .status(405);
    assert!(refused.header("allow").unwrap().contains("PROPPATCH"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_honour_if_unmodified_since() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.put("/files/f.txt", "v1").await.status(201);
    dav.req("PUT", "/files/f.txt")
        .header("If-Unmodified-Since", "Sat, 01 Jan 2000 00:00:00 GMT")
        .body("v2")
        .send()
        .await
        .status(412);
    dav.req("PUT", "/files/f.txt")
        .header("If-Unmodified-Since", "Fri, 01 Jan 2100 00:00:00 GMT")
        .body("v2")
        .send()
        .await
        .status(204);
    dav.req("DELETE", "/files/f.txt")
        .header("If-Unmodified-Since", "Sat, 01 Jan 2000 00:00:00 GMT")
        .send()
        .await
        .status(412);
    assert_eq!(dav.get("/files/f.txt").await.status(200).text(), "v2");
}

/// RFC 9110 §15.5.6: a 405 MUST carry `Allow`. MKCOL of a taken name (Joplin re-creates
/// its folders on every sync) and PUT onto a folder are answered 405; the header says
/// what the existing resource does take.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_405_for_a_taken_name_says_what_is_allowed() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.mkcol("/files/Notes/").await.status(201);
    dav.put("/files/a.txt", "a").await.status(201);
    for (method, path, absent) in [
        ("MKCOL", "/files/Notes/", ["MKCOL", "PUT"]),
        ("PUT", "/files/Notes/", ["MKCOL", "PUT"]),
        ("MKCOL", "/files/a.txt", ["MKCOL", "MKCOL"]),
    ] {
        let resp = dav.req(method, path).send().await.status(405);
        let allow = resp
            .header("allow")
            .unwrap_or_else(|| panic!("{method} {path}: no Allow"));
        let methods: Vec<&str> = allow.split(',').map(str::trim).collect();
        assert!(
            methods.contains(&"PROPFIND") && methods.contains(&"DELETE"),
            "{allow}"
        );
        for method in absent {
            assert!(
                !methods.contains(&method),
                "{path} does not take {method}: {allow}"
            );
        }
    }
    srv.stop().await;
}
