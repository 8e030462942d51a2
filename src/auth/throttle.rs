//! Throttling failed sign-ins per (client address, account) and per client address.
//!
//! Never per account alone: a flood of wrong passwords against a user name, from any
//! number of addresses, must not lock the owner out. Each failure adds one to a score
//! that halves every `half_life`; past the threshold the address must wait, twice as
//! long for each further failure, up to a ceiling. Only cache misses are checked here: a
//! credential that already signed in never meets the throttle.

use std::net::IpAddr;
use std::time::Duration;

use moka::sync::Cache;

/// Tuning of the throttle.
#[derive(Debug, Clone)]
pub struct ThrottleSettings {
    /// Failures of one address against one account before it must wait.
    pub per_account: f64,
    /// Failures of one address, all accounts together, before it must wait.
    pub per_address: f64,
    /// How fast old failures are forgotten.
    pub half_life: Duration,
    /// The longest wait imposed.
    pub max_delay: Duration,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            per_account: 5.0,
            per_address: 30.0,
            half_life: Duration::from_secs(600),
            max_delay: Duration::from_secs(900),
        }
    }
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

/// The throttle's memory: bounded in size, entries dropped after an idle hour.
pub struct Throttle {
    settings: ThrottleSettings,
    pairs: Cache<(IpAddr, String), Score>,
    addresses: Cache<IpAddr, Score>,
}

/// Whether a failure just crossed the per-account threshold (worth an audit entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crossing {
    /// Still below, or already above before.
    No,
    /// This failure made the address wait.
    Now,
}

impl Throttle {
    /// A throttle with these settings.
    pub fn new(settings: ThrottleSettings) -> Self {
        // Bounded memory whatever an attacker sends; idle entries go after an hour.
        let (capacity, idle) = (100_000, Duration::from_secs(3600));
        Throttle {
            settings,
            pairs: Cache::builder()
                .max_capacity(capacity)
                .time_to_idle(idle)
                .build(),
            addresses: Cache::builder()
                .max_capacity(capacity)
                .time_to_idle(idle)
                .build(),
        }
    }

    /// How long `addr` must still wait before trying `user` again, if at all.
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

    /// Counts a failed sign-in.
    pub fn failed(&self, addr: IpAddr, user: &str, now_ms: i64) -> Crossing {
        let half_life = self.settings.half_life;
        let mut before = 0.0;
        let mut after = 0.0;
        self.pairs
            .entry((addr, user.to_owned()))
            .and_upsert_with(|old| {
                before = old.map_or(0.0, |e| e.into_value().decayed(now_ms, half_life));
                after = before + 1.0;
                Score {
                    value: after,
                    last_ms: now_ms,
                }
            });
        self.addresses.entry(addr).and_upsert_with(|old| {
            let value = old.map_or(0.0, |e| e.into_value().decayed(now_ms, half_life)) + 1.0;
            Score {
                value,
                last_ms: now_ms,
            }
        });
        let threshold = self.settings.per_account;
        if !reached(before, threshold) && reached(after, threshold) {
            Crossing::Now
        } else {
            Crossing::No
        }
    }

    /// A successful sign-in clears the address's failures against that account.
    pub fn succeeded(&self, addr: IpAddr, user: &str) {
        self.pairs.invalidate(&(addr, user.to_owned()));
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

    #[test]
    fn waits_grow_after_the_threshold_and_decay() {
        let t = Throttle::new(ThrottleSettings::default());
        let a = ip("192.0.2.1");
        for i in 0..4 {
            assert_eq!(t.failed(a, "alice", 1000 + i), Crossing::No);
            assert_eq!(t.wait(a, "alice", 1000 + i), None, "below the threshold");
        }
        assert_eq!(t.failed(a, "alice", 1004), Crossing::Now);
        let first = t.wait(a, "alice", 1004).expect("must wait");
        t.failed(a, "alice", 1005);
        t.failed(a, "alice", 1006);
        let later = t.wait(a, "alice", 1006).unwrap();
        assert!(later > first, "waits grow: {first:?} then {later:?}");
        // An hour on, the score has halved six times: no wait.
        assert_eq!(t.wait(a, "alice", 1006 + 3_600_000), None);
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
        t.succeeded(ip("192.0.2.1"), "alice");
    }

    #[test]
    fn many_accounts_from_one_address_trip_the_address_limit() {
        let t = Throttle::new(ThrottleSettings::default());
        let a = ip("203.0.113.5");
        for i in 0..30 {
            t.failed(a, &format!("user{i}"), i);
        }
        assert!(t.wait(a, "fresh-user", 30).is_some());
    }
}
