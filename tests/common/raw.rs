//! Raw HTTP/1.1 over TCP, for requests a well-behaved client library refuses to send.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A parsed response head plus whatever body arrived before the connection closed.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// Sends `request` as-is and reads the response until the server closes or `timeout`.
pub async fn send(addr: SocketAddr, request: &[u8]) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // A server may answer (and close) before a huge request is written: read anyway.
    let _ = stream.write_all(request).await;
    read_response(&mut stream, Duration::from_secs(10)).await
}

/// Reads one response; stops at the end of a Content-Length body or at close.
pub async fn read_response(stream: &mut TcpStream, timeout: Duration) -> RawResponse {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(parsed) = parse(&data) {
            return parsed;
        }
        let read = tokio::time::timeout_at(deadline, stream.read(&mut buf)).await;
        match read {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
            Ok(Ok(n)) => data.extend_from_slice(&buf[..n]),
        }
    }
    parse_lenient(&data)
}

/// Reads only the status line and headers of the next response.
pub async fn read_head(stream: &mut TcpStream, timeout: Duration) -> Option<String> {
    let mut data = Vec::new();
    let mut byte = [0u8; 1];
    let deadline = tokio::time::Instant::now() + timeout;
    while !data.ends_with(b"\r\n\r\n") {
        match tokio::time::timeout_at(deadline, stream.read(&mut byte)).await {
            Ok(Ok(1)) => data.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&data).into_owned())
}

fn parse(data: &[u8]) -> Option<RawResponse> {
    let text = String::from_utf8_lossy(data);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let length: usize = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    })?;
    if body.len() < length {
        return None;
    }
    Some(RawResponse {
        status: status_of(head),
        head: head.to_owned(),
        body: body[..length].to_owned(),
    })
}

fn parse_lenient(data: &[u8]) -> RawResponse {
    let text = String::from_utf8_lossy(data);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    RawResponse {
        status: status_of(head),
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

fn status_of(head: &str) -> u16 {
    head.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// `Authorization` header value for alice.
pub fn alice_auth() -> String {
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD
        .encode(format!("alice:{}", super::server::PASSWORD));
    format!("Basic {token}")
}
