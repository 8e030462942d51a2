//! HTTP/1.1 keep-alive connections to one WebDAV server, with Basic auth and status checks.
//!
//! [`Target`] is the server: where to connect, the base path, the `Host` and `Authorization`
//! headers every request carries. [`Conn`] is one keep-alive connection on hyper's low-level
//! `client::conn::http1`, so a workload decides exactly how many connections it holds (the
//! pooled client opens as many as it likes). A connection the server closed (nginx closes
//! after `keepalive_requests`) is replaced before the next request, never mid-request.
//! Every response is checked: anything but 2xx (or a status the caller lists) is an error.

use std::net::{IpAddr, SocketAddr};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::{Bytes, BytesMut};
use http::header::{AUTHORIZATION, HOST};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::body::ReqBody;

/// The server under test.
#[derive(Debug)]
pub struct Target {
    addr: SocketAddr,
    authority: HeaderValue,
    base_path: String,
    user: String,
    authorization: HeaderValue,
}

impl Target {
    /// Checks and resolves `url`; refuses hosts off loopback unless `allow_remote`.
    pub async fn new(
        url: &str,
        user: &str,
        password: &str,
        allow_remote: bool,
    ) -> Result<Self, ClientError> {
        let bad = |reason: &str| ClientError::Url {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
        if uri.scheme_str() != Some("http") {
            return Err(bad(
                "only plain http:// is supported (the driver measures loopback)",
            ));
        }
        if uri.query().is_some() {
            return Err(bad("a base URL takes no query"));
        }
        let Some(authority) = uri.authority() else {
            return Err(bad("no host"));
        };
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let named_loopback = host.eq_ignore_ascii_case("localhost")
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !named_loopback && !allow_remote {
            return Err(ClientError::Remote(host.to_owned()));
        }
        let port = authority.port_u16().unwrap_or(80);
        let addr = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| bad(&format!("cannot resolve: {e}")))?
            // Prefer a loopback address: "localhost" may also resolve elsewhere.
            .min_by_key(|addr| !addr.ip().is_loopback())
            .ok_or_else(|| bad("the host resolves to no address"))?;
        if !addr.ip().is_loopback() && !allow_remote {
            return Err(ClientError::Remote(host.to_owned()));
        }

        let mut base_path = uri.path().to_owned();
        if !base_path.ends_with('/') {
            base_path.push('/');
        }
        let authorization = basic_authorization(user, password);
        let authority =
            HeaderValue::try_from(authority.as_str()).map_err(|_| bad("bad host header"))?;
        Ok(Target {
            addr,
            authority,
            base_path,
            user: user.to_owned(),
            authorization,
        })
    }

    /// The same server and user with another password (an app password, say).
    pub fn with_password(&self, password: &str) -> Target {
        Target {
            addr: self.addr,
            authority: self.authority.clone(),
            base_path: self.base_path.clone(),
            user: self.user.clone(),
            authorization: basic_authorization(&self.user, password),
        }
    }

    /// The same server and user with the base URL's last segment replaced by `name`: a
    /// sibling collection (another calendar in the same home, say).
    pub fn sibling(&self, name: &str) -> Target {
        let trimmed = self.base_path.trim_end_matches('/');
        let parent = &trimmed[..trimmed.rfind('/').map_or(0, |i| i + 1)];
        Target {
            addr: self.addr,
            authority: self.authority.clone(),
            base_path: format!("{parent}{name}/"),
            user: self.user.clone(),
            authorization: self.authorization.clone(),
        }
    }

    /// The user name every request signs in as.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// `host:port` as the URL gave it.
    pub fn authority(&self) -> &str {
        // Built from a parsed URI authority, which is always visible ASCII.
        self.authority.to_str().unwrap_or("server")
    }

    /// The absolute path of `rel` (relative to the base URL), as an href names it.
    pub fn path(&self, rel: &str) -> String {
        format!("{}{rel}", self.base_path)
    }

    /// A request for `rel` (relative to the base URL) with Host and Basic auth set.
    pub fn request(&self, method: Method, rel: &str) -> http::request::Builder {
        self.request_signed(method, rel, self.authorization.clone())
    }

    /// A request for `rel` signed with other credentials (see [`basic_authorization`]).
    pub fn request_signed(
        &self,
        method: Method,
        rel: &str,
        authorization: HeaderValue,
    ) -> http::request::Builder {
        Request::builder()
            .method(method)
            .uri(self.path(rel))
            .header(HOST, self.authority.clone())
            .header(AUTHORIZATION, authorization)
    }

    /// A connection, opened lazily by the first request (or [`Conn::open`]).
    pub fn conn(&self) -> Conn {
        Conn {
            addr: self.addr,
            sender: None,
        }
    }
}

/// An HTTP Basic `Authorization` value, marked sensitive so it stays out of debug output.
pub fn basic_authorization(user: &str, password: &str) -> HeaderValue {
    let credentials = STANDARD.encode(format!("{user}:{password}"));
    // Invariant: "Basic " and base64 are visible ASCII, which every header value may hold.
    let mut value =
        HeaderValue::try_from(format!("Basic {credentials}")).expect("base64 is visible ASCII");
    value.set_sensitive(true);
    value
}

/// MKCOL (RFC 4918 §9.3), which `http::Method` has no constant for.
pub fn mkcol() -> Method {
    extension_method(b"MKCOL")
}

/// PROPFIND (RFC 4918 §9.1).
pub fn propfind() -> Method {
    extension_method(b"PROPFIND")
}

/// MKCALENDAR (RFC 4791 §5.3.1).
pub fn mkcalendar() -> Method {
    extension_method(b"MKCALENDAR")
}

/// REPORT (RFC 3253 §3.6), which carries every CalDAV query and sync-collection.
pub fn report() -> Method {
    extension_method(b"REPORT")
}

fn extension_method(token: &'static [u8]) -> Method {
    // Invariant: only the literal upper-case tokens above come here, and they are valid.
    Method::from_bytes(token).expect("a literal method token")
}

/// How much of a response body to keep; the rest is counted and dropped.
#[derive(Debug, Clone, Copy)]
pub enum Keep {
    /// Count only.
    Nothing,
    /// Keep it all; a longer body is an error.
    Upto(usize),
}

/// A checked response.
#[derive(Debug)]
pub struct Exchange {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub body_len: u64,
}

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    addr: SocketAddr,
    sender: Option<SendRequest<ReqBody>>,
}

impl Conn {
    /// Sends `req`, expects 2xx and discards the body.
    pub async fn ok(&mut self, req: Request<ReqBody>) -> Result<Exchange, ClientError> {
        self.send(req, &[], Keep::Nothing).await
    }

    /// Sends `req` and reads the whole response; 2xx and the statuses in `also` are accepted.
    pub async fn send(
        &mut self,
        req: Request<ReqBody>,
        also: &[StatusCode],
        keep: Keep,
    ) -> Result<Exchange, ClientError> {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let http = |source| ClientError::Http {
            method: method.clone(),
            path: path.clone(),
            source,
        };
        let sender = self.ready().await?;
        let response = sender.send_request(req).await.map_err(http)?;
        let (parts, body) = response.into_parts();
        let accepted = parts.status.is_success() || also.contains(&parts.status);
        if !accepted {
            // Enough of the body to show the server's reason without flooding the terminal.
            let detail = read_body(body, 300, false).await.map(|(b, _)| b);
            return Err(ClientError::Status {
                method,
                path,
                status: parts.status,
                detail: String::from_utf8_lossy(detail.as_deref().unwrap_or_default())
                    .trim()
                    .to_owned(),
            });
        }
        let limit = match keep {
            Keep::Nothing => 0,
            Keep::Upto(limit) => limit,
        };
        let strict = matches!(keep, Keep::Upto(_));
        let (body, body_len) = read_body(body, limit, strict).await.map_err(|e| match e {
            BodyError::Http(source) => http(source),
            BodyError::TooLong => ClientError::TooLong {
                method: method.clone(),
                path: path.clone(),
                limit,
            },
        })?;
        Ok(Exchange {
            status: parts.status,
            headers: parts.headers,
            body,
            body_len,
        })
    }

    /// Opens the connection now, so its handshake falls outside a timed section.
    pub async fn open(&mut self) -> Result<(), ClientError> {
        self.ready().await.map(|_| ())
    }

    /// The sender, reconnecting if the server closed the connection since the last request.
    async fn ready(&mut self) -> Result<&mut SendRequest<ReqBody>, ClientError> {
        let mut current = self.sender.take();
        if let Some(sender) = &mut current
            && (sender.is_closed() || sender.ready().await.is_err())
        {
            current = None;
        }
        let sender = match current {
            Some(sender) => sender,
            None => handshake(self.addr).await?,
        };
        Ok(self.sender.insert(sender))
    }
}

async fn handshake(addr: SocketAddr) -> Result<SendRequest<ReqBody>, ClientError> {
    let connect = |source| ClientError::Connect { addr, source };
    let stream = TcpStream::connect(addr).await.map_err(connect)?;
    // Small requests must not wait for Nagle's timer; the big bodies fill segments anyway.
    stream.set_nodelay(true).map_err(connect)?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|source| ClientError::Handshake { addr, source })?;
    // The connection task ends when the server closes or the sender is dropped; its error,
    // if any, also fails the request in flight, which is where it is reported.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    sender
        .ready()
        .await
        .map_err(|source| ClientError::Handshake { addr, source })?;
    Ok(sender)
}

enum BodyError {
    Http(hyper::Error),
    TooLong,
}

/// Reads `body` to the end, keeping the first `keep` bytes; with `strict`, more is an error.
async fn read_body(
    mut body: Incoming,
    keep: usize,
    strict: bool,
) -> Result<(Bytes, u64), BodyError> {
    let mut kept = BytesMut::new();
    let mut total = 0u64;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(BodyError::Http)?.into_data() else {
            continue; // trailers carry nothing we measure
        };
        total += data.len() as u64;
        let room = keep - kept.len();
        if data.len() > room && strict {
            return Err(BodyError::TooLong);
        }
        kept.extend_from_slice(&data[..data.len().min(room)]);
    }
    Ok((kept.freeze(), total))
}

/// Why a request failed. Causes are `source`s, not repeated in the message: main prints the
/// whole chain.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("bad base URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("refusing non-loopback host {0:?}: pass --allow-remote to benchmark a remote server")]
    Remote(String),
    #[error("cannot connect to {addr}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("HTTP handshake with {addr} failed")]
    Handshake {
        addr: SocketAddr,
        source: hyper::Error,
    },
    #[error("{method} {path} failed")]
    Http {
        method: Method,
        path: String,
        source: hyper::Error,
    },
    #[error("{method} {path}: expected 2xx, got {status}: {detail:?}")]
    Status {
        method: Method,
        path: String,
        status: StatusCode,
        detail: String,
    },
    #[error("{method} {path}: response body longer than {limit} bytes")]
    TooLong {
        method: Method,
        path: String,
        limit: usize,
    },
    #[error("cannot build a request: {0}")]
    Build(#[from] http::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dav_methods() {
        assert_eq!(mkcol().as_str(), "MKCOL");
        assert_eq!(propfind().as_str(), "PROPFIND");
        assert_eq!(mkcalendar().as_str(), "MKCALENDAR");
        assert_eq!(report().as_str(), "REPORT");
    }

    #[tokio::test]
    async fn refuses_remote_hosts_unless_allowed() {
        let remote = Target::new("http://192.0.2.1:80/dav/", "u", "p", false).await;
        assert!(matches!(remote, Err(ClientError::Remote(_))));
        let allowed = Target::new("http://192.0.2.1:80/dav/", "u", "p", true).await;
        assert!(allowed.is_ok());
    }

    #[tokio::test]
    async fn accepts_loopback_and_normalises_the_base_path() {
        for url in ["http://127.0.0.1:8080/files", "http://[::1]:8080/files/"] {
            let target = Target::new(url, "u", "p", false).await.unwrap();
            let req = target.request(Method::GET, "a.txt").body(()).unwrap();
            assert_eq!(req.uri().path(), "/files/a.txt");
            assert_eq!(target.path("a.txt"), "/files/a.txt");
            assert!(req.headers()[AUTHORIZATION].is_sensitive());
        }
    }

    #[tokio::test]
    async fn a_sibling_replaces_the_last_segment() {
        let target = Target::new(
            "http://127.0.0.1:8080/dav/calendars/u/bench/",
            "u",
            "p",
            false,
        )
        .await
        .unwrap();
        assert_eq!(
            target.sibling("other").path("a.ics"),
            "/dav/calendars/u/other/a.ics"
        );
        let root = Target::new("http://127.0.0.1:8080/cal", "u", "p", false)
            .await
            .unwrap();
        assert_eq!(root.sibling("x").path(""), "/x/");
    }

    #[tokio::test]
    async fn another_password_keeps_the_server_and_user() {
        let target = Target::new("http://127.0.0.1:8080/files/", "alice", "pw", false)
            .await
            .unwrap();
        let app = target.with_password("k7q2m9xa-3vd7hzp");
        assert_eq!(app.user(), "alice");
        assert_eq!(app.authority(), "127.0.0.1:8080");
        let req = app.request(Method::GET, "a.txt").body(()).unwrap();
        // base64("alice:k7q2m9xa-3vd7hzp")
        assert_eq!(
            req.headers()[AUTHORIZATION],
            "Basic YWxpY2U6azdxMm05eGEtM3ZkN2h6cA=="
        );
        assert_eq!(req.headers().get_all(AUTHORIZATION).iter().count(), 1);
    }

    #[tokio::test]
    async fn refuses_https_and_queries() {
        for url in [
            "https://127.0.0.1/",
            "http://127.0.0.1/?x=1",
            "127.0.0.1:80",
        ] {
            let target = Target::new(url, "u", "p", false).await;
            assert!(matches!(target, Err(ClientError::Url { .. })), "{url}");
        }
    }
}
