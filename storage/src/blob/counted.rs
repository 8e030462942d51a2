//! A blob store that counts its own failures: every error a backend returns (a full
//! disk, a vanished blob, an unreachable object store) adds one, for an operator's
//! graph. Wraps any backend; the readers and writers it hands out count too.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;

use super::contract::{
    BlobKey, BlobReader, BlobScan, BlobStore, BlobWriter, IdleBlob, ListedBlob, StagedBlob,
};
use crate::error::Result;

/// `inner`, with its errors counted.
pub(crate) struct CountedBlobStore {
    inner: Arc<dyn BlobStore>,
    errors: Arc<AtomicU64>,
}

impl CountedBlobStore {
    pub(crate) fn new(inner: Arc<dyn BlobStore>) -> Self {
        CountedBlobStore {
            inner,
            errors: Arc::default(),
        }
    }

    /// The counter every error of this store adds to.
    pub(crate) fn errors(&self) -> Arc<AtomicU64> {
        self.errors.clone()
    }
}

/// Counts `result` in `errors` if it failed, and hands it on.
fn counted<T>(errors: &AtomicU64, result: Result<T>) -> Result<T> {
    if result.is_err() {
        errors.fetch_add(1, Ordering::Relaxed);
    }
    result
}

#[async_trait]
impl BlobStore for CountedBlobStore {
    async fn create(&self) -> Result<Box<dyn BlobWriter>> {
        let writer = counted(&self.errors, self.inner.create().await)?;
        Ok(Box::new(CountedWriter {
            inner: writer,
            errors: self.errors.clone(),
        }))
    }

    async fn open(&self, key: &BlobKey) -> Result<Box<dyn BlobReader>> {
        let reader = counted(&self.errors, self.inner.open(key).await)?;
        Ok(Box::new(CountedReader {
            inner: reader,
            errors: self.errors.clone(),
        }))
    }

    async fn open_sized(&self, key: &BlobKey, size: u64) -> Result<Box<dyn BlobReader>> {
        let reader = counted(&self.errors, self.inner.open_sized(key, size).await)?;
        Ok(Box::new(CountedReader {
            inner: reader,
            errors: self.errors.clone(),
        }))
    }

    async fn delete(&self, key: &BlobKey) -> Result<()> {
        counted(&self.errors, self.inner.delete(key).await)
    }

    async fn idle(&self) -> Result<Vec<Box<dyn IdleBlob>>> {
        let idle = counted(&self.errors, self.inner.idle().await)?;
        Ok(idle
            .into_iter()
            .map(|inner| {
                Box::new(CountedIdle {
                    inner,
                    errors: self.errors.clone(),
                }) as Box<dyn IdleBlob>
            })
            .collect())
    }

    async fn abort_stale_uploads(&self) -> Result<usize> {
        counted(&self.errors, self.inner.abort_stale_uploads().await)
    }

    async fn ready(&self) -> Result<()> {
        counted(&self.errors, self.inner.ready().await)
    }

    async fn list(&self) -> Result<Vec<ListedBlob>> {
        counted(&self.errors, self.inner.list().await)
    }
}

struct CountedWriter {
    inner: Box<dyn BlobWriter>,
    errors: Arc<AtomicU64>,
}

#[async_trait]
impl BlobWriter for CountedWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        counted(&self.errors, self.inner.write(data).await)
    }

    fn written(&self) -> u64 {
        self.inner.written()
    }

    async fn finish(self: Box<Self>) -> Result<Box<dyn StagedBlob>> {
        counted(&self.errors, self.inner.finish().await)
    }
}

struct CountedReader {
    inner: Box<dyn BlobReader>,
    errors: Arc<AtomicU64>,
}

#[async_trait]
impl BlobReader for CountedReader {
    fn len(&self) -> u64 {
        self.inner.len()
    }

    async fn read_at(&self, offset: u64, max: usize) -> Result<Bytes> {
        counted(&self.errors, self.inner.read_at(offset, max).await)
    }

    fn local_file(&self) -> Option<Arc<std::fs::File>> {
        self.inner.local_file()
    }

    fn scan(self: Box<Self>, offset: u64) -> Box<dyn BlobScan> {
        Box::new(CountedScan {
            inner: self.inner.scan(offset),
            errors: self.errors,
        })
    }
}

struct CountedScan {
    inner: Box<dyn BlobScan>,
    errors: Arc<AtomicU64>,
}

#[async_trait]
impl BlobScan for CountedScan {
    async fn next_chunk(&mut self) -> Result<&[u8]> {
        counted(&self.errors, self.inner.next_chunk().await)
    }
}

struct CountedIdle {
    inner: Box<dyn IdleBlob>,
    errors: Arc<AtomicU64>,
}

#[async_trait]
impl IdleBlob for CountedIdle {
    fn key(&self) -> &BlobKey {
        self.inner.key()
    }

    async fn delete(self: Box<Self>) -> Result<()> {
        let errors = Arc::clone(&self.errors);
        counted(&errors, self.inner.delete().await)
    }
}
