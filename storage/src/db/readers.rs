//! The read connections of an SQLite file, handed out by us rather than by sqlx's pool.
//!
//! sqlx's pool pings every connection that comes back to it, to flush what a cancelled
//! query may have left on a network connection. On SQLite a ping is a command to the
//! connection's worker thread and a wake-up back, the same hand-off as a query, so it
//! doubled the cost of every read. A small upload reads three times; its pings were a
//! quarter of the hand-offs it cost, and without them 2,000 uploads of 4 KiB from 8
//! clients ran 1.19 times as fast for 0.85 times the server CPU (ten alternating
//! runs). Nothing needs flushing here: the connection is a handle in this process, and
//! its worker resets a statement whose rows were dropped before it runs the next
//! command. So a connection goes back to the idle list as soon as its query is done or
//! dropped, with no round trip.
//!
//! What the pool did otherwise is kept: at most `max` connections, a 30-second wait
//! for one, connections opened as needed with the pool's settings (`sqlite_settings`),
//! and one that failed at the driver level closed rather than lent again. Idle
//! connections stay open; [`Readers::release_memory`] empties their caches.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use sqlx::any::{AnyConnectOptions, AnyQueryResult, AnyRow};
use sqlx::{Any, AnyConnection, Connection, Either, Execute, Executor};
use tokio::sync::{Semaphore, SemaphorePermit};

/// How long a query waits for a connection before it fails, here and in sqlx's pool.
pub(super) const CONNECTION_WAIT: Duration = Duration::from_secs(30);

/// The read connections of one SQLite file.
pub(crate) struct Readers {
    options: AnyConnectOptions,
    idle: Mutex<Vec<AnyConnection>>,
    slots: Semaphore,
    /// Connections open, idle or lent out.
    open: AtomicUsize,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers")
            .field("idle", &self.idle().len())
            .field("free", &self.slots.available_permits())
            .finish()
    }
}

/// A connection lent out; it goes back to the idle list when dropped, unless it broke.
pub(crate) struct Reader<'r> {
    conn: Option<AnyConnection>,
    readers: &'r Readers,
    _slot: SemaphorePermit<'r>,
}

impl Readers {
    /// At most `max` connections to what `options` names, none opened yet.
    pub(crate) fn new(options: AnyConnectOptions, max: u32) -> Arc<Self> {
        Arc::new(Readers {
            options,
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(max.max(1) as usize),
            open: AtomicUsize::new(0),
        })
    }

    fn idle(&self) -> MutexGuard<'_, Vec<AnyConnection>> {
        // Only pushes and pops happen under the lock: no panic can leave it half-changed.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// An idle connection, or a new one when none is idle and fewer than `max` are out.
    pub(crate) async fn acquire(&self) -> sqlx::Result<Reader<'_>> {
        let slot = tokio::time::timeout(CONNECTION_WAIT, self.slots.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self.idle().pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let mut conn = AnyConnection::connect_with(&self.options).await?;
                super::sqlite_settings::apply(&mut conn).await?;
                self.open.fetch_add(1, Ordering::Relaxed);
                conn
            }
        };
        Ok(Reader {
            conn: Some(conn),
            readers: self,
            _slot: slot,
        })
    }

    /// An idle connection if one is there and may be lent, without waiting or opening.
    fn try_acquire_idle(&self) -> Option<Reader<'_>> {
        let slot = self.slots.try_acquire().ok()?;
        let conn = self.idle().pop()?;
        Some(Reader {
            conn: Some(conn),
            readers: self,
            _slot: slot,
        })
    }

    /// Runs `release` on each idle connection, lent out meanwhile so that no reader
    /// gets one and none is opened in its place; returns how many it ran on.
    /// Connections in use are left alone.
    pub(crate) async fn release_memory(&self, release: &'static str) -> sqlx::Result<usize> {
        let mut idle = Vec::new();
        while let Some(reader) = self.try_acquire_idle() {
            idle.push(reader);
        }
        let released = idle.len();
        for mut reader in idle {
            reader.conn().execute(release).await?;
        }
        Ok(released)
    }

    /// Connections open, idle or lent out.
    pub(crate) fn size(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Connections open and idle.
    pub(crate) fn num_idle(&self) -> usize {
        self.idle().len()
    }

    pub(crate) fn fetch_many<'e, 'q: 'e, E>(
        &'e self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        E: 'q + Execute<'q, Any>,
    {
        Box::pin(async_stream::try_stream! {
            let mut reader = self.acquire().await?;
            let mut failed = None;
            {
                let mut results = reader.conn().fetch_many(query);
                while let Some(result) = results.next().await {
                    match result {
                        Ok(item) => yield item,
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
            }
            if let Some(e) = failed {
                reader.judge(&e);
                Err(e)?;
            }
        })
    }

    pub(crate) fn fetch_optional<'e, 'q: 'e, E>(
        &'e self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        E: 'q + Execute<'q, Any>,
    {
        Box::pin(async move {
            let mut reader = self.acquire().await?;
            let result = reader.conn().fetch_optional(query).await;
            if let Err(e) = &result {
                reader.judge(e);
            }
            result
        })
    }

    pub(crate) fn prepare_with<'e>(
        &'e self,
        sql: sqlx::SqlStr,
        parameters: &'e [sqlx::any::AnyTypeInfo],
    ) -> BoxFuture<'e, Result<sqlx::any::AnyStatement, sqlx::Error>> {
        Box::pin(async move {
            let mut reader = self.acquire().await?;
            reader.conn().prepare_with(sql, parameters).await
        })
    }

    pub(crate) fn describe<'e>(
        &'e self,
        sql: sqlx::SqlStr,
    ) -> BoxFuture<'e, Result<sqlx::Describe<Any>, sqlx::Error>> {
        Box::pin(async move {
            let mut reader = self.acquire().await?;
            reader.conn().describe(sql).await
        })
    }
}

impl Reader<'_> {
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        self.conn
            .as_mut()
            .expect("a reader holds its connection until dropped")
    }

    /// Closes the connection instead of lending it again if `error` says the connection
    /// itself failed (its worker thread gone, the file unreadable), rather than a query.
    fn judge(&mut self, error: &sqlx::Error) {
        if matches!(
            error,
            sqlx::Error::WorkerCrashed | sqlx::Error::Io(_) | sqlx::Error::Protocol(_)
        ) {
            tracing::info!(%error, "closing a database read connection that failed");
            self.conn = None;
            self.readers.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        // Reads never begin a transaction; one that did is not lent to the next reader.
        if conn.is_in_transaction() {
            self.readers.open.fetch_sub(1, Ordering::Relaxed);
        } else {
            self.readers.idle().push(conn);
        }
    }
}
