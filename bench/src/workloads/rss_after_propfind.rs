//! rss_after_propfind: whether a server gives its memory back after one huge listing.
//!
//! A folder of `--rss-entries` files (`propfind-N/`, 50,000 by default, shared with
//! propfind_10k's setup and kept) is listed once with PROPFIND Depth 1, as rclone lists it,
//! while the server's RSS (summed with its children's, see [`crate::rss`]) is sampled; then
//! the server is left idle for [`WATCH`] and its RSS read every second. Reported: RSS
//! before, the peak during the listing, RSS 5 s and 60 s after it, how long until RSS was
//! back under [`BACK_UNDER_MIB`] (the watch's length plus one second when it never was),
//! and the listing's time and size. One run: the point is what stays, not how fast.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::propfind::{ensure_folder, timed_listing};
use super::{Plan, WorkloadError};
use crate::client::Target;
use crate::report::{Measure, WorkloadReport};
use crate::rss::{RssSampler, current_mib};

/// How long the idle server is watched after the listing.
const WATCH: Duration = Duration::from_secs(60);
/// How often it is read meanwhile.
const EVERY: Duration = Duration::from_secs(1);
/// The RSS a server should be back under within [`WATCH`] (issue 17's target).
const BACK_UNDER_MIB: f64 = 64.0;
/// Idle time before "RSS before" is read, so the setup's uploads have settled.
const SETTLE: Duration = Duration::from_secs(5);

pub async fn run(
    target: &Arc<Target>,
    plan: &Plan,
    name: &str,
) -> Result<WorkloadReport, WorkloadError> {
    let pid = plan.server_pid.ok_or_else(|| {
        WorkloadError::Verify(format!(
            "{name} needs --server-pid: it watches the server's memory"
        ))
    })?;
    let (folder, mut notes) = ensure_folder(target, plan.rss_entries, plan.put_clients).await?;
    tokio::time::sleep(SETTLE).await;
    let before = current_mib(pid)?;

    let mut conn = target.conn();
    let sampler = RssSampler::start(pid);
    let listing = timed_listing(&mut conn, target, &folder, plan.rss_entries as usize + 1).await;
    let peak = sampler.finish().await?;
    let (elapsed, body_len) = listing?;
    // The connection stays open, as a sync client's would between listings.

    let finished = Instant::now();
    let mut after_5s = None;
    let mut back_under = None;
    let mut last = current_mib(pid)?;
    // Bounded: WATCH / EVERY readings.
    for second in 1..=WATCH.as_secs() {
        tokio::time::sleep_until((finished + EVERY * second as u32).into()).await;
        last = current_mib(pid)?;
        if second == 5 {
            after_5s = Some(last);
        }
        if back_under.is_none() && last < BACK_UNDER_MIB {
            back_under = Some(second as f64);
        }
    }
    let never = (WATCH + EVERY).as_secs_f64();
    if back_under.is_none() {
        notes.push(format!(
            "RSS stayed at or above {BACK_UNDER_MIB} MiB for the whole {} s watch",
            WATCH.as_secs()
        ));
    }
    notes.push(format!(
        "one PROPFIND Depth 1 of {} entries, then {} s idle with RSS read every second",
        plan.rss_entries,
        WATCH.as_secs()
    ));
    let run = vec![
        Measure::lower("RSS 60 s after", "MiB", last),
        Measure::lower("RSS 5 s after", "MiB", after_5s.unwrap_or(last)),
        Measure::lower(
            &format!("seconds until RSS < {BACK_UNDER_MIB} MiB"),
            "s",
            back_under.unwrap_or(never),
        ),
        Measure::lower("peak RSS", "MiB", peak),
        Measure::context("RSS before", "MiB", before),
        Measure::lower("listing time", "ms", elapsed.as_secs_f64() * 1000.0),
        Measure::context("listing size", "MiB", body_len as f64 / (1024.0 * 1024.0)),
    ];
    Ok(WorkloadReport::from_runs(name, vec![run], notes))
}
