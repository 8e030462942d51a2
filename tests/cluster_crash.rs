//! A node killed mid-upload in a cluster on PostgreSQL + S3: two `davgate serve`
//! processes share one database and one bucket; node A gets SIGKILL while a 200 MiB PUT
//! streams into it, after several multipart parts went up. Node B serves throughout,
//! shows nothing of the upload, and its garbage collector aborts the multipart upload A
//! left once it is older than `s3_multipart_max_age` (it spares it while it is younger:
//! it might be streaming). The bucket is listed through the S3 API. Skipped without
//! PostgreSQL or S3, unless CI requires them.

use std::time::{Duration, Instant};

use bytes::Bytes;
use davgate_storage::blob::BlobStore;

use crate::cluster::{Database, cli};
use crate::common::bin::ServerProcess;
use crate::common::server::PASSWORD;
use crate::common::{Dav, s3};

const MIB: usize = 1 << 20;
/// The upload node A is killed in.
const UPLOAD: usize = 200 * MIB;
/// Bytes streamed before the kill: eight parts of 5 MiB.
const BEFORE_KILL: usize = 40 * MIB;
/// `s3_multipart_max_age` of both nodes: longer than the test needs to reach the kill,
/// short enough to wait for.
const MULTIPART_MAX_AGE: Duration = Duration::from_secs(20);
/// The peak resident memory a node may reach (issue 16: under 96 MiB during a 1 GiB
/// upload; parts are 5 MiB here, so the bound holds with room to spare).
const PEAK_RSS_MAX_KIB: u64 = 96 * 1024;

/// A node's peak resident memory so far (`VmHWM`), in KiB.
fn peak_rss_kib(node: &ServerProcess) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", node.child.id()))
        .expect("the node's /proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc status")
}

/// `quota-used-bytes` of alice's files.
async fn quota_used(node: &Dav) -> u64 {
    node.props("/files/", "0", &["quota-used-bytes"])
        .await
        .status(207)
        .values("quota-used-bytes")[0]
        .parse()
        .unwrap()
}

/// Names listed in `/files/`.
async fn listing(node: &Dav) -> Vec<String> {
    node.propfind("/files/", "1").await.status(207).hrefs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_upload_leaves_nothing_on_the_other() {
    let Some(endpoint) = s3::endpoint() else {
        return;
    };
    let Some(db) = Database::create().await else {
        return;
    };
    let bucket_name = s3::bucket_name("davgate-crash");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("davgate.toml");
    // A short trash retention makes upkeep (and so the collector) run every second.
    std::fs::write(
        &config,
        format!(
            "blob_store = \"s3\"\ns3_endpoint = {endpoint:?}\ns3_bucket = {bucket_name:?}\n\
             s3_allow_http = true\ns3_part_size = \"5MiB\"\ninline_blob_max = 0\n\
             s3_multipart_max_age = \"{}s\"\ntrash_retention = \"4s\"\n",
            MULTIPART_MAX_AGE.as_secs()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let flags = ["--config", config, "--database-url", &db.url];
    let data_a = tempfile::tempdir().unwrap();
    let data_b = tempfile::tempdir().unwrap();
    cli(
        data_a.path(),
        &db.url,
        &[
            "--config",
            config,
            "user",
            "add",
            "alice",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    // The bucket as the S3 API shows it, every object whatever its age.
    let bucket = s3::bucket(&endpoint, &bucket_name);

    let node_a = ServerProcess::start(data_a.path(), &flags);
    let node_b = ServerProcess::start(data_b.path(), &flags);
    let a = Dav::new(node_a.addr, Some(("alice".into(), PASSWORD.into())));
    let b = Dav::new(node_b.addr, Some(("alice".into(), PASSWORD.into())));
    let kept: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    a.put("/files/kept.bin", kept.clone()).await.status(201);
    let quota_before = quota_used(&b).await;
    assert_eq!(quota_before, kept.len() as u64);
    let objects_before = bucket.list().await.unwrap().len();
    assert_eq!(objects_before, 1);

    // A 200 MiB PUT streamed to A a mebibyte at a time; the channel holds one chunk, so
    // what was sent is what A has read, less the sockets' buffers.
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(1);
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::io::Error>(chunk), rx))
    });
    // Sent by reqwest itself: its connection is reset by the kill, an outcome the
    // test helpers treat as a failure.
    let put = tokio::spawn(
        reqwest::Client::new()
            .put(a.url("/files/big.bin"))
            .basic_auth("alice", Some(PASSWORD))
            .header("Content-Length", UPLOAD.to_string())
            .body(reqwest::Body::wrap_stream(body))
            .send(),
    );
    let started = Instant::now();
    let chunk = Bytes::from(vec![0x5a; MIB]);
    for sent in 0..BEFORE_KILL / MIB {
        tokio::time::timeout(Duration::from_secs(30), tx.send(chunk.clone()))
            .await
            .unwrap_or_else(|_| panic!("A stopped reading after {sent} MiB"))
            .expect("the upload is still streaming");
        // B answers while A streams.
        if sent % 10 == 5 {
            b.get("/files/kept.bin").await.status(200);
            assert!(
                !listing(&b).await.iter().any(|h| h.ends_with("big.bin")),
                "an upload in flight is visible"
            );
        }
    }
    // A multipart upload is under way, and B's collector (it ran every second) left it.
    let mut in_flight = Vec::new();
    for _ in 0..100 {
        in_flight = bucket.incomplete_uploads().await.unwrap();
        if !in_flight.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(in_flight.len(), 1, "one multipart upload in flight");
    let rss_a = peak_rss_kib(&node_a);
    assert!(
        started.elapsed() < MULTIPART_MAX_AGE,
        "reaching the kill took {:?}, longer than the multipart age: the machine is too slow \
         for this test's timing",
        started.elapsed()
    );

    node_a.kill();
    let killed_at = Instant::now();
    drop(tx);
    let answer = put.await.unwrap();
    assert!(
        answer.as_ref().is_err(),
        "the killed upload got an answer: {answer:?}"
    );

    // Nothing of it on B, the quota unchanged, and B keeps serving.
    b.get("/files/big.bin").await.status(404);
    let names = listing(&b).await;
    assert!(!names.iter().any(|h| h.ends_with("big.bin")), "{names:?}");
    assert!(names.iter().any(|h| h.ends_with("kept.bin")), "{names:?}");
    assert_eq!(quota_used(&b).await, quota_before);
    assert!(b.get("/files/kept.bin").await.status(200).body == kept);
    if started.elapsed() + Duration::from_secs(2) < MULTIPART_MAX_AGE {
        assert_eq!(
            bucket.incomplete_uploads().await.unwrap(),
            in_flight,
            "the killed upload is left for the collector"
        );
    }

    // Once older than the multipart age, B's collector aborts it; no object is made of it.
    let deadline = started + MULTIPART_MAX_AGE + Duration::from_secs(20);
    loop {
        let left = bucket.incomplete_uploads().await.unwrap();
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the multipart upload A left is still there {:?} after the kill: {left:?}\n{}",
            killed_at.elapsed(),
            node_b.stderr()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        node_b
            .stderr()
            .contains("aborting an incomplete multipart upload"),
        "B's collector aborted it"
    );
    assert_eq!(bucket.list().await.unwrap().len(), objects_before);
    b.get("/files/big.bin").await.status(404);
    assert_eq!(quota_used(&b).await, quota_before);
    assert!(b.get("/files/kept.bin").await.status(200).body == kept);

    let rss_b = peak_rss_kib(&node_b);
    eprintln!("peak RSS: node A {rss_a} KiB after {BEFORE_KILL} bytes, node B {rss_b} KiB");
    assert!(rss_a < PEAK_RSS_MAX_KIB, "node A peaked at {rss_a} KiB");
    assert!(rss_b < PEAK_RSS_MAX_KIB, "node B peaked at {rss_b} KiB");

    drop(node_b);
    s3::remove_bucket(&bucket).await;
    db.drop_now().await;
}
