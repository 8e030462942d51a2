//! Listening, TLS, HTTP/1.1 and HTTP/2, background upkeep, and graceful shutdown.
//!
//! [`start`] opens the store, binds (or adopts) the listener and returns a [`Running`]
//! server; [`run`] adds signal handling for the `serve` command (SIGINT and SIGTERM
//! drain and stop, SIGHUP reloads the TLS certificate). Tests start servers in-process
//! on `127.0.0.1:0` through [`start_on`].
//!
//! [`accept`] admits every connection against the caps in [`limits`] and has
//! [`watchdog`] watch it: it must send a first request within `header_timeout` of accept (TLS
//! handshake included) and is closed after `idle_timeout` with no request in progress.

mod accept;
mod access_log;
mod cert_reload;
mod limits;
mod observed;
mod service;
mod stream;
pub mod tls;
mod watchdog;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use davgate_storage::{Backend, BlobStoreConfig, Job, StorageError, Store, StoreConfig};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use self::accept::{Shared, accept_loop};
use self::cert_reload::{CertReloader, Trigger};
// Re-exported so callers that name `server::FileRanges` keep compiling while they move to
// `crate::sendfile`, which both the server and the file handlers sit on.
pub use self::service::App;
use crate::auth::Authenticator;
use crate::auth::cache::load_or_create_server_key;
use crate::config::{ClientAddress, Settings, Transport};
use crate::data_lock::{DataDirLock, LockError};
use crate::dav::Dav;
use crate::files::Files;
use crate::metrics::Metrics;
use crate::metrics::endpoint::{self, Endpoint};
pub use crate::sendfile::FileRanges;

/// How often expired trash is purged and unreferenced blobs collected, at most.
const UPKEEP_EVERY: Duration = Duration::from_secs(3600);
/// How often PostgreSQL's tables are checked for growth (`Store::refresh_statistics`):
/// a table filled from empty gets plans for its size within this long of each doubling.
const STATISTICS_EVERY: Duration = Duration::from_secs(5);

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
    metrics_addr: Option<SocketAddr>,
    scheme: &'static str,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    flush: JoinHandle<()>,
    /// The reminder worker: awaited on shutdown, so a stopped server sends nothing more.
    reminders: JoinHandle<()>,
    certs: Option<CertReloader>,
    /// The store held no account when the server started.
    no_accounts: bool,
    /// Held until the server is dropped: `davgate migrate` refuses while it is.
    _in_use: DataDirLock,
}

impl Running {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of the metrics listener, when `metrics_listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// `http://ADDR` or `https://ADDR`.
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Reads the TLS certificate and key again and serves them from the next handshake
    /// on, unless they are unusable (then the current pair stays, and the log says why).
    /// Returns whether a new pair is in service; `false` without TLS.
    pub async fn reload_tls(&self) -> bool {
        let Some(certs) = self.certs.clone() else {
            tracing::info!("SIGHUP: plain HTTP, no TLS certificate to reload");
            return false;
        };
        tokio::task::spawn_blocking(move || certs.reload(Trigger::Hangup))
            .await
            .unwrap_or(false)
    }

    /// Stops accepting, lets open requests finish (up to a bound), and returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        let _ = self.flush.await;
        let _ = self.reminders.await;
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
    let in_use = DataDirLock::shared(&settings.data_dir).map_err(|e| match e {
        LockError::Held { .. } => StartError::Io(format!(
            "{} is being migrated (`davgate migrate` holds {e}); start the server once it has finished",
            settings.data_dir.display()
        )),
        LockError::Io { .. } => StartError::Io(format!("cannot lock the data directory: {e}")),
    })?;
    let store = open_store(&settings).await?;
    // Account rows and path walks are kept between commits on PostgreSQL too, as long
    // as this node hears the other nodes' commits.
    store.follow_changes();
    let server_key = load_or_create_server_key(&settings.data_dir)
        .map_err(|e| StartError::Io(format!("server key: {e}")))?;
    let metrics = settings.metrics.enabled().then(Metrics::new);
    let metrics_listener =
        match settings.metrics.listen {
            Some(addr) => Some(TcpListener::bind(addr).await.map_err(|e| {
                StartError::Io(format!("cannot listen for metrics on {addr}: {e}"))
            })?),
            None => None,
        };
    let auth = Authenticator::new(store.clone(), server_key, &settings.auth);
    // TLS first: the portal signs device profiles with the certificate served now.
    let (tls, certs, signing_cert, scheme) = match &settings.transport {
        Transport::Tls { cert, key } => {
            let files = tls::CertFiles::new(cert, key);
            let (acceptor, current) = files.acceptor().map_err(|e| StartError::Tls(e.0))?;
            let signing: Arc<dyn crate::account::profile::ServerCertificate> = current.clone();
            (
                Some(acceptor),
                Some(CertReloader::new(files, current)),
                Some(signing),
                "https",
            )
        }
        Transport::PlainLoopback | Transport::PlainBehindProxy => (None, None, None, "http"),
    };
    let app = App {
        metrics_endpoint: match (&metrics, &settings.metrics.token) {
            (Some(metrics), Some(token)) => Some(Endpoint::new(metrics.clone(), Some(token))),
            _ => None,
        },
        metrics: metrics.clone(),
        portal: crate::account::Portal::new(
            store.clone(),
            auth.clone(),
            crate::auth::two_factor::TwoFactor::new(store.clone(), &server_key),
            settings.portal.clone(),
        )
        .with_certificate(signing_cert)
        .with_reminders(settings.reminders.clone()),
        auth,
        files: Files::new(store.clone(), settings.upload_limit)
            .with_lock_max_timeout(settings.lock_max_timeout)
            .with_trash_skip(settings.trash_skip.clone()),
        dav: Dav::new(store.clone(), settings.dav.clone()),
        client_address: settings.client_address.clone(),
        store: store.clone(),
        files_host: settings.files_host.clone(),
    };
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Io(e.to_string()))?;
    let behind_proxy = matches!(settings.transport, Transport::PlainBehindProxy)
        || matches!(settings.client_address, ClientAddress::Header(_));
    let shared = Shared::new(app.clone(), tls, &settings.connections, behind_proxy);
    if let Some(metrics) = &metrics {
        observed::observe(metrics, &app, shared.limits());
    }
    let metrics_addr = match &metrics_listener {
        Some(listener) => Some(
            listener
                .local_addr()
                .map_err(|e| StartError::Io(e.to_string()))?,
        ),
        None => None,
    };
    narrate(&settings, &store, scheme, addr, metrics_addr);
    let no_accounts = store.accounts().await.is_ok_and(|a| a.is_empty());

    let (stop, stopped) = watch::channel(false);
    if let (Some(metrics), Some(listener)) = (metrics, metrics_listener) {
        let endpoint = Endpoint::new(metrics, settings.metrics.token.as_ref());
        tokio::spawn(endpoint::serve(listener, endpoint, stopped.clone()));
    }
    let reminders = tokio::spawn(crate::reminders::worker::run(
        store.clone(),
        settings.reminders.clone(),
        stopped.clone(),
    ));
    tokio::spawn(crate::memory::trim_after_large_bodies(
        Some(store.clone()),
        stopped.clone(),
    ));
    if store.backend() == Backend::Postgres {
        tokio::spawn(refresh_statistics(store.clone(), stopped.clone()));
    }
    tokio::spawn(upkeep(store, settings.trash_retention, stopped.clone()));
    let flush = tokio::spawn(flush_usage(app.auth.usage().clone(), stopped.clone()));
    if let Some(certs) = &certs {
        tokio::spawn(certs.clone().watch_files(stopped.clone()));
    }
    let task = tokio::spawn(accept_loop(listener, shared, stopped));
    Ok(Running {
        addr,
        metrics_addr,
        scheme,
        stop,
        task,
        flush,
        reminders,
        certs,
        no_accounts,
        _in_use: in_use,
    })
}

/// Runs until SIGINT or SIGTERM, then drains; SIGHUP reloads the TLS certificate.
/// `add_user` is the command that creates an account on this server's store (with the
/// options `serve` was given), shown while there is none.
pub async fn run(settings: Settings, add_user: &str) -> Result<(), StartError> {
    // Before anything slow: SIGHUP's default action ends the process, and a reload sent
    // while the store opens must not.
    let mut signals =
        Signals::install().map_err(|e| StartError::Io(format!("cannot handle signals: {e}")))?;
    let running = start(settings).await?;
    if running.no_accounts {
        tracing::info!("no accounts yet: create the first one with `{add_user}`");
    }
    while let Signal::Reload = signals.next().await {
        running.reload_tls().await;
    }
    tracing::info!("shutting down: finishing open requests");
    running.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// Opens the store the settings describe, creating the data directory and running
/// migrations.
pub async fn open_store(settings: &Settings) -> Result<Store, StorageError> {
    // Owner-only whatever the umask: it holds the database, the blobs and server.key.
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(&settings.data_dir)?;
    Store::open(&store_config(settings)).await
}

/// The store the settings describe.
pub fn store_config(settings: &Settings) -> StoreConfig {
    StoreConfig {
        database_url: settings.database_url.expose().clone(),
        blob_store: settings.blob_store.clone(),
        max_connections: settings.db_connections,
        background_thread_init: Some(crate::priority::lower_priority),
        sqlite_synchronous: settings.sqlite_synchronous,
        inline_blob_max: settings.inline_blob_max,
    }
}

fn narrate(
    settings: &Settings,
    store: &Store,
    scheme: &str,
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
) {
    let transport = match settings.transport {
        Transport::Tls { .. } => "TLS, HTTP/2 and HTTP/1.1",
        Transport::PlainLoopback => "plain HTTP on loopback",
        Transport::PlainBehindProxy => "plain HTTP behind a TLS-terminating proxy",
    };
    tracing::info!(
        "davgate {} listening on {scheme}://{addr} ({transport})",
        env!("CARGO_PKG_VERSION")
    );
    let blobs = match &settings.blob_store {
        BlobStoreConfig::Local(dir) => format!("blobs in {}", dir.display()),
        BlobStoreConfig::S3(s3) => format!("blobs in the S3 bucket {}", s3.bucket),
    };
    tracing::info!(
        "data in {} ({} database, {blobs}); files at {scheme}://{addr}/files/",
        settings.data_dir.display(),
        store.backend(),
    );
    if let Some(metrics_addr) = metrics_addr {
        tracing::info!(
            "metrics at http://{metrics_addr}{}{}",
            endpoint::PATH,
            if settings.metrics.token.is_some() {
                " (bearer token required)"
            } else {
                ""
            }
        );
    }
    if settings.metrics.token.is_some() {
        tracing::info!(
            "metrics at {scheme}://{addr}{} to the bearer token in metrics_token",
            endpoint::PATH
        );
    }
    if store.backend() == Backend::Sqlite
        && settings.sqlite_synchronous == davgate_storage::SqliteSynchronous::Normal
    {
        tracing::info!(
            "sqlite_synchronous = \"normal\": commits are fsynced at checkpoints only, so a \
             power cut may roll back the last ones, answered uploads included"
        );
    }
    if let Some(host) = &settings.files_host {
        tracing::info!(
            "files host {}: the files tree at {scheme}://{}/ (trash at /.trash/)",
            host.name(),
            host.name()
        );
    }
    // Last, on stdout: scripts and tests wait for this line to know the port.
    println!("davgate listening on {scheme}://{addr}");
}

/// Keeps PostgreSQL's plans made from the tables' current sizes as they grow, until
/// `stopped` turns true.
async fn refresh_statistics(store: Store, mut stopped: watch::Receiver<bool>) {
    let mut failing = false;
    loop {
        match store.refresh_statistics().await {
            Ok(tables) => {
                failing = false;
                if !tables.is_empty() {
                    tracing::debug!(?tables, "analyzed tables that had grown");
                }
            }
            // Once per run of failures: a database that is down would otherwise repeat
            // it every few seconds.
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(
                    error = %e,
                    "cannot check the tables for growth or analyze them (retrying every \
                     {}); check that PostgreSQL is up and reachable. Meanwhile its \
                     autovacuum analyzes them, a minute or more later",
                    humantime::format_duration(STATISTICS_EVERY)
                );
            }
            Err(_) => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(STATISTICS_EVERY) => {}
            _ = stopped.changed() => return,
        }
    }
}

/// Purges expired trash and collects unreferenced blobs, at start and then hourly. Each
/// job runs on one node at a time when several share a PostgreSQL database (see
/// `davgate_storage::Job`); a node that finds one taken skips it this round.
async fn upkeep(store: Store, retention: Duration, mut stopped: watch::Receiver<bool>) {
    // A short retention (tests, or an administrator who wants it) is honoured promptly.
    let every = (retention / 4).clamp(Duration::from_secs(1), UPKEEP_EVERY);
    loop {
        let cutoff = davgate_storage::now_ms() - retention.as_millis() as i64;
        match store
            .run_job(Job::TrashPurge, store.purge_trash_before(cutoff))
            .await
        {
            Ok(None | Some(0)) => {}
            Ok(Some(n)) => tracing::info!(
                "purged {n} trashed items older than {}",
                humantime::format_duration(retention)
            ),
            Err(e) => tracing::warn!(error = %e, "trash purge failed; will retry"),
        }
        match store
            .run_job(Job::Md5Backfill, store.queue_missing_md5())
            .await
        {
            Ok(None | Some(0)) => {}
            Ok(Some(n)) => tracing::info!("queued {n} blobs for the MD5 they lack"),
            Err(e) => {
                tracing::warn!(error = %e, "could not list the blobs lacking an MD5; will retry")
            }
        }
        match store
            .run_job(Job::BlobCollection, store.collect_garbage())
            .await
        {
            Ok(Some(report)) if report.deleted > 0 || report.aborted_uploads > 0 => {
                tracing::info!(
                    "deleted {} unreferenced blobs, aborted {} incomplete uploads",
                    report.deleted,
                    report.aborted_uploads
                )
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

/// What a signal asks the server to do.
enum Signal {
    Stop,
    Reload,
}

/// SIGINT, SIGTERM and SIGHUP, handled from installation on.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.interrupt.recv() => Signal::Stop,
            _ = self.terminate.recv() => Signal::Stop,
            _ = self.hangup.recv() => Signal::Reload,
        }
    }
}
