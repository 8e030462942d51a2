//! auth_cached (alias small_get_auth) and auth_cold: GET one small file over keep-alive
//! connections for `--duration`, with Basic auth on every request.
//!
//! auth_cached is the cost of authentication on the hot path: a sync client polling or
//! fetching many small files sends the same credentials with each request, so a server has to
//! answer from a cache (davgate) or a cheap check (nginx's htpasswd file) rather than a fresh
//! password hash. It runs on `--get-connections`.
//!
//! auth_cold is the same loop on `--cold-connections` against a server whose credential cache
//! is off (davgate's `auth_cache_capacity = 0`, which also stops concurrent identical checks
//! from sharing a hash), so each request pays a full argon2id check: the price a cache miss
//! costs, and the reason the cache exists. The driver cannot switch a server's cache off, so
//! `run.sh` starts a separate instance for it.
//!
//! Connections are opened before the clock starts; one run, as ten seconds already hold
//! thousands of samples.

use std::sync::Arc;
use std::time::Instant;

use http::Method;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use tokio::task::JoinSet;

use super::{Plan, ROOT, WorkloadError, latency_measures};
use crate::body::{ReqBody, payload};
use crate::client::{ClientError, Conn, Target};
use crate::report::{Measure, WorkloadReport};
use crate::stats::{Latencies, per_second};

/// Per-connection cap, so even a broken clock cannot keep a worker going forever.
const MAX_REQUESTS_PER_CONNECTION: usize = 10_000_000;

/// Runs the GET loop on `connections` connections.
pub async fn run(
    target: &Arc<Target>,
    plan: &Plan,
    name: &str,
    connections: u32,
) -> Result<WorkloadReport, WorkloadError> {
    let path = format!("{ROOT}small.bin");
    let body = payload(plan.small_len());
    let req = target
        .request(Method::PUT, &path)
        .header(CONTENT_TYPE, "application/octet-stream")
        .header(CONTENT_LENGTH, body.len())
        .body(ReqBody::bytes(body))
        .map_err(ClientError::from)?;
    target.conn().ok(req).await?;

    let mut conns = Vec::new();
    for _ in 0..connections {
        let mut conn = target.conn();
        conn.open().await?;
        conns.push(conn);
    }
    let started = Instant::now();
    let deadline = started + plan.duration;
    let mut workers = JoinSet::new();
    for conn in conns {
        let (target, path) = (Arc::clone(target), path.clone());
        workers.spawn(fetch_until(target, conn, path, deadline, plan.small_size));
    }
    let mut latencies = Latencies::default();
    // Returning early drops the JoinSet, which aborts the other workers.
    while let Some(joined) = workers.join_next().await {
        latencies.merge(joined??);
    }
    let elapsed = started.elapsed();

    let rate = per_second(latencies.len(), elapsed);
    let [p50, p99] = latency_measures(&mut latencies)?;
    let run = vec![
        Measure::higher("requests per second", "req/s", rate),
        p50,
        p99,
    ];
    eprintln!(
        "davgate-bench:   {} requests, {rate:.0} req/s",
        latencies.len()
    );
    let notes = vec![format!(
        "one run of {:?} on {connections} connections",
        plan.duration
    )];
    Ok(WorkloadReport::from_runs(name, vec![run], notes))
}

/// GETs `path` on `conn` until `deadline`, checking each body's length.
pub(super) async fn fetch_until(
    target: Arc<Target>,
    mut conn: Conn,
    path: String,
    deadline: Instant,
    expected_len: u64,
) -> Result<Latencies, WorkloadError> {
    let mut latencies = Latencies::default();
    while Instant::now() < deadline && latencies.len() < MAX_REQUESTS_PER_CONNECTION {
        let req = target
            .request(Method::GET, &path)
            .body(ReqBody::Empty)
            .map_err(ClientError::from)?;
        let started = Instant::now();
        let exchange = conn.ok(req).await?;
        latencies.record(started.elapsed());
        if exchange.body_len != expected_len {
            return Err(WorkloadError::Verify(format!(
                "GET {path} returned {} bytes, expected {expected_len}",
                exchange.body_len
            )));
        }
    }
    Ok(latencies)
}
