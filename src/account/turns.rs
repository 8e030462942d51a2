//! How much of the machine the portal may use at once: its pages take turns.
//!
//! A page view costs a few database reads and a render, a fraction of a millisecond of
//! CPU; sixteen connections reloading pages as fast as they can would keep every core
//! busy and make sync clients, whose requests cost as little, wait in line behind them.
//! So at most half the cores' worth of portal requests (at least one) run at a time and
//! the rest queue, holding nothing but a connection: a sync request always finds a core
//! the portal leaves free, and a person still gets a page in milliseconds.
//!
//! The steps that meet the sign-in throttle take no turn ([`Page::meets_throttle`]): the
//! throttle may hold a refused answer for a second, which with a turn held would stall
//! everyone's pages, and what they cost (argon2) runs on the bounded, lower-priority
//! hashing pool already.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::PortalError;
use super::page::Page;

/// How long a request waits for its turn before it is told the portal is busy.
const LONGEST_WAIT: Duration = Duration::from_secs(10);

/// The turns portal requests take.
#[derive(Clone)]
pub(crate) struct Turns {
    slots: Arc<Semaphore>,
    wait: Duration,
}

/// A turn: the request runs until this is dropped.
pub(crate) struct Turn {
    _slot: Option<OwnedSemaphorePermit>,
}

impl Turns {
    /// `slots` requests at a time, each waiting at most `wait` for its turn.
    pub(crate) fn new(slots: usize, wait: Duration) -> Self {
        Turns {
            slots: Arc::new(Semaphore::new(slots.max(1))),
            wait,
        }
    }

    /// Half the cores' worth of turns, at least one.
    pub(crate) fn half_the_cores() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new(cores / 2, LONGEST_WAIT)
    }

    /// Waits for a turn for `page`; the pages that meet the throttle need none.
    pub(crate) async fn take(&self, page: Page) -> Result<Turn, PortalError> {
        if page.meets_throttle() {
            return Ok(Turn { _slot: None });
        }
        match tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Turn {
                _slot: Some(permit),
            }),
            // The semaphore is never closed; if it were, queueing is no longer possible.
            Ok(Err(_)) | Err(_) => Err(PortalError::Busy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pages_queue_for_a_turn_but_sign_ins_do_not() {
        let turns = Turns::new(1, Duration::from_millis(20));
        let first = turns.take(Page::AppPasswords).await.unwrap();
        assert!(matches!(
            turns.take(Page::Home).await,
            Err(PortalError::Busy)
        ));
        assert!(
            turns.take(Page::SignIn).await.is_ok(),
            "the throttle's, not ours"
        );
        drop(first);
        assert!(turns.take(Page::Home).await.is_ok());
    }
}
