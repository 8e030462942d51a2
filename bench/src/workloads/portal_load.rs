//! portal_load: does load on the account portal slow down a sync client?
//!
//! One valid client GETs a small file with an app password on one keep-alive connection,
//! first alone and then while `--flood-connections` connections load `/account/`, each
//! window `--duration` long; the report puts both windows' p50 and p99 side by side with
//! their p99 ratio (the target: under 3). Half of the portal connections post wrong
//! passwords to the sign-in form, each from a new `X-Forwarded-For` address (as in
//! auth_flood, so only the account-wide throttle can stop them and the first guesses each
//! cost an argon2id check); the other half view the app-password page of a portal session
//! opened before the clock starts, which reads the session, the account and its app
//! passwords from the database on every view. The server must take the client address
//! from that header (`client_address_header = "X-Forwarded-For"`), which is why
//! `bench/portal.sh` starts its own instance. The portal is davgate's alone: against
//! another server this workload fails at its sign-in.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST, LOCATION, SET_COOKIE};
use http::{HeaderName, HeaderValue, Method, Request, StatusCode};
use tokio::task::JoinSet;

use super::auth_flood::{Flood, percentiles};
use super::small_get::fetch_until;
use super::{Plan, ROOT, WorkloadError};
use crate::body::{ReqBody, payload};
use crate::client::{ClientError, Conn, Keep, Target};
use crate::report::{Measure, WorkloadReport};
use crate::stats::per_second;

/// Per-connection cap, so even a broken clock cannot keep a worker going forever.
const MAX_REQUESTS_PER_CONNECTION: u64 = 10_000_000;
/// The answers a wrong sign-in may get; anything else (above all a 303) fails the run.
const SIGN_IN_FAILURES: [StatusCode; 3] = [
    StatusCode::UNAUTHORIZED,
    StatusCode::TOO_MANY_REQUESTS,
    StatusCode::SERVICE_UNAVAILABLE,
];
/// The address the page views and the session's own sign-in come from (TEST-NET-2).
const VIEWER_ADDRESS: &str = "198.51.100.7";
/// The page a signed-in person views.
const PAGE: &str = "/account/app-passwords";

pub async fn run(
    target: &Arc<Target>,
    app: &Arc<Target>,
    account_password: &str,
    plan: &Plan,
    name: &str,
) -> Result<WorkloadReport, WorkloadError> {
    let path = format!("{ROOT}portal.bin");
    let body = payload(plan.small_len());
    let req = target
        .request(Method::PUT, &path)
        .header(CONTENT_TYPE, "application/octet-stream")
        .header(CONTENT_LENGTH, body.len())
        .body(ReqBody::bytes(body))
        .map_err(ClientError::from)?;
    target.conn().ok(req).await?;
    // The valid client's one sign-in that costs a hash, and the portal session, before
    // any clock runs.
    let req = app
        .request(Method::GET, &path)
        .body(ReqBody::Empty)
        .map_err(ClientError::from)?;
    app.conn().ok(req).await?;
    let portal = Arc::new(Portal::sign_in(target, account_password).await?);

    let alone = window(app, &path, plan, None).await?;
    let loaded = window(app, &path, plan, Some(&portal)).await?;
    let (mut alone_latencies, mut loaded_latencies) = (alone.latencies, loaded.latencies);
    let (alone_p50, alone_p99) = percentiles(&mut alone_latencies)?;
    let (loaded_p50, loaded_p99) = percentiles(&mut loaded_latencies)?;
    let ratio = loaded_p99 / alone_p99.max(f64::MIN_POSITIVE);
    let run = vec![
        Measure::lower("baseline p50 latency", "ms", alone_p50),
        Measure::lower("baseline p99 latency", "ms", alone_p99),
        Measure::lower("p50 latency under portal load", "ms", loaded_p50),
        Measure::lower("p99 latency under portal load", "ms", loaded_p99),
        Measure::lower("p99 under portal load ÷ baseline p99", "×", ratio),
        Measure::context(
            "portal sign-in failures per second",
            "req/s",
            per_second(loaded.tally.failures as usize, loaded.elapsed),
        ),
        Measure::context(
            "portal page views per second",
            "req/s",
            per_second(loaded.tally.views as usize, loaded.elapsed),
        ),
    ];
    let notes = vec![format!(
        "valid client: {} GETs alone, {} under {} wrong sign-ins and {} page views on {} \
         connections; each window {:?}",
        alone_latencies.len(),
        loaded_latencies.len(),
        loaded.tally.failures,
        loaded.tally.views,
        plan.flood_connections,
        plan.duration
    )];
    eprintln!(
        "davgate-bench:   valid p99 {alone_p99:.2} ms alone, {loaded_p99:.2} ms under portal \
         load ({ratio:.2}×)"
    );
    Ok(WorkloadReport::from_runs(name, vec![run], notes))
}

/// What one window measured.
struct Window {
    latencies: crate::stats::Latencies,
    tally: Tally,
    elapsed: Duration,
}

/// Requests the portal load made.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    failures: u64,
    views: u64,
}

/// The portal as the load sees it: where it is and the session the page views use.
struct Portal {
    target: Arc<Target>,
    origin: HeaderValue,
    cookie: HeaderValue,
    flood: Flood,
}

impl Portal {
    /// Signs in to the portal with the account password and keeps the session cookie.
    async fn sign_in(target: &Arc<Target>, password: &str) -> Result<Portal, WorkloadError> {
        let origin = HeaderValue::try_from(format!("http://{}", target.authority()))
            .map_err(|_| WorkloadError::Verify("the host makes no Origin".to_owned()))?;
        let mut portal = Portal {
            target: Arc::clone(target),
            origin,
            cookie: HeaderValue::from_static(""),
            flood: Flood::new(super::auth_flood::seed()),
        };
        let req = portal.sign_in_request(target.user(), password, VIEWER_ADDRESS)?;
        let exchange = target
            .conn()
            .send(req, &[StatusCode::SEE_OTHER], Keep::Nothing)
            .await?;
        let signed_in = exchange.status == StatusCode::SEE_OTHER
            && exchange
                .headers
                .get(LOCATION)
                .is_some_and(|l| l == "/account/");
        let cookie = exchange
            .headers
            .get(SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .filter(|pair| pair.contains('='));
        match cookie {
            Some(pair) if signed_in => {
                portal.cookie = HeaderValue::try_from(pair)
                    .map_err(|_| WorkloadError::Verify("a bad session cookie".to_owned()))?;
                portal.cookie.set_sensitive(true);
                Ok(portal)
            }
            _ => Err(WorkloadError::Verify(format!(
                "the portal sign-in got {}, not a 303 to /account/ with a session cookie",
                exchange.status
            ))),
        }
    }

    /// The sign-in form's POST, from `addr`.
    fn sign_in_request(
        &self,
        user: &str,
        password: &str,
        addr: &str,
    ) -> Result<Request<ReqBody>, WorkloadError> {
        let form = format!(
            "user={}&password={}",
            form_value(user),
            form_value(password)
        );
        Request::builder()
            .method(Method::POST)
            .uri("/account/sign-in")
            .header(HOST, self.target.authority())
            .header("origin", self.origin.clone())
            .header(HeaderName::from_static("x-forwarded-for"), addr)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(CONTENT_LENGTH, form.len())
            .body(ReqBody::bytes(Bytes::from(form)))
            .map_err(|e| ClientError::from(e).into())
    }

    /// Wrong passwords, each new and from a new address, until `deadline`.
    async fn fail_until(&self, mut conn: Conn, deadline: Instant) -> Result<Tally, WorkloadError> {
        let mut tally = Tally::default();
        while Instant::now() < deadline && tally.failures < MAX_REQUESTS_PER_CONNECTION {
            let (addr, password) = self.flood.next();
            let req = self.sign_in_request(self.target.user(), &password, &addr.to_string())?;
            conn.send(req, &SIGN_IN_FAILURES, Keep::Nothing).await?;
            tally.failures += 1;
        }
        Ok(tally)
    }

    /// Views of the app-password page in the session, until `deadline`.
    async fn view_until(&self, mut conn: Conn, deadline: Instant) -> Result<Tally, WorkloadError> {
        let mut tally = Tally::default();
        while Instant::now() < deadline && tally.views < MAX_REQUESTS_PER_CONNECTION {
            let req = Request::builder()
                .method(Method::GET)
                .uri(PAGE)
                .header(HOST, self.target.authority())
                .header(COOKIE, self.cookie.clone())
                .header(HeaderName::from_static("x-forwarded-for"), VIEWER_ADDRESS)
                .body(ReqBody::Empty)
                .map_err(ClientError::from)?;
            conn.ok(req).await?;
            tally.views += 1;
        }
        Ok(tally)
    }
}

/// The valid client's GETs for `plan.duration`, under portal load if given. Every
/// connection is opened before the clock starts.
async fn window(
    app: &Arc<Target>,
    path: &str,
    plan: &Plan,
    portal: Option<&Arc<Portal>>,
) -> Result<Window, WorkloadError> {
    let mut valid = app.conn();
    valid.open().await?;
    let mut portal_conns = Vec::new();
    if let Some(portal) = portal {
        for _ in 0..plan.flood_connections {
            let mut conn = portal.target.conn();
            conn.open().await?;
            portal_conns.push(conn);
        }
    }
    let started = Instant::now();
    let deadline = started + plan.duration;
    let mut loaders = JoinSet::new();
    if let Some(portal) = portal {
        for (i, conn) in portal_conns.into_iter().enumerate() {
            let portal = Arc::clone(portal);
            if i % 2 == 0 {
                loaders.spawn(async move { portal.fail_until(conn, deadline).await });
            } else {
                loaders.spawn(async move { portal.view_until(conn, deadline).await });
            }
        }
    }
    let latencies = fetch_until(
        Arc::clone(app),
        valid,
        path.to_owned(),
        deadline,
        plan.small_size,
    )
    .await?;
    let mut tally = Tally::default();
    // Returning early drops the JoinSet, which aborts the other workers.
    while let Some(joined) = loaders.join_next().await {
        let done = joined??;
        tally.failures += done.failures;
        tally.views += done.views;
    }
    Ok(Window {
        latencies,
        tally,
        elapsed: started.elapsed(),
    })
}

/// `application/x-www-form-urlencoded` escaping of one value.
fn form_value(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_escaped() {
        assert_eq!(form_value("bench-0a"), "bench-0a");
        assert_eq!(form_value("a b&c=d"), "a%20b%26c%3Dd");
    }
}
