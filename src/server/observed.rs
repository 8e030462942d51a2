//! What the metrics read from each room at scrape time: the credential cache, the
//! throttle and the hash pool (`auth`), open connections ([`super::limits`]), the
//! database pool, WAL fsyncs and blob store errors (`storage`). The rooms keep plain
//! counters; this is the one place that names them for Prometheus.

use std::sync::Arc;

use super::App;
use super::limits::ConnectionLimits;
use crate::auth::stats::Decision;
use crate::metrics::{Kind, Metrics};

/// Adds the readings of `app`'s rooms and of `limits` to `metrics`.
pub(super) fn observe(metrics: &Metrics, app: &App, limits: &ConnectionLimits) {
    let readings = metrics.readings();
    let auth = Arc::new(app.auth.clone());

    let (hits, misses) = (auth.clone(), auth.clone());
    readings.add_labelled(
        "davgate_auth_cache_lookups",
        "Credential cache lookups, by result",
        Kind::Counter,
        "result",
        vec![
            ("hit", Box::new(move || hits.stats().cache_lookups().0)),
            ("miss", Box::new(move || misses.stats().cache_lookups().1)),
        ],
    );
    let decisions = Decision::ALL
        .iter()
        .map(|&(decision, label)| {
            let auth = auth.clone();
            let read: crate::metrics::Read = Box::new(move || auth.stats().decisions(decision));
            (label, read)
        })
        .collect();
    readings.add_labelled(
        "davgate_auth_throttle_decisions",
        "Throttle decisions on credential checks: go (checked), wait (refused with 429), \
         busy (waited for running checks)",
        Kind::Counter,
        "decision",
        decisions,
    );
    let queued = auth.clone();
    readings.add(
        "davgate_auth_hash_queue",
        "Password hashes waiting for a hashing slot",
        Kind::Gauge,
        Box::new(move || queued.hasher().queued()),
    );
    let refused = auth;
    readings.add(
        "davgate_auth_hash_busy",
        "Sign-ins answered 503 because every hashing slot stayed busy for auth_hash_wait",
        Kind::Counter,
        Box::new(move || refused.hasher().refused()),
    );

    let open = limits.clone();
    readings.add(
        "davgate_connections_open",
        "Client connections open on the main listener",
        Kind::Gauge,
        Box::new(move || open.open() as u64),
    );

    let (size, idle, blobs, wal) = (
        app.store.clone(),
        app.store.clone(),
        app.store.clone(),
        app.store.clone(),
    );
    readings.add(
        "davgate_db_pool_connections",
        "Database connections open in the pool",
        Kind::Gauge,
        Box::new(move || u64::from(size.pool_connections().0)),
    );
    readings.add(
        "davgate_db_pool_idle_connections",
        "Database connections in the pool not in use",
        Kind::Gauge,
        Box::new(move || idle.pool_connections().1 as u64),
    );
    readings.add(
        "davgate_db_wal_flushes",
        "Fsyncs of SQLite's write-ahead log, each making every commit before it durable \
         (fewer than commits when writers overlap; 0 on PostgreSQL)",
        Kind::Counter,
        Box::new(move || wal.wal_flushes()),
    );
    readings.add(
        "davgate_blob_errors",
        "Errors the blob store returned (full disk, missing or unreadable blob)",
        Kind::Counter,
        Box::new(move || blobs.blob_errors()),
    );
}
