//! auth_flood: does a password-guessing flood slow down a client that is already signed in?
//!
//! One valid client GETs a small file with an app password on one keep-alive connection,
//! first alone and then while `--flood-connections` connections send wrong passwords for the
//! same user, each window `--duration` long. The valid client signs in once before either
//! window, as a real client has long before a flood starts, so it is answered from the
//! credential cache throughout; what the flood can take from it is CPU and queue room.
//!
//! Each flood request is the worst case for the server: a password never sent before (so no
//! concurrent check can share its hash) from an `X-Forwarded-For` address never used before
//! (so the per-address throttle never trips). The server must therefore take its client
//! address from that header (`client_address_header = "X-Forwarded-For"`), which is why
//! `run.sh` starts a separate instance for this workload. Only the account-wide throttle
//! can stop such a flood: its first guesses (20 by default) each cost a full argon2id
//! check and get 401; after that the account password waits on new addresses, so nearly
//! every guess gets a 429, held up to a second by a timer before it is sent, and only one
//! guess per (growing) wait is checked. The report gives both windows' p50 and p99, their
//! p99 ratio, the flood's own rate and how it was answered (401 checked, 429 throttled, 503
//! hashing pool full: the 401 share shows how many guesses still cost a hash), and, with
//! `--server-pid`, the server's CPU over the flood as a share of the cores.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderName, Method, StatusCode};
use tokio::task::JoinSet;

use super::small_get::fetch_until;
use super::{Plan, ROOT, WorkloadError};
use crate::body::{ReqBody, payload};
use crate::client::{ClientError, Conn, Keep, Target, basic_authorization};
use crate::cpu::{self, CpuReading};
use crate::report::{Measure, WorkloadReport};
use crate::stats::{Latencies, per_second};

/// RFC 2544's benchmarking network, 198.18.0.0/15: never a real client, and 2^17 addresses.
const FLOOD_NETWORK: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 0);
const FLOOD_NETWORK_BITS: u32 = 17;
/// Per-connection cap, so even a broken clock cannot keep a flood worker going forever.
const MAX_REQUESTS_PER_CONNECTION: u64 = 10_000_000;
/// The answers a wrong password may get; anything else (above all a 2xx) fails the run.
const FLOOD_ANSWERS: [StatusCode; 3] = [
    StatusCode::UNAUTHORIZED,
    StatusCode::TOO_MANY_REQUESTS,
    StatusCode::SERVICE_UNAVAILABLE,
];

pub async fn run(
    target: &Arc<Target>,
    app: &Arc<Target>,
    plan: &Plan,
    name: &str,
) -> Result<WorkloadReport, WorkloadError> {
    let path = format!("{ROOT}flood.bin");
    let body = payload(plan.small_len());
    let req = target
        .request(Method::PUT, &path)
        .header(CONTENT_TYPE, "application/octet-stream")
        .header(CONTENT_LENGTH, body.len())
        .body(ReqBody::bytes(body))
        .map_err(ClientError::from)?;
    target.conn().ok(req).await?;
    // The one sign-in that costs the valid client a hash, before any clock runs.
    let req = app
        .request(Method::GET, &path)
        .body(ReqBody::Empty)
        .map_err(ClientError::from)?;
    app.conn().ok(req).await?;

    let mut alone = valid_window(app, &path, plan, None).await?;
    let flood = Arc::new(Flood::new(seed()));
    let mut flooded = valid_window(app, &path, plan, Some((target, &flood))).await?;

    let (alone_p50, alone_p99) = percentiles(&mut alone.latencies)?;
    let (flood_p50, flood_p99) = percentiles(&mut flooded.latencies)?;
    let tally = flooded.tally;
    let flood_rate = per_second(tally.total() as usize, flooded.elapsed);
    let [unauthorized, throttled, busy] = tally.shares();
    let mut run = vec![
        Measure::lower("baseline p50 latency", "ms", alone_p50),
        Measure::lower("baseline p99 latency", "ms", alone_p99),
        Measure::lower("p50 latency under flood", "ms", flood_p50),
        Measure::lower("p99 latency under flood", "ms", flood_p99),
        Measure::lower(
            "p99 under flood ÷ baseline p99",
            "×",
            flood_p99 / alone_p99.max(f64::MIN_POSITIVE),
        ),
        Measure::context("flood requests per second", "req/s", flood_rate),
        Measure::context("flood answered 401", "%", unauthorized),
        Measure::context("flood answered 429", "%", throttled),
        Measure::context("flood answered 503", "%", busy),
    ];
    let mut notes = vec![format!(
        "valid client: {} GETs alone, {} under a flood of {} wrong passwords on {} \
         connections; each window {:?}",
        alone.latencies.len(),
        flooded.latencies.len(),
        tally.total(),
        plan.flood_connections,
        plan.duration
    )];
    match flooded.cpu_percent {
        Some(percent) => {
            let unit = format!("% of {} cores", cpu::cores());
            run.push(Measure::context("server CPU during flood", &unit, percent));
        }
        None => notes.push("no --server-pid: the server's CPU was not measured".to_owned()),
    }
    eprintln!(
        "davgate-bench:   valid p99 {alone_p99:.2} ms alone, {flood_p99:.2} ms under \
         {flood_rate:.0} wrong passwords/s"
    );
    Ok(WorkloadReport::from_runs(name, vec![run], notes))
}

/// What one window measured.
struct Window {
    latencies: Latencies,
    tally: Tally,
    elapsed: std::time::Duration,
    cpu_percent: Option<f64>,
}

/// The valid client's GETs for `plan.duration`, under a flood from `flood` if given. Every
/// connection is opened before the clock starts.
async fn valid_window(
    app: &Arc<Target>,
    path: &str,
    plan: &Plan,
    flood: Option<(&Arc<Target>, &Arc<Flood>)>,
) -> Result<Window, WorkloadError> {
    let mut valid = app.conn();
    valid.open().await?;
    let mut flood_conns = Vec::new();
    if let Some((target, _)) = flood {
        for _ in 0..plan.flood_connections {
            let mut conn = target.conn();
            conn.open().await?;
            flood_conns.push(conn);
        }
    }
    let cpu = match (flood, plan.server_pid) {
        (Some(_), Some(pid)) => Some(CpuReading::now(pid)?),
        _ => None,
    };
    let started = Instant::now();
    let deadline = started + plan.duration;
    let mut flooders = JoinSet::new();
    if let Some((target, flood)) = flood {
        for conn in flood_conns {
            let (target, flood, path) = (Arc::clone(target), Arc::clone(flood), path.to_owned());
            flooders.spawn(flood_until(target, conn, path, deadline, flood));
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
    while let Some(joined) = flooders.join_next().await {
        tally.merge(joined??);
    }
    // The flood's last answers arrive after the deadline; its rate and the CPU share both
    // count up to the last one, so they describe the same stretch of time.
    let elapsed = started.elapsed();
    let cpu_percent = match cpu {
        Some(reading) => Some(reading.percent_since(cpu::cores())?),
        None => None,
    };
    Ok(Window {
        latencies,
        tally,
        elapsed,
        cpu_percent,
    })
}

/// Sends wrong passwords on `conn` until `deadline`, counting the answers.
async fn flood_until(
    target: Arc<Target>,
    mut conn: Conn,
    path: String,
    deadline: Instant,
    flood: Arc<Flood>,
) -> Result<Tally, WorkloadError> {
    let forwarded_for = HeaderName::from_static("x-forwarded-for");
    let mut tally = Tally::default();
    while Instant::now() < deadline && tally.total() < MAX_REQUESTS_PER_CONNECTION {
        let (addr, password) = flood.next();
        let req = target
            .request_signed(
                Method::GET,
                &path,
                basic_authorization(target.user(), &password),
            )
            .header(&forwarded_for, addr.to_string())
            .body(ReqBody::Empty)
            .map_err(ClientError::from)?;
        let exchange = conn.send(req, &FLOOD_ANSWERS, Keep::Nothing).await?;
        tally.count(exchange.status)?;
    }
    Ok(tally)
}

/// p50 and p99 in milliseconds.
pub(super) fn percentiles(latencies: &mut Latencies) -> Result<(f64, f64), WorkloadError> {
    match (latencies.percentile_ms(50.0), latencies.percentile_ms(99.0)) {
        (Some(p50), Some(p99)) => Ok((p50, p99)),
        _ => Err(WorkloadError::Verify(
            "the valid client completed no request".to_owned(),
        )),
    }
}

/// The flood's wrong guesses (portal_load's too), shared by its connections: the n-th guess has its own
/// password and its own address.
pub(super) struct Flood {
    seed: u64,
    next: AtomicU64,
}

impl Flood {
    pub(super) fn new(seed: u64) -> Self {
        Flood {
            seed,
            next: AtomicU64::new(0),
        }
    }

    /// The next (client address, wrong password).
    pub(super) fn next(&self) -> (Ipv4Addr, String) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let password = format!("wrong-{:016x}-{n}", self.seed);
        (flood_address(self.seed, n), password)
    }
}

/// The n-th flood address: an affine map n ↦ a·n + b modulo 2^17 with `a` odd, which is a
/// permutation, so no address repeats within 131 072 guesses (a pool of 2 cores checks
/// under 100 a second) and the throttle, which counts failures per address, never sees one
/// twice. The seed picks `a` and `b`, so each run walks the network in a different order.
fn flood_address(seed: u64, n: u64) -> Ipv4Addr {
    let mask = (1u32 << FLOOD_NETWORK_BITS) - 1;
    let multiplier = (seed as u32) | 1;
    let offset = (seed >> 32) as u32;
    // Truncating n is the modulo: 2^17 divides 2^32.
    let host = multiplier.wrapping_mul(n as u32).wrapping_add(offset) & mask;
    Ipv4Addr::from(u32::from(FLOOD_NETWORK) | host)
}

/// A seed that differs between runs (splitmix64 of the clock and the process id).
pub(super) fn seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    splitmix64(nanos ^ (u64::from(std::process::id()) << 32))
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// How the flood was answered.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Tally {
    unauthorized: u64,
    throttled: u64,
    busy: u64,
}

impl Tally {
    /// Counts one answer; a wrong password that gets in is the one result that must stop
    /// the run.
    fn count(&mut self, status: StatusCode) -> Result<(), WorkloadError> {
        match status {
            StatusCode::UNAUTHORIZED => self.unauthorized += 1,
            StatusCode::TOO_MANY_REQUESTS => self.throttled += 1,
            StatusCode::SERVICE_UNAVAILABLE => self.busy += 1,
            other => {
                return Err(WorkloadError::Verify(format!(
                    "a wrong password got {other}, not 401, 429 or 503"
                )));
            }
        }
        Ok(())
    }

    fn merge(&mut self, other: Tally) {
        self.unauthorized += other.unauthorized;
        self.throttled += other.throttled;
        self.busy += other.busy;
    }

    fn total(&self) -> u64 {
        self.unauthorized + self.throttled + self.busy
    }

    /// Percentages of 401, 429 and 503; all zero when nothing was answered.
    fn shares(&self) -> [f64; 3] {
        let total = self.total().max(1) as f64;
        [self.unauthorized, self.throttled, self.busy].map(|n| 100.0 * n as f64 / total)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn flood_addresses_stay_in_the_benchmark_network_and_never_repeat() {
        let network = u32::from(FLOOD_NETWORK);
        for seed in [0, 1, u64::MAX, splitmix64(42)] {
            let mut seen = HashSet::new();
            for n in 0..1u64 << FLOOD_NETWORK_BITS {
                let addr = u32::from(flood_address(seed, n));
                assert_eq!(addr >> FLOOD_NETWORK_BITS, network >> FLOOD_NETWORK_BITS);
                assert!(seen.insert(addr), "seed {seed}: address {n} repeats");
            }
            // After the whole network the walk starts over, each address now on its second.
            assert_eq!(
                flood_address(seed, 1 << FLOOD_NETWORK_BITS),
                flood_address(seed, 0)
            );
        }
        assert_eq!(flood_address(0, 0), Ipv4Addr::new(198, 18, 0, 0));
        assert_eq!(flood_address(0, 0x1_ffff), Ipv4Addr::new(198, 19, 255, 255));
    }

    #[test]
    fn seeds_change_the_order() {
        assert_ne!(flood_address(1, 1), flood_address(splitmix64(1), 1));
        assert_ne!(splitmix64(1), splitmix64(2));
    }

    #[test]
    fn every_guess_has_its_own_password_and_address() {
        let flood = Flood::new(7);
        let guesses: Vec<_> = (0..1000).map(|_| flood.next()).collect();
        let passwords: HashSet<_> = guesses.iter().map(|(_, p)| p.clone()).collect();
        let addrs: HashSet<_> = guesses.iter().map(|(a, _)| *a).collect();
        assert_eq!((passwords.len(), addrs.len()), (1000, 1000));
        assert_eq!(guesses[0].1, "wrong-0000000000000007-0");
    }

    #[test]
    fn tally_splits_answers_and_refuses_success() {
        let mut tally = Tally::default();
        for status in [401, 401, 401, 429, 503, 401, 401, 401] {
            tally.count(StatusCode::from_u16(status).unwrap()).unwrap();
        }
        let mut other = Tally::default();
        other.count(StatusCode::UNAUTHORIZED).unwrap();
        other.count(StatusCode::UNAUTHORIZED).unwrap();
        tally.merge(other);
        assert_eq!(tally.total(), 10);
        assert_eq!(tally.shares(), [80.0, 10.0, 10.0]);
        assert!(tally.count(StatusCode::OK).is_err());
        assert!(tally.count(StatusCode::INTERNAL_SERVER_ERROR).is_err());
        assert_eq!(Tally::default().shares(), [0.0, 0.0, 0.0]);
    }
}
