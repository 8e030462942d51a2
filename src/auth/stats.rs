//! Counts of what sign-ins met: the credential cache and the throttle. Plain atomics,
//! bumped on the sign-in path and read by the metrics at scrape time; nothing here knows
//! of Prometheus.

use std::sync::atomic::{AtomicU64, Ordering};

/// What sign-ins met since the server started.
#[derive(Debug, Default)]
pub struct AuthStats {
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    throttle: [AtomicU64; 3],
}

/// What the throttle decided about a credential check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The check ran.
    Go,
    /// The address (or account) must wait: refused with 429.
    Wait,
    /// Checks already running would reach the limit: this one waited for them.
    Busy,
}

impl Decision {
    /// Every decision, as the metrics label them.
    pub const ALL: [(Decision, &'static str); 3] = [
        (Decision::Go, "go"),
        (Decision::Wait, "wait"),
        (Decision::Busy, "busy"),
    ];
}

impl AuthStats {
    /// Counts a credential cache lookup.
    pub fn cache_lookup(&self, hit: bool) {
        let counter = if hit {
            &self.cache_hits
        } else {
            &self.cache_misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a throttle decision.
    pub fn decided(&self, decision: Decision) {
        self.throttle[decision as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Cache lookups that found the credentials, and those that did not.
    pub fn cache_lookups(&self) -> (u64, u64) {
        (
            self.cache_hits.load(Ordering::Relaxed),
            self.cache_misses.load(Ordering::Relaxed),
        )
    }

    /// How often the throttle decided `decision`.
    pub fn decisions(&self, decision: Decision) -> u64 {
        self.throttle[decision as usize].load(Ordering::Relaxed)
    }
}
