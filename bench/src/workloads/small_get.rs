//! small_get_auth: GET one small file over `--get-connections` keep-alive connections for
//! `--duration`, with Basic auth on every request.
//!
//! This is the cost of authentication on the hot path: a sync client polling or fetching many
//! small files sends the same credentials with each request, so a server has to answer from a
//! cache (davgate) or a cheap check (nginx's htpasswd file) rather than a fresh password hash.
//! Connections are opened before the clock starts; one run, as ten seconds already hold tens
//! of thousands of samples.

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

pub async fn run(
    target: &Arc<Target>,
    plan: &Plan,
    name: &str,
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
    for _ in 0..plan.get_connections {
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
        "one run of {:?} on {} connections",
        plan.duration, plan.get_connections
    )];
    Ok(WorkloadReport::from_runs(name, vec![run], notes))
}

/// GETs `path` on `conn` until `deadline`, checking each body's length.
async fn fetch_until(
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
