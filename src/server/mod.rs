//! Listening, TLS, HTTP/1.1 and HTTP/2, background upkeep, and graceful shutdown.
//!
//! [`start`] opens the store, binds (or adopts) the listener and returns a [`Running`]
//! server; [`run`] adds signal handling for the `serve` command. Tests start servers
//! in-process on `127.0.0.1:0` through [`start_on`].
//!
//! Every connection is admitted against the caps in [`limits`] at accept and watched by
//! [`watchdog`]: it must send a first request within `header_timeout` of accept (TLS
//! handshake included) and is closed after `idle_timeout` with no request in progress.

mod access_log;
mod limits;
mod service;
mod stream;
mod tls;
mod watchdog;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use davgate_storage::{StorageError, Store, StoreConfig};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

// Re-exported so callers that name `server::FileRanges` keep compiling while they move to
// `crate::sendfile`, which both the server and the file handlers sit on.
use self::limits::{ConnectionLimits, Permit};
pub use self::service::App;
use self::stream::ConnStream;
use self::watchdog::{Activity, Expiry, TrackedBody};
use crate::auth::Authenticator;
use crate::auth::cache::load_or_create_server_key;
use crate::config::{ConnectionSettings, Settings, Transport};
use crate::dav::Dav;
use crate::files::Files;
pub use crate::sendfile::FileRanges;
use crate::sendfile::SendfileStream;

/// How long shutdown waits for open requests to finish.
const DRAIN: Duration = Duration::from_secs(30);
/// How often expired trash is purged and unreferenced blobs collected, at most.
const UPKEEP_EVERY: Duration = Duration::from_secs(3600);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory or listener could not be set up.
    #[error("{0}")]
    Io(String),
    /// The database or blob store could not be opened.
    #[error("cannot open the store: {0}")]
    Store(#[from] StorageError),
    /// The TLS certificate or key is unusable.
    #[error("TLS: {0}")]
    Tls(String),
}

/// A server accepting connections until told to stop.
pub struct Running {
    addr: SocketAddr,
    scheme: &'static str,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    flush: JoinHandle<()>,
}

impl Running {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` or `https://ADDR`.
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Stops accepting, lets open requests finish (up to a bound), and returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        let _ = self.flush.await;
    }
}

/// Opens the store and binds `settings.listen`.
pub async fn start(settings: Settings) -> Result<Running, StartError> {
    let listener = TcpListener::bind(settings.listen)
        .await
        .map_err(|e| StartError::Io(format!("cannot listen on {}: {e}", settings.listen)))?;
    start_on(settings, listener).await
}

/// Opens the store and serves on an already bound listener.
pub async fn start_on(settings: Settings, listener: TcpListener) -> Result<Running, StartError> {
    let store = open_store(&settings).await?;
    let server_key = load_or_create_server_key(&settings.data_dir)
        .map_err(|e| StartError::Io(format!("server key: {e}")))?;
    let app = App {
        auth: Authenticator::new(store.clone(), server_key, &settings.auth),
        files: Files::new(store.clone(), settings.upload_limit)
            .with_lock_max_timeout(settings.lock_max_timeout),
        dav: Dav::new(store.clone(), settings.dav.clone()),
        client_address: settings.client_address.clone(),
    };
    let (tls, scheme) = match &settings.transport {
        Transport::Tls { cert, key } => (
            Some(tls::acceptor(cert, key).map_err(|e| StartError::Tls(e.0))?),
            "https",
        ),
        Transport::PlainLoopback | Transport::PlainBehindProxy => (None, "http"),
    };
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Io(e.to_string()))?;
    narrate(&settings, &store, scheme, addr).await;

    let (stop, stopped) = watch::channel(false);
    tokio::spawn(upkeep(store, settings.trash_retention, stopped.clone()));
    let flush = tokio::spawn(flush_usage(app.auth.usage().clone(), stopped.clone()));
    let shared = Shared::new(app, tls, &settings.connections);
    let task = tokio::spawn(accept_loop(listener, shared, stopped));
    Ok(Running {
        addr,
        scheme,
        stop,
        task,
        flush,
    })
}

/// Runs until SIGINT or SIGTERM, then drains.
pub async fn run(settings: Settings) -> Result<(), StartError> {
    let running = start(settings).await?;
    wait_for_signal().await;
    tracing::info!("shutting down: finishing open requests");
    running.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// Opens the store the settings describe, creating the data directory and running
/// migrations.
pub async fn open_store(settings: &Settings) -> Result<Store, StorageError> {
    std::fs::create_dir_all(&settings.data_dir)?;
    Store::open(&StoreConfig {
        database_url: settings.database_url.expose().clone(),
        blob_dir: settings.blob_dir.clone(),
        max_connections: settings.db_connections,
        background_thread_init: Some(crate::priority::lower_priority),
    })
    .await
}

async fn narrate(settings: &Settings, store: &Store, scheme: &str, addr: SocketAddr) {
    let transport = match settings.transport {
        Transport::Tls { .. } => "TLS, HTTP/2 and HTTP/1.1",
        Transport::PlainLoopback => "plain HTTP on loopback",
        Transport::PlainBehindProxy => "plain HTTP behind a TLS-terminating proxy",
    };
    tracing::info!(
        "davgate {} listening on {scheme}://{addr} ({transport})",
        env!("CARGO_PKG_VERSION")
    );
    tracing::info!(
        "data in {} ({} database, blobs in {}); files at {scheme}://{addr}/files/",
        settings.data_dir.display(),
        store.backend(),
        settings.blob_dir.display()
    );
    if let Ok(accounts) = store.accounts().await
        && accounts.is_empty()
    {
        tracing::info!(
            "no accounts yet: create the first one with `davgate user add NAME --data-dir {}`",
            settings.data_dir.display()
        );
    }
    let c = &settings.connections;
    tracing::info!(
        "connections: at most {} ({} per address); first request within {}, idle ones closed after {}",
        c.max_total,
        c.max_per_address,
        humantime::format_duration(c.header_timeout),
        humantime::format_duration(c.idle_timeout)
    );
    // Last, on stdout: scripts and tests wait for this line to know the port.
    println!("davgate listening on {scheme}://{addr}");
}

/// What every connection of one server shares.
#[derive(Clone)]
struct Shared {
    app: App,
    tls: Option<TlsAcceptor>,
    limits: ConnectionLimits,
    builder: auto::Builder<TokioExecutor>,
    header_timeout: Duration,
    idle_timeout: Duration,
}

impl Shared {
    fn new(app: App, tls: Option<TlsAcceptor>, connections: &ConnectionSettings) -> Self {
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
        Shared {
            app,
            tls,
            limits: ConnectionLimits::new(max_total, connections.max_per_address),
            builder,
            header_timeout: connections.header_timeout,
            idle_timeout: connections.idle_timeout,
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Shared, mut stopped: watch::Receiver<bool>) {
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

/// Purges expired trash and collects unreferenced blobs, at start and then hourly.
async fn upkeep(store: Store, retention: Duration, mut stopped: watch::Receiver<bool>) {
    // A short retention (tests, or an administrator who wants it) is honoured promptly.
    let every = (retention / 4).clamp(Duration::from_secs(1), UPKEEP_EVERY);
    loop {
        let cutoff = davgate_storage::now_ms() - retention.as_millis() as i64;
        match store.purge_trash_before(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                "purged {n} trashed items older than {}",
                humantime::format_duration(retention)
            ),
            Err(e) => tracing::warn!(error = %e, "trash purge failed; will retry"),
        }
        match store.queue_missing_md5().await {
            Ok(0) => {}
            Ok(n) => tracing::info!("queued {n} blobs for the MD5 they lack"),
            Err(e) => {
                tracing::warn!(error = %e, "could not list the blobs lacking an MD5; will retry")
            }
        }
        match store.collect_garbage().await {
            Ok(report) if report.deleted > 0 => {
                tracing::info!("deleted {} unreferenced blobs", report.deleted)
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "garbage collection failed; will retry"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopped.changed() => return,
        }
    }
}

/// Writes batched credential use every 30 seconds, and once more at shutdown.
async fn flush_usage(usage: crate::auth::usage::UsageTracker, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(30)) => usage.flush().await,
            _ = stopped.changed() => {
                usage.flush().await;
                return;
            }
        }
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
