//! WebDAV file operations: PROPFIND, PROPPATCH, MKCOL, GET, PUT, DELETE, COPY, MOVE,
//! ETags and conditional requests, quota properties, mtimes, names.

use crate::common::TestServer;

const PROPPATCH_SET: &str = r#"<?xml version="1.0"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:example:props">
  <D:set><D:prop><Z:colour>blue &amp; green</Z:colour><Z:empty/></D:prop></D:set>
</D:propertyupdate>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_needs_no_credentials_and_advertises_class_2() {
    let srv = TestServer::start().await;
    for dav in [srv.anonymous(), srv.alice()] {
        let resp = dav.req("OPTIONS", "/files/").send().await.status(200);
        assert_eq!(resp.header("dav").as_deref(), Some("1, 2"));
        assert!(resp.header("allow").unwrap().contains("PROPFIND"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_needs_credentials() {
    let srv = TestServer::start().await;
    for method in [
        "GET",
        "PROPFIND",
        "PUT",
        "DELETE",
        "MKCOL",
        "LOCK",
        "PROPPATCH",
        "MOVE",
        "COPY",
    ] {
        let resp = srv
            .anonymous()
            .req(method, "/files/x")
            .send()
            .await
            .status(401);
        assert!(
            resp.header("www-authenticate")
                .unwrap()
                .starts_with("Basic realm=")
        );
    }
    srv.alice()
        .as_user("alice", "wrong password")
        .get("/files/")
        .await
        .status(401)
        .says("wrong user name or password");
    srv.alice()
        .as_user("nobody", "whatever")
        .get("/files/")
        .await
        .status(401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn propfind_lists_depth_0_and_1_and_refuses_infinity() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.mkcol("/files/docs/").await.status(201);
    dav.put("/files/docs/a.txt", "aaa").await.status(201);
    dav.put("/files/docs/b.txt", "bb").await.status(201);
    dav.mkcol("/files/docs/sub/").await.status(201);

    dav.propfind("/files/docs/", "0")
        .await
        .status(207)
        .href_set(&["/files/docs/"]);
    let listing = dav
        .props(
            "/files/docs/",
            "1",
            &[
                "getcontentlength",
                "resourcetype",
                "getetag",
                "getlastmodified",
            ],
        )
        .await
        .status(207)
        .href_set(&[
            "/files/docs/",
            "/files/docs/a.txt",
            "/files/docs/b.txt",
            "/files/docs/sub/",
        ]);
    let mut lengths: Vec<String> = listing
        .values("getcontentlength")
        .into_iter()
        .filter(|v| !v.is_empty())
        .collect();
    lengths.sort();
    assert_eq!(lengths, ["2", "3"]);
    assert_eq!(
        listing.values("collection").len(),
        2,
        "docs/ and sub/ are collections"
    );

    dav.propfind("/files/docs/", "infinity")
        .await
        .status(403)
        .says("<D:propfind-finite-depth/>")
        .says("Depth: 1");
    dav.propfind("/files/nothing-here/", "0").await.status(404);
}

/// A tester found `Depth: 2`, `-1` and an empty Depth answered 207 on /files/ (and 403
/// propfind-finite-depth on /dav/, as if they meant infinity). They are malformed
/// requests: 400 with a reason, the same on both rooms.
/// A listing longer than one piece is sent as it is written (no Content-Length, so no
/// whole body in memory) and is still one well-formed document listing every entry; a
/// short answer still goes out whole, with its length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_listings_stream_whole_and_short_answers_keep_their_length() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.mkcol("/files/many/").await.status(201);
    let paths: Vec<String> = (0..400)
        .map(|i| format!("/files/many/f{i:03}.txt"))
        .collect();
    for batch in paths.chunks(8) {
        for resp in futures_util::future::join_all(batch.iter().map(|p| dav.put(p, "x"))).await {
            resp.status(201);
        }
    }
    let listing = dav.propfind("/files/many/", "1").await.status(207);
    assert_eq!(listing.header("content-length"), None, "sent in pieces");
    let text = listing.text();
    assert!(
        text.len() > 2 * 64 * 1024,
        "several pieces: {} bytes",
        text.len()
    );
    let root = xmltree::Element::parse(text.as_bytes()).expect("one well-formed document");
    assert_eq!(root.name, "multistatus");
    let mut hrefs = listing.hrefs();
    assert_eq!(hrefs.len(), 401);
    hrefs.sort();
    hrefs.dedup();
    assert_eq!(hrefs.len(), 401, "each entry once");
    assert_eq!(listing.values("getcontentlength").len(), 400);

    let short = dav.propfind("/files/many/f000.txt", "0").await.status(207);
    let length = short
        .header("content-length")
        .expect("a short answer has a length");
    assert_eq!(length.parse::<usize>().unwrap(), short.text().len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn propfind_with_an_invalid_depth_is_a_bad_request_on_both_rooms() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    for path in ["/files/", "/dav/", "/dav/calendars/alice/"] {
        for depth in ["2", "-1", "", "one"] {
            let resp = dav.propfind(path, depth).await;
            assert_eq!(
                resp.status.as_u16(),
                400,
                "PROPFIND {path} Depth: {depth:?}"
            );
            resp.says("send 0, 1 or infinity");
        }
        dav.propfind(path, "infinity")
            .await
            .status(403)
            .says("propfind-finite-depth");
        dav.propfind(path, "Infinity").await.status(403);
        dav.propfind(path, "1").await.status(207);
        dav.propfind(path, " 0 ").await.status(207);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proppatch_keeps_dead_properties() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.put("/files/f.txt", "x").await.status(201);
    dav.req("PROPPATCH", "/files/f.txt")
        .body(PROPPATCH_SET)
        .send()
        .await
        .status(207);
    let body = r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:example:props"><D:prop><Z:colour/><Z:missing/></D:prop></D:propfind>"#;
    let resp = dav
        .req("PROPFIND", "/files/f.txt")
        .header("Depth", "0")
        .body(body)
        .send()
        .await
        .status(207);
    assert_eq!(resp.prop("colour"), "blue & green");
    assert!(
        resp.text().contains("404"),
        "a missing property is reported 404: {}",
        resp.text()
    );

    let remove = r#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:example:props"><D:remove><D:prop><Z:colour/></D:prop></D:remove></D:propertyupdate>"#;
    dav.req("PROPPATCH", "/files/f.txt")
        .body(remove)
        .send()
        .await
        .status(207);
    let resp = dav
        .req("PROPFIND", "/files/f.txt")
        .header("Depth", "0")
        .body(body)
        .send()
        .await
        .status(207);
    assert!(resp.values("colour").iter().all(|v| v.is_empty()));

    // Dead properties follow a MOVE (same node) and a COPY (copied with the file).
    dav.req("PROPPATCH", "/files/f.txt")
        .body(PROPPATCH_SET)
        .send()
        .await
        .status(207);
    dav.req("MOVE", "/files/f.txt")
        .header("Destination", &dav.url("/files/g.txt"))
        .send()
        .await
        .status(201);
    dav.req("COPY", "/files/g.txt")
        .header("Destination", &dav.url("/files/h.txt"))
        .send()
        .await
        .status(201);
    for path in ["/files/g.txt", "/files/h.txt"] {
        let resp = dav
            .req("PROPFIND", path)
            .header("Depth", "0")
            .body(body)
            .send()
            .await
            .status(207);
        assert_eq!(resp.prop("colour"), "blue & green", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mkcol_get_head_and_ranges() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.mkcol("/files/a/").await.status(201);
    dav.mkcol("/files/a/").await.status(405);
    dav.mkcol("/files/missing/child/")
        .await
        .status(409)
        .says("parent folder does not exist");
    dav.put("/files/missing/file.txt", "x").await.status(409);

    let content: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    dav.put("/files/a/data.bin", content.clone())
        .await
        .status(201);
    let got = dav.get("/files/a/data.bin").await.status(200);
    assert_eq!(got.body.as_ref(), content.as_slice());
    let head = dav
        .req("HEAD", "/files/a/data.bin")
        .send()
        .await
        .status(200);
    assert_eq!(head.header("content-length").as_deref(), Some("100000"));
    assert!(head.body.is_empty());

    let range = dav
        .req("GET", "/files/a/data.bin")
        .header("Range", "bytes=1000-1999")
        .send()
        .await
        .status(206);
    assert_eq!(range.body.as_ref(), &content[1000..2000]);
    assert_eq!(
        range.header("content-range").as_deref(),
        Some("bytes 1000-1999/100000")
    );
    let tail = dav
        .req("GET", "/files/a/data.bin")
        .header("Range", "bytes=-10")
        .send()
        .await
        .status(206);
    assert_eq!(tail.body.as_ref(), &content[99_990..]);
    dav.req("GET", "/files/a/data.bin")
        .header("Range", "bytes=200000-")
        .send()
        .await
        .status(416);
}

/// Bytes no shifted or repeated chunk can pass for: a linear congruential sequence.
fn unrepeating(len: usize) -> Vec<u8> {
    let mut x = 0x2545_f491u32;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_gets_come_whole_over_http1_and_http2() {
    // Plain HTTP/1 GETs of files past the small-blob size are sent with sendfile; every
    // answer on one keep-alive connection, whole or ranged, must still be exact.
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let mib = 1 << 20;
    let content = unrepeating(3 * mib + 12_345);
    let other = unrepeating(2 * mib + 7);
    dav.put("/files/big.bin", content.clone()).await.status(201);
    dav.put("/files/other.bin", other[mib..].to_vec())
        .await
        .status(201);
    for _ in 0..2 {
        let got = dav.get("/files/big.bin").await.status(200);
        assert_eq!(got.version, reqwest::Version::HTTP_11);
        assert!(
            got.body.as_ref() == content.as_slice(),
            "whole file differs"
        );
        let head = dav.req("HEAD", "/files/big.bin").send().await.status(200);
        assert!(head.body.is_empty());
        let (from, to) = (mib - 100, 2 * mib + 100);
        let range = dav
            .req("GET", "/files/big.bin")
            .header("Range", &format!("bytes={from}-{to}"))
            .send()
            .await
            .status(206);
        assert!(range.body.as_ref() == &content[from..=to], "range differs");
        let got = dav.get("/files/other.bin").await.status(200);
        assert!(got.body.as_ref() == &other[mib..], "second file differs");
    }

    // HTTP/2 without TLS (prior knowledge) takes the copying path: same bytes.
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let got = h2
        .get(srv.url("/files/big.bin"))
        .basic_auth("alice", Some(crate::common::server::PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(got.version(), reqwest::Version::HTTP_2);
    assert!(got.bytes().await.unwrap().as_ref() == content.as_slice());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etags_are_strong_and_change_with_content() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let first = dav.put("/files/e.txt", "one").await.status(201);
    let etag1 = first.header("etag").expect("PUT returns an ETag");
    assert!(
        etag1.starts_with('"') && !etag1.starts_with("W/"),
        "strong ETag: {etag1}"
    );
    assert_eq!(
        dav.get("/files/e.txt").await.header("etag"),
        Some(etag1.clone())
    );
    let etag2 = dav
        .put("/files/e.txt", "two")
        .await
        .status(204)
        .header("etag")
        .unwrap();
    assert_ne!(etag1, etag2, "new content, new ETag");
    let etag3 = dav
        .put("/files/e.txt", "two")
        .await
        .status(204)
        .header("etag")
        .unwrap();
    assert_ne!(etag2, etag3, "every write is a content change");

    // If-Match / If-None-Match / If-Modified-Since.
    dav.req("PUT", "/files/e.txt")
        .header("If-Match", &etag1)
        .body("x")
        .send()
        .await
        .status(412);
    dav.req("PUT", "/files/e.txt")
        .header("If-Match", &etag3)
        .body("three")
        .send()
        .await
        .status(204);
    dav.req("PUT", "/files/e.txt")
        .header("If-None-Match", "*")
        .body("x")
        .send()
        .await
        .status(412);
    dav.req("PUT", "/files/new.txt")
        .header("If-None-Match", "*")
        .body("x")
        .send()
        .await
        .status(201);
    dav.req("PUT", "/files/absent.txt")
        .header("If-Match", "*")
        .body("x")
        .send()
        .await
        .status(412);
    let current = dav.get("/files/e.txt").await.status(200);
    assert_eq!(current.text(), "three");
    let etag = current.header("etag").unwrap();
    dav.req("GET", "/files/e.txt")
        .header("If-None-Match", &etag)
        .send()
        .await
        .status(304);
    let modified = current.header("last-modified").unwrap();
    dav.req("GET", "/files/e.txt")
        .header("If-Modified-Since", &modified)
        .send()
        .await
        .status(304);
    dav.req("GET", "/files/e.txt")
        .header("If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")
        .send()
        .await
        .status(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_and_move_honour_overwrite_and_depth() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.mkcol("/files/src/").await.status(201);
    dav.put("/files/src/one.txt", "1").await.status(201);
    dav.mkcol("/files/src/deep/").await.status(201);
    dav.put("/files/src/deep/two.txt", "22").await.status(201);
    dav.put("/files/other.txt", "other").await.status(201);

    let dest = dav.url("/files/copy/");
    dav.req("COPY", "/files/src/")
        .header("Destination", &dest)
        .send()
        .await
        .status(201);
    assert_eq!(
        dav.get("/files/copy/deep/two.txt").await.status(200).text(),
        "22"
    );

    let shallow = dav.url("/files/shallow/");
    dav.req("COPY", "/files/src/")
        .header("Destination", &shallow)
        .header("Depth", "0")
        .send()
        .await
        .status(201);
    dav.propfind("/files/shallow/", "1")
        .await
        .status(207)
        .href_set(&["/files/shallow/"]);

    let target = dav.url("/files/other.txt");
    dav.req("COPY", "/files/src/one.txt")
        .header("Destination", &target)
        .header("Overwrite", "F")
        .send()
        .await
        .status(412);
    assert_eq!(dav.get("/files/other.txt").await.text(), "other");
    dav.req("COPY", "/files/src/one.txt")
        .header("Destination", &target)
        .send()
        .await
        .status(204);
    assert_eq!(dav.get("/files/other.txt").await.text(), "1");

    let moved = dav.url("/files/moved/");
    dav.req("MOVE", "/files/src/")
        .header("Destination", &moved)
        .send()
        .await
        .status(201);
    dav.get("/files/src/one.txt").await.status(404);
    assert_eq!(dav.get("/files/moved/deep/two.txt").await.text(), "22");
    let into_itself = dav.url("/files/moved/deep/inner/");
    let resp = dav
        .req("MOVE", "/files/moved/")
        .header("Destination", &into_itself)
        .send()
        .await;
    assert!(
        resp.status.is_client_error(),
        "moving a folder into itself fails: {}",
        resp.status
    );
    let quota = srv.account("alice").await.used_bytes;
    // moved/ (1 + 2) + copy/ (1 + 2) + other.txt (1) + the overwritten other.txt, now in the trash (5).
    assert_eq!(quota, 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checksums_are_served_and_verified() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.put("/files/h.txt", "hello").await.status(201);
    let body = r#"<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><oc:checksums/></d:prop></d:propfind>"#;
    let resp = dav
        .req("PROPFIND", "/files/h.txt")
        .header("Depth", "0")
        .body(body)
        .send()
        .await
        .status(207);
    assert_eq!(
        resp.prop("checksum"),
        "SHA1:aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d MD5:5d41402abc4b2a76b9719d911017c592"
    );
    // A checksum sent with the upload is verified before anything is stored.
    let good = "SHA1:aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d";
    dav.req("PUT", "/files/ok.txt")
        .header("OC-Checksum", good)
        .body("hello")
        .send()
        .await
        .status(201);
    let blobs = srv.blob_files();
    dav.req("PUT", "/files/bad.txt")
        .header("OC-Checksum", "MD5:00000000000000000000000000000000")
        .body("hello")
        .send()
        .await
        .status(400)
        .says("does not match the checksum");
    dav.get("/files/bad.txt").await.status(404);
    assert_eq!(srv.blob_files(), blobs);
}

/// A folder listing reads its members' digests only for a request that names
/// `oc:checksums` (by `prop`, or by `include` beside allprop); each way shows them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_listing_shows_checksums_when_asked() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.mkcol("/files/d/").await.status(201);
    dav.put("/files/d/h.txt", "hello").await.status(201);
    let sha1 = "SHA1:aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d";
    let asked = [
        r#"<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><d:getetag/><oc:checksums/></d:prop></d:propfind>"#,
        r#"<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:allprop/><d:include><oc:checksums/></d:include></d:propfind>"#,
    ];
    for body in asked {
        let listing = dav
            .req("PROPFIND", "/files/d/")
            .header("Depth", "1")
            .body(body)
            .send()
            .await
            .status(207);
        assert!(listing.text().contains(sha1), "{}", listing.text());
    }
    let plain = r#"<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:getcontentlength/></d:prop></d:propfind>"#;
    let listing = dav
        .req("PROPFIND", "/files/d/")
        .header("Depth", "1")
        .body(plain)
        .send()
        .await
        .status(207);
    assert!(!listing.text().contains("checksum"), "{}", listing.text());
    assert!(
        listing.text().contains("<D:getcontentlength>5<"),
        "{}",
        listing.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_properties_follow_usage() {
    let srv = TestServer::start().await;
    let alice = srv.account("alice").await;
    srv.store
        .set_quota(alice.id, Some(1_000_000))
        .await
        .unwrap();
    let dav = srv.alice();
    dav.put("/files/q.bin", vec![0u8; 1000]).await.status(201);
    let resp = dav
        .props(
            "/files/",
            "0",
            &["quota-used-bytes", "quota-available-bytes"],
        )
        .await
        .status(207);
    assert_eq!(resp.prop("quota-used-bytes"), "1000");
    assert_eq!(resp.prop("quota-available-bytes"), "999000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oc_mtime_and_win32_times_set_modification_time() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let put = dav
        .req("PUT", "/files/m.txt")
        .header("X-OC-Mtime", "1600000000")
        .body("m")
        .send()
        .await
        .status(201);
    assert_eq!(put.header("x-oc-mtime").as_deref(), Some("accepted"));
    let resp = dav
        .props("/files/m.txt", "0", &["getlastmodified"])
        .await
        .status(207);
    assert_eq!(
        resp.prop("getlastmodified"),
        "Sun, 13 Sep 2020 12:26:40 GMT"
    );
    let plain = dav.put("/files/n.txt", "n").await.status(201);
    assert_eq!(
        plain.header("x-oc-mtime"),
        None,
        "only confirmed when asked"
    );

    let win32 = r#"<?xml version="1.0" encoding="utf-8" ?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop><Z:Win32LastModifiedTime>Wed, 24 Jan 2024 10:00:00 GMT</Z:Win32LastModifiedTime><Z:Win32FileAttributes>00000020</Z:Win32FileAttributes></D:prop></D:set></D:propertyupdate>"#;
    dav.req("PROPPATCH", "/files/n.txt")
        .body(win32)
        .send()
        .await
        .status(207);
    let resp = dav
        .props("/files/n.txt", "0", &["getlastmodified"])
        .await
        .status(207);
    assert_eq!(
        resp.prop("getlastmodified"),
        "Wed, 24 Jan 2024 10:00:00 GMT"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_with_spaces_and_accents_work_and_compare_in_nfc() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.mkcol("/files/My%20Documents/").await.status(201);
    dav.mkcol("/files/My%20Documents/Caf%C3%A9%20%26%20Cr%C3%A8me/")
        .await
        .status(201);
    dav.put(
        "/files/My%20Documents/Caf%C3%A9%20%26%20Cr%C3%A8me/r%C3%A9sum%C3%A9.txt",
        "cv",
    )
    .await
    .status(201);
    // macOS sends the same names decomposed (NFD): e + U+0301.
    let nfd = "/files/My%20Documents/Cafe%CC%81%20%26%20Cre%CC%80me/re%CC%81sume%CC%81.txt";
    assert_eq!(dav.get(nfd).await.status(200).text(), "cv");
    dav.put(nfd, "cv2").await.status(204);
    let listing = dav
        .propfind("/files/My%20Documents/Caf%C3%A9%20%26%20Cr%C3%A8me/", "1")
        .await
        .status(207);
    assert_eq!(
        listing.hrefs().len(),
        2,
        "one file, found under both spellings: {:?}",
        listing.hrefs()
    );
    // A folder URL typed with spaces as %20 and no trailing slash works as a direct link.
    dav.propfind("/files/My%20Documents", "0").await.status(207);
}
