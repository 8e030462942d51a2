//! Commits made by other nodes (or the CLI), heard through PostgreSQL's LISTEN/NOTIFY.
//!
//! Every write transaction on PostgreSQL sends `NOTIFY davgate_invalidate` before its
//! COMMIT, so the notification goes out exactly when the change becomes visible and never
//! for a rolled-back one. Each process keeps one connection listening on that channel;
//! every notification heard moves its commit version (see `changes`), which ends every
//! account row and path walk it kept. The payload is empty: any commit may change a path
//! walk, so one version for the whole database is as fine-grained as is safe.
//!
//! When the listening connection drops, the process stops keeping rows (every request
//! reads the account and its paths again, as if nothing were cached) and reconnects with
//! a growing pause; once it listens again, the version moves on so nothing kept from
//! before the gap is used. A commit elsewhere reaches this process as fast as PostgreSQL
//! delivers the notification (well under a millisecond on one machine); kept rows also
//! age out after a second whatever happens.

use std::sync::Weak;
use std::time::Duration;

use sqlx::postgres::PgListener;

use super::changes::Changes;

/// The channel every write notifies.
pub(crate) const CHANNEL: &str = "davgate_invalidate";

/// The pause before reconnecting, doubled after each failure up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(10);

/// Listens on [`CHANNEL`] for as long as `changes` lives (checked when a notification
/// arrives or the connection fails; a process whose store is gone ends soon after).
pub(crate) fn listen(url: String, changes: Weak<Changes>) {
    tokio::spawn(async move {
        let mut pause = FIRST_PAUSE;
        loop {
            match listen_once(&url, &changes).await {
                Ending::StoreGone => return,
                Ending::Heard => pause = FIRST_PAUSE,
                Ending::Failed => {}
            }
            if changes.strong_count() == 0 {
                return;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_PAUSE);
        }
    });
}

/// How one listening connection ended.
enum Ending {
    StoreGone,
    /// It listened, then dropped.
    Heard,
    /// It never listened.
    Failed,
}

async fn listen_once(url: &str, changes: &Weak<Changes>) -> Ending {
    let mut listener = match PgListener::connect(url).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::warn!(error = %e, "cannot connect to listen for other nodes' changes; will retry");
            return Ending::Failed;
        }
    };
    if let Err(e) = listener.listen(CHANNEL).await {
        tracing::warn!(error = %e, "cannot LISTEN for other nodes' changes; will retry");
        return Ending::Failed;
    }
    match changes.upgrade() {
        Some(changes) => changes.set_listening(true),
        None => return Ending::StoreGone,
    }
    // `Ok(None)` or an error: the connection dropped.
    while let Ok(Some(notification)) = listener.try_recv().await {
        match changes.upgrade() {
            Some(changes) => changes.heard(notification.payload()),
            None => return Ending::StoreGone,
        }
    }
    let Some(changes) = changes.upgrade() else {
        return Ending::StoreGone;
    };
    changes.set_listening(false);
    tracing::warn!(
        "lost the connection that hears other nodes' changes: reading accounts and paths \
         on every request until it is back"
    );
    Ending::Heard
}
