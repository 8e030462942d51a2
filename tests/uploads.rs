//! Uploads that stream with limits: refused early when announced too large, stopped the
//! moment a chunked body passes the limit, and never leaving anything behind.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::common::bin::{ServerProcess, davgate_ok};
use crate::common::raw::{self, alice_auth};
use crate::common::{TestServer, count_files};

const MIB: usize = 1 << 20;

/// A chunked body of `total` bytes in 64 KiB chunks, produced as it is sent.
fn chunked(total: usize) -> reqwest::Body {
    let chunks = (0..total.div_ceil(64 * 1024)).map(move |i| {
        let len = (total - i * 64 * 1024).min(64 * 1024);
        Ok::<_, std::io::Error>(Bytes::from(vec![(i % 251) as u8; len]))
    });
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

/// Nothing of a refused upload is left: no node, no blob, no quota charged.
async fn assert_nothing_left(srv: &TestServer, path: &str, blobs_before: usize, used_before: u64) {
    srv.alice().get(path).await.status(404);
    assert_eq!(srv.blob_files(), blobs_before, "no blob is left behind");
    assert_eq!(
        srv.account("alice").await.used_bytes,
        used_before,
        "quota unchanged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_upload_past_the_limit_gets_413_and_leaves_nothing() {
    let srv = TestServer::start_with("upload_limit = \"10MiB\"").await;
    let dav = srv.alice();
    dav.put("/files/keep.txt", "kept").await.status(201);
    let (blobs, used) = (srv.blob_files(), srv.account("alice").await.used_bytes);
    let resp = dav
        .req("PUT", "/files/big.bin")
        .body(chunked(20 * MIB))
        .send()
        .await;
    let resp = resp
        .status(413)
        .says("upload limit of 10MiB")
        .says("10485760 bytes");
    assert_eq!(resp.header("connection").as_deref(), Some("close"));
    assert_nothing_left(&srv, "/files/big.bin", blobs, used).await;

    // Exactly at the limit is fine.
    dav.req("PUT", "/files/exact.bin")
        .body(chunked(10 * MIB))
        .send()
        .await
        .status(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announced_length_over_the_limit_is_refused_before_the_body() {
    let srv = TestServer::start_with("upload_limit = \"10MiB\"").await;
    let mut stream = tokio::net::TcpStream::connect(srv.addr()).await.unwrap();
    let head = format!(
        "PUT /files/huge.bin HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        alice_auth(),
        20 * MIB
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The answer comes without a byte of the body having been sent, and it is not 100.
    let head = raw::read_head(&mut stream, Duration::from_secs(10))
        .await
        .expect("a response head");
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(!head.contains("100 Continue"), "{head}");
    assert_eq!(srv.blob_files(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_account_limits_override_the_server_default() {
    let srv = TestServer::start_with("upload_limit = \"1MiB\"").await;
    let dav = srv.alice();
    dav.put("/files/a.bin", vec![1u8; 2 * MIB])
        .await
        .status(413)
        .says("1MiB");
    let alice = srv.account("alice").await;
    srv.store
        .set_upload_limit(alice.id, Some(4 * MIB as u64))
        .await
        .unwrap();
    dav.put("/files/a.bin", vec![1u8; 2 * MIB])
        .await
        .status(201);
    dav.put("/files/b.bin", vec![1u8; 5 * MIB])
        .await
        .status(413)
        .says("4MiB");
}

/// Where uploads go is kept across them, so what holds the name is a guess before the
/// body arrives: the status still says what the commit did, and a folder at the name is
/// refused before the body is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_of_an_upload_says_what_its_commit_did() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.req("MKCOL", "/files/dir").send().await.status(201);
    dav.put("/files/dir/a.txt", "one").await.status(201);
    dav.put("/files/dir/a.txt", "two").await.status(204);
    dav.put("/files/dir/a.txt", "three").await.status(204);
    assert_eq!(
        dav.get("/files/dir/a.txt").await.status(200).text(),
        "three"
    );
    dav.req("DELETE", "/files/dir/a.txt")
        .send()
        .await
        .status(204);
    dav.put("/files/dir/a.txt", "again").await.status(201);
    dav.req("MKCOL", "/files/dir/sub").send().await.status(201);
    dav.put("/files/dir/sub", "not a folder").await.status(405);
    dav.put("/files/missing/a.txt", "x").await.status(409);
}

/// A server whose alice may store 3 MiB.
async fn server_with_a_3_mib_quota() -> TestServer {
    let srv = TestServer::start().await;
    let alice = srv.account("alice").await;
    srv.store
        .set_quota(alice.id, Some(3 * MIB as u64))
        .await
        .unwrap();
    srv
}

/// The account each request reads is kept across uploads (a sync job's stream of them
/// costs one read of it, not one each), so the usage it holds can lag: the quota
/// figures of PROPFIND, and any refusal over the quota, read the usage again. Replacing
/// a file with a smaller one makes room for the very next upload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_figures_and_refusals_follow_each_upload_at_once() {
    let srv = server_with_a_3_mib_quota().await;
    let dav = srv.alice();
    let used = || async {
        dav.props("/files/", "0", &["quota-used-bytes"])
            .await
            .status(207)
            .values("quota-used-bytes")[0]
            .clone()
    };
    assert_eq!(used().await, "0");
    dav.put("/files/a.bin", vec![1u8; 2 * MIB])
        .await
        .status(201);
    assert_eq!(used().await, (2 * MIB).to_string());
    // A folder: a commit that is not an upload, so the next request reads the account
    // again (2 MiB used) and keeps it across the uploads that follow.
    dav.req("MKCOL", "/files/dir").send().await.status(201);
    dav.put("/files/a.bin", vec![2u8; 1024]).await.status(204);
    assert_eq!(used().await, "1024");
    // 2.5 MiB: refused on the kept row's 2 MiB, taken on the usage read again.
    dav.put("/files/b.bin", vec![3u8; 5 * MIB / 2])
        .await
        .status(201);
    assert_eq!(used().await, (1024 + 5 * MIB / 2).to_string());
    dav.put("/files/c.bin", vec![4u8; MIB])
        .await
        .status(507)
        .says("quota of 3MiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_overrun_is_507_and_a_failed_replace_keeps_the_old_content() {
    let srv = server_with_a_3_mib_quota().await;
    let dav = srv.alice();
    dav.put("/files/doc.bin", vec![7u8; 2 * MIB])
        .await
        .status(201);
    let (blobs, used) = (srv.blob_files(), srv.account("alice").await.used_bytes);

    // Announced: refused up front. Replacing counts the freed bytes: 2 MiB → 3 MiB fits.
    dav.put("/files/other.bin", vec![1u8; 2 * MIB])
        .await
        .status(507)
        .says("quota of 3MiB");
    // Streamed: refused mid-body; the file being replaced keeps its old content.
    let resp = dav
        .req("PUT", "/files/doc.bin")
        .body(chunked(4 * MIB))
        .send()
        .await
        .status(507);
    assert!(
        resp.text().contains("3MiB") && resp.text().contains("trash"),
        "{}",
        resp.text()
    );
    let old = dav.get("/files/doc.bin").await.status(200);
    assert_eq!(old.body.len(), 2 * MIB);
    assert!(old.body.iter().all(|b| *b == 7));
    assert_eq!(srv.blob_files(), blobs);
    assert_eq!(srv.account("alice").await.used_bytes, used);
    dav.put("/files/doc.bin", vec![9u8; 3 * MIB])
        .await
        .status(204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_mid_upload_leaves_nothing() {
    let srv = TestServer::start().await;
    let mut stream = tokio::net::TcpStream::connect(srv.addr()).await.unwrap();
    let head = format!(
        "PUT /files/partial.bin HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        alice_auth()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..32 {
        stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .unwrap();
        stream.write_all(&chunk).await.unwrap();
        stream.write_all(b"\r\n").await.unwrap();
    }
    stream.flush().await.unwrap();
    // Wait until the upload is staged, then vanish.
    wait_for(|| srv.blob_files() == 1, "the upload to be staged").await;
    drop(stream);
    wait_for(|| srv.blob_files() == 0, "the staged blob to be deleted").await;
    srv.alice().get("/files/partial.bin").await.status(404);
    assert_eq!(srv.account("alice").await.used_bytes, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_body_is_refused_and_stores_nothing() {
    let srv = TestServer::start().await;
    // macOS Finder announces the length of a chunked body in X-Expected-Entity-Length.
    let request = format!(
        "PUT /files/short.bin HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nTransfer-Encoding: chunked\r\nX-Expected-Entity-Length: 100\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        alice_auth()
    );
    let resp = raw::send(srv.addr(), request.as_bytes()).await;
    assert_eq!(resp.status, 400, "{resp:?}");
    assert!(resp.body.contains("5 of the 100 bytes"), "{}", resp.body);
    srv.alice().get("/files/short.bin").await.status(404);
    assert_eq!(srv.blob_files(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_see_the_old_or_the_new_content_never_a_mix() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    dav.put("/files/r.bin", vec![b'a'; 4 * MIB])
        .await
        .status(201);
    let writer = {
        let dav = dav.clone();
        tokio::spawn(async move {
            for round in 0..4u8 {
                let fill = b'b' + round;
                dav.req("PUT", "/files/r.bin")
                    .body(chunked_fill(4 * MIB, fill))
                    .send()
                    .await
                    .status(204);
            }
        })
    };
    let mut reads = 0;
    while !writer.is_finished() || reads == 0 {
        let body = dav.get("/files/r.bin").await.status(200).body;
        assert_eq!(body.len(), 4 * MIB);
        assert!(
            body.iter().all(|b| *b == body[0]),
            "a read mixed two versions"
        );
        reads += 1;
        assert!(reads < 1000);
    }
    writer.await.unwrap();
}

fn chunked_fill(total: usize, fill: u8) -> reqwest::Body {
    let stream = futures_util::stream::iter(0..total / (256 * 1024)).then(move |_| async move {
        tokio::time::sleep(Duration::from_millis(2)).await;
        Ok::<_, std::io::Error>(Bytes::from(vec![fill; 256 * 1024]))
    });
    reqwest::Body::wrap_stream(stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_upload_leaves_nothing_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    davgate_ok(
        dir.path(),
        &["user", "add", "alice", "--password-stdin"],
        &format!("{}\n", crate::common::server::PASSWORD),
    );
    let server = ServerProcess::start(dir.path(), &[]);
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "PUT /files/crash.bin HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        alice_auth()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'z'; 256 * 1024];
    for _ in 0..8 {
        stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .unwrap();
        stream.write_all(&chunk).await.unwrap();
        stream.write_all(b"\r\n").await.unwrap();
    }
    let blobs = dir.path().join("blobs");
    wait_for(|| count_files(&blobs) == 1, "the upload to be staged").await;
    server.kill();
    assert_eq!(
        count_files(&blobs),
        1,
        "a killed server cannot clean up by itself"
    );

    // The next start collects what nothing references.
    let server = ServerProcess::start(dir.path(), &[]);
    wait_for(|| count_files(&blobs) == 0, "garbage collection at start").await;
    let dav = crate::common::Dav::new(
        server.addr,
        Some(("alice".into(), crate::common::server::PASSWORD.into())),
    );
    dav.get("/files/crash.bin").await.status(404);
    let listed = davgate_ok(dir.path(), &["user", "list"], "");
    assert!(listed.contains("0 bytes"), "quota unchanged: {listed}");
}

async fn wait_for(mut condition: impl FnMut() -> bool, what: &str) {
    for _ in 0..200 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_chunked_body_is_a_400_that_says_so() {
    let srv = TestServer::start().await;
    // "zz" is not a chunk size: the body cannot be read past "hello".
    let request = format!(
        "PUT /files/bad.bin HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\nzz\r\nmore\r\n0\r\n\r\n",
        alice_auth()
    );
    let resp = raw::send(srv.addr(), request.as_bytes()).await;
    assert_eq!(resp.status, 400, "{resp:?}");
    assert!(
        resp.body.contains("malformed or cut off"),
        "says what went wrong: {}",
        resp.body
    );
    assert!(!resp.body.contains("destination"), "{}", resp.body);
    srv.alice().get("/files/bad.bin").await.status(404);
    assert_eq!(srv.blob_files(), 0);
}

/// `total` patterned bytes, different at every offset within 251.
fn pattern(total: usize) -> Vec<u8> {
    (0..total).map(|i| (i * 7 % 251) as u8).collect()
}

/// `data` sent chunked, in pieces that never line up with the server's buffers.
fn chunked_of(data: Vec<u8>) -> reqwest::Body {
    let data = Bytes::from(data);
    let pieces: Vec<Bytes> = (0..data.len())
        .step_by(100_003)
        .map(|at| data.slice(at..(at + 100_003).min(data.len())))
        .collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(
        pieces.into_iter().map(Ok::<_, std::io::Error>),
    ))
}

/// Both digests are known at the 201, computed from the bytes as they streamed, for
/// sizes around the store's hashing batches (1 MiB) and its in-line limit (64 KiB),
/// with a length and chunked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_have_both_digests_at_their_201() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let propfind = r#"<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><oc:checksums/></d:prop></d:propfind>"#;
    let sizes = [
        0,
        1,
        64 * 1024,
        64 * 1024 + 1,
        MIB - 1,
        MIB,
        MIB + 1,
        5 * MIB + 3,
        17 * MIB + 1,
    ];
    for (i, size) in sizes.into_iter().enumerate() {
        let data = pattern(size);
        let expected = davgate_storage::Digests::of(&data);
        let expected = format!(
            "SHA1:{} MD5:{}",
            expected.sha1,
            expected.md5.expect("both digests")
        );
        for (framing, body) in [
            ("length", reqwest::Body::from(data.clone())),
            ("chunked", chunked_of(data.clone())),
        ] {
            let path = format!("/files/d{i}-{framing}.bin");
            dav.req("PUT", &path).body(body).send().await.status(201);
            // An upload that outran MD5 gets it shortly after its 201, read back from where
            // hashing stopped; the SHA-1 is there at once.
            let mut checksum = String::new();
            for _ in 0..200 {
                let resp = dav
                    .req("PROPFIND", &path)
                    .header("Depth", "0")
                    .body(propfind)
                    .send()
                    .await
                    .status(207);
                checksum = resp.prop("checksum");
                assert!(
                    expected.starts_with(&checksum),
                    "{size} bytes, {framing}: {checksum}"
                );
                if checksum.contains("MD5:") {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert_eq!(checksum, expected, "{size} bytes, {framing}");
        }
    }
    // An MD5 the client sends is checked against the streamed one, whatever the size.
    let data = pattern(3 * MIB);
    let md5 = davgate_storage::Digests::of(&data).md5.unwrap();
    dav.req("PUT", "/files/claimed.bin")
        .header("OC-Checksum", &format!("MD5:{md5}"))
        .body(chunked_of(data.clone()))
        .send()
        .await
        .status(201);
    dav.req("PUT", "/files/wrong.bin")
        .header("OC-Checksum", "MD5:00000000000000000000000000000000")
        .body(chunked_of(data))
        .send()
        .await
        .status(400);
}

/// Reads one response of a raw HTTP/1.1 exchange: its head, and exactly Content-Length
/// bytes of body.
async fn raw_exchange(stream: &mut tokio::net::TcpStream, request: &str) -> (String, Vec<u8>) {
    use tokio::io::AsyncReadExt;
    stream.write_all(request.as_bytes()).await.unwrap();
    let head = raw::read_head(stream, Duration::from_secs(10))
        .await
        .expect("a response head");
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .expect("a Content-Length, not chunked framing");
    let mut body = vec![0; length];
    tokio::time::timeout(Duration::from_secs(30), stream.read_exact(&mut body))
        .await
        .expect("the body within 30 s")
        .unwrap();
    (head, body)
}

/// A plain HTTP/1.1 client, with the headers Python's http.client sends, gets each file
/// with a Content-Length and exactly its bytes, on one keep-alive connection: nothing
/// more follows a body than the next response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_http11_get_has_a_content_length_and_exactly_the_bytes() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let sizes = [0, 1, MIB - 1, MIB + 1, 5 * MIB + 3];
    for (i, size) in sizes.into_iter().enumerate() {
        dav.put(&format!("/files/g{i}.bin"), pattern(size))
            .await
            .status(201);
    }
    let mut stream = tokio::net::TcpStream::connect(srv.addr()).await.unwrap();
    for (i, size) in sizes.into_iter().enumerate() {
        let request = format!(
            "GET /files/g{i}.bin HTTP/1.1\r\nHost: {}\r\nAccept-Encoding: identity\r\n\
             Authorization: {}\r\n\r\n",
            srv.addr(),
            alice_auth()
        );
        let (head, body) = raw_exchange(&mut stream, &request).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            !head.to_ascii_lowercase().contains("transfer-encoding"),
            "{head}"
        );
        assert_eq!(body.len(), size);
        assert!(body == pattern(size), "g{i}.bin: the bytes differ");
    }
    // A range on the same connection: the framing before it held.
    let request = format!(
        "GET /files/g4.bin HTTP/1.1\r\nHost: {}\r\nRange: bytes=1048570-1048589\r\n\
         Authorization: {}\r\n\r\n",
        srv.addr(),
        alice_auth()
    );
    let (head, body) = raw_exchange(&mut stream, &request).await;
    assert!(head.starts_with("HTTP/1.1 206"), "{head}");
    assert_eq!(body, pattern(5 * MIB + 3)[1_048_570..1_048_590]);
}
