//! Open files: streaming, size-limited uploads and ranged reads of immutable blobs.
//!
//! An upload counts bytes as they arrive and stops the moment the per-file limit or the
//! quota is passed; nothing is written to the tree until the body has ended, been made
//! durable and committed in one transaction. Dropping an upload at any earlier point
//! (refusal, client disconnect, server shutdown) drops its blob writer, which deletes
//! the staged bytes.

use std::fmt;
use std::io::SeekFrom;
use std::num::NonZeroU64;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use dav_server::fs::{DavFile, DavMetaData, FsError, FsFuture, FsResult};
use davgate_storage::blob::{BlobReader, BlobWriter};
use davgate_storage::{Account, CreateMode, NewContent, NodeId, QuotaOverrun, StorageError, Store};
use futures_util::FutureExt;
use rustix::fs::Advice;

use super::errors::FilesError;
use super::meta::NodeMeta;
use crate::sendfile::{FileRanges, MAX_RANGE};

/// Where an upload goes and what bounds it.
#[derive(Debug)]
pub(crate) struct UploadPlan {
    pub(crate) parent: NodeId,
    pub(crate) name: String,
    pub(crate) mode: CreateMode,
    /// Per-file limit in bytes.
    pub(crate) limit: u64,
    /// The account's quota, if it has one.
    pub(crate) quota: Option<QuotaRoom>,
    /// Length the client announced (`Content-Length` or `X-Expected-Entity-Length`).
    pub(crate) expected: Option<u64>,
    pub(crate) mtime_ms: Option<i64>,
    pub(crate) content_type: Option<String>,
    /// The client's `OC-Checksum` ("SHA1:hex"), verified before the commit.
    pub(crate) checksum: Option<String>,
}

impl UploadPlan {
    /// Refuses an announced length over a limit before a byte of the body is read.
    pub(crate) fn check_announced(&self) -> Result<(), StorageError> {
        match self.expected {
            Some(len) => self.check(len),
            None => Ok(()),
        }
    }

    pub(crate) fn check(&self, len: u64) -> Result<(), StorageError> {
        if len > self.limit {
            return Err(StorageError::TooLarge { limit: self.limit });
        }
        if let Some(q) = &self.quota
            && q.used + len > q.quota + q.replaced
        {
            return Err(StorageError::QuotaExceeded(QuotaOverrun {
                quota: q.quota,
                used: q.used,
                needed: len.saturating_sub(q.replaced),
            }));
        }
        Ok(())
    }
}

/// What an upload may use of the account's quota.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QuotaRoom {
    pub(crate) quota: u64,
    pub(crate) used: u64,
    /// Size of the file the upload replaces: its bytes are freed by the commit.
    pub(crate) replaced: u64,
}

/// What an upload needs from the request's file system: where to commit, and where to
/// leave what the user should be told. `fs::AccountFs` implements it; naming the trait
/// here rather than that type keeps this module below `fs`, which builds uploads.
pub(crate) trait UploadHost: Send + Sync + 'static {
    /// The store to commit to.
    fn store(&self) -> &Store;
    /// The account uploading, as read for this request.
    fn account(&self) -> &Account;
    /// Remembers why the request was refused.
    fn refuse(&self, refusal: FilesError);
    /// Turns a storage error into dav-server's, remembering what to tell the user.
    fn fail(&self, err: StorageError) -> FsError;
    /// Forgets nodes resolved earlier in the request: the tree changed.
    fn changed(&self);
}

/// A PUT body on its way into a blob.
pub(crate) struct UploadFile {
    fs: Box<dyn UploadHost>,
    plan: UploadPlan,
    writer: Option<Box<dyn BlobWriter>>,
    committed: Option<NodeMeta>,
}

impl UploadFile {
    pub(crate) fn new(
        fs: Box<dyn UploadHost>,
        plan: UploadPlan,
        writer: Box<dyn BlobWriter>,
    ) -> Self {
        UploadFile {
            fs,
            plan,
            writer: Some(writer),
            committed: None,
        }
    }

    fn refuse(&mut self, refusal: StorageError) -> FsError {
        // Dropping the writer deletes what was staged so far.
        self.writer = None;
        self.fs.fail(refusal)
    }

    async fn write(&mut self, data: Bytes) -> FsResult<()> {
        let Some(writer) = self.writer.as_mut() else {
            return Err(FsError::GeneralFailure);
        };
        let total = writer.written() + data.len() as u64;
        if let Err(refusal) = self.plan.check(total) {
            return Err(self.refuse(refusal));
        }
        let result = writer.write(data).await;
        result.map_err(|e| {
            self.writer = None;
            self.fs.fail(e)
        })
    }

    async fn commit(&mut self) -> FsResult<()> {
        let Some(writer) = self.writer.take() else {
            return Err(FsError::GeneralFailure);
        };
        if let Some(expected) = self.plan.expected
            && writer.written() != expected
        {
            let received = writer.written();
            self.fs.refuse(FilesError::ShortBody { expected, received });
            return Err(FsError::GeneralFailure);
        }
        let blob = writer.finish().await.map_err(|e| self.fs.fail(e))?;
        if let Some(claim) = &self.plan.checksum
            && blob.digests().and_then(|d| d.verify(claim)) == Some(false)
        {
            // Dropping the staged blob deletes it: nothing of a corrupted upload stays.
            self.fs.refuse(FilesError::ChecksumMismatch {
                claim: claim.clone(),
            });
            return Err(FsError::GeneralFailure);
        }
        let content = NewContent {
            blob,
            mtime_ms: self.plan.mtime_ms,
            content_type: self.plan.content_type.clone(),
        };
        let account = self.fs.account().id;
        let store = self.fs.store();
        let result = store
            .commit_upload(
                account,
                self.plan.parent,
                &self.plan.name,
                content,
                self.plan.mode,
            )
            .await;
        self.fs.changed();
        let node = result.map_err(|e| self.fs.fail(e))?;
        self.committed = Some(NodeMeta::new(&node, self.fs.account().used_bytes));
        Ok(())
    }
}

impl fmt::Debug for UploadFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadFile")
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

impl DavFile for UploadFile {
    fn metadata(&mut self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        let meta = self.committed.clone();
        async move {
            meta.map(|m| Box::new(m) as Box<dyn DavMetaData>)
                .ok_or(FsError::GeneralFailure)
        }
        .boxed()
    }

    fn write_buf(&mut self, mut buf: Box<dyn Buf + Send>) -> FsFuture<'_, ()> {
        let data = buf.copy_to_bytes(buf.remaining());
        self.write(data).boxed()
    }

    fn write_bytes(&mut self, buf: Bytes) -> FsFuture<'_, ()> {
        self.write(buf).boxed()
    }

    fn read_bytes(&mut self, _count: usize) -> FsFuture<'_, Bytes> {
        async { Err(FsError::Forbidden) }.boxed()
    }

    fn seek(&mut self, _pos: SeekFrom) -> FsFuture<'_, u64> {
        // Partial PUTs are refused before dav-server sees them (see files::precheck).
        async { Err(FsError::NotImplemented) }.boxed()
    }

    /// dav-server calls `flush` once, after the whole body arrived: the commit point.
    fn flush(&mut self) -> FsFuture<'_, ()> {
        self.commit().boxed()
    }
}

/// A committed file opened for GET, or the empty stand-in a LOCK creates.
pub(crate) struct ReadFile {
    reader: Option<Arc<dyn BlobReader>>,
    meta: Option<NodeMeta>,
    position: u64,
    /// The next chunk, being read while the previous one is sent: reading and sending
    /// overlap, and a GET holds at most two chunks.
    ahead: Option<ReadAhead>,
    /// Set on plain HTTP/1 GETs: chunks become placeholders the connection sends with
    /// sendfile, so the bytes never pass through this process.
    ranges: Option<FileRanges>,
}

/// A chunk read in the background, from `offset`.
struct ReadAhead {
    offset: u64,
    task: tokio::task::JoinHandle<davgate_storage::Result<Bytes>>,
}

impl ReadFile {
    pub(crate) fn new(
        reader: Box<dyn BlobReader>,
        meta: NodeMeta,
        ranges: Option<FileRanges>,
    ) -> Self {
        ReadFile {
            reader: Some(Arc::from(reader)),
            meta: Some(meta),
            position: 0,
            ahead: None,
            ranges,
        }
    }

    pub(crate) fn empty() -> Self {
        ReadFile {
            reader: None,
            meta: None,
            position: 0,
            ahead: None,
            ranges: None,
        }
    }

    /// A placeholder for the next `count` bytes that the connection sends straight from
    /// the blob's file, when both allow it.
    fn placeholder(&mut self, reader: &Arc<dyn BlobReader>, count: usize) -> Option<Bytes> {
        let ranges = self.ranges.as_ref()?;
        let file = reader.local_file()?;
        let left = reader.len().saturating_sub(self.position);
        let len = count
            .min(MAX_RANGE)
            .min(left.try_into().unwrap_or(usize::MAX));
        if len == 0 {
            return None;
        }
        // sendfile runs on the connection's task: ask the kernel to read the next chunk
        // now, so it finds the pages cached instead of waiting for the disk. The advice
        // only queues the reads, so it is given here rather than on the blocking pool,
        // where handing it over cost two thread switches per chunk and a third of the
        // download rate.
        let next = self.position + len as u64;
        if next < reader.len() {
            let _ = rustix::fs::fadvise(
                &*file,
                next,
                NonZeroU64::new(count as u64),
                Advice::WillNeed,
            );
        }
        let chunk = ranges.chunk(file, self.position, len);
        self.position += len as u64;
        Some(chunk)
    }

    /// The chunk at the current position: the one read ahead if it is that one.
    async fn chunk(
        &mut self,
        reader: &Arc<dyn BlobReader>,
        count: usize,
    ) -> Result<Bytes, FsError> {
        let read = match self.ahead.take() {
            Some(ahead) if ahead.offset == self.position => match ahead.task.await {
                Ok(read) => read,
                Err(e) => Err(std::io::Error::other(format!("read-ahead failed: {e}")).into()),
            },
            stale => {
                if let Some(stale) = stale {
                    stale.task.abort();
                }
                reader.read_at(self.position, count).await
            }
        };
        read.map_err(|e| {
            tracing::error!(error = %e, "blob read failed");
            FsError::GeneralFailure
        })
    }

    fn len(&self) -> u64 {
        self.reader.as_ref().map_or(0, |r| r.len())
    }
}

impl fmt::Debug for ReadFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadFile")
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

impl Drop for ReadFile {
    fn drop(&mut self) {
        if let Some(ahead) = self.ahead.take() {
            ahead.task.abort();
        }
    }
}

impl DavFile for ReadFile {
    fn metadata(&mut self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        let meta = self.meta.clone();
        async move {
            meta.map(|m| Box::new(m) as Box<dyn DavMetaData>)
                .ok_or(FsError::NotFound)
        }
        .boxed()
    }

    fn write_buf(&mut self, _buf: Box<dyn Buf + Send>) -> FsFuture<'_, ()> {
        async { Err(FsError::Forbidden) }.boxed()
    }

    fn write_bytes(&mut self, _buf: Bytes) -> FsFuture<'_, ()> {
        async { Err(FsError::Forbidden) }.boxed()
    }

    fn read_bytes(&mut self, count: usize) -> FsFuture<'_, Bytes> {
        async move {
            let Some(reader) = self.reader.clone() else {
                return Ok(Bytes::new());
            };
            if let Some(placeholder) = self.placeholder(&reader, count) {
                return Ok(placeholder);
            }
            let data = self.chunk(&reader, count).await?;
            self.position += data.len() as u64;
            if !data.is_empty() && self.position < reader.len() {
                let offset = self.position;
                self.ahead = Some(ReadAhead {
                    offset,
                    task: tokio::spawn(async move { reader.read_at(offset, count).await }),
                });
            }
            Ok(data)
        }
        .boxed()
    }

    fn seek(&mut self, pos: SeekFrom) -> FsFuture<'_, u64> {
        let len = self.len() as i128;
        let target = match pos {
            SeekFrom::Start(n) => n as i128,
            SeekFrom::End(n) => len + n as i128,
            SeekFrom::Current(n) => self.position as i128 + n as i128,
        };
        let result = if (0..=len).contains(&target) {
            self.position = target as u64;
            Ok(self.position)
        } else {
            Err(FsError::GeneralFailure)
        };
        async move { result }.boxed()
    }

    fn flush(&mut self) -> FsFuture<'_, ()> {
        async { Ok(()) }.boxed()
    }
}
