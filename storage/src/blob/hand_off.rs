//! How many bytes an upload hands to another thread at a time, and how long it gathers
//! them at most, shared by the local blob writer and the hashing lanes.

use std::time::{Duration, Instant};

/// Bytes an upload hands to another thread at a time once it is past its first ones: a
/// local blob's write buffer and a hashing batch. Each hand-off wakes another thread, and
/// Linux counts how often a thread changes the thread it wakes (`wakee_flips`). With
/// 1 MiB hand-offs a worker's count stayed close to a multi-threaded client's for
/// seconds, the scheduler's `wake_wide` then woke the two onto one CPU, and the next
/// download ran 10–25% slower (bench/RESULTS.md). Four times fewer hand-offs keep the
/// count low enough; 8 MiB did no better and held 25 MiB more per upload.
pub(crate) const HAND_OFF: usize = 4 * 1024 * 1024;

/// Bytes per hand-off while fewer than `HAND_OFF` were handed off. A file of a few
/// megabytes (a photo) is then written and hashed while it streams, and only its last
/// megabyte waits for the end: with 4 MiB steps from the start, files of 2 and 3.5 MiB
/// took 4–7 ms longer to their 201. A large upload makes three more hand-offs for it,
/// once, which does not move the count above.
pub(crate) const FIRST_HAND_OFFS: usize = 1024 * 1024;

/// Bytes to gather for the next hand-off, after `handed` bytes were handed off.
pub(crate) fn next_hand_off(handed: u64) -> usize {
    if handed < HAND_OFF as u64 {
        FIRST_HAND_OFFS
    } else {
        HAND_OFF
    }
}

/// How long a batch may gather before it goes short. A slow upload (a network far below
/// the disk's speed) would otherwise keep up to `HAND_OFF` bytes waiting, for a second or
/// more: with full batches only, eight uploads at 14 MB/s each took the server to 108 MiB,
/// and with this limit to about 40, most of the difference heap left in holes between
/// the waiting chunks. An upload that fills a batch within this time never goes short, so
/// fast ones hand off as seldom as before.
pub(crate) const MAX_GATHER: Duration = Duration::from_millis(50);

/// The fewest bytes a batch that goes short carries, so that a lane's queue counted in
/// bytes (`blob::digest`'s MD5 lag) is also short in batches; an upload slower than
/// this per `MAX_GATHER` holds no more than this.
pub(crate) const SHORTEST: usize = 64 * 1024;

/// When the batch being gathered started: it goes once full, or once it is
/// `MAX_GATHER` old and holds at least `SHORTEST` bytes.
#[derive(Debug)]
pub(crate) struct Gathering {
    since: Option<Instant>,
    max: Duration,
}

impl Default for Gathering {
    fn default() -> Self {
        Gathering {
            since: None,
            max: MAX_GATHER,
        }
    }
}

impl Gathering {
    /// One whose batches go only when full: for tests of exact batch sizes, which a slow
    /// test machine must not make go short.
    #[cfg(test)]
    pub(crate) fn patient() -> Self {
        Gathering {
            since: None,
            max: Duration::MAX,
        }
    }

    /// Whether a batch of `len` bytes, which is to reach `size`, goes now. Its clock
    /// starts with its first bytes; once it goes, the next batch starts its own.
    pub(crate) fn goes_now(&mut self, len: usize, size: usize) -> bool {
        let goes = len >= size || {
            let since = *self.since.get_or_insert_with(Instant::now);
            len >= SHORTEST && since.elapsed() >= self.max
        };
        if goes {
            self.since = None;
        }
        goes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_due_when_full_or_old() {
        let (some, full) = (SHORTEST, 4 * SHORTEST);
        let mut gathering = Gathering::default();
        assert!(!gathering.goes_now(some, full));
        assert!(gathering.goes_now(full, full));
        assert!(!gathering.goes_now(some, full));
        std::thread::sleep(MAX_GATHER);
        assert!(
            !gathering.goes_now(some - 1, full),
            "too little to go short"
        );
        assert!(gathering.goes_now(some, full), "gathering for MAX_GATHER");
        assert!(
            !gathering.goes_now(some, full),
            "a new batch has a new clock"
        );
        let mut patient = Gathering::patient();
        assert!(!patient.goes_now(some, full));
        std::thread::sleep(MAX_GATHER);
        assert!(!patient.goes_now(some, full));
        assert!(patient.goes_now(full, full));
    }

    #[test]
    fn small_steps_fill_exactly_the_first_hand_off() {
        let mut handed = 0u64;
        let mut steps = Vec::new();
        while handed < 3 * HAND_OFF as u64 {
            let step = next_hand_off(handed);
            steps.push(step);
            handed += step as u64;
        }
        assert!(HAND_OFF.is_multiple_of(FIRST_HAND_OFFS));
        let small = HAND_OFF / FIRST_HAND_OFFS;
        assert!(steps[..small].iter().all(|&s| s == FIRST_HAND_OFFS));
        assert!(steps[small..].iter().all(|&s| s == HAND_OFF));
        assert_eq!(handed, 3 * HAND_OFF as u64);
    }
}
