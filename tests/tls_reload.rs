//! The TLS certificate is replaced while the real binary runs: on SIGHUP and when the
//! files change on disk; an unusable new pair keeps the old one in service, and SIGHUP
//! never ends the process, with or without TLS.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use crate::common::bin::ServerProcess;
use crate::common::certs::write_localhost;

#[test]
fn sighup_serves_a_new_certificate_and_keeps_the_old_one_when_the_new_is_bad() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let first = write_localhost(&cert, &key);
    let mut srv = tls_server(dir.path(), &cert, &key);
    assert_eq!(served_certificate(srv.addr), first);

    let second = replace_atomically(dir.path(), &cert, &key);
    srv.send("HUP");
    srv.log_with("TLS certificate reloaded on SIGHUP");
    assert_eq!(served_certificate(srv.addr), second);

    // A key file that is no key: the log says so without quoting it.
    let second_key = std::fs::read(&key).unwrap();
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nTOPSECRET+KEY/MATERIAL!!\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    srv.send("HUP");
    let log = srv.log_with("not reloaded on SIGHUP");
    assert!(log.contains("keeping the current certificate"), "{log}");
    assert!(
        !log.contains("TOPSECRET"),
        "the key file reached the log:\n{log}"
    );
    assert_eq!(served_certificate(srv.addr), second);

    // A well-formed certificate whose key is not the one beside it.
    std::fs::write(&key, second_key).unwrap();
    write_localhost(
        &dir.path().join("third.pem"),
        &dir.path().join("third-key.pem"),
    );
    std::fs::copy(dir.path().join("third.pem"), &cert).unwrap();
    srv.send("HUP");
    srv.log_with("do not fit together");
    assert_eq!(served_certificate(srv.addr), second);

    // And garbage in place of the certificate.
    std::fs::write(&cert, "not a certificate at all").unwrap();
    srv.send("HUP");
    srv.log_with("holds no certificate");
    assert_eq!(served_certificate(srv.addr), second);
    assert!(srv.alive(), "SIGHUP ended the server:\n{}", srv.stderr());
}

#[test]
fn changed_files_are_served_without_a_signal() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let first = write_localhost(&cert, &key);
    let srv = tls_server(dir.path(), &cert, &key);
    assert_eq!(served_certificate(srv.addr), first);

    let second = replace_atomically(dir.path(), &cert, &key);
    // The files are polled every 2 s: well within this.
    let deadline = Instant::now() + Duration::from_secs(20);
    while served_certificate(srv.addr) != second {
        assert!(
            Instant::now() < deadline,
            "the new certificate was never served:\n{}",
            srv.stderr()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    srv.log_with("TLS certificate reloaded after the files changed on disk");
}

/// The systemd unit names the credentials systemd copies for it through the
/// environment (`DAVGATE_TLS_CERT=%d/tls-cert`): files without a .pem name, in a
/// directory of their own.
#[test]
fn the_certificate_can_come_from_a_credentials_directory_named_in_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    let (cert, key) = (credentials.join("tls-cert"), credentials.join("tls-key"));
    let served = write_localhost(&cert, &key);
    let env = [
        ("DAVGATE_TLS_CERT", cert.as_path()),
        ("DAVGATE_TLS_KEY", key.as_path()),
    ];
    let srv = ServerProcess::start_with_env(&dir.path().join("data"), &env, &[]);
    assert_eq!(served_certificate(srv.addr), served);
    srv.log_with("listening on https://");
}

#[test]
fn sighup_without_tls_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = ServerProcess::start(&dir.path().join("data"), &[]);
    srv.send("HUP");
    srv.log_with("no TLS certificate to reload");
    assert!(srv.alive(), "SIGHUP ended the server:\n{}", srv.stderr());
    let mut tcp = TcpStream::connect(srv.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    use std::io::{Read, Write};
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

fn tls_server(dir: &Path, cert: &Path, key: &Path) -> ServerProcess {
    ServerProcess::start(
        &dir.join("data"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    )
}

/// Writes a new pair beside the served one and renames it into place, as certbot's
/// symlink swap or an `install`/`mv` does; returns the new certificate's DER.
fn replace_atomically(dir: &Path, cert: &Path, key: &Path) -> Vec<u8> {
    let (new_cert, new_key) = (dir.join("next-cert.pem"), dir.join("next-key.pem"));
    let der = write_localhost(&new_cert, &new_key);
    std::fs::rename(&new_key, key).unwrap();
    std::fs::rename(&new_cert, cert).unwrap();
    der
}

/// The certificate the server presents in a fresh handshake.
#[track_caller]
fn served_certificate(addr: SocketAddr) -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let recorder = Arc::new(Recorder {
        seen: Mutex::new(None),
        provider: provider.clone(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).expect("TLS handshake");
    }
    recorder
        .seen
        .lock()
        .unwrap()
        .take()
        .expect("the server showed a certificate")
}

/// Accepts any certificate and remembers it: the test compares it with the files.
#[derive(Debug)]
struct Recorder {
    seen: Mutex<Option<Vec<u8>>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.seen.lock().unwrap() = Some(end_entity.to_vec());
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
