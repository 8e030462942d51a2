//! Group commit: writes that arrive while a batch is being written share the next
//! transaction, its COMMIT and its log fsync.
//!
//! SQLite takes one writer at a time (the write gate), and what a small write costs is
//! mostly per transaction and per hand-off to SQLite's thread, not per row: eight
//! uploads finishing together used to queue for the gate and pay eight BEGINs, eight
//! COMMITs and every hand-off of the gate in turn. Now each write joins a queue; when no
//! batch is being written a task starts that takes what is queued (at most
//! [`MAX_BATCH`]), writes each item in order in one transaction and commits, and the
//! items that arrived meanwhile form the next batch. There is no timer: a lone write
//! goes at once, as before. The task, not the request, does the writing, so a client
//! that hangs up cannot cancel a batch that others wait on.
//!
//! Each item keeps its own answer. One the item refuses before it writes anything (for
//! an upload: its name taken, its folder gone, the quota) leaves the others alone. If a
//! statement fails partway (a full disk), the transaction is rolled back and each item
//! of the batch is written on its own, so each gets its own error. After the COMMIT each
//! item is handed the commit's [`Durability`], and its writer waits for the shared log
//! fsync (see `wal_flush`) before it answers, while the next batch is already written.
//!
//! What a write is, is the item's business ([`BatchItem`]): the uploads of `tree::write`
//! are the one kind today.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::{Db, Durability, WriteTx, Wrote};
use crate::error::StorageError;

/// Items in one transaction at most: bounds how long the write gate is held.
const MAX_BATCH: usize = 64;

/// One write of a batch.
#[async_trait]
pub(crate) trait BatchItem: Send {
    /// Writes the item into `tx`, or records why it refuses to without writing
    /// anything and returns `Ok`. An `Err` means it may have written part: the batch is
    /// rolled back. Called again, on a fresh transaction, when that happens.
    async fn apply(&mut self, tx: &mut WriteTx) -> Result<(), StorageError>;
    /// The batch committed, or failed with `Err` (nothing of it was committed, or it
    /// is unknown whether the COMMIT landed): the item answers its writer.
    fn finish(self: Box<Self>, commit: Result<Arc<Durability>, StorageError>);
    /// The most the item writes: the batch's transaction says it wrote the most any
    /// of its items does (see `changes`).
    fn wrote(&self) -> Wrote;
}

type Item = Box<dyn BatchItem>;

/// The writes waiting for the next batch, and whether a task is writing batches.
#[derive(Default)]
pub(crate) struct WriteBatches {
    state: Mutex<Queue>,
    /// Transactions begun for batches so far.
    #[cfg(test)]
    pub(crate) begun: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Item>,
    writing: bool,
}

impl WriteBatches {
    /// Queues `item` for the next batch; the item answers its writer when that batch
    /// is done (see [`BatchItem::finish`]).
    pub(crate) fn push(self: &Arc<Self>, db: &Db, item: Item) {
        // The request's statement count shows the transaction, as written alone.
        super::count_one();
        let start_writer = {
            let mut queue = self.queue();
            queue.waiting.push_back(item);
            !std::mem::replace(&mut queue.writing, true)
        };
        if start_writer {
            let batches = Arc::clone(self);
            let db = db.clone();
            tokio::spawn(async move { batches.write_until_empty(&db).await });
        }
    }

    /// Items waiting for a batch.
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.queue().waiting.len()
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        // The lock guards plain pushes and drains: no panic can leave it half-changed.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes batches until the queue is empty.
    async fn write_until_empty(&self, db: &Db) {
        let writer = WriterGuard(self);
        // Bounded: each turn takes at least one item off the queue, and ends the task
        // when there is none.
        loop {
            let batch: Vec<Item> = {
                let mut queue = self.queue();
                if queue.waiting.is_empty() {
                    queue.writing = false;
                    // Its drop would take the lock held here, and has nothing to do.
                    std::mem::forget(writer);
                    return;
                }
                let take = queue.waiting.len().min(MAX_BATCH);
                queue.waiting.drain(..take).collect()
            };
            #[cfg(test)]
            self.begun.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            write_batch(db, batch).await;
        }
    }
}

/// Ends the writing task's turn if it stops without emptying the queue (a panic, or
/// the runtime shutting down): the items still queued are dropped, which answers their
/// writers (see `tree::write`), and the next write starts a new task.
struct WriterGuard<'a>(&'a WriteBatches);

impl Drop for WriterGuard<'_> {
    fn drop(&mut self) {
        let mut queue = self.0.queue();
        queue.writing = false;
        queue.waiting.clear();
    }
}

/// Writes `batch` in one transaction and finishes each item in it.
pub(crate) async fn write_batch(db: &Db, mut batch: Vec<Item>) {
    let mut tx = match db.begin_write().await {
        Ok(tx) => tx,
        Err(e) => return write_each_alone(db, batch, e).await,
    };
    tx.wrote = batch
        .iter()
        .map(|item| item.wrote())
        .max()
        .unwrap_or(Wrote::Anything);
    for item in &mut batch {
        if let Err(e) = item.apply(&mut tx).await {
            // Rolled back when the connection is next used.
            drop(tx);
            return write_each_alone(db, batch, e).await;
        }
    }
    match tx.commit_undurable().await {
        Ok(durability) => {
            let durability = Arc::new(durability);
            for item in batch {
                item.finish(Ok(Arc::clone(&durability)));
            }
        }
        Err(e) => {
            // Whether the COMMIT reached the database is unknown, so nothing is tried
            // again: every item of the batch fails with its error.
            let mut batch = batch.into_iter();
            let others = batch.len().saturating_sub(1);
            for item in batch.by_ref().take(others) {
                item.finish(Err(same_error(&e)));
            }
            if let Some(last) = batch.next() {
                last.finish(Err(e));
            }
        }
    }
}

/// After a batch failed before its COMMIT (nothing of it is in the database): writes each
/// item alone so that each gets its own answer; a batch of one gets `error`.
async fn write_each_alone(db: &Db, batch: Vec<Item>, error: StorageError) {
    if batch.len() == 1 {
        if let Some(item) = batch.into_iter().next() {
            item.finish(Err(error));
        }
        return;
    }
    tracing::debug!(%error, writes = batch.len(), "a batch of writes failed; writing each alone");
    for item in batch {
        Box::pin(write_batch(db, vec![item])).await;
    }
}

/// The error of a failed COMMIT, for each further item of its batch: the same message,
/// and still recognised as a full disk where it was one.
fn same_error(error: &StorageError) -> StorageError {
    let kind = if error.is_out_of_space() {
        std::io::ErrorKind::StorageFull
    } else {
        std::io::ErrorKind::Other
    };
    StorageError::Io(std::io::Error::new(kind, error.to_string()))
}
