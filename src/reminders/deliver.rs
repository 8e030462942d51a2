//! The outbound POST to a webhook, and the guard against server-side request forgery.
//!
//! A webhook URL is chosen by an account owner, so without a guard it would let them
//! make the server reach its own loopback, the private network or the cloud metadata
//! service. Only HTTPS is allowed, every address the host resolves to must be public,
//! and the connection goes to the address that was checked (no second lookup that
//! could answer differently). The operator may allow private addresses and plain HTTP
//! (`reminders_allow_private`), which tests use with a receiver on 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Uri, header};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;

/// The longest one delivery may take, connect to answer.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Which webhook addresses the server may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// HTTPS to public addresses only (the default).
    PublicHttps,
    /// Any address, HTTP or HTTPS (`reminders_allow_private = true`; tests, closed networks).
    AllowPrivate,
}

/// Why a delivery did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The URL is not allowed (scheme or address); trying again changes nothing.
    #[error("refused: {0}")]
    Refused(String),
    /// No answer within the timeout.
    #[error("no answer within {} s", TIMEOUT.as_secs())]
    Timeout,
    /// The webhook answered with an error status.
    #[error("the webhook answered {0}")]
    Status(u16),
    /// The receiving side refused this message for good (a mail relay's 5xx, an
    /// address it will not take); trying again changes nothing.
    #[error("{0}")]
    Rejected(String),
    /// Resolving, connecting or TLS failed.
    #[error("{0}")]
    Network(String),
}

impl DeliveryError {
    /// Whether a later try may succeed: timeouts, 429, 5xx and network failures.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Refused(_) | Self::Rejected(_) => false,
            Self::Timeout | Self::Network(_) => true,
            Self::Status(code) => *code == 429 || *code >= 500,
        }
    }
}

/// Sends webhook requests; one per worker, sharing its TLS roots.
#[derive(Clone)]
pub struct Sender {
    tls: Arc<rustls::ClientConfig>,
    reach: Reach,
}

impl Sender {
    /// A sender trusting the system's root certificates.
    pub fn new(reach: Reach) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|b| b.with_root_certificates(roots).with_no_client_auth())
            .unwrap_or_else(|_| {
                // The ring provider supports the default versions; unreachable in practice.
                rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_protocol_versions(&[&rustls::version::TLS13])
                .expect("TLS 1.3 is supported by ring")
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
            });
        Self {
            tls: Arc::new(tls),
            reach,
        }
    }

    /// POSTs `body` (JSON) to `url`; the answer's status when it is 2xx.
    pub async fn post(&self, url: &str, body: Vec<u8>) -> Result<u16, DeliveryError> {
        match tokio::time::timeout(TIMEOUT, self.post_unbounded(url, body)).await {
            Ok(result) => result,
            Err(_) => Err(DeliveryError::Timeout),
        }
    }

    async fn post_unbounded(&self, url: &str, body: Vec<u8>) -> Result<u16, DeliveryError> {
        let target = check_url(url, self.reach)?;
        let addr = self.resolve(&target.host, target.port).await?;
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| DeliveryError::Network(format!("cannot connect: {e}")))?;
        let request = Request::post(target.uri.clone())
            .header(header::HOST, target.authority.as_str())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::USER_AGENT, "davgate-reminders")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| DeliveryError::Refused(format!("bad request: {e}")))?;
        let status = if target.https {
            let name = ServerName::try_from(target.host.clone())
                .map_err(|_| DeliveryError::Refused("not a valid TLS server name".into()))?;
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(name, stream)
                .await
                .map_err(|e| DeliveryError::Network(format!("TLS: {e}")))?;
            send(TokioIo::new(tls), request).await?
        } else {
            send(TokioIo::new(stream), request).await?
        };
        if (200..300).contains(&status) {
            Ok(status)
        } else {
            Err(DeliveryError::Status(status))
        }
    }

    /// The first address of `host` this sender may reach; every resolved address must
    /// pass, so a name mixing public and private answers is refused.
    async fn resolve(&self, host: &str, port: u16) -> Result<SocketAddr, DeliveryError> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| DeliveryError::Network(format!("cannot resolve {host}: {e}")))?
            .collect();
        if self.reach == Reach::PublicHttps
            && let Some(bad) = addrs.iter().find(|a| !is_public(a.ip()))
        {
            return Err(DeliveryError::Refused(format!(
                "{host} resolves to {}, a loopback, private, link-local or metadata address \
                 (the operator may allow them with reminders_allow_private)",
                bad.ip()
            )));
        }
        addrs
            .first()
            .copied()
            .ok_or_else(|| DeliveryError::Network(format!("{host} has no address")))
    }
}

async fn send<T>(io: TokioIo<T>, request: Request<Full<Bytes>>) -> Result<u16, DeliveryError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| DeliveryError::Network(format!("HTTP: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| DeliveryError::Network(format!("HTTP: {e}")))?;
    Ok(response.status().as_u16())
}

/// A webhook URL taken apart.
#[derive(Debug)]
pub struct WebhookUrl {
    uri: Uri,
    host: String,
    authority: String,
    port: u16,
    https: bool,
}

/// Checks a URL's form: absolute, HTTPS (or HTTP when private reach is allowed), with a
/// host. Used on `webhook add` too, so a bad URL is refused when it is entered.
pub fn check_url(url: &str, reach: Reach) -> Result<WebhookUrl, DeliveryError> {
    let uri: Uri = url
        .parse()
        .map_err(|_| DeliveryError::Refused("not a URL".into()))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") if reach == Reach::AllowPrivate => false,
        _ => {
            return Err(DeliveryError::Refused(
                "a webhook URL must start with https://".into(),
            ));
        }
    };
    let authority = uri
        .authority()
        .ok_or_else(|| DeliveryError::Refused("the URL has no host".into()))?
        .clone();
    if authority.as_str().contains('@') {
        return Err(DeliveryError::Refused(
            "a webhook URL may not carry a user name or password".into(),
        ));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    if reach == Reach::PublicHttps
        && let Ok(ip) = host.parse::<IpAddr>()
        && !is_public(ip)
    {
        return Err(DeliveryError::Refused(format!(
            "{ip} is a loopback, private, link-local or metadata address \
             (the operator may allow them with reminders_allow_private)"
        )));
    }
    Ok(WebhookUrl {
        host: host.to_owned(),
        authority: authority.as_str().to_owned(),
        port,
        https,
        uri,
    })
}

/// Scheme and host only: the path of a webhook URL is its secret.
pub fn shown_url(url: &str) -> String {
    match url.parse::<Uri>() {
        Ok(uri) => format!(
            "{}://{}/…",
            uri.scheme_str().unwrap_or("https"),
            uri.authority().map(|a| a.as_str()).unwrap_or_default()
        ),
        Err(_) => "(unreadable URL)".into(),
    }
}

/// Not loopback, private, link-local (169.254.169.254, the metadata service, included),
/// shared, unique-local, multicast or unspecified.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    let shared = a == 100 && (64..128).contains(&b);
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || shared
        || a == 0)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let unique_local = first & 0xfe00 == 0xfc00;
    let link_local = first & 0xffc0 == 0xfe80;
    !(ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() || unique_local || link_local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_metadata_addresses_are_refused() {
        for url in [
            "https://127.0.0.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://10.1.2.3/",
            "https://192.168.0.1/",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:127.0.0.1]/",
            "http://example.com/hook",
            "https://user:pw@example.com/",
            "ftp://example.com/",
        ] {
            assert!(
                matches!(
                    check_url(url, Reach::PublicHttps),
                    Err(DeliveryError::Refused(_))
                ),
                "{url} must be refused"
            );
        }
        assert!(check_url("https://example.com/hook", Reach::PublicHttps).is_ok());
        assert!(check_url("https://93.184.215.14:8443/x", Reach::PublicHttps).is_ok());
        assert!(check_url("http://127.0.0.1:9/x", Reach::AllowPrivate).is_ok());
    }

    #[test]
    fn only_timeouts_429_and_5xx_are_retried() {
        assert!(DeliveryError::Timeout.is_transient());
        assert!(DeliveryError::Status(429).is_transient());
        assert!(DeliveryError::Status(503).is_transient());
        assert!(!DeliveryError::Status(404).is_transient());
        assert!(!DeliveryError::Refused("x".into()).is_transient());
    }
}
