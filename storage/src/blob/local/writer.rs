//! Writing one local blob file: double-buffered, past its first megabytes with direct I/O,
//! synced as it streams.
//!
//! Bytes gather in a buffer aligned for direct I/O, and a full buffer is written on the
//! blocking pool while the next one fills: 1 MiB at a time for the first 4 MiB, then
//! 4 MiB at a time (`blob::hand_off`). Past `DIRECT_AFTER` bytes the file
//! switches to direct I/O (`O_DIRECT`): an upload must reach the disk before its commit
//! anyway, and copying gigabytes through the page cache on the way cost more CPU than
//! receiving them (and pushed out the cached small files a sync reads back). The
//! unaligned tail goes through the page cache, and on a filesystem that refuses direct
//! I/O so does everything. Syncs run in the background every `SYNC_EVERY` bytes, so the
//! final sync waits only for the tail.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
use rustix::io::Errno;
use tokio::task::JoinHandle;

use super::staged::{LocalStaged, blocking, joined, remove_if_present};
use crate::blob::contract::{BlobKey, BlobWriter, StagedBlob};
use crate::blob::hand_off;
use crate::error::Result;

/// Bytes per write system call at most: big enough that the hop to the blocking pool is
/// amortised, small enough that memory per upload stays fixed (two of them), and few
/// enough hops that the next download stays fast (`blob::hand_off`).
const WRITE_BUFFER: usize = hand_off::HAND_OFF;
/// Alignment of direct I/O buffers, offsets and lengths: the largest logical block size
/// in use (4 KiB sectors), which also satisfies 512-byte ones.
pub(super) const ALIGN: usize = 4096;
/// Bytes written through the page cache before direct I/O starts: most files of a sync
/// are smaller and are read back soon, which the page cache serves. The first hand-offs
/// end there, so the switch happens between writes.
const DIRECT_AFTER: u64 = WRITE_BUFFER as u64;
/// Bytes between background syncs. The upload must be durable before its commit;
/// syncing as it streams overlaps the disk's work with the network's.
const SYNC_EVERY: u64 = 32 * 1024 * 1024;

/// How the file's writes reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caching {
    /// Through the page cache, until the file is past `DIRECT_AFTER`.
    PageCache,
    /// Straight from the aligned buffer to the device.
    Direct,
    /// Through the page cache to the end: the filesystem refused direct I/O, or the tail
    /// is not aligned.
    PageCacheToTheEnd,
}

pub(super) struct LocalWriter {
    file: Option<Arc<File>>,
    path: PathBuf,
    key: BlobKey,
    /// The buffer being filled.
    filling: AlignedBuf,
    /// The write of the previous buffer, which hands it back for reuse.
    writing: Option<JoinHandle<Result<(AlignedBuf, Caching)>>>,
    /// A buffer whose write is done; the second one is allocated on first need.
    spare: Option<AlignedBuf>,
    caching: Caching,
    /// Bytes accepted, bytes handed to writes, bytes whose write finished, and bytes a
    /// sync was started for.
    written: u64,
    handed: u64,
    flushed: u64,
    synced: u64,
    /// A sync of what was written so far, running while more arrives.
    syncing: Option<JoinHandle<Result<()>>>,
}

impl LocalWriter {
    pub(super) fn new(file: File, path: PathBuf, key: BlobKey) -> Self {
        LocalWriter {
            file: Some(Arc::new(file)),
            path,
            key,
            filling: AlignedBuf::new(),
            writing: None,
            spare: None,
            caching: Caching::PageCache,
            written: 0,
            handed: 0,
            flushed: 0,
            synced: 0,
            syncing: None,
        }
    }

    fn file(&self) -> Arc<File> {
        self.file
            .clone()
            .expect("a writer has its file until finish")
    }

    /// Waits for the write in flight, if any, and keeps its buffer as the spare.
    async fn finish_writing(&mut self) -> Result<()> {
        if let Some(running) = self.writing.take() {
            let (mut buffer, caching) = joined(running).await?;
            self.flushed += buffer.filled().len() as u64;
            self.caching = caching;
            buffer.clear();
            self.spare = Some(buffer);
            self.sync_in_background().await?;
        }
        Ok(())
    }

    /// Starts writing the full buffer and goes on filling the other.
    async fn hand_off(&mut self) -> Result<()> {
        self.finish_writing().await?;
        let next = self.spare.take().unwrap_or_else(AlignedBuf::new);
        let full = std::mem::replace(&mut self.filling, next);
        let (file, offset, caching) = (self.file(), self.flushed, self.caching);
        self.handed += full.filled().len() as u64;
        self.writing = Some(tokio::task::spawn_blocking(move || {
            let caching = write_chunk(&file, full.filled(), offset, caching)?;
            Ok((full, caching))
        }));
        Ok(())
    }

    /// Starts syncing what was written so far, unless a sync still runs.
    async fn sync_in_background(&mut self) -> Result<()> {
        if self.flushed - self.synced < SYNC_EVERY {
            return Ok(());
        }
        if let Some(running) = &self.syncing {
            if !running.is_finished() {
                return Ok(());
            }
            self.finish_syncing().await?;
        }
        let file = self.file();
        self.synced = self.flushed;
        self.syncing = Some(tokio::task::spawn_blocking(move || Ok(file.sync_data()?)));
        Ok(())
    }

    async fn finish_syncing(&mut self) -> Result<()> {
        if let Some(running) = self.syncing.take() {
            joined(running).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl BlobWriter for LocalWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.written += data.len() as u64;
        let mut rest = &data[..];
        while !rest.is_empty() {
            let size = hand_off::next_hand_off(self.handed);
            let taken = self.filling.fill_from(rest, size);
            rest = &rest[taken..];
            if self.filling.filled().len() == size {
                self.hand_off().await?;
            }
        }
        Ok(())
    }

    fn written(&self) -> u64 {
        self.written
    }

    async fn finish(mut self: Box<Self>) -> Result<Box<dyn StagedBlob>> {
        self.finish_writing().await?;
        if !self.filling.filled().is_empty() {
            let tail = std::mem::replace(&mut self.filling, AlignedBuf::empty());
            let (file, offset, caching) = (self.file(), self.flushed, self.caching);
            blocking(move || Ok(write_chunk(&file, tail.filled(), offset, caching)?)).await?;
        }
        self.finish_syncing().await?;
        let file = self
            .file
            .take()
            .expect("a writer has its file until finish");
        // fdatasync on the file; on ext4 and xfs this also commits the journal entry
        // that created the file, so the directory entry is durable too.
        let file = blocking(move || {
            file.sync_data()?;
            Ok(file)
        })
        .await?;
        Ok(Box::new(LocalStaged {
            file: Some(file),
            path: std::mem::take(&mut self.path),
            key: self.key.clone(),
            size: self.written,
        }))
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        if self.file.is_some() {
            // The upload was abandoned: refused, failed or disconnected. A write still
            // in flight goes to the unlinked file and is freed with it.
            let _ = remove_if_present(&self.path);
        }
    }
}

/// Writes `data` at the file's position `offset`, switching to direct I/O once the
/// file is past `DIRECT_AFTER` and back to the page cache for an unaligned chunk or a
/// filesystem that refuses it; returns how the next chunk goes.
fn write_chunk(file: &File, data: &[u8], offset: u64, mut caching: Caching) -> io::Result<Caching> {
    let aligned = offset.is_multiple_of(ALIGN as u64)
        && data.len().is_multiple_of(ALIGN)
        && (data.as_ptr() as usize).is_multiple_of(ALIGN);
    caching = match caching {
        Caching::PageCache if aligned && offset >= DIRECT_AFTER => match set_direct(file, true) {
            Ok(()) => Caching::Direct,
            Err(_) => Caching::PageCacheToTheEnd,
        },
        Caching::Direct if !aligned => {
            set_direct(file, false)?;
            Caching::PageCacheToTheEnd
        }
        other => other,
    };
    let mut done = 0;
    while done < data.len() {
        match (&*file).write(&data[done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // The device wants a larger alignment, or a short write left the position
            // unaligned: the rest goes through the page cache.
            Err(e)
                if caching == Caching::Direct && Errno::from_io_error(&e) == Some(Errno::INVAL) =>
            {
                set_direct(file, false)?;
                caching = Caching::PageCacheToTheEnd;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(caching)
}

pub(super) fn set_direct(file: &File, on: bool) -> io::Result<()> {
    let mut flags = fcntl_getfl(file)?;
    flags.set(OFlags::DIRECT, on);
    fcntl_setfl(file, flags)?;
    Ok(())
}

/// Up to `WRITE_BUFFER` bytes whose start is aligned for direct I/O: a Vec with room
/// for both, padded up to the first aligned address. Filling never reallocates it, and
/// nothing is zeroed beyond the padding (a small file touches one page, not a megabyte).
struct AlignedBuf {
    memory: Vec<u8>,
    start: usize,
}

impl AlignedBuf {
    fn new() -> Self {
        let mut memory: Vec<u8> = Vec::with_capacity(WRITE_BUFFER + ALIGN);
        // Never beyond ALIGN - 1 at run time; if it were, the buffer is merely unaligned
        // and its writes go through the page cache.
        let start = memory.as_ptr().align_offset(ALIGN).min(ALIGN);
        memory.resize(start, 0);
        AlignedBuf { memory, start }
    }

    /// A placeholder that holds nothing.
    fn empty() -> Self {
        AlignedBuf {
            memory: Vec::new(),
            start: 0,
        }
    }

    /// Copies as much of `data` as fits in `size` bytes (at most `WRITE_BUFFER`); returns
    /// how much.
    fn fill_from(&mut self, data: &[u8], size: usize) -> usize {
        let n = data
            .len()
            .min(size.min(WRITE_BUFFER).saturating_sub(self.filled().len()));
        self.memory.extend_from_slice(&data[..n]);
        n
    }

    fn filled(&self) -> &[u8] {
        &self.memory[self.start..]
    }

    fn clear(&mut self) {
        self.memory.truncate(self.start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_fill_to_their_size_and_start_aligned() {
        let mut buf = AlignedBuf::new();
        assert!((buf.filled().as_ptr() as usize).is_multiple_of(ALIGN));
        assert_eq!(buf.fill_from(&[7; 1000], WRITE_BUFFER), 1000);
        let eights = vec![8; 2 * WRITE_BUFFER];
        assert_eq!(buf.fill_from(&eights, 2000), 1000);
        assert_eq!(
            buf.fill_from(&eights, 2 * WRITE_BUFFER),
            WRITE_BUFFER - 2000
        );
        assert_eq!(buf.filled().len(), WRITE_BUFFER);
        assert_eq!(buf.filled()[999..1001], [7, 8]);
        buf.clear();
        assert!(buf.filled().is_empty());
    }

    /// A file of a few megabytes is written while it streams: the first write starts
    /// with its first megabyte, not with its first 4 MiB (which left files under 4 MiB
    /// to be written after their last byte).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_start_with_the_first_megabyte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let file = File::create(&path).unwrap();
        let mut writer = Box::new(LocalWriter::new(file, path.clone(), BlobKey::random()));
        let data: Vec<u8> = (0..2 * WRITE_BUFFER + 11)
            .map(|i| (i * 23 % 227) as u8)
            .collect();
        let first = hand_off::FIRST_HAND_OFFS;
        writer
            .write(Bytes::copy_from_slice(&data[..first]))
            .await
            .unwrap();
        assert!(
            writer.writing.is_some(),
            "nothing written after the first MiB"
        );
        assert_eq!(writer.handed, first as u64);
        writer
            .write(Bytes::copy_from_slice(&data[first..]))
            .await
            .unwrap();
        assert_eq!(writer.handed, 2 * WRITE_BUFFER as u64);
        let staged = writer.finish().await.unwrap();
        assert_eq!(staged.size(), data.len() as u64);
        staged.committed();
        assert_eq!(std::fs::read(&path).unwrap(), data);
    }

    #[test]
    fn direct_io_starts_past_the_threshold_and_ends_for_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("blob")).unwrap();
        let mut buf = AlignedBuf::new();
        buf.fill_from(&vec![1; WRITE_BUFFER], WRITE_BUFFER);
        let mut caching = Caching::PageCache;
        let mut offset = 0;
        while offset < DIRECT_AFTER {
            caching = write_chunk(&file, buf.filled(), offset, caching).unwrap();
            assert_eq!(caching, Caching::PageCache);
            offset += WRITE_BUFFER as u64;
        }
        caching = write_chunk(&file, buf.filled(), offset, caching).unwrap();
        // tmpfs before Linux 6.6 refuses direct I/O; everything else here takes it.
        assert!(matches!(
            caching,
            Caching::Direct | Caching::PageCacheToTheEnd
        ));
        let direct = fcntl_getfl(&file).unwrap().contains(OFlags::DIRECT);
        assert_eq!(direct, caching == Caching::Direct);
        offset += WRITE_BUFFER as u64;
        let tail = write_chunk(&file, &buf.filled()[..100], offset, caching).unwrap();
        assert_eq!(tail, Caching::PageCacheToTheEnd);
        assert!(!fcntl_getfl(&file).unwrap().contains(OFlags::DIRECT));
        let len = file.metadata().unwrap().len();
        assert_eq!(len, offset + 100);
    }
}
