//! `davgate health`: one `GET /healthz` to a running server, exit 0 on 200. It is the
//! container image's HEALTHCHECK: the slim image has no curl or wget, and this needs no
//! second program and finds the server from the same options and `DAVGATE_*` variables
//! as `serve`.
//!
//! It checks that the process answers, not the certificate: over TLS it accepts
//! whatever certificate is shown (the name is the public host's, not 127.0.0.1) and it
//! sends no credential.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use clap::Args;
use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::listen::ListenArgs;
use super::shared::CliError;
use crate::config::{Settings, Transport};

/// The most of the answer read: its status line is all that matters.
const ANSWER_LIMIT: usize = 4096;

#[derive(Debug, Args)]
pub(super) struct HealthArgs {
    #[command(flatten)]
    pub(super) listener: ListenArgs,
    /// Ask this address instead of the one `serve` listens on (loopback when it listens
    /// on every interface).
    #[arg(long, value_name = "ADDR")]
    address: Option<SocketAddr>,
    /// Give up after this long.
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    timeout: crate::units::Span,
}

/// Asks `/healthz` and fails unless the answer is 200.
pub(super) async fn check(settings: &Settings, args: HealthArgs) -> Result<(), CliError> {
    let addr = args.address.unwrap_or_else(|| reachable(settings.listen));
    let tls = matches!(settings.transport, Transport::Tls { .. });
    let scheme = if tls { "https" } else { "http" };
    let status = tokio::time::timeout(args.timeout.0, ask(addr, tls))
        .await
        .map_err(|_| unhealthy(scheme, addr, "no answer in time"))?
        .map_err(|e| unhealthy(scheme, addr, &e.to_string()))?;
    match status.as_str() {
        "200" => {
            println!("{scheme}://{addr}/healthz: ok");
            Ok(())
        }
        other => Err(unhealthy(scheme, addr, &format!("status {other}"))),
    }
}

fn unhealthy(scheme: &str, addr: SocketAddr, why: &str) -> CliError {
    CliError::Io(std::io::Error::other(format!(
        "{scheme}://{addr}/healthz: {why}"
    )))
}

/// A server listening on every interface is asked on loopback.
fn reachable(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// The status code of `GET /healthz`.
async fn ask(addr: SocketAddr, tls: bool) -> std::io::Result<String> {
    let tcp = TcpStream::connect(addr).await?;
    if !tls {
        return request(tcp, addr).await;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    let name = ServerName::IpAddress(addr.ip().into());
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await?;
    request(stream, addr).await
}

async fn request<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    addr: SocketAddr,
) -> std::io::Result<String> {
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: davgate-health\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    // Up to the end of the status line: what follows, and how the server closes, is
    // not the question.
    let mut answer = Vec::new();
    let mut chunk = [0u8; 512];
    while !answer.contains(&b'\n') && answer.len() < ANSWER_LIMIT {
        match stream.read(&mut chunk).await? {
            0 => break,
            n => answer.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("HTTP/1.1 "))
        .and_then(|rest| rest.split(' ').next())
        .filter(|code| code.len() == 3);
    status
        .map(str::to_owned)
        .ok_or_else(|| std::io::Error::other("the answer is not HTTP/1.1"))
}

/// Takes any certificate: see the module header.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
