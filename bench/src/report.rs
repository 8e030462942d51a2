//! What a run found, and the two ways it is shown: a plain table for one server, and a
//! markdown table putting two servers' saved reports side by side.
//!
//! A report keeps every raw run; the summary of a workload is the median of each metric over
//! its runs. The JSON form is the contract between the driver and `run.sh`, so fields that
//! a skipped server's stub lacks all have defaults. The candidate's column may gather
//! several reports: workloads that need their own server configuration (auth_cold,
//! auth_flood) are measured on separate instances, one after the other.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::stats::median;
use crate::workloads::Plan;

/// One server's results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    #[serde(default)]
    pub version: String,
    pub label: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub plan: Option<Plan>,
    #[serde(default)]
    pub workloads: Vec<WorkloadReport>,
    /// Why this server was not measured (a stub written by `run.sh`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

impl Report {
    pub fn new(label: String, url: String, plan: Plan) -> Self {
        Report {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            label,
            url,
            plan: Some(plan),
            workloads: Vec::new(),
            skipped: None,
        }
    }
}

/// One workload's results: every run, and the median of each metric.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkloadReport {
    pub name: String,
    pub summary: Vec<Measure>,
    pub runs: Vec<Vec<Measure>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl WorkloadReport {
    /// Summarises `runs`, which all carry the same metrics, by their medians.
    pub fn from_runs(name: &str, runs: Vec<Vec<Measure>>, notes: Vec<String>) -> Self {
        let summary = runs
            .first()
            .map(|first| {
                first
                    .iter()
                    .filter_map(|measure| {
                        let values: Vec<f64> = runs
                            .iter()
                            .flat_map(|run| run.iter().filter(|m| m.metric == measure.metric))
                            .map(|m| m.value)
                            .collect();
                        let value = median(&values)?;
                        Some(Measure {
                            value,
                            ..measure.clone()
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        WorkloadReport {
            name: name.to_owned(),
            summary,
            runs,
            notes,
        }
    }
}

/// One number with its meaning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measure {
    pub metric: String,
    pub unit: String,
    pub better: Better,
    pub value: f64,
}

impl Measure {
    /// A metric where more is better (throughput).
    pub fn higher(metric: &str, unit: &str, value: f64) -> Self {
        Measure::new(metric, unit, Better::Higher, value)
    }

    /// A metric where less is better (latency, memory).
    pub fn lower(metric: &str, unit: &str, value: f64) -> Self {
        Measure::new(metric, unit, Better::Lower, value)
    }

    /// A metric that explains the others but is neither good nor bad when it moves: how a
    /// flood was answered, how busy the server was.
    pub fn context(metric: &str, unit: &str, value: f64) -> Self {
        Measure::new(metric, unit, Better::Neither, value)
    }

    fn new(metric: &str, unit: &str, better: Better, value: f64) -> Self {
        Measure {
            metric: metric.to_owned(),
            unit: unit.to_owned(),
            better,
            value,
        }
    }
}

/// Which direction is an improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Higher,
    Lower,
    /// Context, not a score: no ratio is shown.
    Neither,
}

/// The plain-text table of one report.
pub fn render_table(report: &Report) -> String {
    let mut rows = vec![row(["workload", "metric", "value", "unit"])];
    for workload in &report.workloads {
        for m in &workload.summary {
            rows.push(row([
                &workload.name,
                &m.metric,
                &format_value(m.value),
                &m.unit,
            ]));
        }
    }
    let mut out = format!(
        "davgate-bench {} — {} ({}); medians over runs, raw runs with --json\n\n",
        report.version, report.label, report.url
    );
    out.push_str(&align(&rows, &[false, false, true, false]));
    for workload in &report.workloads {
        for note in &workload.notes {
            let _ = writeln!(out, "note: {}: {note}", workload.name);
        }
    }
    out
}

/// The markdown table putting `baseline` and the candidate side by side, with the ratio.
///
/// `candidates` are the candidate's reports, one per server instance; their workloads fill
/// one column, headed by the first one's label.
pub fn render_comparison(baseline: &Report, candidates: &[Report]) -> String {
    let mut left_column = baseline.clone();
    add_derived(&mut left_column);
    let right_column = merge(candidates);
    let (base, cand) = (md(&left_column.label), md(&right_column.label));
    let mut out = format!("| workload | metric | {base} | {cand} | ratio |\n");
    out.push_str("|---|---|---:|---:|---:|\n");
    let mut any_context = false;
    for (workload, measure) in keys(&left_column, &right_column) {
        let left = lookup(&left_column, workload, &measure.metric);
        let right = lookup(&right_column, workload, &measure.metric);
        let direction = match measure.better {
            Better::Higher => ", higher is better",
            Better::Lower => ", lower is better",
            Better::Neither => {
                any_context = true;
                ""
            }
        };
        let _ = writeln!(
            out,
            "| {} | {} ({}{direction}) | {} | {} | {} |",
            md(workload),
            md(&measure.metric),
            md(&measure.unit),
            left.map_or("—".to_owned(), format_value),
            right.map_or("—".to_owned(), format_value),
            ratio(measure.better, left, right).map_or("—".to_owned(), |r| format!("{r:.2}")),
        );
    }
    let _ = write!(
        out,
        "\nValues are medians over runs. ratio = {cand} ÷ {base} where higher is better and \
         {base} ÷ {cand} where lower is better (latency, memory), so above 1 means {cand} \
         did better.\n"
    );
    if any_context {
        out.push_str(
            "Rows without a direction are context for the rows around them and get no ratio.\n",
        );
    }
    for report in std::iter::once(baseline).chain(candidates) {
        if let Some(reason) = &report.skipped {
            let _ = writeln!(out, "\n{}: not measured: {}", md(&report.label), md(reason));
        }
    }
    let settings = |report: &Report| report.plan.as_ref().map(Plan::without_server);
    let differs = candidates
        .iter()
        .filter(|c| c.skipped.is_none())
        .any(|c| settings(c) != settings(baseline));
    if baseline.skipped.is_none() && differs {
        out.push_str("\nWarning: the runs used different settings; see the JSON reports.\n");
    }
    out
}

/// One column from several reports of the same server: the first one's label, every
/// measured report's workloads in order, and the ratios between workloads.
fn merge(reports: &[Report]) -> Report {
    let mut merged = match reports.first() {
        Some(first) => first.clone(),
        None => Report {
            version: String::new(),
            label: "candidate".to_owned(),
            url: String::new(),
            plan: None,
            workloads: Vec::new(),
            skipped: Some("no report given".to_owned()),
        },
    };
    for report in reports.iter().skip(1) {
        merged.workloads.extend(report.workloads.iter().cloned());
    }
    add_derived(&mut merged);
    merged
}

/// Ratios between workloads that ran separately: how much a cached sign-in saves over a
/// full password check, put on the auth_cold row where it is read.
fn add_derived(report: &mut Report) {
    const RATE: &str = "requests per second";
    let (Some(cached), Some(cold)) = (
        lookup(report, "auth_cached", RATE),
        lookup(report, "auth_cold", RATE),
    ) else {
        return;
    };
    let speedup = cached / cold;
    if !speedup.is_finite() {
        return;
    }
    if let Some(workload) = report.workloads.iter_mut().find(|w| w.name == "auth_cold") {
        workload.summary.push(Measure::higher(
            "auth_cached ÷ auth_cold requests per second",
            "×",
            speedup,
        ));
    }
}

/// (workload, measure) pairs in the baseline's order, then any the candidate alone has.
fn keys<'a>(baseline: &'a Report, candidate: &'a Report) -> Vec<(&'a str, &'a Measure)> {
    let mut keys: Vec<(&str, &Measure)> = Vec::new();
    for report in [baseline, candidate] {
        for workload in &report.workloads {
            for measure in &workload.summary {
                let seen = keys
                    .iter()
                    .any(|(w, m)| *w == workload.name && m.metric == measure.metric);
                if !seen {
                    keys.push((&workload.name, measure));
                }
            }
        }
    }
    keys
}

fn lookup(report: &Report, workload: &str, metric: &str) -> Option<f64> {
    report
        .workloads
        .iter()
        .filter(|w| w.name == workload)
        .flat_map(|w| &w.summary)
        .find(|m| m.metric == metric)
        .map(|m| m.value)
}

/// Candidate relative to baseline, oriented so that above 1 is an improvement.
fn ratio(better: Better, baseline: Option<f64>, candidate: Option<f64>) -> Option<f64> {
    let (base, cand) = (baseline?, candidate?);
    let r = match better {
        Better::Higher => cand / base,
        Better::Lower => base / cand,
        Better::Neither => return None,
    };
    r.is_finite().then_some(r)
}

/// Three significant digits or so: enough to compare, few enough to read.
fn format_value(value: f64) -> String {
    let magnitude = value.abs();
    match magnitude {
        // A share of none (no 429s, say) reads better as 0 than as 0.000.
        0.0 => "0".to_owned(),
        m if m >= 100.0 => format!("{value:.0}"),
        m if m >= 10.0 => format!("{value:.1}"),
        m if m >= 1.0 => format!("{value:.2}"),
        _ => format!("{value:.3}"),
    }
}

fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

/// Pads `rows` into columns two spaces apart; `right[i]` right-aligns column i.
fn align(rows: &[Vec<String>], right: &[bool]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            let cells = rows.iter().filter_map(|r| r.get(i));
            cells.map(|c| c.chars().count()).max().unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for cells in rows {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let width = widths[i];
            if i > 0 {
                line.push_str("  ");
            }
            if right.get(i).copied().unwrap_or(false) {
                let _ = write!(line, "{cell:>width$}");
            } else {
                let _ = write!(line, "{cell:<width$}");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Keeps a cell from breaking the markdown table.
fn md(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(label: &str, throughput: &[f64], latency: f64) -> Report {
        let runs = throughput
            .iter()
            .map(|&t| vec![Measure::higher("throughput", "MB/s", t)])
            .collect();
        let mut report = Report::new(label.into(), "http://127.0.0.1:1/dav/".into(), plan());
        report.workloads = vec![
            WorkloadReport::from_runs("put_stream_1g", runs, vec![]),
            WorkloadReport::from_runs(
                "propfind_10k",
                vec![vec![Measure::lower("latency", "ms", latency)]],
                vec!["reused the folder".into()],
            ),
        ];
        report
    }

    fn plan() -> Plan {
        Plan {
            size: 1 << 30,
            repeat: 3,
            get_runs: 9,
            warm_up: true,
            duration: std::time::Duration::from_secs(10),
            files: 2000,
            small_size: 4096,
            entries: 10_000,
            propfind_runs: 7,
            put_clients: 8,
            wide_put_clients: 32,
            get_connections: 16,
            cold_connections: 4,
            flood_connections: 16,
            events: 5000,
            caldav_runs: 10,
            initial_sync_events: vec![1000, 5000, 20_000],
            rss_entries: 50_000,
            reminder_events: 20_000,
            burst_alarms: 1000,
            server_pid: None,
        }
    }

    #[test]
    fn summary_is_the_median_of_runs_and_keeps_them_all() {
        let report = report("nginx", &[300.0, 100.0, 200.0], 5.0);
        let put = &report.workloads[0];
        assert_eq!(put.runs.len(), 3);
        assert_eq!(
            put.summary,
            vec![Measure::higher("throughput", "MB/s", 200.0)]
        );
    }

    #[test]
    fn table_is_aligned_with_notes() {
        let table = render_table(&report("nginx", &[812.34], 12.345));
        let lines: Vec<&str> = table.lines().skip(2).collect();
        assert_eq!(
            lines,
            [
                "workload       metric      value  unit",
                "put_stream_1g  throughput    812  MB/s",
                "propfind_10k   latency      12.3  ms",
                "note: propfind_10k: reused the folder",
            ]
        );
    }

    #[test]
    fn comparison_orients_ratios_so_above_one_is_better() {
        let nginx = report("nginx", &[800.0], 10.0);
        let davgate = report("davgate", &[400.0], 5.0);
        let md = render_comparison(&nginx, &[davgate]);
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines[0], "| workload | metric | nginx | davgate | ratio |");
        assert_eq!(
            lines[2],
            "| put_stream_1g | throughput (MB/s, higher is better) | 800 | 400 | 0.50 |"
        );
        assert_eq!(
            lines[3],
            "| propfind_10k | latency (ms, lower is better) | 10.0 | 5.00 | 2.00 |"
        );
        assert!(!md.contains("Warning"));
        assert!(!md.contains("without a direction"));
    }

    #[test]
    fn comparison_with_a_skipped_server_shows_dashes_and_the_reason() {
        let nginx = report("nginx", &[800.0], 10.0);
        let stub: Report =
            serde_json::from_str(r#"{"label":"davgate","skipped":"DAVGATE_BIN is unset"}"#)
                .unwrap();
        let md = render_comparison(&nginx, &[stub]);
        assert!(
            md.contains("| put_stream_1g | throughput (MB/s, higher is better) | 800 | — | — |")
        );
        assert!(md.contains("davgate: not measured: DAVGATE_BIN is unset"));
    }

    #[test]
    fn comparison_warns_about_different_settings() {
        let nginx = report("nginx", &[800.0], 10.0);
        let mut davgate = report("davgate", &[400.0], 5.0);
        if let Some(plan) = &mut davgate.plan {
            plan.files = 10;
        }
        assert!(render_comparison(&nginx, &[davgate]).contains("Warning: the runs"));
    }

    #[test]
    fn comparison_ignores_the_server_pid() {
        let mut nginx = report("nginx", &[800.0], 10.0);
        let mut davgate = report("davgate", &[400.0], 5.0);
        nginx.plan.as_mut().unwrap().server_pid = Some(1);
        davgate.plan.as_mut().unwrap().server_pid = Some(2);
        assert!(!render_comparison(&nginx, &[davgate]).contains("Warning"));
    }

    fn auth_report(label: &str, workload: &str, measures: Vec<Measure>) -> Report {
        let mut report = Report::new(label.into(), "http://127.0.0.1:1/files/".into(), plan());
        report.workloads = vec![WorkloadReport::from_runs(workload, vec![measures], vec![])];
        report
    }

    #[test]
    fn extra_candidate_reports_join_its_column_with_the_cached_to_cold_ratio() {
        let rate = |value| Measure::higher("requests per second", "req/s", value);
        let nginx = auth_report("nginx", "auth_cached", vec![rate(20_000.0)]);
        let davgate = auth_report("davgate", "auth_cached", vec![rate(30_000.0)]);
        let cold = auth_report("davgate-nocache", "auth_cold", vec![rate(60.0)]);
        let flood = auth_report(
            "davgate-xff",
            "auth_flood",
            vec![
                Measure::lower("p99 under flood ÷ baseline p99", "×", 1.5),
                Measure::context("flood answered 401", "%", 100.0),
            ],
        );
        let md = render_comparison(&nginx, &[davgate, cold, flood]);
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines[0], "| workload | metric | nginx | davgate | ratio |");
        assert_eq!(
            lines[2..7],
            [
                "| auth_cached | requests per second (req/s, higher is better) | 20000 | 30000 | 1.50 |",
                "| auth_cold | requests per second (req/s, higher is better) | — | 60.0 | — |",
                "| auth_cold | auth_cached ÷ auth_cold requests per second (×, higher is better) | — | 500 | — |",
                "| auth_flood | p99 under flood ÷ baseline p99 (×, lower is better) | — | 1.50 | — |",
                "| auth_flood | flood answered 401 (%) | — | 100 | — |",
            ]
        );
        assert!(md.contains("Rows without a direction are context"));
        assert!(!md.contains("Warning"));
    }

    #[test]
    fn a_skipped_extra_report_is_named_and_the_rest_still_shows() {
        let rate = |value| Measure::higher("requests per second", "req/s", value);
        let nginx = auth_report("nginx", "auth_cached", vec![rate(20_000.0)]);
        let davgate = auth_report("davgate", "auth_cached", vec![rate(30_000.0)]);
        let stub: Report =
            serde_json::from_str(r#"{"label":"davgate-nocache","skipped":"did not start"}"#)
                .unwrap();
        let md = render_comparison(&nginx, &[davgate, stub]);
        assert!(md.contains(
            "| auth_cached | requests per second (req/s, higher is better) | 20000 | 30000 | 1.50 |"
        ));
        assert!(!md.contains("auth_cold"));
        assert!(md.contains("davgate-nocache: not measured: did not start"));
    }

    #[test]
    fn context_rows_have_no_ratio_and_read_back_from_json() {
        assert_eq!(ratio(Better::Neither, Some(1.0), Some(2.0)), None);
        let measure = Measure::context("server CPU during flood", "% of 2 cores", 99.0);
        let json = serde_json::to_string(&measure).unwrap();
        assert!(json.contains(r#""better":"neither""#));
        assert_eq!(serde_json::from_str::<Measure>(&json).unwrap(), measure);
    }

    #[test]
    fn json_round_trips() {
        let original = report("nginx", &[1.0, 2.0], 3.0);
        let json = serde_json::to_string(&original).unwrap();
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back.workloads[0].runs, original.workloads[0].runs);
        assert_eq!(back.plan, original.plan);
    }

    #[test]
    fn values_keep_about_three_digits_and_cells_stay_in_their_column() {
        assert_eq!(format_value(1234.56), "1235");
        assert_eq!(format_value(0.1234), "0.123");
        assert_eq!(format_value(0.0), "0");
        assert_eq!(md("a|b\nc"), "a\\|b c");
    }
}
