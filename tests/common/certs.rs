//! A self-signed certificate for `localhost`, generated per test (nothing checked in).

use std::path::{Path, PathBuf};

/// Writes a fresh certificate and key (PEM) into `dir` and returns their paths; a
/// client trusts the certificate by reading the first file.
pub fn localhost(dir: &Path) -> (PathBuf, PathBuf) {
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    write_localhost(&cert_path, &key_path);
    (cert_path, key_path)
}

/// Writes a fresh certificate and key for `localhost` to these paths and returns the
/// certificate's DER bytes (what a server presents in its handshake).
pub fn write_localhost(cert_path: &Path, key_path: &Path) -> Vec<u8> {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
    std::fs::write(cert_path, cert.cert.pem()).expect("write cert");
    std::fs::write(key_path, cert.signing_key.serialize_pem()).expect("write key");
    cert.cert.der().to_vec()
}
