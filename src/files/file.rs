//! The two ends of a file's bytes: the bounds an upload is checked against while it
//! streams ([`UploadPlan`]), and ranged reads of an immutable blob ([`ReadFile`]), sent
//! with sendfile when the connection allows it.

use std::fmt;
use std::fs::File;
use std::io::IoSliceMut;
use std::num::NonZeroU64;
use std::sync::Arc;

use bytes::Bytes;
use davgate_storage::blob::BlobReader;
use davgate_storage::{CreateMode, NodeId, QuotaOverrun, StorageError};
use rustix::fs::Advice;
use rustix::io::ReadWriteFlags;

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

/// The most bytes a GET reads into memory at once; it holds two such chunks at most.
const BUFFERED_CHUNK: usize = 1024 * 1024;

/// A committed file opened for GET or HEAD.
pub(crate) struct ReadFile {
    reader: Arc<dyn BlobReader>,
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
    pub(crate) fn new(reader: Box<dyn BlobReader>, ranges: Option<FileRanges>) -> Self {
        ReadFile {
            reader: Arc::from(reader),
            position: 0,
            ahead: None,
            ranges,
        }
    }

    /// Where the next read starts.
    pub(crate) fn position(&self) -> u64 {
        self.position
    }

    /// Moves the next read to `position`.
    pub(crate) fn seek(&mut self, position: u64) {
        self.position = position;
    }

    /// The next bytes, at most `count` (fewer at the end of the file, none past it): a
    /// sendfile placeholder of up to [`MAX_RANGE`] when the connection takes them, else up
    /// to [`BUFFERED_CHUNK`] bytes read while the previous chunk was being sent.
    pub(crate) async fn read(&mut self, count: usize) -> std::io::Result<Bytes> {
        let reader = self.reader.clone();
        if let Some(placeholder) = self.placeholder(&reader, count) {
            return Ok(placeholder);
        }
        let count = count.min(BUFFERED_CHUNK);
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
        // sendfile runs on the connection's task: when the next chunk is not cached, ask
        // the kernel to read it now, so sendfile finds it there instead of waiting for
        // the disk. The advice only queues the reads, so it is given here rather than on
        // the blocking pool, where handing it over cost two thread switches per chunk
        // and a third of the download rate. On a cached file the advice would still look
        // up every page (a tenth of the server's CPU in a download), so a one-byte probe
        // of the chunk's last page decides.
        let next = self.position + len as u64;
        if next < reader.len() {
            let ahead = (reader.len() - next).min(MAX_RANGE as u64);
            if !is_cached(&file, next + ahead - 1) {
                let _ = rustix::fs::fadvise(&*file, next, NonZeroU64::new(ahead), Advice::WillNeed);
            }
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
    ) -> std::io::Result<Bytes> {
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
            std::io::Error::other("the file could not be read")
        })
    }
}

/// Whether the page holding byte `offset` of `file` is in the page cache: a read of that
/// one byte that may not wait for the disk. Errors count as "not cached", which costs an
/// advice at most.
fn is_cached(file: &File, offset: u64) -> bool {
    let mut byte = [0u8; 1];
    rustix::io::preadv2(
        file,
        &mut [IoSliceMut::new(&mut byte)],
        offset,
        ReadWriteFlags::NOWAIT,
    )
    .is_ok_and(|n| n == 1)
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

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_page_counts_as_cached_once_read_and_not_once_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let mut file = File::create(&path).unwrap();
        file.write_all(&vec![7u8; 1 << 20]).unwrap();
        file.sync_all().unwrap();
        let file = File::open(&path).unwrap();
        let last = (1 << 20) - 1;
        std::fs::read(&path).unwrap();
        assert!(is_cached(&file, last), "a page just read is cached");
        assert!(!is_cached(&file, 1 << 20), "past the end is no cached byte");

        // tmpfs keeps its pages whatever the advice: there nothing is ever uncached.
        const TMPFS_MAGIC: rustix::fs::FsWord = 0x0102_1994;
        if rustix::fs::fstatfs(&file).unwrap().f_type == TMPFS_MAGIC {
            return;
        }
        rustix::fs::fadvise(&file, 0, None, Advice::DontNeed).unwrap();
        assert!(!is_cached(&file, last), "a dropped page is not cached");
    }
}
