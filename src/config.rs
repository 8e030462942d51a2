//! Configuration: a TOML file, then `DAVGATE_*` environment variables, then flags,
//! validated into the [`Settings`] every part of the server is handed explicitly.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use davgate_storage::BlobStoreConfig;
use davgate_storage::blob::{MIN_PART_SIZE, S3Config};
use serde::Deserialize;

use crate::auth::AuthSettings;
use crate::secret::Secret;
use crate::units::{ByteSize, Span};

/// The largest per-file upload limit an administrator may set.
pub const MAX_UPLOAD_LIMIT: u64 = 100 << 30;

/// The largest `inline_blob_max` an administrator may set: an upload holds up to that
/// much in memory before it reaches the blob store, and a database row is no place for
/// large files.
pub const MAX_INLINE_BLOB_MAX: u64 = 1 << 20;

/// The longest `lock_max_timeout` an administrator may set: a lock covers an editing
/// session, and a crashed client's lock blocks everyone else until it expires.
pub const MAX_LOCK_TIMEOUT: Duration = Duration::from_secs(7 * 86400);

/// The configuration file, every field optional; documented in `deploy/davgate.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Address to listen on (default `127.0.0.1:8080`).
    pub listen: Option<SocketAddr>,
    /// A host name on which the files tree is served at `/` (and the trash at
    /// `/.trash/`) instead of `/files/`; default none.
    pub files_host: Option<String>,
    /// The address people and devices are given (`https://dav.example.org`), for device
    /// profiles, guides and QR codes; default none: the address of the request.
    pub public_url: Option<String>,
    /// Directory for the database, blobs and server key (default `./data`).
    pub data_dir: Option<PathBuf>,
    /// `sqlite://…` or `postgres://…` (default: SQLite in the data directory).
    pub database_url: Option<Secret<String>>,
    /// Where file contents live: `local` (the data directory's `blobs/`, the default) or
    /// `s3` (an S3-compatible bucket shared by every node).
    pub blob_store: Option<BlobStoreKind>,
    /// The S3 endpoint URL (default: AWS itself).
    pub s3_endpoint: Option<String>,
    /// The S3 bucket; required with `blob_store = "s3"`.
    pub s3_bucket: Option<String>,
    /// The S3 region requests are signed for (default us-east-1).
    pub s3_region: Option<String>,
    /// Path-style S3 URLs (default: true with `s3_endpoint`, false for AWS).
    pub s3_path_style: Option<bool>,
    /// The S3 access key (default: `AWS_ACCESS_KEY_ID`).
    pub s3_access_key_id: Option<String>,
    /// The S3 secret key (default: `AWS_SECRET_ACCESS_KEY`).
    pub s3_secret_access_key: Option<Secret<String>>,
    /// Bytes per part of a multipart upload (default 16MiB, at least 5MiB); each upload
    /// holds about two parts in memory.
    pub s3_part_size: Option<ByteSize>,
    /// Accept a plain `http://` S3 endpoint (default false; for a store on loopback).
    pub s3_allow_http: Option<bool>,
    /// How old an unreferenced S3 object must be before garbage collection deletes it
    /// (default 2d): longer than any upload takes, so one still finishing on another
    /// node is never collected.
    pub s3_gc_grace: Option<Span>,
    /// How old an incomplete multipart upload (a node killed mid-upload) must be before
    /// garbage collection aborts it (default 1d): longer than any upload streams.
    pub s3_multipart_max_age: Option<Span>,
    /// PEM certificate chain; with `tls_key`, davgate serves HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// A reverse proxy on a trusted network terminates TLS in front of davgate, so plain
    /// HTTP on a non-loopback address is intended.
    pub trusted_proxy: Option<bool>,
    /// Per-file upload limit for accounts without their own (default 50GiB, at most 100GiB).
    pub upload_limit: Option<ByteSize>,
    /// Files up to this size are kept in the database rather than as a blob file or
    /// object of their own (default 64KiB, at most 1MiB; 0 keeps none there).
    pub inline_blob_max: Option<ByteSize>,
    /// How long deleted items stay in the trash (default 30d).
    pub trash_retention: Option<Span>,
    /// Files a DELETE purges instead of moving to the trash: file names with `*` and `?`,
    /// optionally behind one folder name (`locks/*.json`), ignoring ASCII case. Default:
    /// `.DS_Store`, `._*`, `Thumbs.db`, `desktop.ini` and Joplin's `locks/?_?_*.json`;
    /// an empty list trashes everything.
    pub trash_skip: Option<Vec<String>>,
    /// The longest a WebDAV lock is granted, and what a LOCK without a usable Timeout
    /// header gets (default 1h, at most 7d).
    pub lock_max_timeout: Option<Span>,
    /// How long a successful credential check is cached (default 10m).
    pub auth_cache_ttl: Option<Span>,
    /// How many credential checks the cache holds (default 100000).
    pub auth_cache_capacity: Option<u64>,
    /// How long a sign-in waits for a hashing slot before 503 (default 5s).
    pub auth_hash_wait: Option<Span>,
    /// Password hashes computed at once (default: one per core).
    pub auth_hash_slots: Option<usize>,
    /// Refuse account passwords from sync clients even without a second factor.
    pub require_app_passwords: Option<bool>,
    /// Failed sign-ins to one account, from all addresses together, before its password
    /// must wait on addresses it has not signed in from (default 20; app passwords never
    /// wait for it).
    pub auth_account_failures: Option<u32>,
    /// Largest calendar object or vCard accepted (default 10MiB).
    pub dav_max_resource_size: Option<ByteSize>,
    /// Most recurrence instances computed for one object in a query, expand or
    /// free-busy (default 100000).
    pub dav_max_instances: Option<usize>,
    /// Header a trusted proxy puts the client address in (e.g. X-Forwarded-For; its
    /// right-most address is used). Unset: the connection's address.
    pub client_address_header: Option<String>,
    /// How long a new connection has, from accept, to finish its TLS handshake and send
    /// its first request head (default 10s).
    pub header_timeout: Option<Span>,
    /// How long a connection may sit with no request in progress before it is closed
    /// (default 60s).
    pub idle_timeout: Option<Span>,
    /// Open connections at most; the newest over it is refused (default 4096, lowered to
    /// what the file-handle limit allows).
    pub max_connections: Option<usize>,
    /// Open connections from one client address (an IPv6 /64) at most (default 256; not
    /// applied behind a trusted proxy, whose address every connection has).
    pub max_connections_per_address: Option<usize>,
    /// How long a portal session may sit unused before it ends (default 30m).
    pub session_idle_timeout: Option<Span>,
    /// How long a portal session lasts at most, however busy (default 12h).
    pub session_lifetime: Option<Span>,
    /// How SQLite commits: `full` (default) fsyncs every commit before it is answered,
    /// so an answered upload survives a power cut (commits that overlap share one fsync
    /// of the write-ahead log); `normal` fsyncs only at checkpoints, faster for many
    /// small writes but a power cut may roll back the last ones. Ignored for PostgreSQL.
    pub sqlite_synchronous: Option<SqliteSynchronousSetting>,
    /// A second listener serving only `/metrics` (and `/healthz`), in plain HTTP: bind
    /// it where only the scraper reaches. Unset: no such listener.
    pub metrics_listen: Option<SocketAddr>,
    /// Serves `/metrics` on the main listener to `Authorization: Bearer TOKEN`, and asks
    /// for it on `metrics_listen` too. Unset: `/metrics` is not served on the main
    /// listener.
    pub metrics_token: Option<Secret<String>>,
    /// How far ahead reminders are scheduled (default 30d).
    pub reminders_horizon: Option<Span>,
    /// How late a reminder may still go out, marked late, after the server was down when
    /// it came due; older ones are skipped and audited (default 1h).
    pub reminders_grace: Option<Span>,
    /// Let reminder webhooks reach loopback, private and link-local addresses, over plain
    /// HTTP too (default false: HTTPS to public addresses only).
    pub reminders_allow_private: Option<bool>,
    /// The SMTP relay e-mail reminders go through: `smtp://HOST:PORT` (add
    /// `?tls=required` for STARTTLS) or `smtps://HOST:PORT`, with `USER:PASSWORD@` when
    /// it asks. Unset: no e-mail reminders.
    pub smtp_url: Option<Secret<String>>,
    /// The sender of e-mail reminders, e.g. `davgate <reminders@example.org>`; required
    /// with `smtp_url`.
    pub smtp_from: Option<String>,
    /// Webhooks one account may have at most (default 10).
    pub reminders_max_destinations: Option<u32>,
    /// Calendars one account may route at most (default 50).
    pub reminders_max_routes: Option<u32>,
    /// Messages per minute one destination gets at most, across all nodes; more wait
    /// for their turn (default 60).
    pub reminders_rate_limit: Option<u32>,
}

/// `sqlite_synchronous` as written in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronousSetting {
    /// Every commit fsynced before it is answered; overlapping commits share a fsync.
    Full,
    /// Fsynced at checkpoints only.
    Normal,
}

impl ConfigFile {
    /// Reads a configuration file.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))
    }

    /// Values given on the command line (or in `DAVGATE_*`) win over the file.
    pub fn overlay(mut self, flags: ConfigFile) -> Self {
        macro_rules! take {
            ($($field:ident),*) => { $(if flags.$field.is_some() { self.$field = flags.$field; })* };
        }
        take!(
            listen,
            files_host,
            public_url,
            data_dir,
            database_url,
            blob_store,
            s3_endpoint,
            s3_bucket,
            s3_region,
            s3_path_style,
            s3_access_key_id,
            s3_secret_access_key,
            s3_part_size,
            s3_allow_http,
            s3_gc_grace,
            s3_multipart_max_age,
            tls_cert,
            tls_key,
            trusted_proxy,
            upload_limit,
            inline_blob_max,
            trash_retention,
            trash_skip,
            lock_max_timeout,
            auth_cache_ttl,
            auth_cache_capacity,
            auth_hash_wait,
            auth_hash_slots,
            require_app_passwords,
            auth_account_failures,
            client_address_header,
            dav_max_resource_size,
            dav_max_instances,
            header_timeout,
            idle_timeout,
            max_connections,
            max_connections_per_address,
            session_idle_timeout,
            session_lifetime,
            sqlite_synchronous,
            metrics_listen,
            metrics_token,
            reminders_horizon,
            reminders_grace,
            reminders_allow_private,
            smtp_url,
            smtp_from,
            reminders_max_destinations,
            reminders_max_routes,
            reminders_rate_limit
        );
        self
    }
}

/// Which blob store `blob_store` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BlobStoreKind {
    /// A directory on this machine.
    Local,
    /// An S3-compatible bucket.
    S3,
}

/// A configuration that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

/// How connections are secured.
#[derive(Debug, Clone)]
pub enum Transport {
    /// HTTPS with these PEM files.
    Tls {
        /// Certificate chain.
        cert: PathBuf,
        /// Private key.
        key: PathBuf,
    },
    /// Plain HTTP on a loopback address.
    PlainLoopback,
    /// Plain HTTP behind a proxy that terminates TLS.
    PlainBehindProxy,
}

/// Validated settings of a server.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The host serving the files tree at `/`, if any.
    pub files_host: Option<crate::route::FilesHost>,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Database URL (may hold a password).
    pub database_url: Secret<String>,
    /// Where file contents live (S3 credentials print as `***`).
    pub blob_store: BlobStoreConfig,
    /// TLS or plain HTTP.
    pub transport: Transport,
    /// Default per-file upload limit in bytes.
    pub upload_limit: u64,
    /// Files up to this many bytes are kept in the database; 0: none.
    pub inline_blob_max: u64,
    /// Trash retention.
    pub trash_retention: Duration,
    /// Files a DELETE purges instead of trashing.
    pub trash_skip: crate::files::trash_skip::TrashSkip,
    /// The longest a WebDAV lock is granted; also the grant when the client names none.
    pub lock_max_timeout: Duration,
    /// Authentication settings.
    pub auth: AuthSettings,
    /// Where the client address comes from.
    pub client_address: ClientAddress,
    /// CalDAV and CardDAV settings.
    pub dav: crate::dav::DavSettings,
    /// Pooled database connections. Each SQLite connection is a thread of its own, so
    /// a few suffice (WAL readers run in parallel, writers queue anyway); PostgreSQL
    /// connections are cheap on our side and serve several nodes' load.
    pub db_connections: u32,
    /// Connection timeouts and caps.
    pub connections: ConnectionSettings,
    /// The account portal.
    pub portal: crate::account::PortalSettings,
    /// How SQLite makes commits durable.
    pub sqlite_synchronous: davgate_storage::SqliteSynchronous,
    /// Where `/metrics` is served, if anywhere.
    pub metrics: MetricsSettings,
    /// Reminders to chat webhooks.
    pub reminders: crate::reminders::ReminderSettings,
}

/// Where `/metrics` is served and who may read it.
#[derive(Debug, Clone, Default)]
pub struct MetricsSettings {
    /// A listener of its own, serving only `/metrics` and `/healthz`.
    pub listen: Option<SocketAddr>,
    /// The bearer token a scrape must present; with it, the main listener serves
    /// `/metrics` too.
    pub token: Option<Secret<String>>,
}

impl MetricsSettings {
    /// Whether `/metrics` is served anywhere (metrics are then recorded).
    pub fn enabled(&self) -> bool {
        self.listen.is_some() || self.token.is_some()
    }
}

/// The shortest `metrics_token` accepted: long enough that guessing it is hopeless.
const MIN_METRICS_TOKEN: usize = 16;

/// How long connections may wait and how many may be open.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// From accept to the end of the TLS handshake and the first request head.
    pub header_timeout: Duration,
    /// With no request in progress, how long before the connection is closed.
    pub idle_timeout: Duration,
    /// Open connections at most, before the file-handle limit is applied.
    pub max_total: usize,
    /// Open connections from one address (an IPv6 /64) at most.
    pub max_per_address: usize,
}

/// Where a request's client address is read.
#[derive(Debug, Clone)]
pub enum ClientAddress {
    /// The TCP peer.
    Peer,
    /// The right-most address in this header, set by a trusted proxy.
    Header(http::HeaderName),
}

impl Settings {
    /// Validates a configuration.
    pub fn from_config(config: ConfigFile) -> Result<Self, ConfigError> {
        let connections = connection_settings(&config)?;
        let portal = portal_settings(&config)?;
        let listen = config
            .listen
            .unwrap_or_else(|| "127.0.0.1:8080".parse().expect("valid default"));
        let files_host = config
            .files_host
            .as_deref()
            .map(crate::route::FilesHost::new)
            .transpose()
            .map_err(|e| ConfigError(e.to_string()))?;
        let data_dir = config
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("./data"));
        let blob_store = blob_store(&config, &data_dir)?;
        let database_url = config
            .database_url
            .unwrap_or_else(|| Secret::new(default_database_url(&data_dir)));
        let transport = match (config.tls_cert, config.tls_key) {
            (Some(cert), Some(key)) => Transport::Tls { cert, key },
            (Some(_), None) | (None, Some(_)) => {
                return Err(ConfigError(
                    "tls_cert and tls_key must be given together".into(),
                ));
            }
            (None, None) if listen.ip().is_loopback() => Transport::PlainLoopback,
            (None, None) if config.trusted_proxy.unwrap_or(false) => Transport::PlainBehindProxy,
            (None, None) => {
                return Err(ConfigError(format!(
                    "refusing to serve plain HTTP on {listen}: passwords would cross the network \
                     unencrypted. Set tls_cert and tls_key (or --tls-cert/--tls-key), listen on \
                     127.0.0.1, or set trusted_proxy = true if a reverse proxy terminates TLS"
                )));
            }
        };
        let client_address = match &config.client_address_header {
            None => ClientAddress::Peer,
            Some(name) => {
                ClientAddress::Header(http::HeaderName::try_from(name.as_str()).map_err(|_| {
                    ConfigError(format!(
                        "client_address_header {name:?} is not a valid header name"
                    ))
                })?)
            }
        };
        let upload_limit = config.upload_limit.map_or(50 << 30, |s| s.0);
        if upload_limit > MAX_UPLOAD_LIMIT || upload_limit == 0 {
            return Err(ConfigError(format!(
                "upload_limit must be between 1 byte and {}, not {}",
                ByteSize(MAX_UPLOAD_LIMIT),
                ByteSize(upload_limit)
            )));
        }
        let inline_blob_max = config
            .inline_blob_max
            .map_or(davgate_storage::DEFAULT_INLINE_BLOB_MAX, |s| s.0);
        if inline_blob_max > MAX_INLINE_BLOB_MAX {
            return Err(ConfigError(format!(
                "inline_blob_max must be at most {} (each upload holds that much in memory \
                 until it is stored), not {}",
                ByteSize(MAX_INLINE_BLOB_MAX),
                ByteSize(inline_blob_max)
            )));
        }
        let lock_max_timeout = config
            .lock_max_timeout
            .map_or(crate::files::lock_timeout::DEFAULT_MAX, |s| s.0);
        if lock_max_timeout < Duration::from_secs(1) || lock_max_timeout > MAX_LOCK_TIMEOUT {
            return Err(ConfigError(format!(
                "lock_max_timeout must be between 1s and {}, not {}",
                Span(MAX_LOCK_TIMEOUT),
                Span(lock_max_timeout)
            )));
        }
        let trash_skip = match &config.trash_skip {
            None => crate::files::trash_skip::TrashSkip::defaults(),
            Some(patterns) => crate::files::trash_skip::TrashSkip::new(patterns)
                .map_err(|e| ConfigError(e.to_string()))?,
        };
        let mut throttle = crate::auth::throttle::ThrottleSettings::default();
        if let Some(failures) = config.auth_account_failures {
            if failures == 0 {
                return Err(ConfigError(
                    "auth_account_failures must be at least 1: with 0, no new address could \
                     ever sign in with an account password"
                        .into(),
                ));
            }
            throttle.account_wide = f64::from(failures);
        }
        let db_connections = if database_url.expose().starts_with("sqlite:") {
            4
        } else {
            16
        };
        let metrics = MetricsSettings {
            listen: config.metrics_listen,
            token: config.metrics_token,
        };
        if let Some(token) = &metrics.token
            && (token.expose().len() < MIN_METRICS_TOKEN
                || !token.expose().bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(ConfigError(format!(
                "metrics_token must be at least {MIN_METRICS_TOKEN} printable characters without \
                 spaces, e.g. the output of `openssl rand -hex 32`"
            )));
        }
        let smtp = match (config.smtp_url, &config.smtp_from) {
            (None, None) => None,
            (Some(url), Some(from)) => {
                Some(crate::reminders::email::SmtpSettings::new(url, from).map_err(ConfigError)?)
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(ConfigError(
                    "smtp_url and smtp_from must be given together: the relay e-mail \
                     reminders go through, and the address they come from"
                        .into(),
                ));
            }
        };
        let defaults = crate::reminders::limits::Limits::default();
        let reminder_limits = crate::reminders::limits::Limits {
            max_destinations: config
                .reminders_max_destinations
                .unwrap_or(defaults.max_destinations),
            max_routes: config.reminders_max_routes.unwrap_or(defaults.max_routes),
            per_minute: config.reminders_rate_limit.unwrap_or(defaults.per_minute),
        };
        if !(1..=60_000).contains(&reminder_limits.per_minute) {
            return Err(ConfigError(format!(
                "reminders_rate_limit is messages per minute to one destination, between 1 \
                 and 60000, not {}",
                reminder_limits.per_minute
            )));
        }
        let sqlite_synchronous = match config.sqlite_synchronous {
            None | Some(SqliteSynchronousSetting::Full) => davgate_storage::SqliteSynchronous::Full,
            Some(SqliteSynchronousSetting::Normal) => davgate_storage::SqliteSynchronous::Normal,
        };
        Ok(Settings {
            sqlite_synchronous,
            metrics,
            listen,
            files_host,
            blob_store,
            data_dir,
            database_url,
            transport,
            upload_limit,
            inline_blob_max,
            trash_retention: config
                .trash_retention
                .map_or(Duration::from_secs(30 * 86400), |s| s.0),
            trash_skip,
            lock_max_timeout,
            auth: AuthSettings {
                cache_ttl: config
                    .auth_cache_ttl
                    .map_or(Duration::from_secs(600), |s| s.0),
                cache_capacity: config.auth_cache_capacity.unwrap_or(100_000),
                hash_wait: config
                    .auth_hash_wait
                    .map_or(Duration::from_secs(5), |s| s.0),
                hash_slots: config.auth_hash_slots.filter(|n| *n > 0),
                require_app_passwords: config.require_app_passwords.unwrap_or(false),
                throttle,
            },
            client_address,
            db_connections,
            connections,
            portal,
            reminders: crate::reminders::ReminderSettings {
                horizon: config
                    .reminders_horizon
                    .map_or(crate::reminders::schedule::DEFAULT_HORIZON, |s| s.0),
                grace: config
                    .reminders_grace
                    .map_or(Duration::from_secs(3600), |s| s.0),
                reach: if config.reminders_allow_private.unwrap_or(false) {
                    crate::reminders::deliver::Reach::AllowPrivate
                } else {
                    crate::reminders::deliver::Reach::PublicHttps
                },
                smtp,
                limits: reminder_limits,
            },
            dav: crate::dav::DavSettings {
                max_resource_size: config.dav_max_resource_size.map_or(10 << 20, |s| s.0),
                limits: crate::dav::ical::ExpandLimits {
                    max_instances: config.dav_max_instances.unwrap_or(100_000),
                    ..crate::dav::ical::ExpandLimits::default()
                },
            },
        })
    }
}

/// The blob store the configuration names; S3 keys not given here come from `AWS_*`.
fn blob_store(config: &ConfigFile, data_dir: &Path) -> Result<BlobStoreConfig, ConfigError> {
    if config.blob_store.unwrap_or(BlobStoreKind::Local) == BlobStoreKind::Local {
        return Ok(BlobStoreConfig::Local(data_dir.join("blobs")));
    }
    let bucket = config.s3_bucket.clone().ok_or_else(|| {
        ConfigError("blob_store = \"s3\" needs s3_bucket, the bucket to keep files in".into())
    })?;
    let part_size = config.s3_part_size.map_or(16 << 20, |s| s.0);
    if part_size < MIN_PART_SIZE as u64 || part_size > 1 << 30 {
        return Err(ConfigError(format!(
            "s3_part_size must be between {} (the smallest part S3 accepts) and 1GiB, not {}",
            ByteSize(MIN_PART_SIZE as u64),
            ByteSize(part_size)
        )));
    }
    Ok(BlobStoreConfig::S3(S3Config {
        endpoint: config.s3_endpoint.clone(),
        bucket,
        region: config
            .s3_region
            .clone()
            .unwrap_or_else(|| "us-east-1".into()),
        path_style: config.s3_path_style.unwrap_or(config.s3_endpoint.is_some()),
        access_key_id: config.s3_access_key_id.clone(),
        secret_access_key: config
            .s3_secret_access_key
            .as_ref()
            .map(|s| s.expose().clone()),
        part_size: part_size as usize,
        allow_http: config.s3_allow_http.unwrap_or(false),
        gc_grace: config
            .s3_gc_grace
            .map_or(Duration::from_secs(2 * 86400), |s| s.0),
        multipart_max_age: config
            .s3_multipart_max_age
            .map_or(Duration::from_secs(86400), |s| s.0),
    }))
}

/// Validates the connection timeouts and caps.
fn connection_settings(config: &ConfigFile) -> Result<ConnectionSettings, ConfigError> {
    let header_timeout = config
        .header_timeout
        .map_or(Duration::from_secs(10), |s| s.0);
    if header_timeout < Duration::from_secs(1) || header_timeout > Duration::from_secs(600) {
        return Err(ConfigError(format!(
            "header_timeout must be between 1s and 10m, not {}",
            Span(header_timeout)
        )));
    }
    let idle_timeout = config.idle_timeout.map_or(Duration::from_secs(60), |s| s.0);
    if idle_timeout < Duration::from_secs(1) || idle_timeout > Duration::from_secs(86400) {
        return Err(ConfigError(format!(
            "idle_timeout must be between 1s and 1d, not {}",
            Span(idle_timeout)
        )));
    }
    let max_total = config.max_connections.unwrap_or(4096);
    let max_per_address = config.max_connections_per_address.unwrap_or(256);
    if max_total == 0 || max_per_address == 0 {
        return Err(ConfigError(
            "max_connections and max_connections_per_address must be at least 1: with 0, \
             no client could connect"
                .into(),
        ));
    }
    Ok(ConnectionSettings {
        header_timeout,
        idle_timeout,
        max_total,
        max_per_address,
    })
}

/// Validates the portal's public address and session lifetimes. Whether requests come
/// over TLS is decided from `tls_cert` and `trusted_proxy` (a proxy's
/// `X-Forwarded-Proto` is believed only then).
fn portal_settings(config: &ConfigFile) -> Result<crate::account::PortalSettings, ConfigError> {
    // Parsed once, here: an address devices cannot use is refused at start.
    let public_url = config
        .public_url
        .as_deref()
        .map(crate::public_url::PublicUrl::parse)
        .transpose()
        .map_err(|e| ConfigError(e.to_string()))?;
    let idle = config
        .session_idle_timeout
        .map_or(Duration::from_secs(30 * 60), |s| s.0);
    let lifetime = config
        .session_lifetime
        .map_or(Duration::from_secs(12 * 3600), |s| s.0);
    let week = Duration::from_secs(7 * 86400);
    if idle < Duration::from_secs(1) || lifetime < idle || lifetime > week {
        return Err(ConfigError(format!(
            "session_idle_timeout ({}) must be at least 1s and session_lifetime ({}) between \
             it and 7d",
            Span(idle),
            Span(lifetime)
        )));
    }
    Ok(crate::account::PortalSettings {
        public_url,
        session_idle: idle,
        session_lifetime: lifetime,
        tls: config.tls_cert.is_some(),
        trusted_proxy: config.trusted_proxy.unwrap_or(false),
    })
}

/// SQLite in the data directory, created on first use.
pub fn default_database_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("davgate.db").display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(toml: &str) -> Result<Settings, ConfigError> {
        Settings::from_config(toml::from_str(toml).unwrap())
    }

    #[test]
    fn defaults_are_loopback_sqlite_and_50_gib() {
        let s = settings("").unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert!(matches!(s.transport, Transport::PlainLoopback));
        assert_eq!(s.upload_limit, 50 << 30);
        assert!(
            s.database_url
                .expose()
                .starts_with("sqlite://./data/davgate.db")
        );
        assert_eq!(s.trash_retention, Duration::from_secs(30 * 86400));
    }

    #[test]
    fn inline_blobs_default_to_64_kib_and_are_bounded() {
        assert_eq!(settings("").unwrap().inline_blob_max, 64 << 10);
        assert_eq!(settings("inline_blob_max = 0").unwrap().inline_blob_max, 0);
        assert_eq!(
            settings("inline_blob_max = \"1MiB\"")
                .unwrap()
                .inline_blob_max,
            1 << 20
        );
        let err = settings("inline_blob_max = \"2MiB\"").unwrap_err();
        assert!(err.0.contains("at most 1MiB"), "{err}");
    }

    #[test]
    fn files_host_is_off_by_default_and_a_bare_host_name() {
        assert!(settings("").unwrap().files_host.is_none());
        let s = settings("files_host = \"Files.Example.org\"").unwrap();
        assert_eq!(s.files_host.unwrap().name(), "files.example.org");
        let err = settings("files_host = \"https://files.example.org/\"").unwrap_err();
        assert!(err.0.contains("not a host name"), "{err}");
    }

    #[test]
    fn public_url_is_off_by_default_and_validated() {
        assert!(settings("").unwrap().portal.public_url.is_none());
        let s = settings("public_url = \"https://dav.example.org\"").unwrap();
        assert_eq!(s.portal.public_url.unwrap().host(), "dav.example.org");
        let err = settings("public_url = \"dav.example.org\"").unwrap_err();
        assert!(err.0.contains("https://HOST"), "{err}");
    }

    #[test]
    fn plain_http_off_loopback_needs_a_proxy_or_tls() {
        let err = settings("listen = \"0.0.0.0:8080\"").unwrap_err();
        assert!(err.0.contains("tls_cert"), "{err}");
        assert!(settings("listen = \"0.0.0.0:8080\"\ntrusted_proxy = true").is_ok());
        assert!(
            settings("listen = \"0.0.0.0:8443\"\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"")
                .is_ok()
        );
        assert!(settings("tls_cert = \"c.pem\"").is_err());
    }

    #[test]
    fn upload_limit_is_bounded() {
        assert_eq!(
            settings("upload_limit = \"100GiB\"").unwrap().upload_limit,
            100 << 30
        );
        assert!(settings("upload_limit = \"101GiB\"").is_err());
        assert!(toml::from_str::<ConfigFile>("upload_limit = \"lots\"").is_err());
    }

    #[test]
    fn lock_max_timeout_defaults_to_an_hour_and_is_bounded() {
        assert_eq!(
            settings("").unwrap().lock_max_timeout,
            Duration::from_secs(3600)
        );
        assert_eq!(
            settings("lock_max_timeout = \"5m\"")
                .unwrap()
                .lock_max_timeout,
            Duration::from_secs(300)
        );
        assert!(settings("lock_max_timeout = \"7d\"").is_ok());
        let err = settings("lock_max_timeout = \"8d\"").unwrap_err();
        assert!(err.0.contains("between 1s and 7days"), "{err}");
        assert!(settings("lock_max_timeout = \"0s\"").is_err());
    }

    #[test]
    fn connection_timeouts_and_caps_have_defaults_and_bounds() {
        let c = settings("").unwrap().connections;
        assert_eq!(c.header_timeout, Duration::from_secs(10));
        assert_eq!(c.idle_timeout, Duration::from_secs(60));
        assert_eq!((c.max_total, c.max_per_address), (4096, 256));
        let c = settings("header_timeout = \"2s\"\nidle_timeout = \"5m\"\nmax_connections = 8")
            .unwrap()
            .connections;
        assert_eq!(c.header_timeout, Duration::from_secs(2));
        assert_eq!(c.idle_timeout, Duration::from_secs(300));
        assert_eq!(c.max_total, 8);
        assert!(settings("header_timeout = \"0s\"").is_err());
        assert!(settings("idle_timeout = \"2d\"").is_err());
        let err = settings("max_connections_per_address = 0").unwrap_err();
        assert!(err.0.contains("at least 1"), "{err}");
    }

    #[test]
    fn flags_override_the_file_and_unknown_keys_are_refused() {
        let file: ConfigFile =
            toml::from_str("listen = \"127.0.0.1:1\"\nupload_limit = \"1GiB\"").unwrap();
        let flags = ConfigFile {
            listen: Some("127.0.0.1:2".parse().unwrap()),
            ..ConfigFile::default()
        };
        let merged = file.overlay(flags);
        assert_eq!(merged.listen.unwrap().port(), 2);
        assert_eq!(merged.upload_limit, Some(ByteSize(1 << 30)));
        assert!(toml::from_str::<ConfigFile>("lisen = \"x\"").is_err());
    }

    #[test]
    fn trash_skip_defaults_to_client_noise_and_refuses_patterns_matching_everything() {
        let noise = |s: &Settings, path: &[&str]| {
            let path: Vec<String> = path.iter().map(|p| p.to_string()).collect();
            s.trash_skip.matches(&path)
        };
        let defaults = settings("").unwrap();
        assert!(noise(&defaults, &[".DS_Store"]) && noise(&defaults, &["locks", "2_1_x.json"]));
        let custom = settings("trash_skip = [\"*.tmp\"]").unwrap();
        assert!(noise(&custom, &["a.tmp"]) && !noise(&custom, &[".DS_Store"]));
        assert!(!noise(
            &settings("trash_skip = []").unwrap(),
            &[".DS_Store"]
        ));
        let err = settings("trash_skip = [\"*\"]").unwrap_err();
        assert!(err.0.contains("trash_skip entry \"*\""), "{err}");
    }

    #[test]
    fn the_account_wide_throttle_threshold_is_configurable_but_not_zero() {
        assert_eq!(settings("").unwrap().auth.throttle.account_wide, 20.0);
        let s = settings("auth_account_failures = 50").unwrap();
        assert_eq!(s.auth.throttle.account_wide, 50.0);
        let err = settings("auth_account_failures = 0").unwrap_err();
        assert!(err.0.contains("at least 1"), "{err}");
    }

    #[test]
    fn commits_are_durable_unless_traded_away() {
        use davgate_storage::SqliteSynchronous;
        assert_eq!(
            settings("").unwrap().sqlite_synchronous,
            SqliteSynchronous::Full
        );
        let s = settings("sqlite_synchronous = \"normal\"").unwrap();
        assert_eq!(s.sqlite_synchronous, SqliteSynchronous::Normal);
        assert!(toml::from_str::<ConfigFile>("sqlite_synchronous = \"off\"").is_err());
    }

    #[test]
    fn metrics_are_off_by_default_and_a_token_must_be_strong() {
        assert!(!settings("").unwrap().metrics.enabled());
        let s = settings("metrics_listen = \"127.0.0.1:9090\"").unwrap();
        assert!(s.metrics.enabled() && s.metrics.token.is_none());
        let s = settings("metrics_token = \"0123456789abcdef0123\"").unwrap();
        assert!(s.metrics.enabled() && s.metrics.listen.is_none());
        assert!(
            !format!("{s:?}").contains("0123456789abcdef"),
            "the token is never shown"
        );
        let err = settings("metrics_token = \"short\"").unwrap_err();
        assert!(err.0.contains("at least 16"), "{err}");
        assert!(settings("metrics_token = \"0123456789 abcdef0123\"").is_err());
    }

    #[test]
    fn e_mail_reminders_need_a_relay_and_a_sender() {
        assert!(settings("").unwrap().reminders.smtp.is_none());
        let s = settings(
            "smtp_url = \"smtps://u:hunter22@relay.example.org\"\n\
             smtp_from = \"davgate <reminders@example.org>\"",
        )
        .unwrap();
        let smtp = s.reminders.smtp.as_ref().unwrap();
        assert_eq!(smtp.from.email.to_string(), "reminders@example.org");
        assert!(
            !format!("{s:?}").contains("hunter22"),
            "the password is never shown"
        );
        let err = settings("smtp_url = \"smtp://relay:25\"").unwrap_err();
        assert!(err.0.contains("smtp_from"), "{err}");
        let err = settings("smtp_url = \"mail://relay\"\nsmtp_from = \"a@b.org\"").unwrap_err();
        assert!(err.0.contains("smtp_url is not usable"), "{err}");
    }

    #[test]
    fn reminder_limits_have_defaults_and_a_sane_rate() {
        let limits = settings("").unwrap().reminders.limits;
        assert_eq!(
            (
                limits.max_destinations,
                limits.max_routes,
                limits.per_minute
            ),
            (10, 50, 60)
        );
        let s = settings("reminders_rate_limit = 6\nreminders_max_routes = 2").unwrap();
        assert_eq!(s.reminders.limits.rate().interval_ms(), 10_000);
        assert_eq!(s.reminders.limits.max_routes, 2);
        let err = settings("reminders_rate_limit = 0").unwrap_err();
        assert!(err.0.contains("reminders_rate_limit"), "{err}");
    }

    #[test]
    fn the_example_configuration_shows_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/davgate.toml");
        let example = ConfigFile {
            data_dir: None,
            ..ConfigFile::read(&path).unwrap()
        };
        assert_eq!(
            format!("{:?}", Settings::from_config(example).unwrap()),
            format!("{:?}", settings("").unwrap())
        );
    }
}
