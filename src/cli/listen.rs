//! Where and how `serve` listens: shared with `health`, which finds the server by the
//! same options and `DAVGATE_*` variables.

use std::path::PathBuf;

use clap::Args;

use crate::config::ConfigFile;

/// Listen address and TLS or proxy mode, as flags or `DAVGATE_*` variables.
#[derive(Debug, Args)]
pub(super) struct ListenArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "DAVGATE_LISTEN", value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// PEM certificate chain for HTTPS.
    #[arg(long, env = "DAVGATE_TLS_CERT", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    #[arg(long, env = "DAVGATE_TLS_KEY", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// A trusted reverse proxy terminates TLS: allow plain HTTP off loopback.
    #[arg(long, env = "DAVGATE_TRUSTED_PROXY")]
    trusted_proxy: bool,
}

impl ListenArgs {
    pub(super) fn apply(&self, flags: &mut ConfigFile) {
        flags.listen = self.listen;
        flags.tls_cert = self.tls_cert.clone();
        flags.tls_key = self.tls_key.clone();
        flags.trusted_proxy = self.trusted_proxy.then_some(true);
    }
}
