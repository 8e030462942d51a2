//! How much one account may set up (destinations, routed calendars) and how fast one
//! destination is sent to. The counts are checked where a person adds something (the
//! CLI, the portal); the rate is kept by the storage crate's claim, so it holds across
//! nodes, and an alarm over it is sent later, never dropped.

use davgate_storage::{AccountId, CollectionId, DestinationKind, RateLimit, StorageError, Store};

/// The configured limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Webhooks per account at most (`reminders_max_destinations`); the e-mail
    /// destination, one per account, is not counted.
    pub max_destinations: u32,
    /// Routed calendars per account at most (`reminders_max_routes`).
    pub max_routes: u32,
    /// Messages per minute one destination gets at most (`reminders_rate_limit`), in a
    /// burst when it was quiet for a minute.
    pub per_minute: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_destinations: 10,
            max_routes: 50,
            per_minute: 60,
        }
    }
}

/// Why something cannot be added.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// The account has as many webhooks as allowed.
    #[error(
        "an account may have at most {limit} webhooks (the operator's \
         reminders_max_destinations); remove one first"
    )]
    Destinations {
        /// The limit.
        limit: u32,
    },
    /// The account has as many routed calendars as allowed.
    #[error(
        "an account may route at most {limit} calendars (the operator's \
         reminders_max_routes); route fewer calendars, or name the destination in the \
         alarm with X-DAVGATE-DESTINATION"
    )]
    Routes {
        /// The limit.
        limit: u32,
    },
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Limits {
    /// One destination's token bucket: a burst of `per_minute`, refilled at that rate.
    pub fn rate(&self) -> RateLimit {
        RateLimit::per_minute(self.per_minute)
    }

    /// Whether the account may add one more webhook.
    pub async fn check_new_destination(
        &self,
        store: &Store,
        account: AccountId,
    ) -> Result<(), LimitError> {
        let webhooks = store
            .destinations(account)
            .await?
            .iter()
            .filter(|d| d.kind == DestinationKind::Webhook)
            .count();
        if webhooks >= self.max_destinations as usize {
            return Err(LimitError::Destinations {
                limit: self.max_destinations,
            });
        }
        Ok(())
    }

    /// Whether `collection` may be routed: re-routing a routed calendar always may.
    pub async fn check_new_route(
        &self,
        store: &Store,
        account: AccountId,
        collection: CollectionId,
    ) -> Result<(), LimitError> {
        if store.route_of(collection).await?.is_some() {
            return Ok(());
        }
        if store.routed_calendars(account).await? >= self.max_routes {
            return Err(LimitError::Routes {
                limit: self.max_routes,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refill_interval_follows_the_rate() {
        assert_eq!(Limits::default().rate().interval_ms(), 1_000);
        let fast = Limits {
            per_minute: 600,
            ..Limits::default()
        };
        assert_eq!(fast.rate().interval_ms(), 100);
        let nothing = Limits {
            per_minute: 0,
            ..Limits::default()
        };
        assert_eq!(nothing.rate().interval_ms(), 60_000);
    }
}
