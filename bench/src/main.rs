//! `davgate-bench`: runs fixed WebDAV workloads against one server and reports the medians.
//!
//! The same binary measures davgate and its peers (nginx, …), so every workload uses only
//! plain RFC 4918 requests with HTTP Basic auth against a base URL. One run prints a table or,
//! with `--json`, a machine-readable report; `--compare` turns two such reports into the
//! side-by-side markdown table that `run.sh` prints. The driver talks plain HTTP/1.1 and only
//! to loopback unless `--allow-remote` says otherwise.

mod body;
mod client;
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
use crate::workloads::{Plan, Workload};

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
    #[arg(long, required_unless_present = "compare")]
    url: Option<String>,
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
    /// Workloads to run, comma-separated, in this order.
    #[arg(long, value_delimiter = ',', default_values = Workload::NAMES)]
    workloads: Vec<Workload>,
    /// Print the report as JSON (all raw runs included) instead of a table.
    #[arg(long)]
    json: bool,
    /// Size of the big file for put_stream_1g, put_length_1g and get_1g.
    #[arg(long, default_value = "1GiB")]
    size: ByteSize,
    /// Runs of each upload/download and of small_files; the report gives the median.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    repeat: u32,
    /// How long small_get_auth keeps its connections busy.
    #[arg(long, default_value = "10s")]
    duration: humantime::Duration,
    /// Number of files small_files uploads.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    files: u32,
    /// Size of each small file (small_files, small_get_auth).
    #[arg(long, default_value = "4KiB")]
    small_size: ByteSize,
    /// Entries in the folder that propfind_10k lists.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    entries: u32,
    /// Timed PROPFIND runs in propfind_10k.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=1000))]
    propfind_runs: u32,
    /// Concurrent clients uploading in small_files (and the propfind_10k setup).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    put_clients: u32,
    /// Keep-alive connections in small_get_auth.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    get_connections: u32,
    /// Server process to watch: its peak RSS (with its children's) is reported for the big files.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Allow a base URL whose host is not loopback.
    #[arg(long)]
    allow_remote: bool,
    /// Delete the driver's folder (`davgate-bench/` under the base URL) when done.
    #[arg(long)]
    cleanup: bool,
    /// Instead of running: print BASELINE.json and CANDIDATE.json side by side as markdown.
    #[arg(long, num_args = 2, value_names = ["BASELINE", "CANDIDATE"], conflicts_with_all = ["url", "user", "json"])]
    compare: Vec<PathBuf>,
}

impl Cli {
    async fn run(self) -> anyhow::Result<()> {
        if let [baseline, candidate] = self.compare.as_slice() {
            let baseline = read_report(baseline)?;
            let candidate = read_report(candidate)?;
            print!("{}", report::render_comparison(&baseline, &candidate));
            return Ok(());
        }
        let (Some(url), Some(user), Some(password)) = (&self.url, &self.user, &self.password)
        else {
            bail!("--url, --user and --password are required (or --compare)");
        };
        let plan = self.plan()?;
        if let Some(pid) = plan.server_pid {
            rss::check(pid).context("--server-pid")?;
        }
        let target = Target::new(url, user, password, self.allow_remote)
            .await
            .context("--url")?;
        let label = match &self.label {
            Some(label) => label.clone(),
            None => target.authority().to_owned(),
        };
        let target = Arc::new(target);

        let mut report = Report::new(label, url.clone(), plan.clone());
        workloads::prepare(&target).await?;
        for &workload in &self.workloads {
            eprintln!("davgate-bench: {} on {}", workload.name(), report.label);
            let result = workloads::run(&target, &plan, workload)
                .await
                .with_context(|| format!("workload {} failed", workload.name()))?;
            report.workloads.push(result);
        }
        if self.cleanup {
            workloads::cleanup(&target).await?;
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
        Ok(Plan {
            size: self.size.0,
            repeat: self.repeat,
            duration,
            files: self.files,
            small_size: self.small_size.0,
            entries: self.entries,
            propfind_runs: self.propfind_runs,
            put_clients: self.put_clients,
            get_connections: self.get_connections,
            server_pid: self.server_pid,
        })
    }
}

fn read_report(path: &Path) -> anyhow::Result<Report> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a report", path.display()))
}
