//! Holding throttled answers for a while before they are sent.
//!
//! A 429 answered at once lets a guessing flood spin at thousands of requests a second,
//! burning in request handling the CPU the throttle saved on hashing. Held for up to a
//! second (a timer, no CPU), each connection of the flood makes about one request a
//! second instead, as Dovecot's `auth_failure_delay` and Nextcloud's brute-force delay
//! do. Held answers are bounded in number, so a flood on very many connections cannot
//! pile up timers without end: past the bound, answers go out at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

/// The bounded set of answers being held.
#[derive(Clone)]
pub struct Holds {
    slots: Arc<Semaphore>,
    longest: Duration,
}

impl Holds {
    /// At most `max_held` answers held at once, each for at most `longest`.
    pub fn new(max_held: usize, longest: Duration) -> Self {
        Holds {
            slots: Arc::new(Semaphore::new(max_held)),
            longest,
        }
    }

    /// Holds an answer that must wait `wait` for at most the longest hold, or not at all
    /// when every slot is taken; returns how long it was held.
    pub async fn hold(&self, wait: Duration) -> Duration {
        let Ok(_slot) = self.slots.try_acquire() else {
            return Duration::ZERO;
        };
        let held = wait.min(self.longest);
        tokio::time::sleep(held).await;
        held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn holds_up_to_the_longest_and_only_as_many_as_allowed() {
        let longest = Duration::from_millis(50);
        let holds = Holds::new(1, longest);
        let short = Duration::from_millis(20);
        let started = std::time::Instant::now();
        assert_eq!(holds.hold(short).await, short);
        assert!(started.elapsed() >= short);
        assert_eq!(holds.hold(Duration::from_secs(60)).await, longest);
        let (first, second) = tokio::join!(
            holds.hold(Duration::from_secs(5)),
            holds.hold(Duration::from_secs(5))
        );
        assert_eq!(
            (first, second),
            (longest, Duration::ZERO),
            "the second finds the only slot taken"
        );
    }
}
