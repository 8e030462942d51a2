//! Sign-in checks running right now, per address and per (address, account name).
//!
//! The throttle counts them as failures to be, so parallel guesses cannot all pass its
//! limits while the first ones are still hashing; a check over the limit waits for
//! running ones to finish (they may succeed) instead of being refused outright. These
//! are this node's checks; on PostgreSQL each also holds a place in the shared scores
//! until it ends, so the limits count the checks running on every node
//! ([`shared`](super::shared)).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Pair(IpAddr, String),
    Address(IpAddr),
}

/// The running checks. Entries go when their count drops to zero, so memory is bounded
/// by the checks running at once (itself bounded by the hash pool's queue).
#[derive(Default)]
pub struct InFlight {
    counts: Mutex<HashMap<Key, u32>>,
    finished: Notify,
}

impl InFlight {
    /// Starts a check from `addr` for `user` if `admit(running for the pair, running for
    /// the address)` says so; deciding and counting happen under one lock.
    pub fn try_start(
        self: &Arc<Self>,
        addr: IpAddr,
        user: &str,
        admit: impl FnOnce(u32, u32) -> bool,
    ) -> Option<RunningCheck> {
        let pair = Key::Pair(addr, user.to_owned());
        let address = Key::Address(addr);
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let running = |k: &Key| counts.get(k).copied().unwrap_or(0);
        if !admit(running(&pair), running(&address)) {
            return None;
        }
        for key in [&pair, &address] {
            *counts.entry(key.clone()).or_insert(0) += 1;
        }
        Some(RunningCheck {
            in_flight: self.clone(),
            pair,
            address,
        })
    }

    /// Resolves when some running check finishes. Create it before `try_start` so a
    /// check finishing in between is not missed.
    pub fn finished(&self) -> tokio::sync::futures::Notified<'_> {
        self.finished.notified()
    }
}

/// A check being run; dropping it (done, failed or cancelled) ends it.
pub struct RunningCheck {
    in_flight: Arc<InFlight>,
    pair: Key,
    address: Key,
}

impl Drop for RunningCheck {
    fn drop(&mut self) {
        let mut counts = self
            .in_flight
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for key in [&self.pair, &self.address] {
            if let Some(n) = counts.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    counts.remove(key);
                }
            }
        }
        drop(counts);
        self.in_flight.finished.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_come_and_go() {
        let f = Arc::new(InFlight::default());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let first = f.try_start(a, "alice", |p, n| p == 0 && n == 0).unwrap();
        let second = f.try_start(a, "bob", |p, n| p == 0 && n == 1).unwrap();
        assert!(f.try_start(a, "alice", |p, _| p == 0).is_none());
        drop(first);
        drop(second);
        assert!(f.try_start(a, "alice", |p, n| p == 0 && n == 0).is_some());
        assert!(f.counts.lock().unwrap().is_empty(), "nothing left behind");
    }
}
