//! GET with `Range`: overlapping ranges are coalesced, too many distinct ranges get the
//! whole file, and several ranges come back as a well-framed multipart/byteranges body
//! (RFC 9110 §14.2, §14.6) with a boundary no file can guess.

use crate::common::TestServer;

const MIB: usize = 1024 * 1024;

/// Content whose every 4-byte window is distinct enough to catch a shifted range.
fn content(len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(7) % 251) as u8)
        .collect()
}

/// One part of a multipart/byteranges body: its Content-Range and bytes.
#[derive(Debug)]
struct Part {
    start: usize,
    end: usize,
    total: usize,
    bytes: Vec<u8>,
}

/// The boundary a multipart/byteranges Content-Type names.
fn boundary_of(content_type: &str) -> String {
    let (kind, params) = content_type.split_once(';').expect("a boundary parameter");
    assert_eq!(kind.trim(), "multipart/byteranges");
    let boundary = params.trim().strip_prefix("boundary=").expect("boundary=");
    boundary.trim_matches('"').to_owned()
}

/// Parses a multipart/byteranges body as RFC 2046 frames it (CRLF line ends), taking each
/// part's length from its Content-Range so content that looks like a delimiter is harmless.
fn parts(body: &[u8], boundary: &str) -> Vec<Part> {
    let open = format!("--{boundary}\r\n");
    let next = format!("\r\n--{boundary}\r\n");
    let close = format!("\r\n--{boundary}--\r\n");
    let mut rest = body
        .strip_prefix(open.as_bytes())
        .unwrap_or_else(|| panic!("body starts with {open:?}"));
    let mut found = Vec::new();
    loop {
        let head_end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("part headers end with an empty line");
        let head = std::str::from_utf8(&rest[..head_end]).expect("ASCII part headers");
        let range = head
            .lines()
            .find_map(|l| {
                l.strip_prefix("Content-Range: bytes ")
                    .or_else(|| l.strip_prefix("content-range: bytes "))
            })
            .expect("each part has a Content-Range");
        let (span, total) = range.split_once('/').unwrap();
        let (start, end) = span.split_once('-').unwrap();
        let (start, end): (usize, usize) = (start.parse().unwrap(), end.parse().unwrap());
        rest = &rest[head_end + 4..];
        let len = end - start + 1;
        found.push(Part {
            start,
            end,
            total: total.parse().unwrap(),
            bytes: rest[..len].to_vec(),
        });
        rest = &rest[len..];
        if rest == close.as_bytes() {
            return found;
        }
        rest = rest
            .strip_prefix(next.as_bytes())
            .unwrap_or_else(|| panic!("a part is followed by {next:?} or {close:?}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_ranges_are_coalesced_not_amplified() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let file = content(3 * MIB);
    dav.put("/files/big.bin", file.clone()).await.status(201);

    // 200 ranges that each cover most of the file: served naively, 200 × 3 MiB.
    let specs: Vec<String> = (0..200).map(|i| format!("{}-", i * 100)).collect();
    let resp = dav
        .req("GET", "/files/big.bin")
        .header("Range", &format!("bytes={}", specs.join(",")))
        .send()
        .await;
    assert!(
        resp.body.len() <= file.len() + 4096,
        "200 overlapping ranges answered {} bytes for a {} byte file",
        resp.body.len(),
        file.len()
    );
    let resp = resp.status(206);
    assert_eq!(
        resp.header("content-range").as_deref(),
        Some("bytes 0-3145727/3145728"),
        "the ranges coalesce into one"
    );
    assert!(
        resp.body.as_ref() == file.as_slice(),
        "coalesced bytes differ"
    );

    // Adjacent ranges coalesce too, whatever order they are listed in.
    let resp = dav
        .req("GET", "/files/big.bin")
        .header("Range", "bytes=100-199, 0-99,200-299")
        .send()
        .await
        .status(206);
    assert_eq!(
        resp.header("content-range").as_deref(),
        Some("bytes 0-299/3145728")
    );
    assert!(resp.body.as_ref() == &file[..300]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_distinct_ranges_get_the_whole_file() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let file = content(MIB);
    dav.put("/files/f.bin", file.clone()).await.status(201);
    // 100 one-byte ranges with gaps: each part would cost more headers than bytes.
    let specs: Vec<String> = (0..100).map(|i| format!("{0}-{0}", i * 1000)).collect();
    let resp = dav
        .req("GET", "/files/f.bin")
        .header("Range", &format!("bytes={}", specs.join(",")))
        .send()
        .await
        .status(200);
    assert!(resp.body.as_ref() == file.as_slice());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_disjoint_ranges_are_a_well_framed_multipart_body() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    // The file holds dav-server's own fixed delimiter: a client splitting on it would
    // cut the content if the boundary were not random.
    let mut file = content(200_000);
    file[50_100..50_113].copy_from_slice(b"\n--BOUNDARY\n\n");
    dav.put("/files/m.bin", file.clone()).await.status(201);
    let resp = dav
        .req("GET", "/files/m.bin")
        .header("Range", "bytes=150000-150099,50000-50199,-10")
        .send()
        .await
        .status(206);
    let boundary = boundary_of(&resp.header("content-type").expect("content type"));
    assert_ne!(
        boundary, "BOUNDARY",
        "a fixed boundary can be forged by content"
    );
    assert!(boundary.len() >= 16);
    let found = parts(&resp.body, &boundary);
    let spans: Vec<(usize, usize)> = found.iter().map(|p| (p.start, p.end)).collect();
    assert_eq!(
        spans,
        [(50_000, 50_199), (150_000, 150_099), (199_990, 199_999)]
    );
    for part in &found {
        assert_eq!(part.total, file.len());
        assert!(part.bytes == file[part.start..=part.end], "part {part:?}");
    }

    let other = dav
        .req("GET", "/files/m.bin")
        .header("Range", "bytes=0-0,2-2")
        .send()
        .await
        .status(206);
    let other_boundary = boundary_of(&other.header("content-type").unwrap());
    assert_ne!(
        other_boundary, boundary,
        "each response gets its own boundary"
    );
    assert_eq!(parts(&other.body, &other_boundary).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsatisfiable_and_odd_ranges() {
    let srv = TestServer::start().await;
    let dav = srv.alice();
    let file = content(1000);
    dav.put("/files/s.bin", file.clone()).await.status(201);
    // One satisfiable range is enough (RFC 9110 §14.1.1): the other is dropped.
    let resp = dav
        .req("GET", "/files/s.bin")
        .header("Range", "bytes=5000-6000,10-19")
        .send()
        .await
        .status(206);
    assert_eq!(
        resp.header("content-range").as_deref(),
        Some("bytes 10-19/1000")
    );
    // A suffix longer than the file is the whole file.
    let resp = dav
        .req("GET", "/files/s.bin")
        .header("Range", "bytes=-5000")
        .send()
        .await
        .status(206);
    assert_eq!(
        resp.header("content-range").as_deref(),
        Some("bytes 0-999/1000")
    );
    let resp = dav
        .req("GET", "/files/s.bin")
        .header("Range", "bytes=2000-,-0")
        .send()
        .await
        .status(416);
    assert_eq!(
        resp.header("content-range").as_deref(),
        Some("bytes */1000")
    );
    // A range header we cannot read is ignored: the whole file.
    let resp = dav
        .req("GET", "/files/s.bin")
        .header("Range", "bytes=9-3")
        .send()
        .await
        .status(200);
    assert!(resp.body.as_ref() == file.as_slice());
}
