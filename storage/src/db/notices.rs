//! Commits made by other nodes (and the CLI) on PostgreSQL, heard through LISTEN/NOTIFY.
//!
//! A trigger on every table whose rows a node keeps (`accounts`, `nodes`, `blobs`; see
//! the `0012_change_notices` migration) sends a notice on the channel [`CHANNEL`] from
//! inside the writing transaction, so PostgreSQL delivers it when, and only if, the
//! transaction commits, whoever wrote: another node, the CLI, an operator with psql.
//! One connection per node listens, named `davgate-changes-<pid>` in
//! `pg_stat_activity`; each notice it hears changes the commit version (see `changes`),
//! which ends every row kept under the old one.
//!
//! Notices sent while the connection is down are lost, so the version is `None` (every
//! read goes to the database) from the moment the connection is found lost until it is
//! listening again; coming back changes the version too, ending whatever was kept
//! before the loss.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::oneshot;

/// The channel the triggers notify.
pub(crate) const CHANNEL: &str = "davgate_changes";

/// How long to wait between attempts to listen again.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// What the listening connection has heard.
#[derive(Debug)]
pub(crate) struct Notices {
    url: String,
    /// Notices heard, plus one for every loss and every start of listening.
    heard: AtomicU64,
    /// Whether the connection is listening now.
    listening: AtomicBool,
    /// Dropped with these notices, which stops the listening task.
    stop: Mutex<Option<oneshot::Sender<()>>>,
}

impl Notices {
    /// Nothing heard yet, and not listening until [`Notices::listen`].
    pub(crate) fn new(url: &str) -> Self {
        Notices {
            url: url.to_owned(),
            heard: AtomicU64::new(0),
            listening: AtomicBool::new(false),
            stop: Mutex::new(None),
        }
    }

    /// How many changes were heard, or `None` while not listening (nothing may then be
    /// kept). The count is read before the state: the task marks a loss before it
    /// counts it, so a count read while listening is changed by any later loss.
    pub(crate) fn heard(&self) -> Option<u64> {
        let heard = self.heard.load(Ordering::SeqCst);
        self.listening.load(Ordering::SeqCst).then_some(heard)
    }

    /// Starts the listening task (once; later calls do nothing). It runs until these
    /// notices are dropped, reconnecting after every loss.
    pub(crate) fn listen(self: &Arc<Self>) {
        let mut stop = self.stop.lock().expect("notices lock");
        if stop.is_some() {
            return;
        }
        let (stop_tx, stop_rx) = oneshot::channel();
        *stop = Some(stop_tx);
        tokio::spawn(follow(Arc::downgrade(self), self.url.clone(), stop_rx));
    }

    fn listening(&self) {
        self.heard.fetch_add(1, Ordering::SeqCst);
        self.listening.store(true, Ordering::SeqCst);
    }

    fn lost(&self) {
        self.listening.store(false, Ordering::SeqCst);
        self.heard.fetch_add(1, Ordering::SeqCst);
    }

    fn heard_one(&self) {
        self.heard.fetch_add(1, Ordering::SeqCst);
    }
}

/// The listening task: connect, LISTEN, count notices; on a loss, mark it and start over.
async fn follow(notices: Weak<Notices>, url: String, mut stop: oneshot::Receiver<()>) {
    let mut failures = 0u32;
    loop {
        let listener = tokio::select! {
            _ = &mut stop => return,
            listener = connect(&url) => listener,
        };
        match listener {
            Ok(mut listener) => {
                let Some(state) = notices.upgrade() else {
                    return;
                };
                state.listening();
                drop(state);
                tracing::info!(
                    "following changes made by other nodes (PostgreSQL notices on {CHANNEL})"
                );
                failures = 0;
                let ended = loop {
                    let next = tokio::select! {
                        _ = &mut stop => return,
                        next = listener.try_recv() => next,
                    };
                    let Some(state) = notices.upgrade() else {
                        return;
                    };
                    match next {
                        Ok(Some(_)) => state.heard_one(),
                        Ok(None) => {
                            state.lost();
                            break "the connection closed".to_owned();
                        }
                        Err(e) => {
                            state.lost();
                            break e.to_string();
                        }
                    }
                };
                tracing::warn!(
                    error = %ended,
                    "lost the connection that hears other nodes' changes: reading from the \
                     database on every request until it is back"
                );
            }
            Err(e) => {
                if failures == 0 {
                    tracing::warn!(
                        error = %e,
                        "cannot listen for other nodes' changes: reading from the database \
                         on every request until it can"
                    );
                }
                failures = failures.saturating_add(1);
            }
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(RETRY_EVERY) => {}
        }
    }
}

/// A fresh connection of its own, listening on [`CHANNEL`]. A lost connection is
/// reported by `try_recv` and never silently replaced: the loss must be counted.
async fn connect(url: &str) -> sqlx::Result<PgListener> {
    let options = PgConnectOptions::from_str(url)?
        .application_name(&format!("davgate-changes-{}", std::process::id()));
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(options)
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.eager_reconnect(false);
    listener.ignore_pool_close_event(true);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_kept_unless_listening_and_a_loss_ends_every_earlier_count() {
        let notices = Notices::new("postgres://localhost/unused");
        assert_eq!(notices.heard(), None, "not listening yet");
        notices.listening();
        let first = notices.heard().expect("listening");
        notices.heard_one();
        let second = notices.heard().expect("listening");
        assert_ne!(first, second);
        notices.lost();
        assert_eq!(notices.heard(), None, "lost");
        notices.listening();
        let back = notices.heard().expect("listening again");
        assert!(back != first && back != second, "back: {back}");
    }
}
