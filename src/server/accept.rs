//! Accepting connections: admission against the caps, the TLS handshake, serving
//! HTTP/1.1 and HTTP/2 with hyper, and closing a connection on the watchdog's deadlines
//! or at shutdown (then waiting, bounded, for every connection to end).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::App;
use super::limits::{self, ConnectionLimits, Permit};
use super::stream::ConnStream;
use super::watchdog::{Activity, Expiry, TrackedBody};
use crate::config::ConnectionSettings;
use crate::sendfile::{FileRanges, SendfileStream};

/// How long shutdown waits for open requests to finish.
const DRAIN: Duration = Duration::from_secs(30);

/// What every connection of one server shares.
#[derive(Clone)]
pub(super) struct Shared {
    app: App,
    tls: Option<TlsAcceptor>,
    limits: ConnectionLimits,
    builder: auto::Builder<TokioExecutor>,
    header_timeout: Duration,
    idle_timeout: Duration,
}

impl Shared {
    /// `behind_proxy`: every connection comes from a trusted proxy, so the per-address
    /// cap would cap the proxy, not its clients, and is not applied.
    pub(super) fn new(
        app: App,
        tls: Option<TlsAcceptor>,
        connections: &ConnectionSettings,
        behind_proxy: bool,
    ) -> Self {
        let max_total = match limits::file_handle_budget() {
            Some(budget) if budget < connections.max_total => {
                tracing::warn!(
                    "max_connections lowered from {} to {budget}: the open-file limit leaves \
                     room for no more. Raise it (LimitNOFILE= in the systemd unit, or \
                     `ulimit -n`) or set max_connections to silence this",
                    connections.max_total
                );
                budget
            }
            _ => connections.max_total,
        };
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // hyper arms this each time an HTTP/1 connection waits for a request head, so it
        // is the keep-alive idle timeout there; the watchdog enforces the same for
        // HTTP/2 and the tighter header_timeout for the first request.
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(connections.idle_timeout)
            .keep_alive(true);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(64);
        let max_per_address = if behind_proxy {
            usize::MAX
        } else {
            connections.max_per_address
        };
        let per_address = match behind_proxy {
            true => "no per-address cap behind a trusted proxy".to_owned(),
            false => format!("{max_per_address} per address"),
        };
        tracing::info!(
            "connections: at most {max_total} ({per_address}); first request within {}, \
             idle ones closed after {}",
            humantime::format_duration(connections.header_timeout),
            humantime::format_duration(connections.idle_timeout)
        );
        Shared {
            app,
            tls,
            limits: ConnectionLimits::new(max_total, max_per_address),
            builder,
            header_timeout: connections.header_timeout,
            idle_timeout: connections.idle_timeout,
        }
    }
}

impl Shared {
    /// The connection caps and counts.
    pub(super) fn limits(&self) -> &ConnectionLimits {
        &self.limits
    }
}

pub(super) async fn accept_loop(
    listener: TcpListener,
    shared: Shared,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stopped.changed() => break,
        };
        let accepted = tokio::time::Instant::now();
        // The newest connection is the one refused: established clients keep their place.
        let permit = match shared.limits.admit(peer.ip()) {
            Ok(permit) => permit,
            Err(why) if shared.tls.is_some() => {
                shared.limits.refuse_tls(stream, why);
                continue;
            }
            Err(why) => {
                shared.limits.refuse_plain(stream, why);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(
            shared.clone(),
            stream,
            peer,
            accepted,
            permit,
            stopped.clone(),
        ));
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, shared.limits.all_closed())
        .await
        .is_err()
    {
        tracing::warn!("some requests were still running after {DRAIN:?}; closing them");
    }
}

/// Where a connection is in its life.
enum Phase {
    Serving,
    /// Told to finish (server stopping, or idle): it ends once its requests are done,
    /// and is dropped if it lingers with none in progress.
    Closing,
}

/// Handshakes, serves and watches one admitted connection; `_permit` holds its place
/// under the caps until it ends.
async fn serve_connection(
    shared: Shared,
    tcp: TcpStream,
    peer: SocketAddr,
    accepted: tokio::time::Instant,
    _permit: Permit,
    mut stopped: watch::Receiver<bool>,
) {
    let activity = Activity::new(accepted, shared.header_timeout, shared.idle_timeout);
    // Only plain HTTP/1 sends file ranges with sendfile: TLS and HTTP/2 reframe bodies.
    let ranges = shared.tls.is_none().then(FileRanges::default);
    let stream = match &shared.tls {
        Some(acceptor) => {
            let handshake = acceptor.accept(tcp);
            match tokio::time::timeout_at(activity.first_request_deadline(), handshake).await {
                Ok(Ok(stream)) => ConnStream::Tls(Box::new(stream)),
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "no TLS handshake within header_timeout; closed");
                    return;
                }
            }
        }
        None => ConnStream::Plain(SendfileStream::new(tcp, ranges.clone().unwrap_or_default())),
    };
    let app = shared.app.clone();
    let service_activity = activity.clone();
    let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        let app = app.clone();
        let in_progress = service_activity.request_started();
        if let Some(ranges) = &ranges
            && req.version() <= http::Version::HTTP_11
        {
            req.extensions_mut().insert(ranges.clone());
        }
        async move {
            let (parts, body) = app.handle(req, peer).await.into_parts();
            Ok::<_, Infallible>(hyper::Response::from_parts(
                parts,
                TrackedBody::new(body, in_progress),
            ))
        }
    });
    let conn = shared
        .builder
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut phase = Phase::Serving;
    let result = loop {
        tokio::select! {
            result = conn.as_mut() => break result,
            _ = stopped.changed(), if matches!(phase, Phase::Serving) => {
                conn.as_mut().graceful_shutdown();
                phase = Phase::Closing;
            }
            expiry = activity.expired(), if matches!(phase, Phase::Serving) => match expiry {
                Expiry::NoFirstRequest => {
                    tracing::debug!(%peer, "no request within header_timeout; closed");
                    return;
                }
                Expiry::Idle => {
                    tracing::debug!(%peer, "idle for idle_timeout; closing");
                    conn.as_mut().graceful_shutdown();
                    phase = Phase::Closing;
                }
            },
            _ = tokio::time::sleep(shared.header_timeout), if matches!(phase, Phase::Closing) => {
                if !activity.in_progress() {
                    return;
                }
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
