//! The `reminders` workload (issue 15's benchmarks), davgate only: what scheduling VALARMs
//! costs a PUT, what the scheduler's rows cost the server's memory, and how late a burst of
//! due alarms reaches a webhook.
//!
//! Three phases against one account whose calendar `--calendar-url` is routed to a webhook
//! at `http://127.0.0.1:RECEIVER/hook` in the `json` format (`bench/reminders.sh` sets that
//! up with the CLI):
//!
//! 1. PUTs of `reminder_events` events with five VALARMs each into the routed calendar,
//!    interleaved with as many events without alarms into an unrouted sibling calendar
//!    (`reminders-plain`), so both kinds see the same background scheduling load. The
//!    alarms lie days ahead, so none fires during the run.
//! 2. The wait until the server's scheduler has drained (its CPU quiet for a few seconds),
//!    then the server's RSS.
//! 3. Two bursts of `burst_alarms` one-alarm events: due across one minute, then due in
//!    the same second, received by a loopback webhook receiver inside the driver, which
//!    reports the delay from due time to arrival and checks each arrived exactly once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::caldav::utc_stamp;
use super::{Plan, WorkloadError};
use crate::body::ReqBody;
use crate::client::{ClientError, Keep, Target, mkcalendar};
use crate::cpu::CpuReading;
use crate::report::{Measure, WorkloadReport};
use crate::rss;
use crate::stats::Latencies;

/// The unrouted calendar beside the routed one.
const PLAIN: &str = "reminders-plain";
/// VALARMs per routed event: 5 × 20,000 events = issue 15's 100,000 future alarms.
pub const ALARMS_PER_EVENT: u32 = 5;
/// How far ahead of the run the first routed event starts: its earliest alarm (a day
/// before) stays a day ahead, so nothing of phase 1 fires while the bursts are measured.
const FIRST_START_S: i64 = 2 * 86_400;
/// The routed events spread over this span after the first: inside the default 30-day
/// horizon, so every alarm gets a row.
const SPREAD_S: i64 = 26 * 86_400;
/// The scheduler counts as drained after this many quiet seconds in a row…
const QUIET_SECONDS: u32 = 3;
/// …each using at most this share of one core, in percent.
const QUIET_PERCENT: f64 = 2.0;
/// Longest wait for the scheduler to drain.
const DRAIN_LIMIT: Duration = Duration::from_secs(1800);
/// How far ahead of the burst's PUTs its first alarm is due: time to upload and schedule
/// a thousand events on a busy machine.
const BURST_LEAD_S: i64 = 45;
/// The receiver stops waiting when nothing of the burst arrived for this long after the
/// last due time…
const STRAGGLER_WAIT: Duration = Duration::from_secs(30);
/// …or this long after the last due time, whatever still trickles in.
const BURST_LIMIT: Duration = Duration::from_secs(1800);
/// Largest webhook request the receiver reads.
const MAX_HOOK_REQUEST: usize = 64 * 1024;

/// How a burst's alarms fall due.
#[derive(Debug, Clone, Copy)]
enum Burst {
    /// Evenly across one minute.
    Minute,
    /// All in the same second (everyone's 9:00 stand-up).
    Second,
}

impl Burst {
    fn label(self) -> &'static str {
        match self {
            Burst::Minute => "in one minute",
            Burst::Second => "in one second",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Burst::Minute => "burst-minute",
            Burst::Second => "burst-second",
        }
    }

    /// Seconds after the burst's first due time that alarm `i` of `count` is due.
    fn offset_s(self, i: u32, count: u32) -> i64 {
        match self {
            Burst::Minute => i64::from(i) * 60 / i64::from(count.max(1)),
            Burst::Second => 0,
        }
    }
}

pub async fn run(
    routed: &Arc<Target>,
    receiver_port: u16,
    plan: &Plan,
    name: &str,
) -> Result<WorkloadReport, WorkloadError> {
    let pid = plan.server_pid.ok_or_else(|| {
        WorkloadError::Verify(
            "reminders needs --server-pid: it waits for the scheduler's CPU to go quiet and \
             reads its memory"
                .to_owned(),
        )
    })?;
    let receiver = Receiver::start(receiver_port).await?;
    let plain = Arc::new(routed.sibling(PLAIN));
    for calendar in [routed, &plain] {
        ensure_calendar(calendar).await?;
    }
    let rss_before = rss::current_mib(pid)?;
    let mut measures = Vec::new();
    let mut notes = Vec::new();

    // Phase 1: PUT cost.
    let now = unix_now();
    let started = Instant::now();
    let (mut with_alarms, mut without) =
        put_pairs(routed, &plain, plan.reminder_events, plan.put_clients, now).await?;
    let put_seconds = started.elapsed().as_secs_f64();
    let [alarm_p50, alarm_p99] = super::latency_measures(&mut with_alarms)?;
    let [plain_p50, plain_p99] = super::latency_measures(&mut without)?;
    // Progress for long runs: the report comes only at the end.
    eprintln!(
        "davgate-bench:   PUTs done in {put_seconds:.1} s: p50/p99 {:.2}/{:.2} ms with 5 alarms, \
         {:.2}/{:.2} ms without",
        alarm_p50.value, alarm_p99.value, plain_p50.value, plain_p99.value
    );
    measures.push(Measure::lower(
        "PUT p50, 5 alarms, routed",
        "ms",
        alarm_p50.value,
    ));
    measures.push(Measure::lower(
        "PUT p99, 5 alarms, routed",
        "ms",
        alarm_p99.value,
    ));
    measures.push(Measure::lower(
        "PUT p50, no alarm, unrouted",
        "ms",
        plain_p50.value,
    ));
    measures.push(Measure::lower(
        "PUT p99, no alarm, unrouted",
        "ms",
        plain_p99.value,
    ));
    measures.push(Measure::lower(
        "PUT p50 ratio, alarms / none",
        "x",
        ratio(alarm_p50.value, plain_p50.value),
    ));
    measures.push(Measure::lower(
        "PUT p99 ratio, alarms / none",
        "x",
        ratio(alarm_p99.value, plain_p99.value),
    ));
    notes.push(format!(
        "{} events with {ALARMS_PER_EVENT} VALARMs each ({} alarms, 2 to 28 days ahead) PUT \
         to the routed calendar, interleaved with {} events without alarms to an unrouted one, \
         by {} connections in {put_seconds:.1} s",
        plan.reminder_events,
        u64::from(plan.reminder_events) * u64::from(ALARMS_PER_EVENT),
        plan.reminder_events,
        plan.put_clients,
    ));

    // Phase 2: the scheduler's backlog and its memory.
    let drain = wait_until_quiet(pid).await?;
    let rss_after = rss::current_mib(pid)?;
    eprintln!(
        "davgate-bench:   scheduling drained {:.1} s after the last PUT; server RSS {rss_after:.1} MiB",
        drain.as_secs_f64()
    );
    measures.push(Measure::context(
        "scheduling drained after the last PUT",
        "s",
        drain.as_secs_f64(),
    ));
    measures.push(Measure::context(
        "server RSS before the PUTs",
        "MiB",
        rss_before,
    ));
    measures.push(Measure::lower(
        "server RSS after scheduling",
        "MiB",
        rss_after,
    ));
    notes.push(format!(
        "drained: the server used under {QUIET_PERCENT}% of a core for {QUIET_SECONDS} s in a \
         row (a heuristic: bench/reminders.sh counts the scheduled rows afterwards)"
    ));

    // Phase 3: delivery delay of bursts.
    for burst in [Burst::Minute, Burst::Second] {
        let outcome = run_burst(routed, &receiver, burst, plan).await?;
        let label = burst.label();
        let mut delays = outcome.delays;
        if let (Some(p50), Some(p99), Some(max)) = (
            delays.percentile_ms(50.0),
            delays.percentile_ms(99.0),
            delays.percentile_ms(100.0),
        ) {
            measures.push(Measure::lower(&format!("delay p50, {label}"), "ms", p50));
            measures.push(Measure::lower(&format!("delay p99, {label}"), "ms", p99));
            measures.push(Measure::lower(&format!("delay max, {label}"), "ms", max));
        }
        measures.push(Measure::context(
            &format!("delivered once, {label}"),
            "alarms",
            outcome.once as f64,
        ));
        measures.push(Measure::lower(
            &format!("delivered twice or more, {label}"),
            "alarms",
            outcome.repeated as f64,
        ));
        measures.push(Measure::lower(
            &format!("not arrived by the end, {label}"),
            "alarms",
            outcome.missing as f64,
        ));
        if outcome.late > 0 {
            notes.push(format!(
                "{} alarms of the burst {label} were marked late by the server",
                outcome.late
            ));
        }
        if outcome.strays > 0 {
            notes.push(format!(
                "{} webhook requests named no alarm of the burst {label}",
                outcome.strays
            ));
        }
    }
    notes.push(format!(
        "bursts: {} one-alarm events PUT {BURST_LEAD_S} s before the first is due, due evenly \
         across one minute, then all in one second; delay = arrival at the driver's webhook \
         receiver minus the due time (whole seconds, as iCalendar gives them)",
        plan.burst_alarms
    ));
    Ok(WorkloadReport::from_runs(name, vec![measures], notes))
}

fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator / denominator
    } else {
        f64::NAN
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn unix_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// MKCALENDAR, accepting 405: it exists (RFC 4791 §5.3.1).
async fn ensure_calendar(target: &Target) -> Result<(), WorkloadError> {
    let req = target
        .request(mkcalendar(), "")
        .body(ReqBody::Empty)
        .map_err(ClientError::from)?;
    target
        .conn()
        .send(req, &[StatusCode::METHOD_NOT_ALLOWED], Keep::Nothing)
        .await?;
    Ok(())
}

/// Routed event `n` of `count`: an hour starting between 2 and 28 days after `now`, with
/// alarms 5, 15 and 30 minutes, an hour and a day before it.
pub fn routed_event(n: u32, count: u32, now: i64) -> String {
    let start = now + FIRST_START_S + i64::from(n) * SPREAD_S / i64::from(count.max(1));
    let alarms: String = ["-PT5M", "-PT15M", "-PT30M", "-PT1H", "-P1D"]
        .iter()
        .map(|trigger| {
            format!(
                "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\n\
                 TRIGGER:{trigger}\r\nEND:VALARM\r\n"
            )
        })
        .collect();
    event_text(&format!("alarm-{n}"), start, &alarms)
}

/// Unrouted event `n`: the same shape without alarms.
pub fn plain_event(n: u32, count: u32, now: i64) -> String {
    let start = now + FIRST_START_S + i64::from(n) * SPREAD_S / i64::from(count.max(1));
    event_text(&format!("plain-{n}"), start, "")
}

/// An event whose one alarm is due at `due` (a minute before it starts).
fn burst_event(uid: &str, due: i64) -> String {
    event_text(
        uid,
        due + 60,
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT1M\r\nEND:VALARM\r\n",
    )
}

fn event_text(uid: &str, start: i64, alarms: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//davgate-bench//reminders//EN\r\n\
         BEGIN:VEVENT\r\nUID:{uid}@davgate-bench\r\nDTSTAMP:20260101T000000Z\r\n\
         DTSTART:{}\r\nDURATION:PT1H\r\nSUMMARY:Bench {uid}\r\nLOCATION:Room 1\r\n\
         {alarms}END:VEVENT\r\nEND:VCALENDAR\r\n",
        utc_stamp(start)
    )
}

fn put_request(
    target: &Target,
    name: &str,
    text: String,
) -> Result<http::Request<ReqBody>, ClientError> {
    Ok(target
        .request(Method::PUT, name)
        .header(CONTENT_TYPE, "text/calendar; charset=utf-8")
        .header(CONTENT_LENGTH, text.len())
        .body(ReqBody::bytes(Bytes::from(text)))?)
}

/// PUTs `count` routed and `count` plain events, alternating, from `clients` connections;
/// the latencies of each kind.
async fn put_pairs(
    routed: &Arc<Target>,
    plain: &Arc<Target>,
    count: u32,
    clients: u32,
    now: i64,
) -> Result<(Latencies, Latencies), WorkloadError> {
    let next = Arc::new(AtomicUsize::new(0));
    let total = 2 * count as usize;
    let mut workers = JoinSet::new();
    for _ in 0..(clients as usize).min(total) {
        let (routed, plain, next) = (Arc::clone(routed), Arc::clone(plain), Arc::clone(&next));
        workers.spawn(async move {
            let (mut routed_conn, mut plain_conn) = (routed.conn(), plain.conn());
            let mut with_alarms = Latencies::with_capacity(total / 2);
            let mut without = Latencies::with_capacity(total / 2);
            // Bounded: each round claims a new index and the claims stop at `total`.
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= total {
                    break;
                }
                let n = (k / 2) as u32;
                let (conn, req, latencies) = if k % 2 == 0 {
                    let text = routed_event(n, count, now);
                    let req = put_request(&routed, &format!("alarm-{n:06}.ics"), text)?;
                    (&mut routed_conn, req, &mut with_alarms)
                } else {
                    let text = plain_event(n, count, now);
                    let req = put_request(&plain, &format!("plain-{n:06}.ics"), text)?;
                    (&mut plain_conn, req, &mut without)
                };
                let started = Instant::now();
                conn.ok(req).await?;
                latencies.record(started.elapsed());
            }
            Ok::<_, WorkloadError>((with_alarms, without))
        });
    }
    let mut with_alarms = Latencies::with_capacity(count as usize);
    let mut without = Latencies::with_capacity(count as usize);
    // Returning early drops the JoinSet, which aborts the other workers.
    while let Some(joined) = workers.join_next().await {
        let (a, b) = joined??;
        with_alarms.merge(a);
        without.merge(b);
    }
    Ok((with_alarms, without))
}

/// Waits until the server has used at most [`QUIET_PERCENT`] of a core for
/// [`QUIET_SECONDS`] seconds in a row; how long until the quiet began.
async fn wait_until_quiet(pid: u32) -> Result<Duration, WorkloadError> {
    let started = Instant::now();
    let mut quiet = 0;
    let mut quiet_since = started;
    while started.elapsed() < DRAIN_LIMIT {
        let reading = CpuReading::now(pid)?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        if reading.percent_since(1)? <= QUIET_PERCENT {
            if quiet == 0 {
                quiet_since = Instant::now() - Duration::from_secs(1);
            }
            quiet += 1;
            if quiet >= QUIET_SECONDS {
                return Ok(quiet_since.saturating_duration_since(started));
            }
        } else {
            quiet = 0;
        }
    }
    Err(WorkloadError::Verify(format!(
        "the server stayed busy for {} s after the PUTs",
        DRAIN_LIMIT.as_secs()
    )))
}

/// What became of one burst.
struct BurstOutcome {
    delays: Latencies,
    once: usize,
    repeated: usize,
    missing: usize,
    late: usize,
    strays: usize,
}

/// PUTs the burst's events, then waits for their webhooks (until every one arrived, none
/// came for [`STRAGGLER_WAIT`] after the last due time, or [`BURST_LIMIT`]) and counts them.
async fn run_burst(
    routed: &Arc<Target>,
    receiver: &Receiver,
    burst: Burst,
    plan: &Plan,
) -> Result<BurstOutcome, WorkloadError> {
    let count = plan.burst_alarms;
    let first_due = unix_now() + BURST_LEAD_S;
    let due_of: HashMap<String, i64> = (0..count)
        .map(|i| {
            (
                format!("{}-{i:05}.ics", burst.prefix()),
                first_due + burst.offset_s(i, count),
            )
        })
        .collect();
    let due_of = Arc::new(due_of);
    let names: Arc<[String]> = due_of.keys().cloned().collect();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..(plan.put_clients as usize).min(names.len()) {
        let (routed, names, next, due_of) = (
            Arc::clone(routed),
            Arc::clone(&names),
            Arc::clone(&next),
            Arc::clone(&due_of),
        );
        workers.spawn(async move {
            let mut conn = routed.conn();
            // Bounded: each round claims a new index and the claims stop at the end.
            while let Some(name) = names.get(next.fetch_add(1, Ordering::Relaxed)) {
                let uid = name.trim_end_matches(".ics");
                let text = burst_event(uid, due_of[name]);
                conn.ok(put_request(&routed, name, text)?).await?;
            }
            Ok::<_, WorkloadError>(())
        });
    }
    while let Some(joined) = workers.join_next().await {
        joined??;
    }
    eprintln!(
        "davgate-bench:   burst {}: {count} events PUT in {:.1} s, first due in {} s",
        burst.label(),
        started.elapsed().as_secs_f64(),
        first_due - unix_now()
    );
    let last_due_ms = due_of.values().copied().max().unwrap_or(first_due) * 1000;
    let deadline_ms = last_due_ms.saturating_add(BURST_LIMIT.as_millis() as i64);
    let (mut arrived_before, mut last_arrival_ms) = (0, unix_now_ms());
    // Bounded: ends when every alarm arrived, when none came for STRAGGLER_WAIT after the
    // last due time, or at the deadline.
    loop {
        let arrived = receiver.count_matching(&due_of);
        let now_ms = unix_now_ms();
        if arrived > arrived_before {
            (arrived_before, last_arrival_ms) = (arrived, now_ms);
        }
        let quiet_since_ms = last_due_ms.max(last_arrival_ms);
        let stalled = now_ms > quiet_since_ms + STRAGGLER_WAIT.as_millis() as i64;
        if arrived >= due_of.len() || stalled || now_ms > deadline_ms {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // A moment more, so a duplicate right behind the last first copy is seen.
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(receiver.take_outcome(&due_of))
}

/// One webhook request as the receiver saw it.
struct Arrival {
    object: Option<String>,
    at_ms: i64,
    late: bool,
}

/// The loopback webhook receiver: records the `object` field and arrival time of every
/// JSON POST and answers 200.
struct Receiver {
    arrivals: Arc<Mutex<Vec<Arrival>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start(port: u16) -> Result<Self, WorkloadError> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
            WorkloadError::Verify(format!(
                "cannot listen for webhooks on 127.0.0.1:{port}: {e}"
            ))
        })?;
        let arrivals: Arc<Mutex<Vec<Arrival>>> = Arc::default();
        let recorded = Arc::clone(&arrivals);
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let recorded = Arc::clone(&recorded);
                tokio::spawn(async move {
                    // Served until the sender closes; each request is read whole first.
                    while let Some(body) = read_request(&mut stream).await {
                        let at_ms = unix_now_ms();
                        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        let arrival = Arrival {
                            object: value["object"].as_str().map(str::to_owned),
                            at_ms,
                            late: value["late"].as_bool().unwrap_or(false),
                        };
                        recorded
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(arrival);
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                        if stream.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Ok(Receiver { arrivals, task })
    }

    /// How many distinct alarms of `due_of` arrived so far.
    fn count_matching(&self, due_of: &HashMap<String, i64>) -> usize {
        let arrivals = self.arrivals.lock().unwrap_or_else(|e| e.into_inner());
        let mut seen: Vec<&str> = arrivals
            .iter()
            .filter_map(|a| a.object.as_deref())
            .filter(|o| due_of.contains_key(*o))
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    }

    /// Counts the burst's arrivals and forgets every arrival so far.
    fn take_outcome(&self, due_of: &HashMap<String, i64>) -> BurstOutcome {
        let arrivals =
            std::mem::take(&mut *self.arrivals.lock().unwrap_or_else(|e| e.into_inner()));
        let mut copies: HashMap<&str, usize> = HashMap::new();
        let mut delays = Latencies::with_capacity(due_of.len());
        let (mut late, mut strays) = (0, 0);
        for arrival in &arrivals {
            let Some((name, due)) = arrival
                .object
                .as_deref()
                .and_then(|o| due_of.get_key_value(o))
            else {
                strays += 1;
                continue;
            };
            let seen = copies.entry(name.as_str()).or_default();
            *seen += 1;
            if *seen == 1 {
                let delay_ms = (arrival.at_ms - due * 1000).max(0);
                delays.record(Duration::from_millis(delay_ms as u64));
                late += usize::from(arrival.late);
            }
        }
        BurstOutcome {
            delays,
            once: copies.values().filter(|&&n| n == 1).count(),
            repeated: copies.values().filter(|&&n| n > 1).count(),
            missing: due_of.len() - copies.len(),
            late,
            strays,
        }
    }
}

/// Reads one HTTP/1.1 request with a Content-Length body; its body, or None when the
/// sender closed or the request is too large.
async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    // Bounded by MAX_HOOK_REQUEST.
    while data.len() < MAX_HOOK_REQUEST {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&data[..end]);
        let length = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        if data.len() >= end + 4 + length {
            return Some(data[end + 4..end + 4 + length].to_vec());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routed_events_carry_five_alarms_and_plain_ones_none() {
        let routed = routed_event(3, 10, 1_780_000_000);
        assert_eq!(
            routed.matches("BEGIN:VALARM").count(),
            ALARMS_PER_EVENT as usize
        );
        let plain = plain_event(3, 10, 1_780_000_000);
        assert!(!plain.contains("VALARM"));
        // Same start: the two kinds differ by their alarms alone.
        let dtstart = |t: &str| {
            t.lines()
                .find(|l| l.starts_with("DTSTART"))
                .map(str::to_owned)
        };
        assert_eq!(dtstart(&routed), dtstart(&plain));
    }

    #[test]
    fn bursts_fall_in_one_minute_or_one_second() {
        let minute: Vec<i64> = (0..1000).map(|i| Burst::Minute.offset_s(i, 1000)).collect();
        assert_eq!(minute.first(), Some(&0));
        assert_eq!(minute.last(), Some(&59));
        assert!((0..1000).all(|i| Burst::Second.offset_s(i, 1000) == 0));
    }

    #[tokio::test]
    async fn the_receiver_counts_copies_and_delays() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let receiver = Receiver::start(port).await.unwrap();
        let now = unix_now();
        let due_of: HashMap<String, i64> = [
            ("a.ics".to_owned(), now),
            ("b.ics".to_owned(), now),
            ("c.ics".to_owned(), now),
        ]
        .into_iter()
        .collect();
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        for object in ["a.ics", "b.ics", "a.ics", "other.ics"] {
            let body = format!(r#"{{"object":"{object}","late":false}}"#);
            let request = format!(
                "POST /hook HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut answer = [0u8; 64];
            let n = stream.read(&mut answer).await.unwrap();
            assert!(answer[..n].starts_with(b"HTTP/1.1 200"));
        }
        assert_eq!(receiver.count_matching(&due_of), 2);
        let outcome = receiver.take_outcome(&due_of);
        assert_eq!(
            (
                outcome.once,
                outcome.repeated,
                outcome.missing,
                outcome.strays
            ),
            (1, 1, 1, 1)
        );
        assert_eq!(outcome.delays.len(), 2);
    }
}
