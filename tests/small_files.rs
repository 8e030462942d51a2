//! Small files kept in the database (`inline_blob_max`): no blob file of their own, and
//! to a client exactly like any other file: GET, Range, ETag, checksums, COPY, DELETE,
//! restore from the trash, quota.

use bytes::Bytes;
use davgate_storage::Digests;

use crate::common::TestServer;

const KIB: usize = 1024;

/// Bytes that differ at every offset a test may look at.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

const CHECKSUMS: &str = r#"<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><oc:checksums/></d:prop></d:propfind>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_file_has_no_blob_file_and_behaves_like_any_other() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let data = pattern(4 * KIB);
    let put = dav.put("/files/note.bin", data.clone()).await.status(201);
    assert_eq!(srv.blob_files(), 0, "a 4 KiB file makes no file of its own");
    let etag = put.header("etag").expect("PUT returns an ETag");

    let got = dav.get("/files/note.bin").await.status(200);
    assert!(got.body == data);
    assert_eq!(got.header("etag").as_deref(), Some(etag.as_str()));
    dav.req("GET", "/files/note.bin")
        .header("If-None-Match", &etag)
        .send()
        .await
        .status(304);
    let range = dav
        .req("GET", "/files/note.bin")
        .header("Range", "bytes=1000-1099")
        .send()
        .await
        .status(206);
    assert_eq!(
        range.header("content-range").as_deref(),
        Some("bytes 1000-1099/4096")
    );
    assert!(range.body == data[1000..1100]);
    let tail = dav
        .req("GET", "/files/note.bin")
        .header("Range", "bytes=-10")
        .send()
        .await
        .status(206);
    assert!(tail.body == data[data.len() - 10..]);

    // Both checksums, straight after the upload.
    let digests = Digests::of(&data);
    let props = dav
        .req("PROPFIND", "/files/note.bin")
        .header("Depth", "0")
        .body(CHECKSUMS)
        .send()
        .await
        .status(207);
    assert_eq!(
        props.prop("checksum"),
        format!("SHA1:{} MD5:{}", digests.sha1, digests.md5.unwrap())
    );

    // COPY shares it; DELETE trashes the original; MOVE restores it.
    dav.req("COPY", "/files/note.bin")
        .header("Destination", &dav.url("/files/copy.bin"))
        .send()
        .await
        .status(201);
    assert!(dav.get("/files/copy.bin").await.status(200).body == data);
    assert_eq!(srv.account("alice").await.used_bytes, 8 * KIB as u64);
    dav.delete("/files/note.bin").await.status(204);
    dav.get("/files/note.bin").await.status(404);
    let item = dav
        .propfind("/trash/", "1")
        .await
        .hrefs()
        .into_iter()
        .find(|h| h.starts_with("/trash/note.bin.d"))
        .expect("the file is in the trash");
    assert!(dav.get(&item).await.status(200).body == data);
    dav.req("MOVE", &item)
        .header("Destination", &dav.url("/files/note.bin"))
        .send()
        .await
        .status(201);
    assert!(dav.get("/files/note.bin").await.status(200).body == data);

    // Purged for good, its bytes and quota go.
    dav.delete("/files/note.bin").await.status(204);
    dav.delete("/files/copy.bin").await.status(204);
    for item in dav.propfind("/trash/", "1").await.hrefs() {
        if item != "/trash/" {
            dav.delete(&item).await.status(204);
        }
    }
    assert_eq!(srv.account("alice").await.used_bytes, 0);
    assert_eq!(srv.blob_files(), 0);
}

/// A chunked small body (no length known up front) is kept inline too, and gets its MD5
/// at the commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_chunked_upload_is_inline_with_both_checksums() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let data = pattern(10 * KIB);
    let chunks: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(3000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    dav.req("PUT", "/files/chunked.bin")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .status(201);
    assert_eq!(srv.blob_files(), 0);
    let digests = Digests::of(&data);
    let props = dav
        .req("PROPFIND", "/files/chunked.bin")
        .header("Depth", "0")
        .body(CHECKSUMS)
        .send()
        .await
        .status(207);
    assert_eq!(
        props.prop("checksum"),
        format!("SHA1:{} MD5:{}", digests.sha1, digests.md5.unwrap())
    );
    assert!(dav.get("/files/chunked.bin").await.status(200).body == data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_byte_past_the_threshold_makes_a_blob_file() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let at = pattern(64 * KIB);
    let past = pattern(64 * KIB + 1);
    dav.put("/files/at.bin", at.clone()).await.status(201);
    assert_eq!(srv.blob_files(), 0);
    dav.put("/files/past.bin", past.clone()).await.status(201);
    assert_eq!(srv.blob_files(), 1);
    assert!(dav.get("/files/at.bin").await.status(200).body == at);
    assert!(dav.get("/files/past.bin").await.status(200).body == past);
    // Replacing the large file with a small one deletes its blob file.
    dav.put("/files/past.bin", "small now").await.status(204);
    assert_eq!(srv.blob_files(), 0);
    assert_eq!(
        dav.get("/files/past.bin").await.status(200).text(),
        "small now"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_threshold_at_zero_every_file_is_a_blob_file() {
    let srv = TestServer::start_with("inline_blob_max = 0").await;
    let dav = srv.alice();
    let data = pattern(4 * KIB);
    dav.put("/files/note.bin", data.clone()).await.status(201);
    assert_eq!(srv.blob_files(), 1);
    assert!(dav.get("/files/note.bin").await.status(200).body == data);
}
