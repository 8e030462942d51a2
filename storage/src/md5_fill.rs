//! The MD5 of blobs stored before uploads computed it while streaming, filled in by one
//! background thread per store that waits while uploads stream.
//!
//! Every upload now hashes both digests from its own bytes (see `blob::digest`), so
//! only blobs from older versions lack an MD5; upkeep (`Store::queue_missing_md5`)
//! queues them, and this thread reads each back once. That read costs a core for
//! seconds per gigabyte, so the thread pauses whenever an upload of this process is
//! streaming: the transfers get the CPU first. A blob replaced or deleted meanwhile is
//! skipped. The queue is bounded; a key that does not fit is found again by the next
//! upkeep. Small blobs kept in the database are read from their row through the store's
//! inline layer, never from the disk.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::blob::{BlobKey, BlobStore, BlobWriter, Md5Stream, StagedBlob};
use crate::db::Db;
use crate::error::{Result, StorageError};

/// Blobs waiting for their MD5 at most; more wait for the next upkeep.
const QUEUE: usize = 1024;
/// Bytes read and hashed between checks for a streaming upload.
const CHUNK: usize = 1 << 20;

/// The handle a store keeps: the queue into the thread and the count of streaming uploads.
pub(crate) struct Md5Filler {
    queue: SyncSender<BlobKey>,
    streaming: Arc<watch::Sender<usize>>,
}

impl Md5Filler {
    /// Starts the thread. It runs `thread_init` first and ends once the store and every
    /// writer it handed out are gone.
    pub(crate) fn start(
        db: Db,
        blobs: Arc<dyn BlobStore>,
        thread_init: Option<fn()>,
    ) -> Result<Self> {
        let (queue, jobs) = sync_channel(QUEUE);
        let streaming = Arc::new(watch::Sender::new(0));
        let worker = Worker {
            db,
            blobs,
            streaming: streaming.subscribe(),
        };
        let runtime = Handle::current();
        std::thread::Builder::new()
            .name("md5".into())
            .spawn(move || {
                if let Some(init) = thread_init {
                    init();
                }
                worker.run(&runtime, jobs);
            })?;
        Ok(Md5Filler { queue, streaming })
    }

    /// Queues `key`; returns false when the queue is full (or the thread gone).
    pub(crate) fn queue(&self, key: BlobKey) -> bool {
        self.queue.try_send(key).is_ok()
    }

    /// Wraps a new upload's writer so that the thread waits until it is finished or
    /// dropped.
    pub(crate) fn streaming(&self, inner: Box<dyn BlobWriter>) -> Box<dyn BlobWriter> {
        self.streaming.send_modify(|n| *n += 1);
        Box::new(StreamingWriter {
            inner,
            _counted: Counted(Arc::clone(&self.streaming)),
        })
    }
}

struct Worker {
    db: Db,
    blobs: Arc<dyn BlobStore>,
    streaming: watch::Receiver<usize>,
}

/// What became of one queued blob.
enum Outcome {
    Filled,
    /// Its MD5 is no longer wanted: the blob was released or filled by someone else.
    NotWanted,
    /// The store is gone.
    StoreGone,
}

impl Worker {
    fn run(mut self, runtime: &Handle, jobs: Receiver<BlobKey>) {
        while let Ok(key) = jobs.recv() {
            match runtime.block_on(self.fill(&key)) {
                Ok(Outcome::Filled | Outcome::NotWanted) => {}
                Ok(Outcome::StoreGone) => return,
                // Released between the check and the open.
                Err(StorageError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(blob = key.as_str(), error = %e, "could not compute an MD5; upkeep retries");
                }
            }
        }
    }

    /// Hashes the blob in chunks (memory stays one chunk whatever its size) and records
    /// the MD5, unless it stopped being wanted first.
    async fn fill(&mut self, key: &BlobKey) -> Result<Outcome> {
        if let Some(stop) = self.after_uploads(key).await? {
            return Ok(stop);
        }
        let reader = self.blobs.open(key).await?;
        let mut hasher = Md5Stream::default();
        let mut offset = 0u64;
        loop {
            let uploads_streaming = *self.streaming.borrow() > 0;
            if uploads_streaming && let Some(stop) = self.after_uploads(key).await? {
                return Ok(stop);
            }
            let chunk = reader.read_at(offset, CHUNK).await?;
            if chunk.is_empty() {
                break;
            }
            offset += chunk.len() as u64;
            hasher.update(&chunk);
        }
        let mut tx = self.db.begin_write().await?;
        sqlx::query("UPDATE blobs SET md5 = $1 WHERE key = $2 AND md5 IS NULL")
            .bind(hasher.finish())
            .bind(key.as_str())
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(Outcome::Filled)
    }

    /// Waits until no upload streams; then `None` if the blob still lacks its MD5, else
    /// why it is not to be hashed.
    async fn after_uploads(&mut self, key: &BlobKey) -> Result<Option<Outcome>> {
        if self.streaming.wait_for(|n| *n == 0).await.is_err() {
            return Ok(Some(Outcome::StoreGone));
        }
        // No row: released. A row with an MD5: filled by another process meanwhile.
        let row: Option<Option<String>> =
            sqlx::query_scalar("SELECT md5 FROM blobs WHERE key = $1")
                .bind(key.as_str())
                .fetch_optional(&self.db.pool)
                .await?;
        Ok(match row {
            Some(None) => None,
            _ => Some(Outcome::NotWanted),
        })
    }
}

/// An upload's writer, counted as streaming until it is finished or dropped.
struct StreamingWriter {
    inner: Box<dyn BlobWriter>,
    _counted: Counted,
}

/// One streaming upload in the count, taken out when dropped.
struct Counted(Arc<watch::Sender<usize>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

#[async_trait]
impl BlobWriter for StreamingWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.inner.write(data).await
    }

    fn written(&self) -> u64 {
        self.inner.written()
    }

    async fn finish(self: Box<Self>) -> Result<Box<dyn StagedBlob>> {
        // Counted until the final sync is done, since that is still the upload's work.
        let this = *self;
        this.inner.finish().await
    }
}
