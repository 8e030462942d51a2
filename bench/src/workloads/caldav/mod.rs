//! caldav_query, caldav_multiget, caldav_sync and caldav_propfind: what a calendar client
//! asks a CalDAV server (RFC 4791, RFC 6578) once it holds a year of events.
//!
//! They run against the calendar collection `--calendar-url`, not the WebDAV base URL, so
//! the same driver measures davgate (`/dav/calendars/USER/SLUG/`) and Radicale
//! (`/USER/SLUG/`). Each one first makes sure the calendar holds the `--events` generated
//! events of [`calendar`] (MKCALENDAR, then PUTs from `--put-clients` connections, untimed;
//! a calendar that already lists them all is reused, as propfind_10k reuses its folder).
//! Then `--caldav-runs` timed requests on one open connection, each from send to the last
//! byte of the answer, each checked after the clock stops: a 207 whose responses are
//! exactly the expected objects, every one with a 200 status. A wrong answer fails the
//! workload, so an error page is never timed as a result.
//!
//! - caldav_query: calendar-query for June 2026 with a VEVENT time-range filter and
//!   `expand`, as a client filling a month view; the expected objects are worked out from
//!   the generated data ([`calendar::overlapping`]).
//! - caldav_multiget: calendar-multiget of 100 hrefs with their data.
//! - caldav_sync: sync-collection after 10 edits (untimed PUTs), starting from an initial
//!   sync with an empty token; each round carries on from the previous round's token.
//! - caldav_propfind: PROPFIND Depth 1 for getetag, getcontenttype and resourcetype.
//! - caldav_initial_sync: a client's first sync-collection (empty token, getetag), of
//!   calendars of each size in `--initial-sync-events` (1,000, 5,000 and 20,000 events by
//!   default), each its own calendar `initial-sync-N` beside `--calendar-url`, filled as
//!   above. Each run syncs every size once, smallest first; the row for the largest over
//!   the one before says whether the time grows linearly with the calendar.
//!
//! Each row gives the median latency over runs and, from the same runs, the p90; the size
//! of the answer is context (Radicale 3.1 ignores `expand`, so its month view is smaller).

mod calendar;
mod multistatus;

pub use calendar::utc_stamp;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Request, StatusCode};
use tokio::task::JoinSet;

use self::calendar::{QUERY_END, QUERY_START};
use self::multistatus::{Member, Multistatus};
use super::{Plan, WorkloadError};
use crate::body::ReqBody;
use crate::client::{ClientError, Conn, Exchange, Keep, Target, mkcalendar, propfind, report};
use crate::report::{Measure, WorkloadReport};
use crate::stats::Latencies;

/// Hrefs in one calendar-multiget.
const MULTIGET_HREFS: u32 = 100;
/// Events edited before each timed sync-collection.
const SYNC_CHANGES: u32 = 10;
/// Largest answer held in memory: Radicale's unexpanded month or a long listing fits.
const MAX_ANSWER: usize = 256 << 20;

const PROPFIND_BODY: &str = r#"<?xml version="1.0" encoding="utf-8" ?>
<d:propfind xmlns:d="DAV:">
 <d:prop>
  <d:getetag />
  <d:getcontenttype />
  <d:resourcetype />
 </d:prop>
</d:propfind>
"#;

/// calendar-query: the month view.
pub async fn query(
    target: &Arc<Target>,
    plan: &Plan,
    name: &str,
) -> Result<WorkloadReport, WorkloadError> {
    let mut notes = ensure_calendar(target, plan).await?;
    let expected = calendar::overlapping(plan.events, QUERY_START, QUERY_END);
    let body = Bytes::from(query_body());
    let request = || report_request(target, Some("1"), &body);
    let mut conn = target.conn();
    // Untimed warm-up, checked like the runs; it also tells whether the server expanded.
    let warm = conn.send(request()?, &[], Keep::Upto(MAX_ANSWER)).await?;
    let ms = verify("calendar-query", &warm, expected.len())?;
    same_names("calendar-query", &ms.members, &expected)?;
    notes.push(format!(
        "{} of {} events overlap June 2026; one untimed warm-up run first",
        expected.len(),
        plan.events
    ));
    if !contains(&warm.body, b"RECURRENCE-ID") {
        notes.push("the answer has no RECURRENCE-ID: the server did not expand".to_owned());
    }
    let latencies = timed_runs(plan, &mut conn, request, |exchange| {
        let ms = verify("calendar-query", exchange, expected.len())?;
        same_names("calendar-query", &ms.members, &expected)
    })
    .await?;
    Ok(summarize(name, latencies, notes))
}

/// calendar-multiget of [`MULTIGET_HREFS`] objects spread over the calendar.
pub async fn multiget(
    target: &Arc<Target>,
    plan: &Plan,
    name: &str,
) -> Result<WorkloadReport, WorkloadError> {
    let mut notes = ensure_calendar(target, plan).await?;
    let picked: BTreeSet<String> = calendar::spread(plan.events, MULTIGET_HREFS, 0)
        .into_iter()
        .map(calendar::name)
        .collect();
    let hrefs: Vec<String> = picked.iter().map(|n| target.path(n)).collect();
    let body = Bytes::from(multiget_body(&hrefs));
    // RFC 4791 §7.9: a multiget's hrefs say what to read; Depth SHOULD NOT be sent.
    let request = || report_request(target, None, &body);
    let mut conn = target.conn();
    let check = |exchange: &Exchange| {
        let ms = verify("calendar-multiget", exchange, picked.len())?;
        same_names("calendar-multiget", &ms.members, &picked)
    };
    check(&conn.send(request()?, &[], Keep::Upto(MAX_ANSWER)).await?)?;
    notes.push("one untimed warm-up run first".to_owned());
    let latencies = timed_runs(plan, &mut conn, request, check).await?;
    Ok(summarize(name, latencies, notes))
}

/// sync-collection: rounds of [`SYNC_CHANGES`] untimed edits, then the timed delta.
pub async fn sync(
    target: &Arc<Target>,
    plan: &Plan,
    name: &str,
) -> Result<WorkloadReport, WorkloadError> {
    let mut notes = ensure_calendar(target, plan).await?;
    let mut conn = target.conn();
    let initial = conn
        .send(sync_request(target, "")?, &[], Keep::Upto(MAX_ANSWER))
        .await?;
    let mut token = sync_token(&verify(
        "initial sync-collection",
        &initial,
        plan.events as usize,
    )?)?;
    notes.push(format!(
        "each run: {SYNC_CHANGES} events changed by untimed PUTs, then the timed \
         sync-collection from the previous token"
    ));

    // Revisions no earlier run used: an unchanged body may keep its ETag and not be
    // reported as a change at all.
    let first_revision = unique_revision();
    let mut runs = Vec::new();
    let mut latencies = Latencies::with_capacity(plan.caldav_runs as usize);
    for round in 1..=plan.caldav_runs {
        let changed = calendar::spread(plan.events, SYNC_CHANGES, round);
        let revision = first_revision.wrapping_add(round);
        upload(target, &changed, plan.events, revision, 1).await?;
        let expected: BTreeSet<String> = changed.into_iter().map(calendar::name).collect();

        let req = sync_request(target, &token)?;
        let started = Instant::now();
        let exchange = conn.send(req, &[], Keep::Upto(MAX_ANSWER)).await?;
        let elapsed = started.elapsed();
        let ms = verify("sync-collection", &exchange, expected.len())?;
        same_names("sync-collection", &ms.members, &expected)?;
        token = sync_token(&ms)?;
        runs.push(run_measures(elapsed, &exchange));
        latencies.record(elapsed);
        log_run(round, plan.caldav_runs, elapsed);
    }
    Ok(summarize(name, (runs, latencies), notes))
}

/// Initial sync-collection of calendars of several sizes.
pub async fn initial_sync(
    target: &Arc<Target>,
    plan: &Plan,
    name: &str,
) -> Result<WorkloadReport, WorkloadError> {
    let mut sizes = plan.initial_sync_events.clone();
    sizes.sort_unstable();
    sizes.dedup();
    let mut calendars = Vec::new();
    let mut notes = Vec::new();
    for &events in &sizes {
        let calendar = Arc::new(target.sibling(&format!("initial-sync-{events}")));
        let sized = Plan {
            events,
            ..plan.clone()
        };
        for note in ensure_calendar(&calendar, &sized).await? {
            notes.push(format!("{events} events: {note}"));
        }
        calendars.push((events, calendar));
    }
    let mut conn_of: Vec<Conn> = calendars.iter().map(|(_, c)| c.conn()).collect();
    // Untimed warm-up of each, checked like the runs.
    for ((events, calendar), conn) in calendars.iter().zip(&mut conn_of) {
        let exchange = conn
            .send(sync_request(calendar, "")?, &[], Keep::Upto(MAX_ANSWER))
            .await?;
        verify("initial sync-collection", &exchange, *events as usize)?;
    }
    notes.push("one untimed warm-up sync of each calendar first".to_owned());
    let mut runs = Vec::new();
    for round in 1..=plan.caldav_runs {
        let mut measures = Vec::new();
        let mut times = Vec::new();
        for ((events, calendar), conn) in calendars.iter().zip(&mut conn_of) {
            let req = sync_request(calendar, "")?;
            let started = Instant::now();
            let exchange = conn.send(req, &[], Keep::Upto(MAX_ANSWER)).await?;
            let elapsed = started.elapsed();
            verify("initial sync-collection", &exchange, *events as usize)?;
            let ms = elapsed.as_secs_f64() * 1000.0;
            measures.push(Measure::lower(&format!("{events} events"), "ms", ms));
            times.push(ms);
        }
        if let ([.., smaller, larger], [.., before, last]) = (sizes.as_slice(), times.as_slice()) {
            measures.push(Measure::lower(
                &format!("time {larger} / time {smaller}"),
                "x",
                last / before,
            ));
        }
        eprintln!(
            "davgate-bench:   run {round}/{}: {}",
            plan.caldav_runs,
            times
                .iter()
                .map(|ms| format!("{ms:.1} ms"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        runs.push(measures);
    }
    if let [.., smaller, larger] = sizes.as_slice() {
        notes.push(format!(
            "linear growth would make time {larger} / time {smaller} {:.1}",
            f64::from(*larger) / f64::from(*smaller)
        ));
    }
    Ok(WorkloadReport::from_runs(name, runs, notes))
}

/// PROPFIND Depth 1 of the calendar.
pub async fn propfind_listing(
    target: &Arc<Target>,
    plan: &Plan,
    name: &str,
) -> Result<WorkloadReport, WorkloadError> {
    let notes = ensure_calendar(target, plan).await?;
    let everything: BTreeSet<String> = (0..plan.events).map(calendar::name).collect();
    let mut conn = target.conn();
    let request = || propfind_request(target);
    let latencies = timed_runs(plan, &mut conn, request, |exchange| {
        let ms = verify("PROPFIND", exchange, plan.events as usize + 1)?;
        check_listing(&ms, &everything)
    })
    .await?;
    Ok(summarize(name, latencies, notes))
}

/// Makes sure the calendar holds every generated event (untimed); what was done, as notes.
async fn ensure_calendar(target: &Arc<Target>, plan: &Plan) -> Result<Vec<String>, WorkloadError> {
    let everything: BTreeSet<String> = (0..plan.events).map(calendar::name).collect();
    let mut conn = target.conn();
    let listing = conn
        .send(
            propfind_request(target)?,
            &[StatusCode::NOT_FOUND],
            Keep::Upto(MAX_ANSWER),
        )
        .await?;
    let found = if listing.status == StatusCode::NOT_FOUND {
        // 405 (RFC 4791 §5.3.1) or Radicale's 409 resource-must-be-null: someone made it
        // meanwhile. A missing parent also answers 409; the PUTs below then fail loudly.
        let req = target
            .request(mkcalendar(), "")
            .body(ReqBody::Empty)
            .map_err(ClientError::from)?;
        conn.send(
            req,
            &[StatusCode::METHOD_NOT_ALLOWED, StatusCode::CONFLICT],
            Keep::Nothing,
        )
        .await?;
        0
    } else {
        let ms = verify_status("PROPFIND", &listing)?;
        let objects = ms.members.len().saturating_sub(1);
        if objects == everything.len() && check_listing(&ms, &everything).is_ok() {
            return Ok(vec!["reused the calendar's events".to_owned()]);
        }
        objects
    };
    if found > everything.len() {
        return Err(WorkloadError::Verify(format!(
            "the calendar holds {found} objects, more than the {} expected: delete it",
            everything.len()
        )));
    }
    let all: Vec<u32> = (0..plan.events).collect();
    let started = Instant::now();
    upload(target, &all, plan.events, 0, plan.put_clients).await?;
    eprintln!(
        "davgate-bench:   uploaded {} events in {:.1} s (setup, untimed)",
        plan.events,
        started.elapsed().as_secs_f64()
    );
    let listing = conn
        .send(propfind_request(target)?, &[], Keep::Upto(MAX_ANSWER))
        .await?;
    check_listing(
        &verify("PROPFIND", &listing, everything.len() + 1)?,
        &everything,
    )?;
    Ok(vec![format!(
        "uploaded the {} events first (untimed, {} connections)",
        plan.events, plan.put_clients
    )])
}

/// PUTs events `numbers` at `revision` from `clients` connections.
async fn upload(
    target: &Arc<Target>,
    numbers: &[u32],
    count: u32,
    revision: u32,
    clients: u32,
) -> Result<(), WorkloadError> {
    let numbers: Arc<[u32]> = numbers.into();
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..(clients as usize).min(numbers.len()) {
        let (target, numbers, next) = (Arc::clone(target), Arc::clone(&numbers), Arc::clone(&next));
        workers.spawn(async move {
            let mut conn = target.conn();
            // Bounded: each round claims a new index and the claims stop at the end.
            while let Some(&n) = numbers.get(next.fetch_add(1, Ordering::Relaxed)) {
                let text = calendar::event(n, count, revision);
                let req = target
                    .request(Method::PUT, &calendar::name(n))
                    .header(CONTENT_TYPE, "text/calendar; charset=utf-8")
                    .header(CONTENT_LENGTH, text.len())
                    .body(ReqBody::bytes(Bytes::from(text)))
                    .map_err(ClientError::from)?;
                conn.ok(req).await?;
            }
            Ok::<_, WorkloadError>(())
        });
    }
    // Returning early drops the JoinSet, which aborts the other workers.
    while let Some(joined) = workers.join_next().await {
        joined??;
    }
    Ok(())
}

/// Raw runs (latency and answer size) and their latencies, for [`summarize`].
type Runs = (Vec<Vec<Measure>>, Latencies);

/// `plan.caldav_runs` timed requests on `conn`, each checked by `check` after the clock.
async fn timed_runs(
    plan: &Plan,
    conn: &mut Conn,
    request: impl Fn() -> Result<Request<ReqBody>, WorkloadError>,
    check: impl Fn(&Exchange) -> Result<(), WorkloadError>,
) -> Result<Runs, WorkloadError> {
    let mut runs = Vec::new();
    let mut latencies = Latencies::with_capacity(plan.caldav_runs as usize);
    conn.open().await?;
    for run in 1..=plan.caldav_runs {
        let req = request()?;
        let started = Instant::now();
        let exchange = conn.send(req, &[], Keep::Upto(MAX_ANSWER)).await?;
        let elapsed = started.elapsed();
        check(&exchange)?;
        runs.push(run_measures(elapsed, &exchange));
        latencies.record(elapsed);
        log_run(run, plan.caldav_runs, elapsed);
    }
    Ok((runs, latencies))
}

fn run_measures(elapsed: Duration, exchange: &Exchange) -> Vec<Measure> {
    vec![
        Measure::lower("latency", "ms", elapsed.as_secs_f64() * 1000.0),
        Measure::context("answer size", "KiB", exchange.body_len as f64 / 1024.0),
    ]
}

fn log_run(run: u32, of: u32, elapsed: Duration) {
    eprintln!(
        "davgate-bench:   run {run}/{of}: {:.1} ms",
        elapsed.as_secs_f64() * 1000.0
    );
}

/// Medians over the runs, then the p90 of their latencies (nearest rank: with 10 runs, the
/// second slowest).
fn summarize(name: &str, (runs, mut latencies): Runs, notes: Vec<String>) -> WorkloadReport {
    let mut report = WorkloadReport::from_runs(name, runs, notes);
    if let Some(p90) = latencies.percentile_ms(90.0) {
        // After the median latency, before the context.
        report.summary.insert(
            1.min(report.summary.len()),
            Measure::lower("p90 latency", "ms", p90),
        );
    }
    report
}

/// A 207 with exactly `expected` responses, each with a 200 status.
fn verify(what: &str, exchange: &Exchange, expected: usize) -> Result<Multistatus, WorkloadError> {
    let ms = verify_status(what, exchange)?;
    if ms.members.len() != expected {
        return Err(WorkloadError::Verify(format!(
            "{what} answered {} responses, expected {expected}",
            ms.members.len()
        )));
    }
    if let Some(bad) = ms.members.iter().find(|m| !m.ok()) {
        return Err(WorkloadError::Verify(format!(
            "{what}: {} answered {:?}, expected 200",
            bad.href, bad.statuses
        )));
    }
    Ok(ms)
}

fn verify_status(what: &str, exchange: &Exchange) -> Result<Multistatus, WorkloadError> {
    if exchange.status != StatusCode::MULTI_STATUS {
        return Err(WorkloadError::Verify(format!(
            "{what} answered {}, expected 207 Multi-Status",
            exchange.status
        )));
    }
    multistatus::parse(&exchange.body)
        .map_err(|e| WorkloadError::Verify(format!("{what}: unreadable multistatus: {e}")))
}

/// The responses name exactly the `expected` objects, each once.
fn same_names(
    what: &str,
    members: &[Member],
    expected: &BTreeSet<String>,
) -> Result<(), WorkloadError> {
    let names: BTreeSet<String> = members.iter().map(|m| m.name().to_owned()).collect();
    if names.len() == members.len() && &names == expected {
        return Ok(());
    }
    let missing = expected.difference(&names).next();
    let extra = names.difference(expected).next();
    Err(WorkloadError::Verify(format!(
        "{what} named the wrong objects ({} responses, {} distinct; first missing {missing:?}, \
         first unexpected {extra:?})",
        members.len(),
        names.len()
    )))
}

/// One response for the calendar itself and one for each of `everything`.
fn check_listing(ms: &Multistatus, everything: &BTreeSet<String>) -> Result<(), WorkloadError> {
    let (collections, objects): (Vec<Member>, Vec<Member>) =
        ms.members.iter().cloned().partition(Member::is_collection);
    if collections.len() != 1 {
        return Err(WorkloadError::Verify(format!(
            "PROPFIND listed {} collections, expected the calendar alone",
            collections.len()
        )));
    }
    same_names("PROPFIND", &objects, everything)
}

fn sync_token(ms: &Multistatus) -> Result<String, WorkloadError> {
    match &ms.sync_token {
        Some(token) if !token.is_empty() => Ok(token.clone()),
        _ => Err(WorkloadError::Verify(
            "sync-collection answered without a sync-token".to_owned(),
        )),
    }
}

fn propfind_request(target: &Target) -> Result<Request<ReqBody>, WorkloadError> {
    let body = Bytes::from_static(PROPFIND_BODY.as_bytes());
    xml_request(target, propfind(), Some("1"), &body)
}

fn report_request(
    target: &Target,
    depth: Option<&str>,
    body: &Bytes,
) -> Result<Request<ReqBody>, WorkloadError> {
    xml_request(target, report(), depth, body)
}

fn sync_request(target: &Target, token: &str) -> Result<Request<ReqBody>, WorkloadError> {
    // RFC 6578 §3.2: sync-collection takes Depth 0, the level goes in the body.
    report_request(target, Some("0"), &Bytes::from(sync_body(token)))
}

/// A request on the calendar itself with an XML body.
fn xml_request(
    target: &Target,
    method: Method,
    depth: Option<&str>,
    body: &Bytes,
) -> Result<Request<ReqBody>, WorkloadError> {
    let mut req = target.request(method, "");
    if let Some(depth) = depth {
        req = req.header("depth", depth);
    }
    let req = req
        .header(CONTENT_TYPE, "application/xml; charset=utf-8")
        .header(CONTENT_LENGTH, body.len())
        .body(ReqBody::bytes(body.clone()))
        .map_err(ClientError::from)?;
    Ok(req)
}

fn query_body() -> String {
    let (start, end) = (
        calendar::utc_stamp(QUERY_START),
        calendar::utc_stamp(QUERY_END),
    );
    format!(
        r#"<?xml version="1.0" encoding="utf-8" ?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
 <d:prop>
  <d:getetag />
  <c:calendar-data><c:expand start="{start}" end="{end}" /></c:calendar-data>
 </d:prop>
 <c:filter>
  <c:comp-filter name="VCALENDAR">
   <c:comp-filter name="VEVENT">
    <c:time-range start="{start}" end="{end}" />
   </c:comp-filter>
  </c:comp-filter>
 </c:filter>
</c:calendar-query>
"#
    )
}

fn multiget_body(hrefs: &[String]) -> String {
    let mut body = String::from(
        r#"<?xml version="1.0" encoding="utf-8" ?>
<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
 <d:prop>
  <d:getetag />
  <c:calendar-data />
 </d:prop>
"#,
    );
    for href in hrefs {
        body.push_str(&format!(" <d:href>{}</d:href>\n", escape(href)));
    }
    body.push_str("</c:calendar-multiget>\n");
    body
}

fn sync_body(token: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8" ?>
<d:sync-collection xmlns:d="DAV:">
 <d:sync-token>{}</d:sync-token>
 <d:sync-level>1</d:sync-level>
 <d:prop>
  <d:getetag />
 </d:prop>
</d:sync-collection>
"#,
        escape(token)
    )
}

/// Text content escaping: a sync token is the server's and may hold anything.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A revision number (SEQUENCE) no earlier run used: milliseconds since the epoch, wrapped.
fn unique_revision() -> u32 {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    // Wraps every 49 days; two runs would have to start in the same millisecond to collide.
    (millis % (1 << 32)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_asks_for_june_expanded() {
        let body = query_body();
        assert!(body.contains(r#"<c:expand start="20260601T000000Z" end="20260701T000000Z" />"#));
        assert!(
            body.contains(r#"<c:time-range start="20260601T000000Z" end="20260701T000000Z" />"#)
        );
        assert!(body.contains(r#"<c:comp-filter name="VEVENT">"#));
    }

    #[test]
    fn bodies_escape_what_they_embed() {
        let sync = sync_body("http://x/?a=1&b=<2>");
        assert!(sync.contains("<d:sync-token>http://x/?a=1&amp;b=&lt;2&gt;</d:sync-token>"));
        assert!(sync_body("").contains("<d:sync-token></d:sync-token>"));
        let multiget = multiget_body(&["/c/a.ics".to_owned(), "/c/b&c.ics".to_owned()]);
        assert!(
            multiget.contains(" <d:href>/c/a.ics</d:href>\n <d:href>/c/b&amp;c.ics</d:href>\n")
        );
    }

    #[test]
    fn names_must_match_exactly_once() {
        let member = |href: &str| Member {
            href: href.to_owned(),
            statuses: vec!["HTTP/1.1 200 OK".to_owned()],
        };
        let expected: BTreeSet<String> = ["a.ics", "b.ics"].map(str::to_owned).into();
        let good = [member("/c/a.ics"), member("http://h/c/b.ics")];
        assert!(same_names("q", &good, &expected).is_ok());
        let twice = [member("/c/a.ics"), member("/c/a.ics")];
        assert!(same_names("q", &twice, &expected).is_err());
        let more = [member("/c/a.ics"), member("/c/b.ics"), member("/c/c.ics")];
        assert!(same_names("q", &more, &expected).is_err());
    }

    #[test]
    fn p90_follows_the_median() {
        let runs = (1..=10)
            .map(|ms| vec![Measure::lower("latency", "ms", f64::from(ms))])
            .collect();
        let mut latencies = Latencies::default();
        for ms in 1..=10 {
            latencies.record(Duration::from_millis(ms));
        }
        let report = summarize("caldav_query", (runs, latencies), vec![]);
        let metrics: Vec<(&str, f64)> = report
            .summary
            .iter()
            .map(|m| (m.metric.as_str(), m.value))
            .collect();
        assert_eq!(metrics, [("latency", 5.5), ("p90 latency", 9.0)]);
    }
}
