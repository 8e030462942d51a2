//! The two ends of a file's bytes: the bounds an upload is checked against while it
//! streams ([`UploadPlan`]), and ranged reads of an immutable blob ([`ReadFile`]), sent
//! with sendfile when the connection allows it.

use std::fmt;
use std::fs::File;
use std::io::IoSliceMut;
use std::num::NonZeroU64;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use davgate_storage::blob::BlobReader;
use davgate_storage::{CreateMode, NameWas, NodeId, QuotaOverrun, StorageError};
use rustix::fs::Advice;
use rustix::io::ReadWriteFlags;

use crate::sendfile::{FileRanges, MAX_RANGE};

/// Where an upload goes and what bounds it.
#[derive(Debug)]
pub(crate) struct UploadPlan {
    pub(crate) parent: NodeId,
    pub(crate) name: String,
    pub(crate) mode: CreateMode,
    /// Whether a file was at the name when the request looked.
    pub(crate) name_was: NameWas,
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
    /// Refuses `len` bytes over the per-file limit or the quota.
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
    /// Where `used` and `replaced` come from.
    pub(crate) figures_from: FiguresFrom,
}

/// Where an upload's figures for the quota (the account's usage, the size of the file
/// it replaces) come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FiguresFrom {
    /// Rows kept across uploads, which may miss the last second's, or nothing read.
    Kept,
    /// The database, read when the kept figures would have refused the upload.
    ReadAgain,
}

impl UploadPlan {
    /// Whether a refusal over the quota would rest on kept figures alone.
    pub(crate) fn figures_may_lag(&self) -> bool {
        self.quota
            .is_some_and(|q| q.figures_from == FiguresFrom::Kept)
    }

    /// Takes the account's usage and the replaced file's size as the database has
    /// them now.
    pub(crate) fn figures_read_again(&mut self, used: u64, replaced: u64) {
        if let Some(q) = &mut self.quota {
            q.used = used;
            q.replaced = replaced;
            q.figures_from = FiguresFrom::ReadAgain;
        }
    }
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
    /// What the last placeholder found of the page cache for the one after it.
    next_chunk: Option<NextChunk>,
}

/// The page cache's state of the placeholder range starting at `offset`, as probed when
/// the one before it was handed out.
enum NextChunk {
    Cached {
        offset: u64,
    },
    /// Being read into the page cache.
    Filling {
        offset: u64,
        task: tokio::task::JoinHandle<()>,
    },
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
            next_chunk: None,
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
        if let Some(placeholder) = self.placeholder(&reader, count).await {
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
    async fn placeholder(&mut self, reader: &Arc<dyn BlobReader>, count: usize) -> Option<Bytes> {
        let ranges = self.ranges.clone()?;
        let file = reader.local_file()?;
        let left = reader.len().saturating_sub(self.position);
        let len = count
            .min(MAX_RANGE)
            .min(left.try_into().unwrap_or(usize::MAX));
        if len == 0 {
            return None;
        }
        // sendfile runs on the connection's task, so the chunk must be in the page cache
        // before it goes out: a sendfile that waited for the disk would hold up every
        // other connection on this worker. The next chunk is read in while this one is
        // sent, so a cold download overlaps the disk with the socket. Only a chunk whose
        // last page is not cached goes to the blocking pool (handing every chunk over
        // cost two thread switches each and a third of the download rate), and a
        // one-byte probe decides, as looking up every page would cost a tenth of the
        // server's CPU in a download.
        // The next chunk was probed over its longest length, so what was found holds for
        // this one, which is no longer.
        match self.next_chunk.take() {
            Some(NextChunk::Cached { offset }) if offset == self.position => {}
            Some(NextChunk::Filling { offset, task }) if offset == self.position => {
                let _ = task.await;
            }
            _ => {
                if !is_cached(&file, self.position + len as u64 - 1) {
                    let _ = fill_cache(file.clone(), self.position, len).await;
                }
            }
        }
        let next = self.position + len as u64;
        if next < reader.len() {
            let ahead = (reader.len() - next).min(MAX_RANGE as u64) as usize;
            self.next_chunk = Some(if is_cached(&file, next + ahead as u64 - 1) {
                NextChunk::Cached { offset: next }
            } else {
                NextChunk::Filling {
                    offset: next,
                    task: fill_cache(file.clone(), next, ahead),
                }
            });
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

/// Reads `len` bytes of `file` from `offset` into the page cache on the blocking pool;
/// the handle resolves when they are there.
///
/// The bytes go to /dev/null with sendfile: the kernel reads them as an ordinary read
/// would, never copying them out. `POSIX_FADV_WILLNEED` would not block, but it fills the
/// cache page by page, and sending a file cached that way cost a fifth more CPU than one
/// cached in the large folios an ordinary read makes (and that much download rate). Where
/// /dev/null cannot be opened, the advice still beats a sendfile that waits for the disk.
fn fill_cache(file: Arc<File>, offset: u64, len: usize) -> tokio::task::JoinHandle<()> {
    static DEV_NULL: OnceLock<Option<File>> = OnceLock::new();
    tokio::task::spawn_blocking(move || {
        let null = DEV_NULL.get_or_init(|| File::options().write(true).open("/dev/null").ok());
        let Some(null) = null else {
            let _ = rustix::fs::fadvise(
                &*file,
                offset,
                NonZeroU64::new(len as u64),
                Advice::WillNeed,
            );
            return;
        };
        let (mut at, end) = (offset, offset + len as u64);
        while at < end {
            let want = (end - at) as usize;
            match rustix::fs::sendfile(null, &*file, Some(&mut at), want) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
}

/// Whether the page holding byte `offset` of `file` is in the page cache: a read of that
/// one byte that may not wait for the disk. Errors count as "not cached", which costs a
/// needless read into the cache at most.
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
        // A fill the blocking pool has started runs to its end; one not started is dropped.
        if let Some(NextChunk::Filling { task, .. }) = self.next_chunk.take() {
            task.abort();
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
        if on_tmpfs(&file) {
            return;
        }
        rustix::fs::fadvise(&file, 0, None, Advice::DontNeed).unwrap();
        assert!(!is_cached(&file, last), "a dropped page is not cached");
    }

    /// Whether the page cache holds byte `offset` of `file` in a folio larger than a
    /// page: the page is mapped, and its frame looked up in /proc/self/pagemap and
    /// /proc/kpageflags. None where this process may not read frame numbers.
    fn in_large_folio(file: &File, offset: u64) -> Option<bool> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::FileExt;
        const PAGE: u64 = 4096;
        const PFN_MASK: u64 = (1 << 55) - 1;
        const COMPOUND_HEAD: u64 = 1 << 15;
        const COMPOUND_TAIL: u64 = 1 << 16;
        let at = offset & !(PAGE - 1);
        // SAFETY: a fresh shared read-only mapping of one page of a file that is neither
        // truncated nor written while mapped; only its first byte is read, then unmapped.
        let addr = unsafe {
            let addr = libc::mmap(
                std::ptr::null_mut(),
                PAGE as usize,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                at as libc::off_t,
            );
            assert_ne!(addr, libc::MAP_FAILED, "mmap");
            std::ptr::read_volatile(addr as *const u8);
            addr
        };
        let mut entry = [0u8; 8];
        let pagemap = File::open("/proc/self/pagemap").ok()?;
        let read = pagemap.read_exact_at(&mut entry, addr as u64 / PAGE * 8);
        // SAFETY: the mapping made above, no longer used.
        unsafe { libc::munmap(addr, PAGE as usize) };
        read.ok()?;
        let frame = u64::from_le_bytes(entry) & PFN_MASK;
        if frame == 0 {
            return None;
        }
        let mut flags = [0u8; 8];
        let kpageflags = File::open("/proc/kpageflags").ok()?;
        kpageflags.read_exact_at(&mut flags, frame * 8).ok()?;
        Some(u64::from_le_bytes(flags) & (COMPOUND_HEAD | COMPOUND_TAIL) != 0)
    }

    fn on_tmpfs(file: &File) -> bool {
        const TMPFS_MAGIC: rustix::fs::FsWord = 0x0102_1994;
        rustix::fs::fstatfs(file).unwrap().f_type == TMPFS_MAGIC
    }

    /// A file of `len` bytes in `dir` with none of its pages cached.
    fn cold_file(dir: &std::path::Path, name: &str, len: usize) -> File {
        let path = dir.join(name);
        let mut file = File::create(&path).unwrap();
        file.write_all(&vec![7u8; len]).unwrap();
        file.sync_all().unwrap();
        let file = File::open(&path).unwrap();
        rustix::fs::fadvise(&file, 0, None, Advice::DontNeed).unwrap();
        file
    }

    #[tokio::test]
    async fn chunks_are_cached_in_the_folios_ordinary_reads_would_make() {
        const CHUNK: usize = 4 << 20;
        let dir = tempfile::tempdir().unwrap();
        let file = Arc::new(cold_file(dir.path(), "blob", 3 * CHUNK));
        if on_tmpfs(&file) {
            return;
        }
        for i in 0..3 {
            fill_cache(file.clone(), (i * CHUNK) as u64, CHUNK)
                .await
                .unwrap();
        }
        assert!(is_cached(&file, 0), "the first page");
        assert!(is_cached(&file, (3 * CHUNK - 1) as u64), "the last page");

        // Sending from single pages costs a fifth more CPU than from large folios, where
        // the filesystem makes them: compare with what ordinary reads leave.
        let read = cold_file(dir.path(), "read", 3 * CHUNK);
        let mut chunk = vec![0u8; CHUNK];
        for i in 0..3 {
            std::os::unix::fs::FileExt::read_exact_at(&read, &mut chunk, (i * CHUNK) as u64)
                .unwrap();
        }
        let third = (2 * CHUNK + CHUNK / 2) as u64;
        if in_large_folio(&read, third) != Some(true) {
            return; // no frame numbers for this process, or no large folios on this fs
        }
        assert_eq!(in_large_folio(&file, third), Some(true));
    }
}
