//! Small blobs kept in the database instead of the blob store below: a wrapper over any
//! store (local files or S3).
//!
//! A writer gathers the first bytes in memory. While the blob stays within the threshold
//! (`inline_blob_max`) nothing reaches the store below, and finishing yields a
//! [`StagedBlob`] that carries its bytes; the upload's commit writes them into
//! `blob_data` in the same transaction as the `blobs` row, so the commit's one fsync
//! covers the content too: no file create, no fsync of a file or of its directory. A
//! blob that grows past the threshold opens a writer on the store below, hands it what
//! was gathered and streams on as before. A read of a blob of known size looks first
//! where a blob of that size goes (`blob_data` up to the threshold, the store below past
//! it) and then in the other place, so blobs written under another threshold (0, or
//! before it existed) read as they always did. An inline blob's bytes go with its `blobs` row (see
//! `accounts::release_blobs`); deleting never reaches the store below for it, and a
//! crash cannot leave it behind as garbage.
//!
//! A blob never changes once committed, so the bytes a read found under a key are kept
//! in a cache bounded by bytes: a hot small file costs no database round trip, on any
//! node, and needs no invalidation.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use moka::sync::Cache;

use super::contract::{
    BlobKey, BlobReader, BlobStore, BlobWriter, IdleBlob, ListedBlob, StagedBlob,
};
use crate::db::Db;
use crate::error::Result;

/// `below`, with blobs up to `max` bytes kept in the database.
pub(crate) struct InlineBlobStore {
    below: Arc<dyn BlobStore>,
    db: Db,
    /// The largest blob kept inline; 0 keeps none (reads still find earlier ones).
    max: u64,
    /// The bytes of inline blobs read lately.
    read: Cache<BlobKey, Bytes>,
}

/// Bytes of inline blobs the read cache holds at most.
const READ_CACHE_BYTES: u64 = 16 << 20;

/// What a cached read costs beyond its bytes: the key, the entry, moka's bookkeeping.
const READ_CACHE_ENTRY_COST: u32 = 128;

impl InlineBlobStore {
    pub(crate) fn new(below: Arc<dyn BlobStore>, db: Db, max: u64) -> Self {
        let read = Cache::builder()
            .max_capacity(READ_CACHE_BYTES)
            .weigher(|_key: &BlobKey, bytes: &Bytes| {
                u32::try_from(bytes.len())
                    .unwrap_or(u32::MAX)
                    .saturating_add(READ_CACHE_ENTRY_COST)
            })
            .build();
        InlineBlobStore {
            below,
            db,
            max,
            read,
        }
    }

    /// The bytes of an inline blob, `None` when it is kept below.
    async fn inline_bytes(&self, key: &BlobKey) -> Result<Option<Bytes>> {
        if let Some(bytes) = self.read.get(key) {
            return Ok(Some(bytes));
        }
        let bytes: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT bytes FROM blob_data WHERE key = $1")
                .bind(key.as_str())
                .fetch_optional(&self.db.pool)
                .await?;
        let bytes = bytes.map(Bytes::from);
        if let Some(bytes) = &bytes {
            self.read.insert(key.clone(), bytes.clone());
        }
        Ok(bytes)
    }
}

#[async_trait]
impl BlobStore for InlineBlobStore {
    async fn create(&self) -> Result<Box<dyn BlobWriter>> {
        if self.max == 0 {
            return self.below.create().await;
        }
        Ok(Box::new(InlineWriter {
            below: Arc::clone(&self.below),
            max: self.max,
            stage: Stage::Gathering {
                chunks: Vec::new(),
                len: 0,
            },
        }))
    }

    async fn open(&self, key: &BlobKey) -> Result<Box<dyn BlobReader>> {
        match self.open_inline(key).await? {
            Some(reader) => Ok(reader),
            None => self.below.open(key).await,
        }
    }

    /// Asks the database first only for a blob of a size kept there: a larger one (most
    /// bytes a GET serves) costs its file's open alone. A blob kept there under a larger
    /// threshold than today's is found after the store below says it has none.
    async fn open_sized(&self, key: &BlobKey, size: u64) -> Result<Box<dyn BlobReader>> {
        if size <= self.max {
            return self.open(key).await;
        }
        match self.below.open(key).await {
            Err(e) if e.is_not_found() => match self.open_inline(key).await? {
                Some(reader) => Ok(reader),
                None => Err(e),
            },
            opened => opened,
        }
    }

    async fn delete(&self, key: &BlobKey) -> Result<()> {
        self.below.delete(key).await
    }

    async fn idle(&self) -> Result<Vec<Box<dyn IdleBlob>>> {
        self.below.idle().await
    }

    async fn abort_stale_uploads(&self) -> Result<usize> {
        self.below.abort_stale_uploads().await
    }

    async fn ready(&self) -> Result<()> {
        self.below.ready().await
    }

    /// The store below's objects: an inline blob is a row that goes with its `blobs`
    /// row, so it can be neither orphaned nor listed as one.
    async fn list(&self) -> Result<Vec<ListedBlob>> {
        self.below.list().await
    }
}

impl InlineBlobStore {
    /// The blob's bytes from `blob_data`, if it is kept there.
    async fn open_inline(&self, key: &BlobKey) -> Result<Option<Box<dyn BlobReader>>> {
        let bytes = self.inline_bytes(key).await?;
        Ok(bytes.map(|bytes| Box::new(InlineReader(bytes)) as Box<dyn BlobReader>))
    }
}

/// Where a writer's bytes are.
enum Stage {
    /// In memory, `len` bytes in all, at most the threshold.
    Gathering { chunks: Vec<Bytes>, len: u64 },
    /// Past the threshold: in a writer of the store below.
    Streaming(Box<dyn BlobWriter>),
}

struct InlineWriter {
    below: Arc<dyn BlobStore>,
    max: u64,
    stage: Stage,
}

#[async_trait]
impl BlobWriter for InlineWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        let gathered = match &mut self.stage {
            Stage::Streaming(writer) => return writer.write(data).await,
            Stage::Gathering { chunks, len } => {
                if *len + data.len() as u64 <= self.max {
                    *len += data.len() as u64;
                    chunks.push(data);
                    return Ok(());
                }
                std::mem::take(chunks)
            }
        };
        // Dropped on an error, the writer below deletes what it got.
        let mut writer = self.below.create().await?;
        for chunk in gathered {
            writer.write(chunk).await?;
        }
        writer.write(data).await?;
        self.stage = Stage::Streaming(writer);
        Ok(())
    }

    fn written(&self) -> u64 {
        match &self.stage {
            Stage::Gathering { len, .. } => *len,
            Stage::Streaming(writer) => writer.written(),
        }
    }

    async fn finish(self: Box<Self>) -> Result<Box<dyn StagedBlob>> {
        match self.stage {
            Stage::Streaming(writer) => writer.finish().await,
            Stage::Gathering { chunks, len } => {
                let bytes = match <[Bytes; 1]>::try_from(chunks) {
                    Ok([one]) => one,
                    Err(chunks) => {
                        let mut whole = BytesMut::with_capacity(len as usize);
                        for chunk in &chunks {
                            whole.extend_from_slice(chunk);
                        }
                        whole.freeze()
                    }
                };
                Ok(Box::new(InlineStaged {
                    key: BlobKey::time_ordered(),
                    bytes,
                }))
            }
        }
    }
}

/// A finished small blob: its bytes, in memory until the commit writes them. Dropping
/// it leaves nothing anywhere.
struct InlineStaged {
    key: BlobKey,
    bytes: Bytes,
}

impl StagedBlob for InlineStaged {
    fn key(&self) -> &BlobKey {
        &self.key
    }

    fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn inline(&self) -> Option<&[u8]> {
        Some(&self.bytes)
    }

    fn committed(self: Box<Self>) {}
}

/// An inline blob, read whole with its row.
struct InlineReader(Bytes);

#[async_trait]
impl BlobReader for InlineReader {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    async fn read_at(&self, offset: u64, max: usize) -> Result<Bytes> {
        let len = self.0.len();
        let start = usize::try_from(offset).unwrap_or(len).min(len);
        let end = start + max.min(len - start);
        Ok(self.0.slice(start..end))
    }
}
