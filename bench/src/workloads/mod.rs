//! The workloads, their fixed names, the plan they share, and the driver's folder on the server.
//!
//! Everything the driver writes lives under `davgate-bench/` below the base URL, created with
//! MKCOL first because not every server creates parents on PUT (nginx's
//! `create_full_put_path` does; RFC 4918 says 409). Each workload is one module:
//! [`big`] (1 GiB up and down), [`small_files`] (small_files with `--put-clients`,
//! small_files_32 with `--wide-put-clients`), [`propfind`], [`small_get`] (auth_cached,
//! auth_cold), [`auth_flood`], [`portal_load`], [`rss_after_propfind`] and [`durability`]
//! (durable_upload and durability_check, around a kill -9 of the server). auth_cold,
//! auth_flood and portal_load only mean something against a server configured for them
//! (credential cache off; client address from X-Forwarded-For; davgate's portal), and
//! rss_after_propfind watches the server for a minute after one 50,000-entry listing, so
//! they run only when named. The CalDAV workloads of [`caldav`] also run only when named:
//! they need a calendar URL (`--calendar-url`) rather than the WebDAV base URL, and write
//! nothing under `davgate-bench/`. durable_upload and durability_check need
//! `--durability-list` and a server killed and restarted between them, so they too run only
//! when named.
//! Nor does [`reminders`] (davgate's alarm scheduler and webhook delivery), which runs
//! only when named, beside `--calendar-url`, and listens for webhooks on `--receiver-port`.

mod auth_flood;
mod big;
mod caldav;
mod durability;
mod portal_load;
mod propfind;
mod reminders;
mod rss_after_propfind;
mod small_files;
mod small_get;

use std::path::PathBuf;
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
    /// small_files with `--wide-put-clients` (32) clients.
    #[value(name = "small_files_32")]
    SmallFiles32,
    #[value(name = "propfind_10k")]
    Propfind10k,
    #[value(name = "auth_cached")]
    AuthCached,
    /// auth_cached under the name older reports use.
    #[value(name = "small_get_auth")]
    SmallGetAuth,
    #[value(name = "auth_cold")]
    AuthCold,
    #[value(name = "auth_flood")]
    AuthFlood,
    #[value(name = "caldav_query")]
    CaldavQuery,
    #[value(name = "caldav_multiget")]
    CaldavMultiget,
    #[value(name = "caldav_sync")]
    CaldavSync,
    #[value(name = "caldav_propfind")]
    CaldavPropfind,
    #[value(name = "caldav_initial_sync")]
    CaldavInitialSync,
    #[value(name = "portal_load")]
    PortalLoad,
    #[value(name = "rss_after_propfind")]
    RssAfterPropfind,
    #[value(name = "durable_upload")]
    DurableUpload,
    #[value(name = "durability_check")]
    DurabilityCheck,
    #[value(name = "reminders")]
    Reminders,
}

impl Workload {
    /// Every workload's name: the defaults first, in their order.
    pub const NAMES: [&str; 20] = [
        "put_stream_1g",
        "put_length_1g",
        "get_1g",
        "small_files",
        "small_files_32",
        "propfind_10k",
        "auth_cached",
        "small_get_auth",
        "auth_cold",
        "auth_flood",
        "caldav_query",
        "caldav_multiget",
        "caldav_sync",
        "caldav_propfind",
        "caldav_initial_sync",
        "portal_load",
        "rss_after_propfind",
        "durable_upload",
        "durability_check",
        "reminders",
    ];

    /// Every CalDAV workload, in the order `bench/caldav.sh` runs them (it runs
    /// caldav_initial_sync, whose calendars hold 26,000 events, only when named).
    pub const CALDAV: [Workload; 5] = [
        Workload::CaldavQuery,
        Workload::CaldavMultiget,
        Workload::CaldavSync,
        Workload::CaldavPropfind,
        Workload::CaldavInitialSync,
    ];

    /// What runs when `--workloads` is not given: every workload any WebDAV server can be
    /// measured on as it is. small_get_auth would repeat auth_cached.
    pub const DEFAULT: [&str; 7] = [
        "put_stream_1g",
        "put_length_1g",
        "get_1g",
        "small_files",
        "small_files_32",
        "propfind_10k",
        "auth_cached",
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::PutStream1g => Self::NAMES[0],
            Workload::PutLength1g => Self::NAMES[1],
            Workload::Get1g => Self::NAMES[2],
            Workload::SmallFiles => Self::NAMES[3],
            Workload::SmallFiles32 => Self::NAMES[4],
            Workload::Propfind10k => Self::NAMES[5],
            Workload::AuthCached => Self::NAMES[6],
            Workload::SmallGetAuth => Self::NAMES[7],
            Workload::AuthCold => Self::NAMES[8],
            Workload::AuthFlood => Self::NAMES[9],
            Workload::CaldavQuery => Self::NAMES[10],
            Workload::CaldavMultiget => Self::NAMES[11],
            Workload::CaldavSync => Self::NAMES[12],
            Workload::CaldavPropfind => Self::NAMES[13],
            Workload::CaldavInitialSync => Self::NAMES[14],
            Workload::PortalLoad => Self::NAMES[15],
            Workload::RssAfterPropfind => Self::NAMES[16],
            Workload::DurableUpload => Self::NAMES[17],
            Workload::DurabilityCheck => Self::NAMES[18],
            Workload::Reminders => Self::NAMES[19],
        }
    }

    /// Whether it runs against the calendar URL rather than the WebDAV base URL.
    pub fn is_caldav(self) -> bool {
        Self::CALDAV.contains(&self) || self == Workload::Reminders
    }
}

/// Sizes, counts and durations for every workload; recorded in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Bytes in the big file.
    pub size: u64,
    /// Runs of the big uploads and of small_files.
    pub repeat: u32,
    /// Timed runs of get_1g.
    #[serde(default = "default_get_runs")]
    pub get_runs: u32,
    /// Whether get_1g reads the file once untimed and waits for a quiet server first.
    #[serde(default = "default_warm_up")]
    pub warm_up: bool,
    /// How long auth_cached and auth_cold run, and each half of auth_flood.
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
    /// Concurrent uploaders in small_files_32.
    #[serde(default = "default_wide_put_clients")]
    pub wide_put_clients: u32,
    /// Connections in auth_cached.
    pub get_connections: u32,
    /// Connections in auth_cold.
    #[serde(default = "default_cold_connections")]
    pub cold_connections: u32,
    /// Connections sending wrong passwords in auth_flood.
    #[serde(default = "default_flood_connections")]
    pub flood_connections: u32,
    /// Events in the CalDAV workloads' calendar.
    #[serde(default = "default_events")]
    pub events: u32,
    /// Timed runs of each CalDAV workload.
    #[serde(default = "default_caldav_runs")]
    pub caldav_runs: u32,
    /// Calendar sizes caldav_initial_sync syncs from scratch, smallest first.
    #[serde(default = "default_initial_sync_events")]
    pub initial_sync_events: Vec<u32>,
    /// Entries in the folder rss_after_propfind lists.
    #[serde(default = "default_rss_entries")]
    pub rss_entries: u32,
    /// Events with five VALARMs each that the reminders workload PUTs (and as many without).
    #[serde(default = "default_reminder_events")]
    pub reminder_events: u32,
    /// One-alarm events in each of the reminders workload's two bursts.
    #[serde(default = "default_burst_alarms")]
    pub burst_alarms: u32,
    /// The server process whose memory (and, in auth_flood, CPU time) is sampled.
    pub server_pid: Option<u32>,
}

// Reports saved before auth_cold and auth_flood existed lack these; their defaults keep
// such reports comparable.
fn default_cold_connections() -> u32 {
    4
}

fn default_flood_connections() -> u32 {
    16
}

// Reports saved while get_1g ran `repeat` times lack this.
fn default_get_runs() -> u32 {
    3
}

// Reports saved before --no-warm-up always warmed up.
fn default_warm_up() -> bool {
    true
}

// Reports saved before the CalDAV workloads lack these.
fn default_events() -> u32 {
    5000
}

fn default_caldav_runs() -> u32 {
    10
}

// Reports saved before caldav_initial_sync and rss_after_propfind lack these.
pub fn default_initial_sync_events() -> Vec<u32> {
    vec![1000, 5000, 20_000]
}

pub fn default_rss_entries() -> u32 {
    50_000
}

// Reports saved before small_files_32 lack this.
pub fn default_wide_put_clients() -> u32 {
    32
}

// Reports saved before the reminders workload lack these.
pub fn default_reminder_events() -> u32 {
    20_000
}

pub fn default_burst_alarms() -> u32 {
    1000
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

/// Where the workloads send their requests; main checks that each named workload has its own.
#[derive(Debug, Default)]
pub struct Targets {
    /// The WebDAV base URL (`--url`), for every workload but the CalDAV ones.
    pub files: Option<Arc<Target>>,
    /// `files` signed in with an app password, which only auth_flood and portal_load need.
    pub app: Option<Arc<Target>>,
    /// The account password, with which portal_load signs in to the portal.
    pub account_password: Option<String>,
    /// The calendar collection (`--calendar-url`), for the CalDAV workloads.
    pub calendar: Option<Arc<Target>>,
    /// Where durable_upload writes the files it got 201 for and durability_check reads them
    /// (`--durability-list`).
    pub durability_list: Option<PathBuf>,
    /// The loopback port on which the reminders workload receives webhooks.
    pub receiver_port: Option<u16>,
}

/// Runs one workload.
pub async fn run(
    targets: &Targets,
    plan: &Plan,
    workload: Workload,
) -> Result<WorkloadReport, WorkloadError> {
    let name = workload.name();
    let missing = |flag: &str| WorkloadError::Verify(format!("{name} needs {flag}"));
    let files = || targets.files.as_ref().ok_or_else(|| missing("--url"));
    let calendar = || {
        targets
            .calendar
            .as_ref()
            .ok_or_else(|| missing("--calendar-url"))
    };
    match workload {
        Workload::PutStream1g => big::put(files()?, plan, name, false).await,
        Workload::PutLength1g => big::put(files()?, plan, name, true).await,
        Workload::Get1g => big::get(files()?, plan, name).await,
        Workload::SmallFiles => small_files::run(files()?, plan, name, plan.put_clients).await,
        Workload::SmallFiles32 => {
            small_files::run(files()?, plan, name, plan.wide_put_clients).await
        }
        Workload::Propfind10k => propfind::run(files()?, plan, name).await,
        Workload::AuthCached | Workload::SmallGetAuth => {
            small_get::run(files()?, plan, name, plan.get_connections).await
        }
        Workload::AuthCold => small_get::run(files()?, plan, name, plan.cold_connections).await,
        Workload::AuthFlood => {
            let app = targets
                .app
                .as_ref()
                .ok_or_else(|| missing("--app-password-file"))?;
            auth_flood::run(files()?, app, plan, name).await
        }
        Workload::PortalLoad => {
            let app = targets
                .app
                .as_ref()
                .ok_or_else(|| missing("--app-password-file"))?;
            let password = targets
                .account_password
                .as_deref()
                .ok_or_else(|| missing("--password"))?;
            portal_load::run(files()?, app, password, plan, name).await
        }
        Workload::CaldavQuery => caldav::query(calendar()?, plan, name).await,
        Workload::CaldavMultiget => caldav::multiget(calendar()?, plan, name).await,
        Workload::CaldavSync => caldav::sync(calendar()?, plan, name).await,
        Workload::CaldavPropfind => caldav::propfind_listing(calendar()?, plan, name).await,
        Workload::CaldavInitialSync => caldav::initial_sync(calendar()?, plan, name).await,
        Workload::RssAfterPropfind => rss_after_propfind::run(files()?, plan, name).await,
        Workload::DurableUpload | Workload::DurabilityCheck => {
            let list = targets
                .durability_list
                .as_deref()
                .ok_or_else(|| missing("--durability-list"))?;
            if workload == Workload::DurableUpload {
                durability::upload(files()?, plan, name, list).await
            } else {
                durability::check(files()?, plan, name, list).await
            }
        }
        Workload::Reminders => {
            let port = targets
                .receiver_port
                .ok_or_else(|| missing("--receiver-port"))?;
            reminders::run(calendar()?, port, plan, name).await
        }
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
    #[error(transparent)]
    Cpu(#[from] crate::cpu::CpuError),
    #[error("{0}")]
    Verify(String),
    #[error("a worker task failed: {0}")]
    Worker(#[from] tokio::task::JoinError),
    #[error("cannot run sync(1): {0}")]
    Sync(std::io::Error),
    #[error("durability list {path}: {source}")]
    List {
        path: PathBuf,
        source: std::io::Error,
    },
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

    #[test]
    fn defaults_leave_out_the_workloads_that_need_their_own_server() {
        assert_eq!(
            Workload::DEFAULT,
            Workload::NAMES[..Workload::DEFAULT.len()]
        );
        for name in [
            "auth_cold",
            "auth_flood",
            "small_get_auth",
            "caldav_query",
            "caldav_multiget",
            "caldav_sync",
            "caldav_propfind",
            "caldav_initial_sync",
            "portal_load",
            "rss_after_propfind",
            "durable_upload",
            "durability_check",
            "reminders",
        ] {
            assert!(!Workload::DEFAULT.contains(&name), "{name}");
        }
    }

    #[test]
    fn old_plans_without_the_auth_connections_still_read() {
        let json = r#"{"size":1,"repeat":1,"duration":{"secs":2,"nanos":0},"files":1,
            "small_size":1,"entries":1,"propfind_runs":1,"put_clients":1,
            "get_connections":16,"server_pid":null}"#;
        let plan: Plan = serde_json::from_str(json).unwrap();
        assert_eq!((plan.cold_connections, plan.flood_connections), (4, 16));
        assert_eq!((plan.events, plan.caldav_runs), (5000, 10));
        assert_eq!(plan.get_runs, 3);
        assert_eq!(plan.initial_sync_events, [1000, 5000, 20_000]);
        assert_eq!(plan.rss_entries, 50_000);
        assert_eq!(plan.wide_put_clients, 32);
        assert_eq!((plan.reminder_events, plan.burst_alarms), (20_000, 1000));
    }

    #[test]
    fn caldav_workloads_know_they_are() {
        let caldav: Vec<&str> = Workload::CALDAV.iter().map(|w| w.name()).collect();
        assert_eq!(caldav, Workload::NAMES[10..15]);
        assert!(!Workload::Propfind10k.is_caldav());
    }
}
