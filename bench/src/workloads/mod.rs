//! The workloads, their fixed names, the plan they share, and the driver's folder on the server.
//!
//! Everything the driver writes lives under `davgate-bench/` below the base URL, created with
//! MKCOL first because not every server creates parents on PUT (nginx's
//! `create_full_put_path` does; RFC 4918 says 409). Each workload is one module:
//! [`big`] (1 GiB up and down), [`small_files`], [`propfind`], [`small_get`].

mod big;
mod propfind;
mod small_files;
mod small_get;

use std::sync::Arc;
use std::time::Duration;

use clap::ValueEnum;
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use crate::body::ReqBody;
use crate::client::{ClientError, Conn, Keep, Target, mkcol};
use crate::report::{Measure, WorkloadReport};
use crate::stats::Latencies;

/// The driver's folder under the base URL.
const ROOT: &str = "davgate-bench/";

/// A workload, by the fixed name the reports use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    #[value(name = "put_stream_1g")]
    PutStream1g,
    #[value(name = "put_length_1g")]
    PutLength1g,
    #[value(name = "get_1g")]
    Get1g,
    #[value(name = "small_files")]
    SmallFiles,
    #[value(name = "propfind_10k")]
    Propfind10k,
    #[value(name = "small_get_auth")]
    SmallGetAuth,
}

impl Workload {
    /// Every workload's name, in the default order.
    pub const NAMES: [&str; 6] = [
        "put_stream_1g",
        "put_length_1g",
        "get_1g",
        "small_files",
        "propfind_10k",
        "small_get_auth",
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::PutStream1g => Self::NAMES[0],
            Workload::PutLength1g => Self::NAMES[1],
            Workload::Get1g => Self::NAMES[2],
            Workload::SmallFiles => Self::NAMES[3],
            Workload::Propfind10k => Self::NAMES[4],
            Workload::SmallGetAuth => Self::NAMES[5],
        }
    }
}

/// Sizes, counts and durations for every workload; recorded in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Bytes in the big file.
    pub size: u64,
    /// Runs of the big-file workloads and of small_files.
    pub repeat: u32,
    /// How long small_get_auth runs.
    pub duration: Duration,
    /// Files small_files uploads.
    pub files: u32,
    /// Bytes per small file.
    pub small_size: u64,
    /// Entries in the PROPFIND folder.
    pub entries: u32,
    /// Timed PROPFIND runs.
    pub propfind_runs: u32,
    /// Concurrent uploaders in small_files.
    pub put_clients: u32,
    /// Connections in small_get_auth.
    pub get_connections: u32,
    /// The server process whose memory is sampled.
    pub server_pid: Option<u32>,
}

impl Plan {
    /// The settings that shape the workloads, without which process is watched: two servers
    /// measured alike differ only there.
    pub fn without_server(&self) -> Plan {
        Plan {
            server_pid: None,
            ..self.clone()
        }
    }

    /// Bytes per small file as a buffer length; main caps it at 64 MiB.
    fn small_len(&self) -> usize {
        usize::try_from(self.small_size).unwrap_or(usize::MAX)
    }
}

/// Runs one workload.
pub async fn run(
    target: &Arc<Target>,
    plan: &Plan,
    workload: Workload,
) -> Result<WorkloadReport, WorkloadError> {
    match workload {
        Workload::PutStream1g => big::put(target, plan, workload.name(), false).await,
        Workload::PutLength1g => big::put(target, plan, workload.name(), true).await,
        Workload::Get1g => big::get(target, plan, workload.name()).await,
        Workload::SmallFiles => small_files::run(target, plan, workload.name()).await,
        Workload::Propfind10k => propfind::run(target, plan, workload.name()).await,
        Workload::SmallGetAuth => small_get::run(target, plan, workload.name()).await,
    }
}

/// Creates the driver's folder (untimed); an existing one is fine.
pub async fn prepare(target: &Target) -> Result<(), WorkloadError> {
    let mut conn = target.conn();
    ensure_collection(&mut conn, target, ROOT).await
}

/// Deletes the driver's folder and everything in it.
pub async fn cleanup(target: &Target) -> Result<(), WorkloadError> {
    let mut conn = target.conn();
    delete_collection(&mut conn, target, ROOT).await
}

/// MKCOL `path` (ending in `/`), accepting 405: RFC 4918 §9.3.1's answer when it exists.
async fn ensure_collection(
    conn: &mut Conn,
    target: &Target,
    path: &str,
) -> Result<(), WorkloadError> {
    let req = target
        .request(mkcol(), path)
        .body(ReqBody::Empty)
        .map_err(ClientError::from)?;
    conn.send(req, &[StatusCode::METHOD_NOT_ALLOWED], Keep::Nothing)
        .await?;
    Ok(())
}

/// DELETE a collection. nginx refuses it without the trailing slash and `Depth: infinity`.
async fn delete_collection(
    conn: &mut Conn,
    target: &Target,
    path: &str,
) -> Result<(), WorkloadError> {
    let req = target
        .request(Method::DELETE, path)
        .header("depth", "infinity")
        .body(ReqBody::Empty)
        .map_err(ClientError::from)?;
    conn.ok(req).await?;
    Ok(())
}

/// p50 and p99 of one run's latencies.
fn latency_measures(latencies: &mut Latencies) -> Result<[Measure; 2], WorkloadError> {
    let (Some(p50), Some(p99)) = (latencies.percentile_ms(50.0), latencies.percentile_ms(99.0))
    else {
        return Err(WorkloadError::Verify("no request completed".to_owned()));
    };
    Ok([
        Measure::lower("p50 latency", "ms", p50),
        Measure::lower("p99 latency", "ms", p99),
    ])
}

/// Why a workload failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Rss(#[from] crate::rss::RssError),
    #[error("{0}")]
    Verify(String),
    #[error("a worker task failed: {0}")]
    Worker(#[from] tokio::task::JoinError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_command_line() {
        for workload in Workload::value_variants() {
            let parsed = Workload::from_str(workload.name(), false).unwrap();
            assert_eq!(parsed, *workload);
        }
        assert_eq!(Workload::value_variants().len(), Workload::NAMES.len());
    }
}
