//! Writing one local blob file: double-buffered, past its first megabytes with direct I/O,
//! synced as it streams.
//!
//! The body's chunks gather as they came (shared, not copied: the hashing lanes hold the
//! same ones, `blob::digest`), and a full batch is written on the blocking pool while the
//! next one gathers: 1 MiB at a time for the first 4 MiB, then 4 MiB at a time
//! (`blob::hand_off`). Past `DIRECT_AFTER` bytes the file switches to direct I/O
//! (`O_DIRECT`): an upload must reach the disk before its commit anyway, and copying
//! gigabytes through the page cache on the way cost more CPU than receiving them (and
//! pushed out the cached small files a sync reads back). A direct write copies its batch
//! into a buffer aligned for it, which is held only while the write runs and is then kept
//! for the next write of any upload (`SpareBuffers`): an upload gathering its next batch
//! holds no buffer of its own. Writes through the page cache go straight from the chunks.
//! The unaligned tail goes through the page cache, and on a filesystem that refuses direct
//! I/O so does everything. Syncs run in the background every `SYNC_EVERY` bytes, so the
//! final sync waits only for the tail.

use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

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
/// amortised, and few enough hops that the next download stays fast (`blob::hand_off`).
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
/// Aligned buffers kept for the next direct write while uploads run. Each upload has one
/// write in flight at most, and a buffer freed and allocated anew costs a page fault per
/// 4 KiB (a quarter of a CPU-second per GiB), so two cover one or two fast uploads; more
/// at once allocate the rest as they go.
const SPARES_KEPT: usize = 2;

/// How the file's writes reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caching {
    /// Through the page cache, until the file is past `DIRECT_AFTER`.
    PageCache,
    /// Straight from an aligned buffer to the device.
    Direct,
    /// Through the page cache to the end: the filesystem refused direct I/O, or the tail
    /// is not aligned.
    PageCacheToTheEnd,
}

pub(super) struct LocalWriter {
    file: Option<Arc<File>>,
    path: PathBuf,
    key: BlobKey,
    /// The chunks gathered for the next write, their length, and since when.
    gathered: Vec<Bytes>,
    gathered_len: usize,
    gathering: hand_off::Gathering,
    /// The write of the previous batch.
    writing: Option<JoinHandle<Result<Caching>>>,
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
        SPARES.writer_started();
        LocalWriter {
            file: Some(Arc::new(file)),
            path,
            key,
            gathered: Vec::new(),
            gathered_len: 0,
            gathering: hand_off::Gathering::default(),
            writing: None,
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

    /// Waits for the write in flight, if any.
    async fn finish_writing(&mut self) -> Result<()> {
        if let Some(running) = self.writing.take() {
            self.caching = joined(running).await?;
            // One write runs at a time, so everything handed off is now written.
            self.flushed = self.handed;
            self.sync_in_background().await?;
        }
        Ok(())
    }

    /// Starts writing the first `len` bytes gathered and goes on gathering.
    async fn hand_off(&mut self, len: usize) -> Result<()> {
        self.finish_writing().await?;
        let chunks = self.take_gathered(len);
        let (file, offset, caching) = (self.file(), self.flushed, self.caching);
        self.handed += len as u64;
        self.writing = Some(tokio::task::spawn_blocking(move || {
            Ok(write_chunks(&file, &chunks, offset, caching)?)
        }));
        Ok(())
    }

    /// The chunks of the first `len` bytes gathered; a chunk across the end is split.
    fn take_gathered(&mut self, len: usize) -> Vec<Bytes> {
        let mut taken = Vec::with_capacity(self.gathered.len());
        let mut need = len;
        let mut gathered = std::mem::take(&mut self.gathered).into_iter();
        for mut chunk in gathered.by_ref() {
            if chunk.len() > need {
                taken.push(chunk.split_to(need));
                self.gathered.push(chunk);
                break;
            }
            need -= chunk.len();
            taken.push(chunk);
            if need == 0 {
                break;
            }
        }
        self.gathered.extend(gathered);
        self.gathered_len -= len;
        taken
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
    async fn write(&mut self, mut data: Bytes) -> Result<()> {
        self.written += data.len() as u64;
        while !data.is_empty() {
            let size = hand_off::next_hand_off(self.handed);
            let chunk = data.split_to(data.len().min(size - self.gathered_len));
            self.gathered_len += chunk.len();
            self.gathered.push(chunk);
            // A batch that goes short still ends on an aligned offset, so the file can
            // go on with direct I/O; the rest waits for the next batch.
            let aligned = self.gathered_len / ALIGN * ALIGN;
            if self.gathering.goes_now(aligned, size) {
                self.hand_off(aligned).await?;
            }
        }
        Ok(())
    }

    fn written(&self) -> u64 {
        self.written
    }

    async fn finish(mut self: Box<Self>) -> Result<Box<dyn StagedBlob>> {
        self.finish_writing().await?;
        if !self.gathered.is_empty() {
            let tail = std::mem::take(&mut self.gathered);
            let (file, offset, caching) = (self.file(), self.flushed, self.caching);
            blocking(move || Ok(write_chunks(&file, &tail, offset, caching)?)).await?;
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
        SPARES.writer_done();
        if self.file.is_some() {
            // The upload was abandoned: refused, failed or disconnected. A write still
            // in flight goes to the unlinked file and is freed with it.
            let _ = remove_if_present(&self.path);
        }
    }
}

/// Writes `chunks` at the file's position `offset`: directly from an aligned copy once
/// the file is past `DIRECT_AFTER` and the batch is aligned, else through the page cache
/// (for good after an unaligned batch in direct mode, or where the filesystem refuses
/// direct I/O). Returns how the next batch goes.
fn write_chunks(
    file: &File,
    chunks: &[Bytes],
    offset: u64,
    caching: Caching,
) -> io::Result<Caching> {
    let len: usize = chunks.iter().map(Bytes::len).sum();
    let aligned = offset.is_multiple_of(ALIGN as u64) && len.is_multiple_of(ALIGN);
    let caching = match caching {
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
    if caching != Caching::Direct {
        write_all_vectored(file, chunks)?;
        return Ok(caching);
    }
    let mut buffer = SPARES.take();
    for chunk in chunks {
        buffer.fill_from(chunk);
    }
    let written = write_direct(file, buffer.filled());
    SPARES.give_back(buffer);
    written
}

/// Writes `data` from an aligned buffer with direct I/O; if the device wants a larger
/// alignment, or a short write left the position unaligned, the rest goes through the
/// page cache, as does everything after.
fn write_direct(file: &File, data: &[u8]) -> io::Result<Caching> {
    let mut caching = Caching::Direct;
    let mut done = 0;
    while done < data.len() {
        match (&*file).write(&data[done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
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

/// Writes every chunk, in order, at the file's position, as many per system call as it
/// takes.
fn write_all_vectored(file: &File, chunks: &[Bytes]) -> io::Result<()> {
    /// Linux's IOV_MAX: a call takes no more slices.
    const MAX_SLICES: usize = 1024;
    let mut chunks = chunks;
    while !chunks.is_empty() {
        let group = &chunks[..chunks.len().min(MAX_SLICES)];
        chunks = &chunks[group.len()..];
        let mut slices: Vec<IoSlice<'_>> = group.iter().map(|c| IoSlice::new(c)).collect();
        let mut slices = &mut slices[..];
        while !slices.is_empty() {
            match (&*file).write_vectored(slices) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut slices, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

pub(super) fn set_direct(file: &File, on: bool) -> io::Result<()> {
    let mut flags = fcntl_getfl(file)?;
    flags.set(OFlags::DIRECT, on);
    fcntl_setfl(file, flags)?;
    Ok(())
}

/// Aligned buffers between direct writes, shared by all uploads, and how many writers
/// are open: the last one to close frees the spares, so an idle server holds none.
struct SpareBuffers {
    spares: Mutex<Vec<AlignedBuf>>,
    writers: AtomicUsize,
}

static SPARES: SpareBuffers = SpareBuffers::new();

impl SpareBuffers {
    const fn new() -> Self {
        SpareBuffers {
            spares: Mutex::new(Vec::new()),
            writers: AtomicUsize::new(0),
        }
    }

    fn writer_started(&self) {
        self.writers.fetch_add(1, Ordering::Relaxed);
    }

    fn take(&self) -> AlignedBuf {
        self.spares
            .lock()
            .expect("spare buffers lock")
            .pop()
            .unwrap_or_else(AlignedBuf::new)
    }

    fn give_back(&self, mut buffer: AlignedBuf) {
        buffer.clear();
        let mut spares = self.spares.lock().expect("spare buffers lock");
        if spares.len() < SPARES_KEPT && self.writers.load(Ordering::Relaxed) > 0 {
            spares.push(buffer);
        }
    }

    fn writer_done(&self) {
        if self.writers.fetch_sub(1, Ordering::Relaxed) == 1 {
            // Taken out before they are freed, so the lock is not held for the frees.
            let spares = std::mem::take(&mut *self.spares.lock().expect("spare buffers lock"));
            drop(spares);
        }
    }
}

/// Up to `WRITE_BUFFER` bytes whose start is aligned for direct I/O: a Vec with room
/// for both, padded up to the first aligned address. Filling never reallocates it, and
/// nothing is zeroed beyond the padding.
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

    /// Appends `data`; a batch is never longer than the buffer.
    fn fill_from(&mut self, data: &[u8]) {
        assert!(
            self.filled().len() + data.len() <= WRITE_BUFFER,
            "a batch longer than WRITE_BUFFER"
        );
        self.memory.extend_from_slice(data);
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
    fn buffers_start_aligned_and_fill_in_order() {
        let mut buf = AlignedBuf::new();
        assert!((buf.filled().as_ptr() as usize).is_multiple_of(ALIGN));
        buf.fill_from(&[7; 1000]);
        buf.fill_from(&vec![8; WRITE_BUFFER - 1000]);
        assert_eq!(buf.filled().len(), WRITE_BUFFER);
        assert_eq!(buf.filled()[999..1001], [7, 8]);
        buf.clear();
        assert!(buf.filled().is_empty());
    }

    /// A writer of a new file in a temp dir, which lives as long as the dir handle.
    fn new_writer() -> (tempfile::TempDir, PathBuf, Box<LocalWriter>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let file = File::create(&path).unwrap();
        let writer = Box::new(LocalWriter::new(file, path.clone(), BlobKey::random()));
        (dir, path, writer)
    }

    /// A file of a few megabytes is written while it streams: the first write starts
    /// with its first megabyte, not with its first 4 MiB (which left files under 4 MiB
    /// to be written after their last byte).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_start_with_the_first_megabyte() {
        let (_dir, path, mut writer) = new_writer();
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

    /// A slow upload does not keep a batch gathering for long: past `MAX_GATHER` its
    /// aligned part is written, and the rest waits for the next bytes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_upload_writes_what_it_has_gathered() {
        let (_dir, path, mut writer) = new_writer();
        // A batch that goes short carries SHORTEST bytes at least, a multiple of ALIGN.
        let aligned = hand_off::SHORTEST + ALIGN;
        let data: Vec<u8> = (0..aligned + 300).map(|i| (i * 7 % 249) as u8).collect();
        writer
            .write(Bytes::copy_from_slice(&data[..aligned - 100]))
            .await
            .unwrap();
        assert_eq!(writer.handed, 0, "a fresh batch is not due");
        tokio::time::sleep(hand_off::MAX_GATHER).await;
        writer
            .write(Bytes::copy_from_slice(&data[aligned - 100..aligned + 200]))
            .await
            .unwrap();
        assert_eq!(writer.handed, aligned as u64, "the aligned part goes");
        assert_eq!(writer.gathered_len, 200);
        writer
            .write(Bytes::copy_from_slice(&data[aligned + 200..]))
            .await
            .unwrap();
        let staged = writer.finish().await.unwrap();
        staged.committed();
        assert_eq!(std::fs::read(&path).unwrap(), data);
    }

    #[test]
    fn direct_io_starts_past_the_threshold_and_ends_for_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let file = File::create(&path).unwrap();
        // A batch of the caller's chunks, of uneven lengths as a socket delivers them.
        let data: Vec<u8> = (0..WRITE_BUFFER).map(|i| (i * 31 % 251) as u8).collect();
        let data = Bytes::from(data);
        let batch = [data.slice(..1), data.slice(1..70_000), data.slice(70_000..)];
        let mut caching = Caching::PageCache;
        let mut offset = 0;
        while offset < DIRECT_AFTER {
            caching = write_chunks(&file, &batch, offset, caching).unwrap();
            assert_eq!(caching, Caching::PageCache);
            offset += WRITE_BUFFER as u64;
        }
        caching = write_chunks(&file, &batch, offset, caching).unwrap();
        // tmpfs before Linux 6.6 refuses direct I/O; everything else here takes it.
        assert!(matches!(
            caching,
            Caching::Direct | Caching::PageCacheToTheEnd
        ));
        let direct = fcntl_getfl(&file).unwrap().contains(OFlags::DIRECT);
        assert_eq!(direct, caching == Caching::Direct);
        offset += WRITE_BUFFER as u64;
        let tail = write_chunks(
            &file,
            &[data.slice(..60), data.slice(60..100)],
            offset,
            caching,
        )
        .unwrap();
        assert_eq!(tail, Caching::PageCacheToTheEnd);
        assert!(!fcntl_getfl(&file).unwrap().contains(OFlags::DIRECT));
        let written = std::fs::read(&path).unwrap();
        assert_eq!(written.len() as u64, offset + 100);
        for (i, batch) in written.chunks(WRITE_BUFFER).enumerate() {
            let expected = if batch.len() == 100 {
                &data[..100]
            } else {
                &data[..]
            };
            assert_eq!(batch, expected, "batch {i}");
        }
    }

    /// Many small chunks, more than one system call takes, arrive whole and in order.
    #[test]
    fn page_cache_writes_take_any_number_of_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let file = File::create(&path).unwrap();
        let data: Vec<u8> = (0..3000 * 7).map(|i| (i % 253) as u8).collect();
        let data = Bytes::from(data);
        let chunks: Vec<Bytes> = (0..3000).map(|i| data.slice(i * 7..(i + 1) * 7)).collect();
        let caching = write_chunks(&file, &chunks, 0, Caching::PageCache).unwrap();
        assert_eq!(caching, Caching::PageCache);
        assert_eq!(std::fs::read(&path).unwrap(), data);
    }

    /// Spare buffers outlive no upload: a few are kept while writers are open, none
    /// once the last one is gone.
    #[test]
    fn spare_buffers_go_with_the_last_writer() {
        let pool = SpareBuffers::new();
        let kept = |pool: &SpareBuffers| pool.spares.lock().unwrap().len();
        pool.writer_started();
        pool.writer_started();
        let buffers: Vec<AlignedBuf> = (0..SPARES_KEPT + 2).map(|_| pool.take()).collect();
        for buffer in buffers {
            pool.give_back(buffer);
        }
        assert_eq!(kept(&pool), SPARES_KEPT);
        let mut reused = pool.take();
        assert!(reused.filled().is_empty(), "a spare comes back cleared");
        reused.fill_from(&[1; 10]);
        pool.give_back(reused);
        assert_eq!(kept(&pool), SPARES_KEPT);
        pool.writer_done();
        assert_eq!(kept(&pool), SPARES_KEPT, "one writer is still open");
        pool.writer_done();
        assert_eq!(kept(&pool), 0);
        let late = pool.take();
        pool.give_back(late);
        assert_eq!(kept(&pool), 0, "no writer is open to use it");
    }
}
