//! The server as a process and a listener: TLS with HTTP/2, refusing plain HTTP off
//! loopback, start-up narration, the access log, graceful shutdown.

use std::sync::Arc;

use crate::common::Dav;
use crate::common::bin::{ServerProcess, davgate, davgate_ok};
use crate::common::server::{PASSWORD, settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_http2_and_http1_by_alpn() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = crate::common::certs::localhost(dir.path());
    let toml = format!(
        "tls_cert = {:?}\ntls_key = {:?}\nlisten = \"127.0.0.1:0\"",
        cert_path.display().to_string(),
        key_path.display().to_string()
    );
    let settings = settings(&dir.path().join("data"), &toml);
    let store = davgate::server::open_store(&settings).await.unwrap();
    store
        .create_account("alice", &davgate::auth::password::hash_now(PASSWORD))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = davgate::server::start_on(settings, listener).await.unwrap();
    assert!(running.base_url().starts_with("https://"));

    let _ = rustls::crypto::ring::default_provider().install_default();
    let root = reqwest::Certificate::from_pem(&std::fs::read(&cert_path).unwrap()).unwrap();
    let port = running.addr().port();
    for (client, version) in [
        (
            reqwest::Client::builder()
                .add_root_certificate(root.clone())
                .resolve("localhost", running.addr())
                .build()
                .unwrap(),
            reqwest::Version::HTTP_2,
        ),
        (
            reqwest::Client::builder()
                .add_root_certificate(root.clone())
                .resolve("localhost", running.addr())
                .http1_only()
                .build()
                .unwrap(),
            reqwest::Version::HTTP_11,
        ),
    ] {
        let url = format!("https://localhost:{port}/files/hello.txt");
        let put = client
            .put(&url)
            .basic_auth("alice", Some(PASSWORD))
            .body("over tls")
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success(), "{}", put.status());
        assert_eq!(put.version(), version);
        let got = client
            .get(&url)
            .basic_auth("alice", Some(PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(got.text().await.unwrap(), "over tls");
    }
    running.shutdown().await;
}

#[test]
fn plain_http_off_loopback_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = davgate(dir.path(), &["serve", "--listen", "0.0.0.0:0"], "");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to serve plain HTTP")
            && err.contains("tls_cert")
            && err.contains("trusted_proxy"),
        "{err}"
    );
    let bad_tls = davgate(
        dir.path(),
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            "/nonexistent.pem",
            "--tls-key",
            "/nonexistent.pem",
        ],
        "",
    );
    assert_eq!(bad_tls.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_tls.stderr).contains("TLS: cannot read certificates"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_narrates_requests_are_logged_without_secrets_and_sigterm_drains() {
    let dir = tempfile::tempdir().unwrap();
    let empty = ServerProcess::start(dir.path(), &[]);
    let log = empty.log_with("no accounts yet");
    // The command repeats the options serve was given, so it works when pasted.
    let add_user = format!(
        "`davgate --data-dir {} user add NAME`",
        dir.path().display()
    );
    assert!(log.contains(&add_user), "{log}");
    assert!(
        log.contains(&format!("listening on http://{}", empty.addr)),
        "{log}"
    );
    assert!(
        log.contains(&format!("data in {}", dir.path().display())),
        "{log}"
    );
    drop(empty);

    davgate_ok(
        dir.path(),
        &["user", "add", "alice", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    let server = ServerProcess::start(dir.path(), &[]);
    let dav = Dav::new(server.addr, Some(("alice".into(), PASSWORD.into())));
    let put = dav.put("/files/logged.txt", "12345").await.status(201);
    let request_id = put.header("x-request-id").expect("X-Request-Id");
    assert_eq!(request_id.len(), 16, "{request_id}");
    dav.as_user("alice", "wrong secret")
        .get("/files/logged.txt")
        .await
        .status(401);
    let log = server.log_with("status=401");
    let line = log
        .lines()
        .find(|l| l.contains("method=PUT"))
        .expect("a PUT line");
    for field in [
        &format!("id={request_id}"),
        "path=/files/logged.txt",
        "account=alice",
        "status=201",
        "bytes_in=5",
        "ms=",
    ] {
        assert!(line.contains(field), "{field} missing: {line}");
    }
    assert!(
        log.lines()
            .any(|l| l.contains("status=401") && l.contains("account=-"))
    );
    assert!(
        !log.contains(PASSWORD) && !log.contains("wrong secret"),
        "a secret reached the log"
    );
    assert!(
        !log.contains("Authorization") && !log.contains("Basic "),
        "{log}"
    );

    // A long upload in flight is allowed to finish after SIGTERM.
    let slow = {
        let dav = dav.clone();
        tokio::spawn(async move {
            let chunks = futures_util::stream::iter(0..10).then(|_| async {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"0123456789"))
            });
            dav.req("PUT", "/files/slow.txt")
                .body(reqwest::Body::wrap_stream(chunks))
                .send()
                .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let status = tokio::task::spawn_blocking(move || server.signal("TERM"))
        .await
        .unwrap();
    assert!(
        status.is_some_and(|s| s.success()),
        "SIGTERM ends the server cleanly: {status:?}"
    );
    slow.await.unwrap().status(201);
    let check = ServerProcess::start(dir.path(), &[]);
    let dav = Dav::new(check.addr, Some(("alice".into(), PASSWORD.into())));
    assert_eq!(
        dav.get("/files/slow.txt").await.status(200).text().len(),
        100
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_needs_no_credentials() {
    let srv = crate::common::TestServer::start().await;
    srv.anonymous().get("/healthz").await.status(200);
    srv.anonymous()
        .get("/readyz")
        .await
        .status(200)
        .says("ready");
    let ids: Vec<String> = [
        srv.anonymous().get("/healthz").await,
        srv.anonymous().get("/healthz").await,
    ]
    .iter()
    .map(|r| r.header("x-request-id").expect("every answer has an id"))
    .collect();
    assert_ne!(ids[0], ids[1]);
    // Without its blob directory the store is not ready: 503, and the words say so.
    std::fs::rename(srv.blob_dir(), srv.data_dir().join("blobs-away")).unwrap();
    srv.anonymous()
        .get("/readyz")
        .await
        .status(503)
        .says("not ready");
    srv.anonymous()
        .get("/nowhere")
        .await
        .status(404)
        .says("/files/");
    let _ = Arc::new(());
}

use futures_util::StreamExt;

/// Files and directories under `dir` whose mode lets anyone but the owner in.
fn readable_by_others(dir: &std::path::Path, found: &mut Vec<String>) {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let meta = entry.metadata().unwrap();
        let mode = meta.permissions().mode() & 0o777;
        let path = entry.path();
        if meta.is_dir() {
            if mode != 0o700 {
                found.push(format!("{} is a {mode:o} directory", path.display()));
            }
            readable_by_others(&path, found);
        } else if mode & 0o077 != 0 {
            found.push(format!("{} is {mode:o}", path.display()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_is_private_whatever_the_umask() {
    // The usual umask, which makes files 0644 unless their creator says otherwise. It is
    // process-wide; 022 is what every other test runs under anyway.
    // SAFETY: umask only swaps the process's file-creation mask; it cannot fail.
    let previous = unsafe { libc::umask(0o022) };
    let parent = tempfile::tempdir().unwrap();
    let data_dir = parent.path().join("data");
    let settings = settings(&data_dir, "");
    let store = davgate::server::open_store(&settings).await.unwrap();
    let hash = davgate::auth::password::hash_now(PASSWORD);
    store.create_account("alice", &hash).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = davgate::server::start_on(settings, listener).await.unwrap();
    let dav = Dav::new(running.addr(), Some(("alice".into(), PASSWORD.into())));
    dav.mkcol("/files/docs/").await.status(201);
    dav.put("/files/docs/secret.txt", "the plans")
        .await
        .status(201);

    use std::os::unix::fs::PermissionsExt;
    let top = std::fs::metadata(&data_dir).unwrap().permissions().mode() & 0o777;
    let mut found = Vec::new();
    if top != 0o700 {
        found.push(format!("the data directory is {top:o}"));
    }
    readable_by_others(&data_dir, &mut found);
    let names: Vec<String> = walk_names(&data_dir);
    running.shutdown().await;
    // SAFETY: as above.
    unsafe { libc::umask(previous) };
    assert!(found.is_empty(), "{found:#?}");
    for expected in ["davgate.db", "davgate.db-wal", "blobs"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
}

fn walk_names(dir: &std::path::Path) -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        names.push(entry.file_name().to_string_lossy().into_owned());
        if entry.path().is_dir() {
            names.extend(walk_names(&entry.path()));
        }
    }
    names
}
