//! TLS through rustls, from PEM files, offering HTTP/2 and HTTP/1.1 by ALPN, with a
//! certificate that can be swapped while the server runs.
//!
//! The `ServerConfig` is built once around [`CurrentCert`], a resolver holding the
//! certificate chain and key every new handshake gets; [`CertFiles::load`] reads the
//! files again and [`CurrentCert::replace`] swaps them in. When to reload (SIGHUP, files
//! changed on disk) is [`super::cert_reload`]'s job.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

/// Why the certificate or key cannot be used, as the operator reads it. Never holds
/// key material: errors about the key file are reduced to what kind of problem it is.
#[derive(Debug)]
pub struct TlsSetupError(pub String);

/// Where the certificate chain and its key are read from.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// PEM certificate chain, end-entity certificate first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    provider: Arc<CryptoProvider>,
}

impl CertFiles {
    /// The files, read with ring.
    pub fn new(cert: &Path, key: &Path) -> Self {
        CertFiles {
            cert: cert.to_owned(),
            key: key.to_owned(),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        }
    }

    /// Reads both files and checks that the key belongs to the certificate.
    pub fn load(&self) -> Result<Arc<CertifiedKey>, TlsSetupError> {
        let cert = &self.cert;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .map_err(|e| {
                TlsSetupError(format!(
                    "cannot read certificates from {}: {e}",
                    cert.display()
                ))
            })?
            .collect::<Result<_, _>>()
            .map_err(|e| {
                TlsSetupError(format!(
                    "{} is not a PEM certificate chain: {e}",
                    cert.display()
                ))
            })?;
        if certs.is_empty() {
            return Err(TlsSetupError(format!(
                "{} holds no certificate",
                cert.display()
            )));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|e| {
            TlsSetupError(format!(
                "cannot read a private key from {}: {}",
                self.key.display(),
                key_error(&e)
            ))
        })?;
        let certified = CertifiedKey::from_der(certs, key, &self.provider).map_err(|e| {
            TlsSetupError(format!(
                "the certificate in {} and the key in {} do not fit together: {e}",
                cert.display(),
                self.key.display()
            ))
        })?;
        Ok(Arc::new(certified))
    }

    /// The acceptor for new connections and the handle that swaps their certificate.
    pub fn acceptor(&self) -> Result<(TlsAcceptor, Arc<CurrentCert>), TlsSetupError> {
        let current = Arc::new(CurrentCert(RwLock::new(self.load()?)));
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok((TlsAcceptor::from(Arc::new(config)), current))
    }
}

/// What is wrong with a key file, without the file's bytes: a PEM error may quote the
/// offending line or base64 symbol, which would put part of the key in the log.
fn key_error(e: &pem::Error) -> String {
    match e {
        pem::Error::Io(io) => io.to_string(),
        pem::Error::NoItemsFound => "it holds no PEM private key".into(),
        _ => "it is not a well-formed PEM private key".into(),
    }
}

/// The certificate and key every new handshake gets; connections already open keep the
/// one they started with.
#[derive(Debug)]
pub struct CurrentCert(RwLock<Arc<CertifiedKey>>);

impl CurrentCert {
    /// Serves `next` from the next handshake on.
    pub fn replace(&self, next: Arc<CertifiedKey>) {
        // A poisoned lock still holds a whole Arc: a panic cannot leave it half-written.
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = next;
    }

    /// The certificate served now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Device profiles are signed with the certificate handshakes get now.
impl crate::account::profile::ServerCertificate for CurrentCert {
    fn current(&self) -> Arc<CertifiedKey> {
        CurrentCert::current(self)
    }
}

impl ResolvesServerCert for CurrentCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// SHA-256 of the end-entity certificate in hex, as `openssl x509 -fingerprint -sha256`
/// shows it (without colons): public, and enough to tell which certificate is served.
pub fn fingerprint(key: &CertifiedKey) -> String {
    let Some(cert) = key.cert.first() else {
        return "none".into();
    };
    let digest = ring::digest::digest(&ring::digest::SHA256, cert.as_ref());
    data_encoding::HEXUPPER.encode(digest.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_errors_never_quote_the_file() {
        let line = b"-----BEGIN PRIVATE KEY-----SECRET".to_vec();
        let quoted = pem::Error::IllegalSectionStart { line };
        assert!(!key_error(&quoted).contains("SECRET"));
        let b64 = pem::Error::Base64Decode("Invalid symbol 83".into());
        assert!(!key_error(&b64).contains("83"));
    }
}
