//! Throttling failed sign-ins: per (client address, account), per client address, and
//! per account name from all addresses together.
//!
//! Each failure adds one to a score that halves every `half_life`; past its threshold the
//! sign-in must wait, twice as long for each further failure, up to `max_delay`. Only
//! cache misses are checked here: a credential that already signed in never meets the
//! throttle.
//!
//! The per-address scores stop one address guessing; the account-wide score stops a
//! guessing flood spread over many addresses (a botnet, or fresh `X-Forwarded-For`
//! values), which the per-address scores never see. It counts unknown user names too, so
//! the decoy hashes spent on names that do not exist are bounded the same way. So that a
//! flood cannot lock the owner out, the account-wide wait applies only to the account
//! password from an address the account has not signed in from lately: the caller exempts
//! app passwords of the account, and addresses with a recent successful sign-in are
//! remembered here (OWASP's advice against lockout as a denial of service). While an
//! account is throttled, one new-address password check at a time takes a turn: whoever
//! finds the wait over claims it, so a flood on many connections still gets one guess per
//! wait, not one per connection.
//!
//! On PostgreSQL the same rules hold for the whole cluster (the caller, `auth`, does the
//! sharing): scores are shared (`absorb`), a check reserves its place in the shared scores
//! before it hashes as it does in [`InFlight`] here, the account-wide turn is taken on
//! the shared score, and known addresses are written to the database at most once per
//! address every sixteenth of their lifetime ([`Throttle::share_due`]).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use davgate_storage::{ScoreRules, SharedScore, SharedScores};
use moka::ops::compute::Op;
use moka::sync::Cache;

use super::in_flight::{InFlight, RunningCheck};

/// Tuning of the throttle.
#[derive(Debug, Clone)]
pub struct ThrottleSettings {
    /// Failures of one address against one account before it must wait.
    pub per_account: f64,
    /// Failures of one address, all accounts together, before it must wait.
    pub per_address: f64,
    /// Failures against one account name, all addresses together, before its password
    /// must wait on addresses it has not signed in from.
    pub account_wide: f64,
    /// How fast old failures are forgotten.
    pub half_life: Duration,
    /// The longest wait imposed.
    pub max_delay: Duration,
    /// How long an address stays known to an account after its last sign-in from there.
    pub known_address_ttl: Duration,
    /// The longest a throttled answer is held before it is sent.
    pub hold: Duration,
    /// How many throttled answers may be held at once; past it they are sent at once.
    pub max_held: usize,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            per_account: 5.0,
            per_address: 30.0,
            account_wide: 20.0,
            half_life: Duration::from_secs(600),
            max_delay: Duration::from_secs(900),
            known_address_ttl: Duration::from_secs(30 * 86400),
            hold: Duration::from_secs(1),
            max_held: 1024,
        }
    }
}

/// Which score made a sign-in wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// This address failed too often, against this account or against all of them.
    Address,
    /// This account failed too often from many addresses.
    Account,
}

#[derive(Debug, Clone, Copy)]
struct Score {
    value: f64,
    last_ms: i64,
}

impl Score {
    fn decayed(self, now_ms: i64, half_life: Duration) -> f64 {
        let elapsed = (now_ms - self.last_ms).max(0) as f64;
        self.value * 0.5f64.powf(elapsed / half_life.as_millis().max(1) as f64)
    }
}

/// The throttle's memory: bounded in size; scores dropped after an idle hour, known
/// addresses after `known_address_ttl` without a sign-in.
pub struct Throttle {
    settings: ThrottleSettings,
    pairs: Cache<(IpAddr, String), Score>,
    addresses: Cache<IpAddr, Score>,
    accounts: Cache<String, Score>,
    /// Known addresses, each with when this node last wrote it to the database (if ever).
    known: Cache<(String, IpAddr), Option<i64>>,
    running: Arc<InFlight>,
}

/// Whether a check may run now.
pub enum Begin {
    /// Run it; count it with [`Throttle::failed`] if it fails.
    Go(RunningCheck),
    /// The address must wait this long: refuse.
    Wait(Duration),
    /// Running checks would reach the limit if they all failed: wait for one to finish
    /// (`InFlight::finished`), then ask again.
    Busy,
}

/// Which thresholds a failure just crossed (each worth an audit entry).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Crossed {
    /// This failure made the address wait for this account.
    pub address: bool,
    /// This failure made the account's password wait on new addresses.
    pub account: bool,
}

impl Throttle {
    /// A throttle with these settings.
    pub fn new(settings: ThrottleSettings) -> Self {
        // Bounded memory whatever an attacker sends; idle scores go after an hour. Only
        // successful sign-ins add known addresses, so an attacker cannot fill that set.
        let idle = Duration::from_secs(3600);
        Throttle {
            pairs: bounded(idle),
            addresses: bounded(idle),
            accounts: bounded(idle),
            known: bounded(settings.known_address_ttl),
            running: Arc::new(InFlight::default()),
            settings,
        }
    }

    /// How long `addr` must still wait before trying `user` again, if at all, by the
    /// per-address scores; these apply to every credential.
    pub fn wait(&self, addr: IpAddr, user: &str, now_ms: i64) -> Option<Duration> {
        let pair = self.pairs.get(&(addr, user.to_owned()));
        let address = self.addresses.get(&addr);
        [
            (pair, self.settings.per_account),
            (address, self.settings.per_address),
        ]
        .into_iter()
        .filter_map(|(score, threshold)| self.remaining(score?, threshold, now_ms))
        .max()
    }

    /// Whether a check from `addr` for `user` may run now. The checks already running
    /// count as failures to be: parallel guesses cannot pass the per-address limits while
    /// the first ones are still hashing.
    pub fn begin(&self, addr: IpAddr, user: &str, now_ms: i64) -> Begin {
        if let Some(wait) = self.wait(addr, user, now_ms) {
            return Begin::Wait(wait);
        }
        let half_life = self.settings.half_life;
        let decayed = |score: Option<Score>| score.map_or(0.0, |s| s.decayed(now_ms, half_life));
        let pair = decayed(self.pairs.get(&(addr, user.to_owned())));
        let address = decayed(self.addresses.get(&addr));
        // Past a threshold the wait above decides; once it is over, one check at a time
        // takes its turn (the score alone would refuse it until it decays, minutes on).
        let under = |score: f64, running: u32, threshold: f64| {
            running == 0 || !reached(score + f64::from(running), threshold)
        };
        let admit = |running_pair: u32, running_address: u32| {
            under(pair, running_pair, self.settings.per_account)
                && under(address, running_address, self.settings.per_address)
        };
        match self.running.try_start(addr, user, admit) {
            Some(check) => Begin::Go(check),
            None => Begin::Busy,
        }
    }

    /// Resolves when some running check finishes; see [`Begin::Busy`].
    pub fn check_finished(&self) -> tokio::sync::futures::Notified<'_> {
        self.running.finished()
    }

    /// Whether `user` has failed often enough, from all addresses together, that its
    /// password waits on new addresses. Cheap and changes nothing: the caller asks before
    /// it spends a database read on telling what kind of credential it holds.
    pub fn account_throttled(&self, user: &str, now_ms: i64) -> bool {
        self.accounts.get(user).is_some_and(|score| {
            reached(
                score.decayed(now_ms, self.settings.half_life),
                self.settings.account_wide,
            )
        })
    }

    /// The account-wide wait for a check subject to it (the account password, or an
    /// unknown name, from an address that is not known): `Some(wait)` while it lasts, and
    /// `None` when the check may go ahead. When the wait has just run out, the first
    /// caller claims the turn and the wait starts over for everyone else.
    pub fn account_turn(&self, user: &str, now_ms: i64) -> Option<Duration> {
        let mut wait = None;
        self.accounts
            .entry(user.to_owned())
            .and_compute_with(|entry| {
                let Some(score) = entry.map(|e| e.into_value()) else {
                    return Op::Nop;
                };
                let value = score.decayed(now_ms, self.settings.half_life);
                if !reached(value, self.settings.account_wide) {
                    return Op::Nop;
                }
                wait = self.remaining(score, self.settings.account_wide, now_ms);
                match wait {
                    Some(_) => Op::Nop,
                    None => Op::Put(Score {
                        value,
                        last_ms: now_ms,
                    }),
                }
            });
        wait
    }

    /// The account-wide wait this node knows of, without claiming a turn: `None` when
    /// the account is below its threshold or the wait is over.
    pub fn account_wait(&self, user: &str, now_ms: i64) -> Option<Duration> {
        let score = self.accounts.get(user)?;
        self.remaining(score, self.settings.account_wide, now_ms)
    }

    /// Takes in the account's shared score after a turn was asked for: the shared row
    /// says when the wait started over (another node, or this one, took the turn), and
    /// the larger count stands.
    pub fn adopt_account_turn(&self, user: &str, shared: SharedScore, now_ms: i64) {
        let half_life = self.settings.half_life;
        let shared = Score {
            value: shared.value,
            last_ms: shared.last_ms,
        };
        self.accounts
            .entry(user.to_owned())
            .and_upsert_with(|local| {
                let local = local.map_or(0.0, |e| e.into_value().decayed(now_ms, half_life));
                let now = shared.decayed(now_ms, half_life).max(local);
                Score {
                    value: now * 0.5f64.powf(-shared_age(shared, now_ms, half_life)),
                    last_ms: shared.last_ms,
                }
            });
    }

    /// Whether `user` signed in from `addr` lately.
    pub fn known(&self, addr: IpAddr, user: &str) -> bool {
        self.known.contains_key(&(user.to_owned(), addr))
    }

    /// Whether this node should write `addr` as known to `user` in the database now:
    /// it has not, or not for a sixteenth of the known-address lifetime (so the row never
    /// runs out while sign-ins go on, and a busy client costs a write every two days at
    /// the default of 30, not one per sign-in).
    pub fn share_due(&self, addr: IpAddr, user: &str, now_ms: i64) -> bool {
        let refresh = (self.settings.known_address_ttl / 16).as_millis() as i64;
        match self.known.get(&(user.to_owned(), addr)) {
            Some(Some(written_ms)) => now_ms.saturating_sub(written_ms) >= refresh,
            Some(None) | None => true,
        }
    }

    /// Notes that `addr` was written as known to `user` in the database at `now_ms`.
    pub fn shared_known(&self, addr: IpAddr, user: &str, now_ms: i64) {
        self.known.insert((user.to_owned(), addr), Some(now_ms));
    }

    /// The rules the shared statements apply (PostgreSQL).
    pub fn score_rules(&self) -> ScoreRules {
        ScoreRules {
            per_account: self.settings.per_account,
            per_address: self.settings.per_address,
            account_wide: self.settings.account_wide,
            half_life_ms: self.settings.half_life.as_millis() as f64,
            pending_half_life_ms: PENDING_HALF_LIFE.as_millis() as f64,
            max_delay_secs: self.settings.max_delay.as_secs_f64(),
        }
    }

    fn remaining(&self, score: Score, threshold: f64, now_ms: i64) -> Option<Duration> {
        let value = score.decayed(now_ms, self.settings.half_life);
        if !reached(value, threshold) {
            return None;
        }
        let delay = 2f64
            .powf((value - threshold).max(0.0))
            .min(self.settings.max_delay.as_secs_f64());
        let since = (now_ms - score.last_ms).max(0) as f64 / 1000.0;
        (delay > since).then(|| Duration::from_secs_f64(delay - since))
    }

    /// Counts a failed sign-in against all three scores.
    pub fn failed(&self, addr: IpAddr, user: &str, now_ms: i64) -> Crossed {
        let half_life = self.settings.half_life;
        let pair = self
            .pairs
            .entry((addr, user.to_owned()))
            .and_upsert_with(|old| bumped(old, now_ms, half_life))
            .into_value();
        self.addresses
            .entry(addr)
            .and_upsert_with(|old| bumped(old, now_ms, half_life));
        let account = self
            .accounts
            .entry(user.to_owned())
            .and_upsert_with(|old| bumped(old, now_ms, half_life))
            .into_value();
        let crossed = |after: Score, threshold: f64| {
            !reached(after.value - 1.0, threshold) && reached(after.value, threshold)
        };
        Crossed {
            address: crossed(pair, self.settings.per_account),
            account: crossed(account, self.settings.account_wide),
        }
    }

    /// A successful sign-in clears the address's failures against that account and makes
    /// the address known to it. The account-wide score stays: the owner signing in does
    /// not stop a flood.
    pub fn signed_in(&self, addr: IpAddr, user: &str) {
        self.pairs.invalidate(&(addr, user.to_owned()));
        self.remember(addr, user);
    }

    /// How long an address stays known to an account after a sign-in from there.
    pub fn known_address_ttl(&self) -> Duration {
        self.settings.known_address_ttl
    }

    /// How fast old failures are forgotten.
    pub fn half_life(&self) -> Duration {
        self.settings.half_life
    }

    /// Takes in the scores all nodes counted (PostgreSQL): each local score becomes the
    /// larger of the two, decayed to `now_ms`, so failures counted on other nodes weigh
    /// here as if they had happened here, and none counts twice.
    pub fn absorb(&self, addr: IpAddr, user: &str, shared: &SharedScores, now_ms: i64) {
        let half_life = self.settings.half_life;
        absorb_one(
            &self.pairs,
            (addr, user.to_owned()),
            shared.pair,
            now_ms,
            half_life,
        );
        absorb_one(&self.addresses, addr, shared.address, now_ms, half_life);
        absorb_one(
            &self.accounts,
            user.to_owned(),
            shared.account,
            now_ms,
            half_life,
        );
    }

    /// Makes (or keeps) `addr` known to `user`; also for a cache hit from an address new
    /// to its credential, so a device that moved keeps working when its cache entry runs
    /// out mid-flood.
    pub fn remember(&self, addr: IpAddr, user: &str) {
        // Keeps when it was last written to the database, and starts its lifetime over.
        let key = (user.to_owned(), addr);
        let written = self.known.get(&key).flatten();
        self.known.insert(key, written);
    }
}

/// How fast a check's place in the shared scores fades, which matters only when its
/// node died before the check ended. Slow, so the places of live checks (queued for at
/// most `auth_hash_wait`, 5 s by default, then hashed) weigh nearly one each: at 30 s,
/// 30 places queued a second or two were worth 29 and let a 31st and 32nd check in.
const PENDING_HALF_LIFE: Duration = Duration::from_secs(300);

/// How many half-lives ago `score` was counted (none if another node's clock is ahead).
fn shared_age(score: Score, now_ms: i64, half_life: Duration) -> f64 {
    (now_ms - score.last_ms).max(0) as f64 / half_life.as_millis().max(1) as f64
}

/// A map of at most 100,000 entries, each dropped after `idle` unused.
fn bounded<K, V>(idle: Duration) -> Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder()
        .max_capacity(100_000)
        .time_to_idle(idle)
        .build()
}

/// Replaces the score under `key` by `shared` when that one is higher now.
fn absorb_one<K>(
    cache: &Cache<K, Score>,
    key: K,
    shared: Option<SharedScore>,
    now_ms: i64,
    half_life: Duration,
) where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
{
    let Some(shared) = shared else { return };
    let shared = Score {
        value: shared.value,
        last_ms: shared.last_ms,
    };
    cache
        .entry(key)
        .and_compute_with(|entry| match entry.map(|e| e.into_value()) {
            Some(local)
                if local.decayed(now_ms, half_life) >= shared.decayed(now_ms, half_life) =>
            {
                Op::Nop
            }
            _ => Op::Put(shared),
        });
}

/// A score one failure higher, the old one decayed to `now_ms` first.
fn bumped<K>(old: Option<moka::Entry<K, Score>>, now_ms: i64, half_life: Duration) -> Score {
    Score {
        value: old.map_or(0.0, |e| e.into_value().decayed(now_ms, half_life)) + 1.0,
        last_ms: now_ms,
    }
}

/// Failures a moment apart have barely decayed: count the fifth as five.
fn reached(score: f64, threshold: f64) -> bool {
    score + 0.5 >= threshold
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The `i`th address of a flood: each fails once, below every per-address threshold.
    fn bot(i: u32) -> IpAddr {
        IpAddr::from([198, 18, (i >> 8) as u8, i as u8])
    }

    #[test]
    fn waits_grow_after_the_threshold_and_decay() {
        let t = Throttle::new(ThrottleSettings::default());
        let a = ip("192.0.2.1");
        for i in 0..4 {
            assert!(!t.failed(a, "alice", 1000 + i).address);
            assert_eq!(t.wait(a, "alice", 1000 + i), None, "below the threshold");
        }
        assert!(t.failed(a, "alice", 1004).address);
        let first = t.wait(a, "alice", 1004).expect("must wait");
        t.failed(a, "alice", 1005);
        t.failed(a, "alice", 1006);
        let later = t.wait(a, "alice", 1006).unwrap();
        assert!(later > first, "waits grow: {first:?} then {later:?}");
        // An hour on, the score has halved six times: no wait.
        assert_eq!(t.wait(a, "alice", 1006 + 3_600_000), None);
    }

    #[test]
    fn shared_scores_count_here_and_never_lower_ours() {
        let t = Throttle::new(ThrottleSettings::default());
        let a = ip("192.0.2.7");
        let score = |value, last_ms| Some(SharedScore { value, last_ms });
        // Four failures on another node and one here: the fifth makes this address wait.
        t.failed(a, "alice", 2000);
        let shared = SharedScores {
            pair: score(5.0, 2000),
            address: score(5.0, 2000),
            account: score(5.0, 2000),
        };
        t.absorb(a, "alice", &shared, 2001);
        assert!(
            t.wait(a, "alice", 2001).is_some(),
            "failures elsewhere count"
        );
        // A stale or smaller shared score never lowers what this node counted.
        for _ in 0..3 {
            t.failed(a, "bob", 3000);
        }
        let low = SharedScores {
            pair: score(1.0, 3000),
            ..SharedScores::default()
        };
        t.absorb(a, "bob", &low, 3000);
        let decayed = t.pairs.get(&(a, "bob".to_owned())).unwrap();
        assert!(decayed.value >= 3.0, "{decayed:?}");
    }

    #[test]
    fn running_checks_count_as_failures_to_be() {
        let t = Throttle::new(ThrottleSettings::default());
        let a = ip("198.51.100.20");
        let mut running = Vec::new();
        while let Begin::Go(check) = t.begin(a, "alice", 5000) {
            running.push(check);
            assert!(running.len() <= 5, "more checks than the limit ran at once");
        }
        assert_eq!(running.len(), 5);
        // They all fail: the address now waits instead of queueing.
        for _ in running.drain(..) {
            t.failed(a, "alice", 5000);
        }
        assert!(matches!(t.begin(a, "alice", 5000), Begin::Wait(_)));
        // Had they succeeded, the next check would run.
        let b = ip("198.51.100.21");
        let checks: Vec<_> = (0..5)
            .map(|_| match t.begin(b, "alice", 5000) {
                Begin::Go(c) => c,
                _ => panic!("below the limit"),
            })
            .collect();
        assert!(matches!(t.begin(b, "alice", 5000), Begin::Busy));
        drop(checks);
        assert!(matches!(t.begin(b, "alice", 5000), Begin::Go(_)));
    }

    /// Found by the header fuzz: once the wait ran out, the score alone (still at the
    /// threshold for minutes) refused every check as busy, with nothing running to
    /// finish, so each sign-in hung 30 seconds and got a 503 instead of its turn.
    #[test]
    fn past_the_threshold_one_check_runs_once_the_wait_is_over() {
        let t = Throttle::new(ThrottleSettings::default());
        let a = ip("198.51.100.30");
        for _ in 0..5 {
            t.failed(a, "alice", 5000);
        }
        let wait = t.wait(a, "alice", 5000).expect("must wait");
        let after = 5000 + wait.as_millis() as i64 + 100;
        assert_eq!(t.wait(a, "alice", after), None);
        let Begin::Go(check) = t.begin(a, "alice", after) else {
            panic!("the wait is over: one check takes its turn");
        };
        assert!(
            matches!(t.begin(a, "alice", after), Begin::Busy),
            "one at a time past the threshold"
        );
        t.failed(a, "alice", after);
        drop(check);
        let next = t.wait(a, "alice", after).expect("waits again");
        assert!(next > wait, "and longer: {wait:?} then {next:?}");
    }

    #[test]
    fn other_addresses_and_accounts_are_not_punished() {
        let t = Throttle::new(ThrottleSettings::default());
        let attacker = ip("198.51.100.9");
        for i in 0..20 {
            t.failed(attacker, "alice", i);
        }
        assert!(t.wait(attacker, "alice", 20).is_some());
        assert_eq!(
            t.wait(ip("192.0.2.1"), "alice", 20),
            None,
            "the owner elsewhere is fine"
        );
        assert_eq!(
            t.wait(attacker, "bob", 20),
            None,
            "below the per-address threshold"
        );
        t.signed_in(ip("192.0.2.1"), "alice");
    }

    #[test]
    fn many_accounts_from_one_address_trip_the_address_limit() {
        let t = Throttle::new(ThrottleSettings::default());
        let a = ip("203.0.113.5");
        for i in 0..30 {
            t.failed(a, &format!("user{i}"), i);
        }
        assert!(t.wait(a, "fresh-user", 30).is_some());
        assert!(
            !t.account_throttled("user0", 30),
            "one failure per name is no account-wide flood"
        );
    }

    #[test]
    fn a_flood_from_many_addresses_trips_the_account_wide_score() {
        let t = Throttle::new(ThrottleSettings::default());
        for i in 0..19 {
            assert_eq!(t.failed(bot(i), "alice", 1000), Crossed::default());
            assert!(!t.account_throttled("alice", 1000), "below the threshold");
            assert_eq!(t.account_turn("alice", 1000), None);
        }
        let crossed = t.failed(bot(19), "alice", 1000);
        assert_eq!(
            crossed,
            Crossed {
                address: false,
                account: true
            }
        );
        assert!(t.account_throttled("alice", 1000));
        let first = t.account_turn("alice", 1000).expect("new addresses wait");
        assert!(first >= Duration::from_millis(900), "{first:?}");
        assert_eq!(
            t.wait(bot(500), "alice", 1000),
            None,
            "no address has failed often enough on its own"
        );
        assert!(
            !t.account_throttled("bob", 1000),
            "other accounts are untouched"
        );

        // The waits double with each further failure, up to the ceiling.
        for i in 20..25 {
            t.failed(bot(i), "alice", 1000);
        }
        let later = t.account_turn("alice", 1000).unwrap();
        assert!(later >= first * 30, "{first:?} then {later:?}");
        for i in 25..60 {
            t.failed(bot(i), "alice", 1000);
        }
        assert_eq!(
            t.account_turn("alice", 1000),
            Some(Duration::from_secs(900))
        );
        assert!(!t.failed(bot(60), "alice", 1000).account, "crossed once");

        // Old failures fade: four hours on, 61 has halved 24 times.
        assert!(!t.account_throttled("alice", 1000 + 4 * 3_600_000));
        assert_eq!(t.account_turn("alice", 1000 + 4 * 3_600_000), None);
    }

    #[test]
    fn once_the_wait_is_over_one_check_takes_the_turn() {
        let t = Throttle::new(ThrottleSettings::default());
        for i in 0..20 {
            t.failed(bot(i), "alice", 0);
        }
        let wait = t.account_turn("alice", 500).unwrap();
        assert!(wait <= Duration::from_millis(500), "{wait:?}");
        assert_eq!(t.account_turn("alice", 1100), None, "this check goes ahead");
        let next = t
            .account_turn("alice", 1101)
            .expect("the others wait again");
        assert!(next >= Duration::from_millis(900), "{next:?}");
    }

    #[test]
    fn unknown_names_are_scored_like_accounts() {
        let t = Throttle::new(ThrottleSettings::default());
        for i in 0..20 {
            t.failed(bot(i), "nobody", 0);
        }
        assert!(t.account_throttled("nobody", 0));
        assert!(t.account_turn("nobody", 0).is_some());
    }

    #[test]
    fn addresses_that_signed_in_are_known_to_that_account_only() {
        let t = Throttle::new(ThrottleSettings::default());
        let home = ip("192.0.2.1");
        assert!(!t.known(home, "alice"));
        t.signed_in(home, "alice");
        t.remember(ip("2001:db8::1"), "alice");
        assert!(t.known(home, "alice"));
        assert!(t.known(ip("2001:db8::1"), "alice"));
        assert!(!t.known(home, "bob"));
        assert!(!t.known(ip("192.0.2.2"), "alice"));

        // A success clears that address's own failures but not the account-wide score.
        for i in 0..20 {
            t.failed(bot(i), "alice", 0);
        }
        for _ in 0..5 {
            t.failed(home, "alice", 0);
        }
        assert!(t.wait(home, "alice", 0).is_some());
        t.signed_in(home, "alice");
        assert_eq!(t.wait(home, "alice", 0), None);
        assert!(t.account_throttled("alice", 0));
    }

    #[test]
    fn a_turn_taken_on_another_node_starts_the_wait_over_here() {
        let t = Throttle::new(ThrottleSettings::default());
        let half_life = ThrottleSettings::default().half_life;
        for i in 0..20 {
            t.failed(bot(i), "alice", 0);
        }
        assert!(t.account_wait("alice", 500).is_some());
        assert_eq!(
            t.account_wait("alice", 1100),
            None,
            "over, as far as we know"
        );
        // Another node took the turn at 1050: the shared row says so.
        let ours = t.accounts.get("alice").unwrap();
        let theirs = SharedScore {
            value: ours.decayed(1050, half_life),
            last_ms: 1050,
        };
        t.adopt_account_turn("alice", theirs, 1100);
        let wait = t
            .account_wait("alice", 1100)
            .expect("the wait started over");
        assert!(wait >= Duration::from_millis(900), "{wait:?}");
        assert!(t.account_throttled("alice", 1100), "and the count stands");
        // A smaller shared count never lowers ours.
        let low = SharedScore {
            value: 1.0,
            last_ms: 2000,
        };
        t.adopt_account_turn("alice", low, 2000);
        assert!(t.account_throttled("alice", 2000));
    }

    #[test]
    fn a_known_address_is_written_to_the_database_once_in_a_while() {
        let t = Throttle::new(ThrottleSettings::default());
        let home = ip("192.0.2.1");
        assert!(t.share_due(home, "alice", 0), "never written");
        t.shared_known(home, "alice", 0);
        t.signed_in(home, "alice");
        t.remember(home, "alice");
        assert!(t.known(home, "alice"));
        assert!(!t.share_due(home, "alice", 3_600_000), "an hour on: fresh");
        let refresh = 30 * 86_400_000 / 16;
        assert!(
            t.share_due(home, "alice", refresh),
            "a sixteenth of 30 days on"
        );
        assert!(t.share_due(ip("192.0.2.2"), "alice", 0));
        assert!(t.share_due(home, "bob", 0));
    }

    #[test]
    fn known_addresses_are_forgotten_when_idle() {
        let t = Throttle::new(ThrottleSettings {
            known_address_ttl: Duration::from_millis(50),
            ..ThrottleSettings::default()
        });
        t.signed_in(ip("192.0.2.1"), "alice");
        std::thread::sleep(Duration::from_millis(150));
        assert!(!t.known(ip("192.0.2.1"), "alice"));
    }
}
