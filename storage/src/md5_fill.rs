//! The MD5 of blobs whose upload did not finish it, filled in by one background thread
//! per store that waits while uploads stream.
//!
//! Two kinds of blob come here. An upload faster than MD5 left its MD5 lane behind (see
//! `blob::digest`) and, once committed, sends the hasher state and the offset it reached
//! ([`Md5Resume`]): only the rest of the blob is read. Blobs stored before uploads hashed
//! while streaming, or whose resume was lost (the process died, or the queue was full),
//! have no MD5 in their row; upkeep (`Store::queue_missing_md5`) queues them, and they
//! are read from the start. A read costs a core for seconds per gigabyte, so the thread
//! pauses whenever an upload or a large download of this process is streaming, and until
//! none has started or ended for `QUIET`: the transfers get the CPU first (a download
//! started right after a batch of uploads ran at 0.19–0.70× nginx's rate beside the
//! thread, 0.76–1.86× once it waited). A blob replaced or deleted meanwhile is skipped.
//! The queue is bounded; a blob that does not fit is found again by the next upkeep.
//! Blobs are read with `BlobReader::scan`: a local one past the page cache, a small one
//! kept in the database from its row.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::blob::{BlobKey, BlobStore, BlobWriter, Md5Prefix, Md5Resume, Md5Resumer, StagedBlob};
use crate::db::{Db, Wrote};
use crate::error::{Result, StorageError};

/// Blobs waiting for their MD5 at most; more wait for the next upkeep.
const QUEUE: usize = 1024;
/// How long no transfer may have started or ended before the thread reads. A sync's
/// small uploads leave gaps of a millisecond between them, which are no pause: hashing
/// in those gaps took CPU from the burst (8-client small files ran at 1,296 files/s
/// right after large uploads, 1,711–1,772 without MD5 work waiting).
const QUIET: Duration = Duration::from_millis(200);

/// The handle a store keeps: the queue into the thread and the count of streaming uploads.
pub(crate) struct Md5Filler {
    queue: SyncSender<Md5Resume>,
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

    /// Queues `key`, to be hashed from the start; returns false when the queue is full
    /// (or the thread gone).
    pub(crate) fn queue(&self, key: BlobKey) -> bool {
        let from_start = Md5Resume {
            key,
            prefix: Md5Prefix::default(),
        };
        self.queue.try_send(from_start).is_ok()
    }

    /// Where uploads send an MD5 they left unfinished. One that does not fit in the
    /// queue is dropped: upkeep finds the blob again.
    pub(crate) fn resumer(&self) -> Md5Resumer {
        let queue = self.queue.clone();
        Arc::new(move |resume| {
            let _ = queue.try_send(resume);
        })
    }

    /// Wraps a new upload's writer so that the thread waits until it is finished or
    /// dropped.
    pub(crate) fn streaming(&self, inner: Box<dyn BlobWriter>) -> Box<dyn BlobWriter> {
        Box::new(StreamingWriter {
            inner,
            _transfer: self.transfer(),
        })
    }

    /// A transfer the thread waits for until the returned guard is dropped.
    pub(crate) fn transfer(&self) -> StreamingTransfer {
        self.streaming.send_modify(|n| *n += 1);
        StreamingTransfer(Arc::clone(&self.streaming))
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
    fn run(mut self, runtime: &Handle, jobs: Receiver<Md5Resume>) {
        while let Ok(Md5Resume { key, prefix }) = jobs.recv() {
            match runtime.block_on(self.fill(&key, prefix)) {
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

    /// Hashes the blob after `prefix` in chunks (memory stays one chunk whatever its
    /// size) and records the MD5, unless it stopped being wanted first.
    async fn fill(&mut self, key: &BlobKey, prefix: Md5Prefix) -> Result<Outcome> {
        if let Some(stop) = self.after_uploads(key).await? {
            return Ok(stop);
        }
        let Md5Prefix {
            hashed: mut hasher,
            len: offset,
        } = prefix;
        let mut scan = self.blobs.open(key).await?.scan(offset);
        loop {
            // A transfer streams, or one started or ended since the last look.
            let transfers_seen =
                *self.streaming.borrow() > 0 || self.streaming.has_changed().unwrap_or(true);
            if transfers_seen && let Some(stop) = self.after_uploads(key).await? {
                return Ok(stop);
            }
            let read = scan.next_chunk().await?;
            if read.is_empty() {
                break;
            }
            hasher.update(read);
        }
        let mut tx = self.db.begin_write().await?;
        tx.wrote = Wrote::FileContent;
        sqlx::query("UPDATE blobs SET md5 = $1 WHERE key = $2 AND md5 IS NULL")
            .bind(hasher.finish())
            .bind(key.as_str())
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(Outcome::Filled)
    }

    /// Waits until no transfer has streamed for `QUIET`; then `None` if the blob still
    /// lacks its MD5, else why it is not to be hashed.
    async fn after_uploads(&mut self, key: &BlobKey) -> Result<Option<Outcome>> {
        loop {
            // Marks the count seen: a transfer that starts or ends later changes it.
            if self.streaming.wait_for(|n| *n == 0).await.is_err() {
                return Ok(Some(Outcome::StoreGone));
            }
            tokio::time::sleep(QUIET).await;
            match self.streaming.has_changed() {
                Ok(false) => break,
                Ok(true) => {}
                Err(_) => return Ok(Some(Outcome::StoreGone)),
            }
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
    _transfer: StreamingTransfer,
}

/// One streaming transfer (an upload, or a download: `Store::download_streaming`) that
/// background hashing waits for; counted until dropped.
pub struct StreamingTransfer(Arc<watch::Sender<usize>>);

impl Drop for StreamingTransfer {
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
