//! durable_upload and durability_check: whether every file a server answered 201 for is still
//! there after the server is killed with SIGKILL.
//!
//! A 201 is a promise to a sync client: it deletes its local copy or never uploads the file
//! again. durable_upload is one small_files run (`--files` PUTs of `--small-size` from
//! `--put-clients` clients, a sync first) into a fresh folder that it keeps, and writes the
//! folder and the names answered 201 to `--durability-list`. `bench/run.sh` then kills the
//! server with SIGKILL the moment the driver exits and starts it again on the same data;
//! durability_check reads the list and GETs every file, counting those that answer 200 with
//! the uploaded length. A kill loses no page cache, so this catches a 201 sent before the
//! write reached the kernel (a commit still queued, a buffer not yet written), not a power
//! cut.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;

use super::small_files::{file_name, put_each, sync_filesystems, unique};
use super::{Plan, ROOT, WorkloadError, latency_measures};
use crate::body::{ReqBody, payload};
use crate::client::{ClientError, Keep, Target, mkcol};
use crate::report::{Measure, WorkloadReport};
use crate::stats::per_second;

/// What durable_upload leaves for durability_check.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct UploadList {
    /// The folder below the base URL, ending in `/`.
    folder: String,
    /// Bytes in each file.
    size: u64,
    /// PUTs sent.
    uploaded: u32,
    /// The files answered 201 Created, by name.
    created: Vec<String>,
}

pub async fn upload(
    target: &Arc<Target>,
    plan: &Plan,
    name: &str,
    list: &Path,
) -> Result<WorkloadReport, WorkloadError> {
    let payload = payload(plan.small_len());
    let folder = format!("{ROOT}durable-{}/", unique());
    let mut conn = target.conn();
    let req = target
        .request(mkcol(), &folder)
        .body(ReqBody::Empty)
        .map_err(ClientError::from)?;
    conn.ok(req).await?;
    sync_filesystems().await?;

    let started = Instant::now();
    let (mut latencies, created) =
        put_each(target, &folder, plan.files, plan.put_clients, &payload).await?;
    let elapsed = started.elapsed();
    let answered = UploadList {
        folder,
        size: plan.small_size,
        uploaded: plan.files,
        created: created.into_iter().map(file_name).collect(),
    };
    write_list(list, &answered)?;

    let [p50, p99] = latency_measures(&mut latencies)?;
    let run = vec![
        Measure::higher(
            "files per second",
            "files/s",
            per_second(latencies.len(), elapsed),
        ),
        p50,
        p99,
        Measure::context("files answered 201", "files", answered.created.len() as f64),
    ];
    let notes = vec![format!(
        "{} files kept in {} for durability_check",
        answered.created.len(),
        answered.folder
    )];
    Ok(WorkloadReport::from_runs(name, vec![run], notes))
}

pub async fn check(
    target: &Arc<Target>,
    plan: &Plan,
    name: &str,
    list: &Path,
) -> Result<WorkloadReport, WorkloadError> {
    let answered = Arc::new(read_list(list)?);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..plan.put_clients {
        let (target, next, answered) =
            (Arc::clone(target), Arc::clone(&next), Arc::clone(&answered));
        workers.spawn(async move {
            let mut conn = target.conn();
            let mut lost = Vec::new();
            // Bounded: each round claims a new index and the claims stop at the list's end.
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(file) = answered.created.get(i) else {
                    break;
                };
                let req = target
                    .request(Method::GET, &format!("{}{file}", answered.folder))
                    .body(ReqBody::Empty)
                    .map_err(ClientError::from)?;
                let gone = [StatusCode::NOT_FOUND, StatusCode::GONE];
                let exchange = conn.send(req, &gone, Keep::Nothing).await?;
                if let Some(problem) = damage(&exchange.status, exchange.body_len, answered.size) {
                    lost.push(format!("{file}: {problem}"));
                }
            }
            Ok::<_, WorkloadError>(lost)
        });
    }
    let mut lost = Vec::new();
    // Returning early drops the JoinSet, which aborts the other workers.
    while let Some(joined) = workers.join_next().await {
        lost.extend(joined??);
    }
    lost.sort_unstable();

    let total = answered.created.len();
    let present = total - lost.len();
    let mut notes = vec![format!(
        "{} of {} PUTs answered 201; each GET after the server was killed with SIGKILL and \
         restarted on the same data, and counted present when it answered 200 with {} bytes",
        total, answered.uploaded, answered.size
    )];
    if !lost.is_empty() {
        let first: Vec<&str> = lost.iter().take(5).map(String::as_str).collect();
        notes.push(format!(
            "LOST {} of {total} files answered 201 (first: {})",
            lost.len(),
            first.join("; ")
        ));
    }
    let run = vec![
        Measure::context("files answered 201", "files", total as f64),
        Measure::higher("files present after kill -9", "files", present as f64),
        Measure::lower("files lost after kill -9", "files", lost.len() as f64),
    ];
    Ok(WorkloadReport::from_runs(name, vec![run], notes))
}

/// Why a file answered 201 does not count as present, or `None` when it is intact.
fn damage(status: &StatusCode, body_len: u64, size: u64) -> Option<String> {
    if *status != StatusCode::OK {
        return Some(format!("GET answered {status}"));
    }
    (body_len != size).then(|| format!("{body_len} bytes, {size} uploaded"))
}

/// Written whole to a temp file and renamed, so the check never reads half a list.
fn write_list(path: &Path, list: &UploadList) -> Result<(), WorkloadError> {
    let error = |source| WorkloadError::List {
        path: path.to_owned(),
        source,
    };
    let json = serde_json::to_vec(list).map_err(|e| error(e.into()))?;
    let temp = path.with_extension("partial");
    std::fs::write(&temp, json).map_err(error)?;
    std::fs::rename(&temp, path).map_err(error)
}

fn read_list(path: &Path) -> Result<UploadList, WorkloadError> {
    let error = |source| WorkloadError::List {
        path: path.to_owned(),
        source,
    };
    let text = std::fs::read(path).map_err(error)?;
    serde_json::from_slice(&text).map_err(|e| error(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_present_only_with_200_and_its_length() {
        assert_eq!(damage(&StatusCode::OK, 4096, 4096), None);
        assert!(
            damage(&StatusCode::OK, 0, 4096)
                .unwrap()
                .contains("0 bytes")
        );
        assert!(
            damage(&StatusCode::NOT_FOUND, 0, 4096)
                .unwrap()
                .contains("404")
        );
    }

    #[test]
    fn the_list_survives_a_round_trip() {
        let dir = std::env::temp_dir().join(format!("davgate-bench-list-{}", unique()));
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("list.json");
        let list = UploadList {
            folder: "davgate-bench/durable-1/".to_owned(),
            size: 4096,
            uploaded: 3,
            created: vec![file_name(0), file_name(2)],
        };
        write_list(&path, &list).unwrap();
        assert_eq!(read_list(&path).unwrap(), list);
        assert!(!path.with_extension("partial").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
