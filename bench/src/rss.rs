//! Peak resident memory of the server (and its children) while a workload runs.
//!
//! `VmHWM` in `/proc/PID/status` is the high-water mark over the process's whole life, so it
//! cannot isolate one workload. Instead a background task sums `VmRSS` over the process tree
//! every [`INTERVAL`] and keeps the maximum. Children count because nginx does its work in
//! worker processes; their shared pages are counted once per process, so the sum overstates
//! a forking server a little. Linux only.

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// How often the tree is sampled.
const INTERVAL: Duration = Duration::from_millis(20);
/// Re-read the set of child processes every this many samples (about half a second).
const TREE_REFRESH: u32 = 25;
/// Hard stop for a sampler nobody stopped: three hours of samples.
const MAX_SAMPLES: u32 = 3 * 3600 * 50;
/// Ceiling on the processes followed, so a fork bomb cannot stall the driver.
const MAX_PROCESSES: usize = 1024;

/// Fails unless `pid`'s memory can be read.
pub fn check(pid: u32) -> Result<(), RssError> {
    vm_rss_kib(pid).map(|_| ()).ok_or(RssError::Unreadable(pid))
}

/// A running sampler; [`RssSampler::finish`] stops it and returns the peak.
pub struct RssSampler {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Option<u64>>,
}

impl RssSampler {
    /// Starts sampling `pid` and its descendants.
    pub fn start(pid: u32) -> Self {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(sample(pid, stopped));
        RssSampler { stop, task }
    }

    /// Stops sampling; the peak summed RSS in MiB.
    pub async fn finish(self) -> Result<f64, RssError> {
        // The task may have ended on its own (sample cap); then the send has no receiver.
        let _ = self.stop.send(());
        let peak_kib = self.task.await.map_err(|_| RssError::Sampler)?;
        let peak_kib = peak_kib.ok_or(RssError::Vanished)?;
        Ok(peak_kib as f64 / 1024.0)
    }
}

/// The summed RSS of `pid` and its descendants now, in MiB.
pub fn current_mib(pid: u32) -> Result<f64, RssError> {
    let kib = tree_rss_kib(pid, &descendants(pid)).ok_or(RssError::Vanished)?;
    Ok(kib as f64 / 1024.0)
}

/// `pid`'s RSS plus that of `tree`, in KiB; `None` when `pid` is gone.
fn tree_rss_kib(pid: u32, tree: &[u32]) -> Option<u64> {
    // A child that exited meanwhile simply contributes nothing.
    vm_rss_kib(pid).map(|own| {
        own + tree
            .iter()
            .filter_map(|&child| vm_rss_kib(child))
            .sum::<u64>()
    })
}

async fn sample(pid: u32, mut stopped: oneshot::Receiver<()>) -> Option<u64> {
    let mut ticker = tokio::time::interval(INTERVAL);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut tree = descendants(pid);
    let mut peak: Option<u64> = None;
    for n in 0..MAX_SAMPLES {
        let last = tokio::select! {
            _ = ticker.tick() => false,
            _ = &mut stopped => true,
        };
        if n % TREE_REFRESH == 0 {
            tree = descendants(pid);
        }
        peak = peak.max(tree_rss_kib(pid, &tree));
        if last {
            break;
        }
    }
    peak
}

/// `VmRSS` of one process in KiB; `None` if it is gone (or is a kernel thread).
fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_field_kib(&status, "VmRSS")
}

/// A `Name:   1234 kB` line of `/proc/PID/status`.
fn status_field_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(field)?.strip_prefix(':')?;
        value.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

/// All descendants of `pid` (not `pid` itself), breadth first.
fn descendants(pid: u32) -> Vec<u32> {
    let mut found = children(pid);
    found.truncate(MAX_PROCESSES);
    let mut next = 0;
    // Bounded: `next` advances every round and `found` never grows past MAX_PROCESSES.
    while let Some(&parent) = found.get(next) {
        next += 1;
        for child in children(parent) {
            if found.len() < MAX_PROCESSES && !found.contains(&child) {
                found.push(child);
            }
        }
    }
    found
}

/// Direct children of `pid`, from `/proc/PID/task/*/children` (one file per thread).
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| parse_pids(&list))
        .collect()
}

fn parse_pids(list: &str) -> Vec<u32> {
    list.split_ascii_whitespace()
        .filter_map(|pid| pid.parse().ok())
        .collect()
}

/// Why the server's memory could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum RssError {
    #[error("cannot read /proc/{0}/status: is the server running, and is this Linux?")]
    Unreadable(u32),
    #[error("the server process vanished before its memory could be sampled")]
    Vanished,
    #[error("the memory sampler task failed")]
    Sampler,
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tnginx\nVmPeak:\t  20000 kB\nVmHWM:\t    9000 kB\n\
                          VmRSS:\t    8123 kB\nRssAnon:\t 1000 kB\n";

    #[test]
    fn reads_status_fields() {
        assert_eq!(status_field_kib(STATUS, "VmRSS"), Some(8123));
        assert_eq!(status_field_kib(STATUS, "VmHWM"), Some(9000));
        assert_eq!(status_field_kib(STATUS, "Vm"), None);
        assert_eq!(status_field_kib("Name:\tkthreadd\n", "VmRSS"), None);
    }

    #[test]
    fn parses_children_lists() {
        assert_eq!(parse_pids("12 34 \n"), vec![12, 34]);
        assert!(parse_pids("").is_empty());
    }

    #[tokio::test]
    async fn samples_this_process() {
        let own = std::process::id();
        check(own).unwrap();
        let sampler = RssSampler::start(own);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let peak = sampler.finish().await.unwrap();
        assert!(peak > 0.0);
        assert!(current_mib(own).unwrap() > 0.0);
    }
}
