//! `/metrics` over HTTP: the series move with requests, the token guards the main
//! listener, the separate listener exists only where configured, and no request can add
//! a series of its own.

use std::time::Duration;

use crate::common::server::TestServer;

const TOKEN: &str = "test-metrics-token-0123456789";

/// Scrapes `url` with the token, and the value of every sample line.
async fn scrape(url: &str, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.expect("scrape is answered");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

/// The value of the sample `series` (the whole name with labels), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().expect("a number"))
}

/// Scrapes until `ready` holds: a request is counted when its response body ends, a
/// moment after the client has read it.
async fn scrape_until(url: &str, ready: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    for _ in 0..100 {
        text = scrape(url, Some(TOKEN)).await.1;
        if ready(&text) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the metrics never showed what was expected:\n{text}");
}

fn requests(route: &str, method: &str, status: u16) -> String {
    format!(
        "davgate_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_bytes_sign_ins_and_pools_show_in_the_series() {
    let server = TestServer::start_with(&format!("metrics_token = {TOKEN:?}")).await;
    let metrics = server.url("/metrics");
    let alice = server.alice();
    let content = vec![b'x'; 10_000];
    alice.put("/files/a.txt", content.clone()).await.status(201);
    alice.get("/files/a.txt").await.status(200);
    alice.get("/files/a.txt").await.status(200);
    alice.propfind("/files/", "1").await.status(207);
    server.anonymous().get("/files/").await.status(401);
    // reqwest follows the 301 to /dav/, which asks for credentials.
    server
        .anonymous()
        .get("/.well-known/caldav")
        .await
        .status(401);
    server.anonymous().get("/healthz").await.status(200);
    alice
        .as_user("alice", "wrong password")
        .get("/files/")
        .await
        .status(401);

    let get = requests("files", "GET", 200);
    let text = scrape_until(&metrics, |t| value(t, &get) == Some(2.0)).await;
    assert_eq!(
        value(&text, &requests("files", "PUT", 201)),
        Some(1.0),
        "{text}"
    );
    assert_eq!(value(&text, &requests("files", "PROPFIND", 207)), Some(1.0));
    assert_eq!(value(&text, &requests("files", "GET", 401)), Some(2.0));
    assert_eq!(value(&text, &requests("well-known", "GET", 301)), Some(1.0));
    assert_eq!(value(&text, &requests("dav", "GET", 401)), Some(1.0));
    assert_eq!(value(&text, &requests("health", "GET", 200)), Some(1.0));
    let received = value(&text, "davgate_http_received_bytes_total").unwrap();
    let sent = value(&text, "davgate_http_sent_bytes_total").unwrap();
    assert!(received >= 10_000.0, "{received}");
    assert!(sent >= 20_000.0, "{sent}");
    let files_count = value(
        &text,
        "davgate_http_request_duration_seconds_count{route=\"files\"}",
    )
    .unwrap();
    assert!(files_count >= 6.0, "{text}");
    assert_eq!(
        value(
            &text,
            "davgate_http_request_duration_seconds_count{route=\"trash\"}"
        ),
        Some(0.0),
        "every route's histogram is there from the start"
    );
    assert_eq!(value(&text, "davgate_uploads_in_flight"), Some(0.0));
    // Sign-ins: the first check missed the cache and ran, the next ones hit it.
    assert!(value(&text, "davgate_auth_cache_lookups_total{result=\"hit\"}").unwrap() >= 3.0);
    assert!(value(&text, "davgate_auth_cache_lookups_total{result=\"miss\"}").unwrap() >= 2.0);
    assert!(
        value(
            &text,
            "davgate_auth_throttle_decisions_total{decision=\"go\"}"
        )
        .unwrap()
            >= 2.0
    );
    assert_eq!(
        value(
            &text,
            "davgate_auth_throttle_decisions_total{decision=\"wait\"}"
        ),
        Some(0.0)
    );
    assert_eq!(value(&text, "davgate_auth_hash_queue"), Some(0.0));
    assert_eq!(value(&text, "davgate_auth_hash_busy_total"), Some(0.0));
    assert!(value(&text, "davgate_connections_open").unwrap() >= 1.0);
    assert!(value(&text, "davgate_db_pool_connections").unwrap() >= 1.0);
    assert!(value(&text, "davgate_db_pool_idle_connections").is_some());
    // The PUT's commit, at least, waited for an fsync of SQLite's WAL.
    assert!(
        value(&text, "davgate_db_wal_flushes_total").unwrap() >= 1.0,
        "{text}"
    );
    assert!(
        value(&text, "davgate_blob_errors_total").is_some(),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_in_flight_is_counted_until_it_ends() {
    let server = TestServer::start_with(&format!("metrics_token = {TOKEN:?}")).await;
    let metrics = server.url("/metrics");
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let body = reqwest::Body::wrap_stream(tokio_stream_of(receiver));
    let alice = server.alice();
    let upload = tokio::spawn(async move { alice.put("/files/slow.bin", body).await });
    sender.send(Ok(vec![b'a'; 1000])).await.unwrap();
    scrape_until(&metrics, |t| {
        value(t, "davgate_uploads_in_flight") == Some(1.0)
    })
    .await;
    sender.send(Ok(vec![b'b'; 1000])).await.unwrap();
    drop(sender);
    upload.await.unwrap().status(201);
    scrape_until(&metrics, |t| {
        value(t, "davgate_uploads_in_flight") == Some(0.0)
    })
    .await;
    server.stop().await;
}

/// A stream of what the channel receives.
fn tokio_stream_of<T: Send + 'static>(
    mut receiver: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

#[tokio::test]
async fn the_main_listener_serves_metrics_only_to_the_token() {
    let server = TestServer::start_with(&format!("metrics_token = {TOKEN:?}")).await;
    let url = server.url("/metrics");
    let (status, text) = scrape(&url, None).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("metrics_token"), "{text}");
    assert_eq!(
        scrape(&url, Some("test-metrics-token-012345678")).await.0,
        401
    );
    // Basic credentials of a real account are no way in either.
    server.alice().get("/metrics").await.status(401);
    let resp = reqwest::Client::new()
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("# TYPE davgate_http_requests_total counter")
    );
    assert!(
        server.running.as_ref().unwrap().metrics_addr().is_none(),
        "no separate listener unless metrics_listen is set"
    );
    server.stop().await;

    // Off by default: /metrics is just a path that is not served.
    let server = TestServer::start().await;
    let (status, text) = scrape(&server.url("/metrics"), Some(TOKEN)).await;
    assert_eq!(status, 404, "{text}");
    assert!(server.running.as_ref().unwrap().metrics_addr().is_none());
    server.stop().await;
}

#[tokio::test]
async fn the_separate_listener_serves_metrics_and_nothing_else() {
    let server = TestServer::start_with("metrics_listen = \"127.0.0.1:0\"").await;
    let addr = server
        .running
        .as_ref()
        .unwrap()
        .metrics_addr()
        .expect("bound");
    assert_ne!(addr, server.addr());
    server.alice().get("/files/").await.status(200);
    let own = format!("http://{addr}/metrics");
    let text = scrape_until(&own, |t| value(t, &requests("files", "GET", 200)).is_some()).await;
    assert!(text.contains("davgate_connections_open"), "{text}");
    let (status, _) = scrape(&format!("http://{addr}/files/"), None).await;
    assert_eq!(status, 404, "the metrics listener serves no files");
    assert_eq!(scrape(&format!("http://{addr}/healthz"), None).await.0, 200);
    // Without metrics_token, the main listener does not serve /metrics.
    assert_eq!(scrape(&server.url("/metrics"), None).await.0, 404);
    server.stop().await;

    // With a token too, both ask for it.
    let server = TestServer::start_with(&format!(
        "metrics_listen = \"127.0.0.1:0\"\nmetrics_token = {TOKEN:?}"
    ))
    .await;
    let addr = server.running.as_ref().unwrap().metrics_addr().unwrap();
    let own = format!("http://{addr}/metrics");
    assert_eq!(scrape(&own, None).await.0, 401);
    assert_eq!(scrape(&own, Some(TOKEN)).await.0, 200);
    assert_eq!(scrape(&server.url("/metrics"), Some(TOKEN)).await.0, 200);
    server.stop().await;
}

#[tokio::test]
async fn requests_to_random_paths_add_no_series() {
    let server = TestServer::start_with(&format!("metrics_token = {TOKEN:?}")).await;
    let metrics = server.url("/metrics");
    let alice = server.alice();
    let random = |i: u32| format!("zzqrandom{:08x}{i}", rand::random::<u32>());
    let round = |n: u32| {
        let alice = alice.clone();
        async move {
            for i in 0..n {
                alice.get(&format!("/{}", random(i))).await.status(404);
                alice
                    .get(&format!("/files/{}", random(i)))
                    .await
                    .status(404);
                alice
                    .req("BREW", &format!("/{}", random(i)))
                    .send()
                    .await
                    .status(404);
                alice.get(&format!("/dav/{}/x", random(i))).await;
            }
        }
    };
    let series = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("davgate_") && !l.starts_with('#'))
            .count()
    };
    // The scrapes themselves count as probes, not as unknown paths: let the first one
    // show before counting series.
    let probes = requests("health", "GET", 200);
    scrape_until(&metrics, |t| value(t, &probes).is_some()).await;
    round(1).await;
    let other = requests("other", "OTHER", 404);
    let before = scrape_until(&metrics, |t| value(t, &other) == Some(1.0)).await;
    round(25).await;
    let after = scrape_until(&metrics, |t| value(t, &other) == Some(26.0)).await;
    assert_eq!(series(&before), series(&after), "{after}");
    assert!(
        !after.contains("zzqrandom") && !after.contains("BREW"),
        "{after}"
    );
    server.stop().await;
}
