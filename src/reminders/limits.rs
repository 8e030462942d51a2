//! How much one account may set up (destinations, routed calendars) and how fast one
//! destination is sent to. The counts are checked where a person adds something (the
//! CLI, the portal); the rate is kept by the storage crate's claim, so it holds across
//! nodes, and an alarm over it is sent later, never dropped.

use davgate_storage::{AccountId, CollectionId, DestinationKind, StorageError, Store};

/// The configured limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Webhooks per account at most (`reminders_max_destinations`); the e-mail
    /// destination, one per account, is not counted.
    pub max_destinations: u32,
    /// Routed calendars per account at most (`reminders_max_routes`).
    pub max_routes: u32,
    /// Messages per minute one destination gets at most (`reminders_rate_limit`).
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
    /// The shortest time between two messages to one destination, ms.
    pub fn gap_ms(&self) -> i64 {
        60_000 / i64::from(self.per_minute.max(1))
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
    fn the_gap_follows_the_rate() {
        assert_eq!(Limits::default().gap_ms(), 1_000);
        let fast = Limits {
            per_minute: 600,
            ..Limits::default()
        };
        assert_eq!(fast.gap_ms(), 100);
        let nothing = Limits {
            per_minute: 0,
            ..Limits::default()
        };
        assert_eq!(nothing.gap_ms(), 60_000);
    }
}
