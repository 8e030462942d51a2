//! CPU time the server spends over a window, as a share of the machine's cores.
//!
//! `utime` and `stime` in `/proc/PID/stat` count every thread of the process, including
//! threads that have exited (tokio's blocking pool retires idle ones), in clock ticks of
//! `USER_HZ`. Two readings around a window give the CPU the server used in it; dividing by
//! the window and the core count gives 100% when every core was busy the whole time. Only
//! the process itself counts: davgate does all its work in one process. Linux only.

use std::time::{Duration, Instant};

/// A reading of a process's CPU time.
#[derive(Debug, Clone, Copy)]
pub struct CpuReading {
    pid: u32,
    ticks: u64,
    at: Instant,
}

impl CpuReading {
    /// Reads `pid`'s CPU time now.
    pub fn now(pid: u32) -> Result<Self, CpuError> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_err(|_| CpuError::Unreadable(pid))?;
        let ticks = busy_ticks(&stat).ok_or(CpuError::Unparsable(pid))?;
        Ok(CpuReading {
            pid,
            ticks,
            at: Instant::now(),
        })
    }

    /// The share of `cores` the process kept busy since this reading, in percent.
    pub fn percent_since(&self, cores: usize) -> Result<f64, CpuError> {
        let end = CpuReading::now(self.pid)?;
        let ticks = end.ticks.saturating_sub(self.ticks);
        Ok(percent_of_cores(
            ticks,
            clock_ticks_per_second(),
            end.at - self.at,
            cores,
        ))
    }
}

/// The cores the driver may use: the machine the server shares with it.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `utime + stime` from the text of `/proc/PID/stat`.
fn busy_ticks(stat: &str) -> Option<u64> {
    // Field 2 is the command name in parentheses, and it may itself hold spaces and
    // parentheses, so the fixed fields are counted from the last ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_ascii_whitespace();
    // After the name: state (field 3) … utime (14), stime (15).
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `ticks` of CPU over `elapsed` as a percentage of `cores` fully busy.
fn percent_of_cores(ticks: u64, ticks_per_second: u64, elapsed: Duration, cores: usize) -> f64 {
    let busy = ticks as f64 / ticks_per_second.max(1) as f64;
    let capacity = elapsed.as_secs_f64() * cores.max(1) as f64;
    100.0 * busy / capacity.max(f64::MIN_POSITIVE)
}

/// `USER_HZ`, from `getconf CLK_TCK`. The driver links no libc binding for `sysconf`, and
/// the value is 100 on every architecture but Alpha, hence the fallback.
fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .filter(|&hz| hz > 0)
        .unwrap_or(100)
}

/// Why the server's CPU time could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CpuError {
    #[error("cannot read /proc/{0}/stat: is the server running, and is this Linux?")]
    Unreadable(u32),
    #[error("/proc/{0}/stat has no utime and stime where Linux puts them")]
    Unparsable(u32),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utime_and_stime_past_an_awkward_name() {
        // Fields 3..=15 after the name; utime 1234, stime 56.
        let stat = "4242 (davgate (x) y) S 1 4242 4242 0 -1 4194560 900 0 0 0 1234 56 0 0 20 0 9";
        assert_eq!(busy_ticks(stat), Some(1290));
        assert_eq!(busy_ticks("4242 (davgate) S 1 2"), None);
        assert_eq!(busy_ticks("no name here"), None);
    }

    #[test]
    fn percent_is_of_all_cores_over_the_window() {
        let second = Duration::from_secs(1);
        // Two cores busy for one second at USER_HZ 100: 200 ticks, all of the machine.
        assert_eq!(percent_of_cores(200, 100, second, 2), 100.0);
        assert_eq!(percent_of_cores(100, 100, second, 2), 50.0);
        assert_eq!(
            percent_of_cores(50, 100, Duration::from_millis(500), 1),
            100.0
        );
        assert_eq!(percent_of_cores(0, 100, second, 2), 0.0);
    }

    #[test]
    fn reads_this_process() {
        let reading = CpuReading::now(std::process::id()).unwrap();
        // Spin for ten ticks of USER_HZ so the count cannot stay at zero.
        let spin_until = Instant::now() + Duration::from_millis(100);
        while Instant::now() < spin_until {}
        let percent = reading.percent_since(cores()).unwrap();
        assert!(percent > 0.0 && percent.is_finite(), "{percent}");
        assert!(clock_ticks_per_second() > 0);
    }
}
