//! Connections are reaped and capped: a socket that never sends a request, a TLS
//! handshake that never happens and an idle keep-alive connection are closed; over the
//! total or per-address cap the newest connection is refused with a 503 and a close,
//! while established connections keep being answered.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::common::TestServer;
use crate::common::bin::ServerProcess;
use crate::common::raw::{alice_auth, read_head, read_response};
use crate::common::server::settings;

/// Longer than any timeout these tests configure, shorter than the defaults.
const PATIENCE: Duration = Duration::from_secs(5);

/// Reads until the server closes the connection; `None` if it is still open after
/// `within`, else everything it sent before closing.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let received = bytes_until_closed(stream, within).await?;
    Some(String::from_utf8_lossy(&received).into())
}

async fn bytes_until_closed(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let deadline = tokio::time::Instant::now() + within;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(received),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

/// The types of the HTTP/2 frames in `bytes`, in order.
fn h2_frame_types(mut bytes: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    while bytes.len() >= 9 {
        let length =
            usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
        types.push(bytes[3]);
        bytes = &bytes[(9 + length).min(bytes.len())..];
    }
    types
}

async fn health_on(stream: &mut TcpStream) -> u16 {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("request written");
    read_response(stream, PATIENCE).await.status
}

/// A connection to `server` from `source` (another loopback address than 127.0.0.1
/// stands for another client).
async fn connect_from(source: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{source}:0").parse().expect("address"))
        .expect("bind a loopback source address");
    socket.connect(server).await.expect("connect")
}

#[track_caller]
fn assert_refused(sent: Option<String>, why: &str) {
    let sent = sent.expect("a connection over the cap is closed at once");
    assert!(sent.starts_with("HTTP/1.1 503"), "{sent:?}");
    assert!(
        sent.to_ascii_lowercase().contains("connection: close"),
        "{sent:?}"
    );
    assert!(sent.contains(why), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_sends_nothing_is_closed_within_the_header_timeout() {
    let srv = TestServer::start_with("header_timeout = \"1s\"").await;
    let mut silent = TcpStream::connect(srv.addr()).await.unwrap();
    assert!(
        closed_within(&mut silent, PATIENCE).await.is_some(),
        "a socket that never sent a byte was still open after {PATIENCE:?}"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_that_never_ends_is_cut_at_the_header_timeout() {
    let srv = TestServer::start_with("header_timeout = \"1s\"").await;
    let mut slow = TcpStream::connect(srv.addr()).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: loc")
        .await
        .unwrap();
    assert!(closed_within(&mut slow, PATIENCE).await.is_some());
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_connection_without_a_request_is_closed() {
    let srv = TestServer::start_with("header_timeout = \"1s\"").await;
    let mut h2c = TcpStream::connect(srv.addr()).await.unwrap();
    // The prior-knowledge preface and an empty SETTINGS frame, then nothing.
    h2c.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    assert!(closed_within(&mut h2c, PATIENCE).await.is_some());
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_connection_that_never_handshakes_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = crate::common::certs::localhost(dir.path());
    let toml = format!(
        "tls_cert = {:?}\ntls_key = {:?}\nheader_timeout = \"1s\"",
        cert_path.display().to_string(),
        key_path.display().to_string()
    );
    let settings = settings(&dir.path().join("data"), &toml);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = davgate::server::start_on(settings, listener).await.unwrap();

    let mut silent = TcpStream::connect(running.addr()).await.unwrap();
    assert!(
        closed_within(&mut silent, PATIENCE).await.is_some(),
        "a TLS socket that never sent a ClientHello was still open after {PATIENCE:?}"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let srv = TestServer::start_with("idle_timeout = \"2s\"").await;
    let mut kept = TcpStream::connect(srv.addr()).await.unwrap();
    assert_eq!(health_on(&mut kept).await, 200);
    // Well inside the idle timeout the connection still serves.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(health_on(&mut kept).await, 200);
    let idle = tokio::time::Instant::now();
    assert!(
        closed_within(&mut kept, PATIENCE).await.is_some(),
        "an idle keep-alive connection was still open after {PATIENCE:?}"
    );
    assert!(
        idle.elapsed() >= Duration::from_millis(1500),
        "closed after {:?}, before the idle timeout",
        idle.elapsed()
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_http2_connection_gets_a_goaway_after_the_idle_timeout() {
    const HEADERS: u8 = 0x1;
    const GOAWAY: u8 = 0x7;
    // header_timeout also bounds how long a closing connection with no request may
    // linger: this client never answers the PING that follows the first GOAWAY.
    let srv = TestServer::start_with("idle_timeout = \"2s\"\nheader_timeout = \"1s\"").await;
    let mut h2c = TcpStream::connect(srv.addr()).await.unwrap();
    // Prior-knowledge preface, empty SETTINGS, then GET /healthz on stream 1 in HPACK:
    // :method GET, :scheme http (static table), :path and :authority as literals.
    let mut block = vec![0x82, 0x86, 0x44, 8];
    block.extend_from_slice(b"/healthz");
    block.extend_from_slice(&[0x41, 9]);
    block.extend_from_slice(b"localhost");
    let mut request = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0".to_vec();
    request.extend_from_slice(&[0, 0, block.len() as u8, HEADERS, 0x5, 0, 0, 0, 1]);
    request.extend_from_slice(&block);
    h2c.write_all(&request).await.unwrap();
    let sent = tokio::time::Instant::now();

    let received = bytes_until_closed(&mut h2c, PATIENCE)
        .await
        .expect("an idle HTTP/2 connection was still open after PATIENCE");
    assert!(
        sent.elapsed() >= Duration::from_millis(1500),
        "closed after {:?}, before the idle timeout",
        sent.elapsed()
    );
    let types = h2_frame_types(&received);
    assert!(types.contains(&HEADERS), "no response: {types:?}");
    assert!(types.contains(&GOAWAY), "no GOAWAY: {types:?}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_the_client_pauses_is_not_taken_for_an_idle_connection() {
    const SIZE: usize = 32 << 20;
    // Both short: a connection taken for idle would be closed, then dropped, in 2s.
    let srv = TestServer::start_with("idle_timeout = \"1s\"\nheader_timeout = \"1s\"").await;
    srv.alice()
        .put("/files/big.bin", vec![7u8; SIZE])
        .await
        .status(201);
    let mut download = TcpStream::connect(srv.addr()).await.unwrap();
    download
        .write_all(
            format!(
                "GET /files/big.bin HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\n\r\n",
                alice_auth()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let head = read_head(&mut download, PATIENCE)
        .await
        .expect("response head");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // Longer than the idle timeout without reading: the socket buffers fill and the
    // server waits on the client, with the request still in progress.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut body = vec![0u8; SIZE];
    tokio::time::timeout(PATIENCE, download.read_exact(&mut body))
        .await
        .expect("the rest of the body in time")
        .expect("the whole body, not a cut connection");
    assert!(body.iter().all(|b| *b == 7));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_total_cap_the_newest_is_refused_and_established_ones_answered() {
    let srv = TestServer::start_with("max_connections = 8").await;
    let mut established = TcpStream::connect(srv.addr()).await.unwrap();
    assert_eq!(health_on(&mut established).await, 200);
    let mut idle = Vec::new();
    for _ in 0..7 {
        idle.push(TcpStream::connect(srv.addr()).await.unwrap());
    }
    for _ in 0..3 {
        let mut newest = TcpStream::connect(srv.addr()).await.unwrap();
        assert_refused(
            closed_within(&mut newest, PATIENCE).await,
            "too many open connections",
        );
    }
    assert_eq!(health_on(&mut established).await, 200);
    assert_eq!(health_on(&mut idle[0]).await, 200);

    // Closed connections free their places.
    idle.clear();
    let mut admitted = false;
    for _ in 0..50 {
        let mut fresh = TcpStream::connect(srv.addr()).await.unwrap();
        if health_on(&mut fresh).await == 200 {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(admitted, "closing connections did not free their places");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_connection() {
    let srv = TestServer::start_with("max_connections_per_address = 5").await;
    let mut admitted = Vec::new();
    for _ in 0..5 {
        admitted.push(connect_from("127.0.0.2", srv.addr()).await);
    }
    for _ in 0..5 {
        let mut over = connect_from("127.0.0.2", srv.addr()).await;
        assert_refused(
            closed_within(&mut over, PATIENCE).await,
            "too many open connections from your address",
        );
    }
    // Another address is served, and so are the admitted ones.
    let mut other = TcpStream::connect(srv.addr()).await.unwrap();
    assert_eq!(health_on(&mut other).await, 200);
    assert_eq!(health_on(&mut admitted[4]).await, 200);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_idle_sockets_than_file_handles_leave_the_server_reachable() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("davgate.toml");
    std::fs::write(&config, "header_timeout = \"2s\"\n").unwrap();
    let config = config.display().to_string();
    // The soft limit is raised to the hard one; the cap keeps a reserve below it.
    let server = ServerProcess::start_with_file_limit(
        &dir.path().join("data"),
        256,
        512,
        &["--config", &config],
    );
    server.log_with("max_connections lowered from 4096 to 192");

    let mut established = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(health_on(&mut established).await, 200);
    let mut flood = Vec::new();
    for _ in 0..600 {
        flood.push(TcpStream::connect(server.addr).await.unwrap());
    }
    // Over the cap, the newest are told so instead of waiting in the backlog.
    let mut newest = TcpStream::connect(server.addr).await.unwrap();
    assert_refused(
        closed_within(&mut newest, PATIENCE).await,
        "too many open connections",
    );
    assert_eq!(health_on(&mut established).await, 200);

    // The silent sockets are reaped, and a new client is served again.
    let mut served = false;
    for _ in 0..50 {
        let mut fresh = TcpStream::connect(server.addr).await.unwrap();
        if health_on(&mut fresh).await == 200 {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        served,
        "the server stayed unreachable:\n{}",
        server.stderr()
    );
    assert!(
        !server.stderr().contains("accept failed"),
        "{}",
        server.stderr()
    );
    drop(flood);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_per_address_cap_does_not_cap_the_proxy() {
    let srv = TestServer::start_with(
        "max_connections_per_address = 2\nclient_address_header = \"X-Forwarded-For\"",
    )
    .await;
    let mut from_proxy = Vec::new();
    for _ in 0..4 {
        from_proxy.push(TcpStream::connect(srv.addr()).await.unwrap());
    }
    for connection in &mut from_proxy {
        assert_eq!(health_on(connection).await, 200);
    }
    srv.stop().await;
}
