//! A reminder destination's rate limit as a token bucket, kept as GCRA (the generic cell
//! rate algorithm) on one number per destination: its theoretical arrival time (TAT), the
//! `next_send_ms` column. Pure arithmetic; the claim transaction in [`crate::reminders`]
//! reads and writes the column under its lock, so the limit holds across nodes.
//!
//! A bucket of `per_minute` messages refilled at `per_minute` a minute: a destination
//! idle for a minute takes a burst of `per_minute` at once, then one per
//! `60,000 / per_minute` ms. A message over the limit is held to the time the bucket
//! has room for it, never dropped.

/// How many messages a destination gets: a burst of `per_minute`, refilled at that many
/// per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    per_minute: i64,
}

impl RateLimit {
    /// `per_minute` messages a minute (at least one), in a burst when the bucket is full.
    pub fn per_minute(per_minute: u32) -> Self {
        Self {
            per_minute: i64::from(per_minute.max(1)),
        }
    }

    /// The time one message takes out of the bucket, ms: the refill interval.
    pub fn interval_ms(self) -> i64 {
        60_000 / self.per_minute
    }

    /// How far the TAT may run ahead of now and still let a message through: room for
    /// `per_minute - 1` more behind the one that came at an empty bucket.
    fn tolerance_ms(self) -> i64 {
        self.interval_ms() * (self.per_minute - 1)
    }
}

/// One destination's bucket during a claim: what the database said, moved on by each
/// message sent and each held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bucket {
    /// Theoretical arrival time, ms: when the bucket would be full again minus one interval.
    tat_ms: i64,
    /// Where the next held message goes, once one was held this round.
    next_held_ms: Option<i64>,
}

/// What the bucket says about one message at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Send it now.
    Send,
    /// Hold it until this instant (ms), when the bucket has room for it.
    HoldUntil(i64),
}

impl Bucket {
    /// The bucket whose stored TAT is `tat_ms` (0 for a destination never sent to).
    pub(crate) fn new(tat_ms: i64) -> Self {
        Self {
            tat_ms,
            next_held_ms: None,
        }
    }

    /// The TAT to store back.
    pub(crate) fn tat_ms(&self) -> i64 {
        self.tat_ms
    }

    /// Takes one message at `now_ms`. Held messages are spaced one interval apart behind
    /// the first free slot, so those held together go out at the refill rate later.
    pub(crate) fn admit(&mut self, now_ms: i64, limit: RateLimit) -> Admission {
        if let Some(slot) = self.next_held_ms.as_mut() {
            let at = *slot;
            *slot = slot.saturating_add(limit.interval_ms());
            return Admission::HoldUntil(at);
        }
        let earliest = self.tat_ms.saturating_sub(limit.tolerance_ms());
        if earliest > now_ms {
            self.next_held_ms = Some(earliest.saturating_add(limit.interval_ms()));
            return Admission::HoldUntil(earliest);
        }
        self.tat_ms = self.tat_ms.max(now_ms).saturating_add(limit.interval_ms());
        Admission::Send
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(bucket: &mut Bucket, now_ms: i64, n: usize, limit: RateLimit) -> Vec<Admission> {
        (0..n).map(|_| bucket.admit(now_ms, limit)).collect()
    }

    #[test]
    fn a_full_bucket_sends_a_burst_of_the_rate_and_holds_the_rest_at_the_refill_rate() {
        let six = RateLimit::per_minute(6);
        let mut bucket = Bucket::new(0);
        let answers = run(&mut bucket, 100_000, 10, six);
        assert!(
            answers[..6].iter().all(|a| *a == Admission::Send),
            "{answers:?}"
        );
        assert_eq!(
            answers[6..],
            [
                Admission::HoldUntil(110_000),
                Admission::HoldUntil(120_000),
                Admission::HoldUntil(130_000),
                Admission::HoldUntil(140_000),
            ]
        );
        // The first held one, claimed at its time in a later round, goes.
        let mut later = Bucket::new(bucket.tat_ms());
        assert_eq!(later.admit(110_000, six), Admission::Send);
        assert_eq!(later.admit(110_000, six), Admission::HoldUntil(120_000));
    }

    #[test]
    fn the_bucket_refills_at_the_rate_and_no_further() {
        let six = RateLimit::per_minute(6);
        let mut bucket = Bucket::new(0);
        run(&mut bucket, 0, 6, six);
        // Half a minute later three messages fit again, not six.
        let mut later = Bucket::new(bucket.tat_ms());
        let answers = run(&mut later, 30_000, 4, six);
        assert_eq!(answers[..3], [Admission::Send; 3]);
        assert!(matches!(answers[3], Admission::HoldUntil(_)), "{answers:?}");
        // Idle for an hour, the bucket is full, not fuller.
        let mut idle = Bucket::new(later.tat_ms());
        let answers = run(&mut idle, 3_600_000, 7, six);
        assert_eq!(answers[..6], [Admission::Send; 6]);
        assert!(matches!(answers[6], Admission::HoldUntil(_)), "{answers:?}");
    }

    #[test]
    fn the_highest_rate_sends_thousands_at_once() {
        let most = RateLimit::per_minute(60_000);
        let mut bucket = Bucket::new(0);
        let answers = run(&mut bucket, 5_000, 1_000, most);
        assert!(answers.iter().all(|a| *a == Admission::Send));
    }
}
