//! small_files and small_files_32: `--files` small PUTs from `--put-clients` (or
//! `--wide-put-clients`) concurrent clients into a fresh folder.
//!
//! This is a sync client's first upload of a photo or source tree: many files, each its own
//! request, several in flight. Each run gets a new folder (MKCOL, so its creation is checked)
//! and deletes it afterwards, untimed, so runs do not pile up files on a long-lived server.
//! Before each run the driver syncs every filesystem (untimed), so a server that does not
//! fsync its uploads pays for the previous run's writes rather than leaving them to the next.
//! The clients share a counter and claim the next file until all are sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, StatusCode};
use tokio::task::JoinSet;

use super::{Plan, ROOT, WorkloadError, delete_collection, latency_measures};
use crate::body::{ReqBody, payload};
use crate::client::{ClientError, Target, mkcol};
use crate::report::{Measure, WorkloadReport};
use crate::stats::{Latencies, per_second};

pub async fn run(
    target: &Arc<Target>,
    plan: &Plan,
    name: &str,
    clients: u32,
) -> Result<WorkloadReport, WorkloadError> {
    let payload = payload(plan.small_len());
    let mut conn = target.conn();
    let mut runs = Vec::new();
    for run in 1..=plan.repeat {
        let folder = format!("{ROOT}small-{}-{run}/", unique());
        // A plain MKCOL, not ensure_collection: the folder must be new, so 405 is an error.
        let req = target
            .request(mkcol(), &folder)
            .body(ReqBody::Empty)
            .map_err(ClientError::from)?;
        conn.ok(req).await?;
        sync_filesystems().await?;

        let started = Instant::now();
        let mut latencies = put_many(target, &folder, plan.files, clients, &payload).await?;
        let elapsed = started.elapsed();
        let rate = per_second(latencies.len(), elapsed);
        let [p50, p99] = latency_measures(&mut latencies)?;
        runs.push(vec![
            Measure::higher("files per second", "files/s", rate),
            p50,
            p99,
        ]);
        eprintln!(
            "davgate-bench:   run {run}/{}: {rate:.0} files/s",
            plan.repeat
        );

        delete_collection(&mut conn, target, &folder).await?;
    }
    let notes = vec![format!(
        "{clients} clients; a sync of every filesystem before each run"
    )];
    Ok(WorkloadReport::from_runs(name, runs, notes))
}

/// `sync(1)`: flushes every filesystem's dirty pages, so the next timed run starts clean.
pub async fn sync_filesystems() -> Result<(), WorkloadError> {
    let status = tokio::task::spawn_blocking(|| std::process::Command::new("sync").status())
        .await?
        .map_err(WorkloadError::Sync)?;
    if !status.success() {
        return Err(WorkloadError::Verify(format!("sync failed: {status}")));
    }
    Ok(())
}

/// PUTs `count` copies of `payload` into `folder` as [`file_name`]s, from `clients` concurrent
/// connections; the latency of every PUT. Also the untimed setup of propfind_10k.
pub async fn put_many(
    target: &Arc<Target>,
    folder: &str,
    count: u32,
    clients: u32,
    payload: &Bytes,
) -> Result<Latencies, WorkloadError> {
    put_each(target, folder, count, clients, payload)
        .await
        .map(|(latencies, _)| latencies)
}

/// [`put_many`], also returning the indices of the files answered 201 Created, in order.
pub async fn put_each(
    target: &Arc<Target>,
    folder: &str,
    count: u32,
    clients: u32,
    payload: &Bytes,
) -> Result<(Latencies, Vec<u32>), WorkloadError> {
    let next = Arc::new(AtomicU32::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..clients.min(count) {
        let (target, next) = (Arc::clone(target), Arc::clone(&next));
        let (folder, payload) = (folder.to_owned(), payload.clone());
        workers.spawn(async move {
            let mut conn = target.conn();
            let mut latencies = Latencies::default();
            let mut created = Vec::new();
            // Bounded: each round claims a new index and the claims stop at `count`.
            while let Some(i) = claim(&next, count) {
                let req = target
                    .request(Method::PUT, &format!("{folder}{}", file_name(i)))
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(CONTENT_LENGTH, payload.len())
                    .body(ReqBody::bytes(payload.clone()))
                    .map_err(ClientError::from)?;
                let started = Instant::now();
                let exchange = conn.ok(req).await?;
                latencies.record(started.elapsed());
                if exchange.status == StatusCode::CREATED {
                    created.push(i);
                }
            }
            Ok::<_, WorkloadError>((latencies, created))
        });
    }
    let mut all = Latencies::with_capacity(count as usize);
    let mut all_created = Vec::with_capacity(count as usize);
    // Returning early drops the JoinSet, which aborts the other workers.
    while let Some(joined) = workers.join_next().await {
        let (latencies, created) = joined??;
        all.merge(latencies);
        all_created.extend(created);
    }
    all_created.sort_unstable();
    if all.len() != count as usize {
        return Err(WorkloadError::Verify(format!(
            "{} of {count} uploads were recorded",
            all.len()
        )));
    }
    Ok((all, all_created))
}

/// The name of the `i`th small file: sortable, and the same on every server.
pub fn file_name(i: u32) -> String {
    format!("f{i:06}.bin")
}

fn claim(next: &AtomicU32, count: u32) -> Option<u32> {
    let i = next.fetch_add(1, Ordering::Relaxed);
    (i < count).then_some(i)
}

/// A folder suffix no earlier run used: the clock in nanoseconds, then the driver's pid.
pub fn unique() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos}-{}", std::process::id())
}
