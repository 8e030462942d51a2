//! `davgate-bench`: runs fixed WebDAV workloads against one server and reports the medians.
//!
//! The same binary measures davgate and its peers (nginx, Radicale, …), so every workload
//! uses only plain RFC 4918 requests (RFC 4791 and RFC 6578 reports for the CalDAV ones) with
//! HTTP Basic auth against a base URL or a calendar URL. One run prints a table or,
//! with `--json`, a machine-readable report; `--compare` turns such reports into the
//! side-by-side markdown table that `run.sh` prints. The driver talks plain HTTP/1.1 and only
//! to loopback unless `--allow-remote` says otherwise.

mod body;
mod client;
mod cpu;
mod report;
mod rss;
mod stats;
mod units;
mod workloads;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;

use crate::client::Target;
use crate::report::Report;
use crate::units::ByteSize;
use crate::workloads::{Plan, Targets, Workload};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("davgate-bench: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli.run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("davgate-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs WebDAV workloads against one server (or compares two saved `--json` reports).
#[derive(Debug, Parser)]
#[command(name = "davgate-bench", version, about)]
struct Cli {
    /// WebDAV base URL, e.g. http://127.0.0.1:8080/files/ (plain HTTP).
    #[arg(long, required_unless_present_any = ["compare", "calendar_url"])]
    url: Option<String>,
    /// Calendar collection for the caldav_* workloads, created if missing, e.g.
    /// http://127.0.0.1:8080/dav/calendars/bench/bench/ (davgate) or
    /// http://127.0.0.1:5232/bench/bench/ (Radicale).
    #[arg(long, value_name = "URL")]
    calendar_url: Option<String>,
    /// User name for HTTP Basic auth.
    #[arg(long, required_unless_present = "compare")]
    user: Option<String>,
    /// Password for HTTP Basic auth (prefer the environment variable: argv is world-readable).
    #[arg(
        long,
        env = "DAVGATE_BENCH_PASSWORD",
        hide_env_values = true,
        required_unless_present = "compare"
    )]
    password: Option<String>,
    /// Name of the server in the report [default: the URL's host and port].
    #[arg(long)]
    label: Option<String>,
    /// Workloads to run, comma-separated, in this order. auth_cold needs a server with its
    /// credential cache off, auth_flood and portal_load one that reads X-Forwarded-For, so they (and
    /// small_get_auth, the old name of auth_cached) run only when named, as do caldav_query,
    /// caldav_multiget, caldav_sync and caldav_propfind, which need --calendar-url.
    #[arg(long, value_delimiter = ',', default_values = Workload::DEFAULT)]
    workloads: Vec<Workload>,
    /// File holding an app password of --user, for the valid client of auth_flood and
    /// portal_load (a file, not a flag value: argv is world-readable).
    #[arg(long, value_name = "FILE")]
    app_password_file: Option<PathBuf>,
    /// Print the report as JSON (all raw runs included) instead of a table.
    #[arg(long)]
    json: bool,
    /// Size of the big file for put_stream_1g, put_length_1g and get_1g.
    #[arg(long, default_value = "1GiB")]
    size: ByteSize,
    /// Runs of each upload and of small_files; the report gives the median.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    repeat: u32,
    /// Timed runs of get_1g. A download from the page cache takes under a second, so
    /// the median needs more runs than an upload's to rise above the noise.
    #[arg(long, default_value_t = 9, value_parser = clap::value_parser!(u32).range(1..=100))]
    get_runs: u32,
    /// get_1g times its first GET too, without waiting for the server to go quiet: a
    /// download right after uploads, as `bench/readers.py` measures one.
    #[arg(long)]
    no_warm_up: bool,
    /// How long auth_cached and auth_cold keep their connections busy, and the length of
    /// each of auth_flood's two windows.
    #[arg(long, default_value = "10s")]
    duration: humantime::Duration,
    /// Number of files small_files uploads.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    files: u32,
    /// Size of each small file (small_files, auth_cached, auth_cold, auth_flood).
    #[arg(long, default_value = "4KiB")]
    small_size: ByteSize,
    /// Entries in the folder that propfind_10k lists.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    entries: u32,
    /// Timed PROPFIND runs in propfind_10k.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=1000))]
    propfind_runs: u32,
    /// Events in the caldav_* workloads' calendar (half of them weekly).
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(100..=1_000_000))]
    events: u32,
    /// Calendar sizes caldav_initial_sync syncs from scratch, comma-separated, smallest
    /// first; each lives in its own calendar beside --calendar-url (`initial-sync-N`).
    #[arg(long, value_delimiter = ',', default_values_t = workloads::default_initial_sync_events(),
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    initial_sync_events: Vec<u32>,
    /// Entries in the folder rss_after_propfind lists.
    #[arg(long, default_value_t = workloads::default_rss_entries(), value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    rss_entries: u32,
    /// Events with five VALARMs each that the reminders workload PUTs to the routed
    /// calendar (--calendar-url), and as many without alarms to an unrouted one.
    #[arg(long, default_value_t = workloads::default_reminder_events(), value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    reminder_events: u32,
    /// One-alarm events in each of the reminders workload's two bursts (due in one
    /// minute, then in one second).
    #[arg(long, default_value_t = workloads::default_burst_alarms(), value_parser = clap::value_parser!(u32).range(1..=100_000))]
    burst_alarms: u32,
    /// Loopback port on which the reminders workload receives the webhooks the routed
    /// calendar's alarms are posted to.
    #[arg(long, value_name = "PORT")]
    receiver_port: Option<u16>,
    /// Timed runs of each caldav_* workload (sync rounds for caldav_sync).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    caldav_runs: u32,
    /// Concurrent clients uploading in small_files (and the propfind_10k and caldav setups).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    put_clients: u32,
    /// Concurrent clients uploading in small_files_32.
    #[arg(long, default_value_t = workloads::default_wide_put_clients(), value_parser = clap::value_parser!(u32).range(1..=1024))]
    wide_put_clients: u32,
    /// File where durable_upload lists the files the server answered 201 for, and from which
    /// durability_check reads them after the server was killed and restarted.
    #[arg(long, value_name = "FILE")]
    durability_list: Option<PathBuf>,
    /// Keep-alive connections in auth_cached.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    get_connections: u32,
    /// Keep-alive connections in auth_cold (each request there costs a password hash).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1024))]
    cold_connections: u32,
    /// Connections sending wrong passwords in auth_flood, and loading the portal in
    /// portal_load (half wrong sign-ins, half page views).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    flood_connections: u32,
    /// Server process to watch: its peak RSS (with its children's) is reported for the big
    /// files, and its CPU time during auth_flood's flood.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Allow a base URL whose host is not loopback.
    #[arg(long)]
    allow_remote: bool,
    /// Delete the driver's folder (`davgate-bench/` under the base URL) when done.
    #[arg(long)]
    cleanup: bool,
    /// Instead of running: print BASELINE.json and CANDIDATE.json side by side as markdown.
    /// Further CANDIDATE reports (the same server measured on other instances) join the
    /// candidate's column.
    #[arg(long, num_args = 2.., value_name = "REPORT", conflicts_with_all = ["url", "calendar_url", "user", "json"])]
    compare: Vec<PathBuf>,
}

impl Cli {
    async fn run(self) -> anyhow::Result<()> {
        if let [baseline, candidates @ ..] = self.compare.as_slice() {
            let baseline = read_report(baseline)?;
            let candidates = candidates
                .iter()
                .map(|path| read_report(path))
                .collect::<anyhow::Result<Vec<_>>>()?;
            print!("{}", report::render_comparison(&baseline, &candidates));
            return Ok(());
        }
        let (Some(user), Some(password)) = (&self.user, &self.password) else {
            bail!("--user and --password are required (or --compare)");
        };
        let Some(url) = self.url.as_ref().or(self.calendar_url.as_ref()) else {
            bail!("--url or --calendar-url is required (or --compare)");
        };
        let plan = self.plan()?;
        if let Some(pid) = plan.server_pid {
            rss::check(pid).context("--server-pid")?;
        }
        let mut targets = Targets {
            durability_list: self.durability_list.clone(),
            ..Targets::default()
        };
        if let Some(url) = &self.url {
            let target = Target::new(url, user, password, self.allow_remote)
                .await
                .context("--url")?;
            if let Some(path) = &self.app_password_file {
                targets.app = Some(Arc::new(target.with_password(&read_secret(path)?)));
            }
            targets.files = Some(Arc::new(target));
            targets.account_password = Some(password.clone());
        }
        if let Some(url) = &self.calendar_url {
            let target = Target::new(url, user, password, self.allow_remote)
                .await
                .context("--calendar-url")?;
            targets.calendar = Some(Arc::new(target));
        }
        targets.receiver_port = self.receiver_port;
        let any_target = targets.files.as_ref().or(targets.calendar.as_ref());
        let label = match (&self.label, any_target) {
            (Some(label), _) => label.clone(),
            (None, Some(target)) => target.authority().to_owned(),
            (None, None) => url.clone(),
        };

        let mut report = Report::new(label, url.clone(), plan.clone());
        // Only the WebDAV workloads write under davgate-bench/; a CalDAV-only run may have
        // no WebDAV tree at all (Radicale).
        let files = targets.files.as_ref().filter(|_| !self.caldav_only());
        if let Some(target) = files {
            workloads::prepare(target).await?;
        }
        for &workload in &self.workloads {
            eprintln!("davgate-bench: {} on {}", workload.name(), report.label);
            let result = workloads::run(&targets, &plan, workload)
                .await
                .with_context(|| format!("workload {} failed", workload.name()))?;
            report.workloads.push(result);
        }
        if let Some(target) = files.filter(|_| self.cleanup) {
            workloads::cleanup(target).await?;
        }

        if self.json {
            let json = serde_json::to_string_pretty(&report).context("cannot encode the report")?;
            println!("{json}");
        } else {
            print!("{}", report::render_table(&report));
        }
        Ok(())
    }

    /// Turns the flags into the workload plan, refusing combinations no workload can run.
    fn plan(&self) -> anyhow::Result<Plan> {
        let duration: Duration = self.duration.into();
        if duration.is_zero() || duration > Duration::from_secs(3600) {
            bail!("--duration must be between 1ms and 1h");
        }
        if self.size.0 == 0 || self.small_size.0 == 0 {
            bail!("--size and --small-size must be above zero");
        }
        if self.small_size.0 > 64 << 20 {
            bail!("--small-size is held in memory: keep it at 64MiB or less");
        }
        for needs_app in [Workload::AuthFlood, Workload::PortalLoad] {
            if self.workloads.contains(&needs_app) && self.app_password_file.is_none() {
                bail!(
                    "{} needs --app-password-file: its valid client signs in with one",
                    needs_app.name()
                );
            }
        }
        for needs_list in [Workload::DurableUpload, Workload::DurabilityCheck] {
            if self.workloads.contains(&needs_list) && self.durability_list.is_none() {
                bail!(
                    "{} needs --durability-list: the files answered 201 are listed there",
                    needs_list.name()
                );
            }
        }
        if let Some(w) = self.workloads.iter().find(|w| !w.is_caldav())
            && self.url.is_none()
        {
            bail!(
                "{} needs --url (name only caldav_* workloads to run without one)",
                w.name()
            );
        }
        if let Some(w) = self.workloads.iter().find(|w| w.is_caldav())
            && self.calendar_url.is_none()
        {
            bail!("{} needs --calendar-url", w.name());
        }
        if self.workloads.contains(&Workload::Reminders)
            && (self.receiver_port.is_none() || self.server_pid.is_none())
        {
            bail!(
                "reminders needs --receiver-port (where its webhook posts) and --server-pid \
                 (whose CPU and memory it watches)"
            );
        }
        Ok(Plan {
            size: self.size.0,
            repeat: self.repeat,
            get_runs: self.get_runs,
            warm_up: !self.no_warm_up,
            duration,
            files: self.files,
            small_size: self.small_size.0,
            entries: self.entries,
            propfind_runs: self.propfind_runs,
            put_clients: self.put_clients,
            wide_put_clients: self.wide_put_clients,
            get_connections: self.get_connections,
            cold_connections: self.cold_connections,
            flood_connections: self.flood_connections,
            events: self.events,
            caldav_runs: self.caldav_runs,
            initial_sync_events: self.initial_sync_events.clone(),
            rss_entries: self.rss_entries,
            reminder_events: self.reminder_events,
            burst_alarms: self.burst_alarms,
            server_pid: self.server_pid,
        })
    }

    fn caldav_only(&self) -> bool {
        self.workloads.iter().all(|w| w.is_caldav())
    }
}

/// The first line of a secret file, without its line break; the secret is never echoed.
fn read_secret(path: &Path) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let secret = text.lines().next().unwrap_or_default().trim();
    if secret.is_empty() {
        bail!(
            "{} is empty: it should hold an app password",
            path.display()
        );
    }
    Ok(secret.to_owned())
}

fn read_report(path: &Path) -> anyhow::Result<Report> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a report", path.display()))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn compare_takes_extra_candidate_reports() {
        let cli = Cli::try_parse_from(["b", "--compare", "n.json", "d.json", "c.json"]).unwrap();
        assert_eq!(cli.compare.len(), 3);
        assert!(Cli::try_parse_from(["b", "--compare", "n.json"]).is_err());
    }

    #[test]
    fn auth_flood_needs_an_app_password_file() {
        let args = [
            "b",
            "--url",
            "http://127.0.0.1:1/",
            "--user",
            "u",
            "--password",
            "p",
        ];
        let flood = Cli::try_parse_from(args.iter().chain(&["--workloads", "auth_flood"])).unwrap();
        assert!(flood.plan().is_err());
        let defaults = Cli::try_parse_from(args).unwrap();
        assert!(defaults.plan().is_ok());
        assert!(!defaults.workloads.contains(&Workload::AuthFlood));
    }

    #[test]
    fn caldav_workloads_need_a_calendar_url_and_nothing_else() {
        let args = ["b", "--user", "u", "--password", "p"];
        let caldav = ["--workloads", "caldav_query,caldav_sync"];
        let calendar = ["--calendar-url", "http://127.0.0.1:1/bench/bench/"];
        let alone = Cli::try_parse_from(args.iter().chain(&caldav).chain(&calendar)).unwrap();
        assert!(alone.plan().is_ok());
        assert!(alone.caldav_only());
        let no_calendar = Cli::try_parse_from(
            args.iter()
                .chain(&caldav)
                .chain(&["--url", "http://127.0.0.1:1/"]),
        )
        .unwrap();
        assert!(no_calendar.plan().is_err());
        // The default file workloads still need --url.
        let defaults = Cli::try_parse_from(args.iter().chain(&calendar)).unwrap();
        assert!(defaults.plan().is_err());
        assert!(Cli::try_parse_from(args).is_err());
        assert!(
            Cli::try_parse_from(args.iter().chain(&calendar).chain(&["--events", "99"])).is_err()
        );
    }

    #[test]
    fn secret_files_give_their_first_line() {
        let path =
            std::env::temp_dir().join(format!("davgate-bench-secret-{}", std::process::id()));
        std::fs::write(&path, "  abcdefgh-1234567 \nignored\n").unwrap();
        let secret = read_secret(&path);
        std::fs::write(&path, "\n").unwrap();
        let empty = read_secret(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(secret.unwrap(), "abcdefgh-1234567");
        assert!(empty.is_err());
    }
}
