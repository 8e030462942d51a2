//! Content digests (SHA-1 and MD5) of blobs, for every store, computed from the bytes
//! as they stream in.
//!
//! Sync clients compare them instead of downloading (rclone reads ownCloud's
//! `oc:checksums`). An upload hands each batch of its body's chunks (refcounted `Bytes`,
//! never copied; a batch goes when full or after `hand_off::MAX_GATHER`) to two hashing
//! lanes of its own on the blocking pool, one per digest, and goes on receiving; the
//! blob is not read back while the lanes keep pace. Reading it back cost more than the
//! hashing: large blobs are written past the page cache, so the read came from the disk,
//! with seconds of kernel time per gigabyte. The lanes run side by side because MD5 has
//! no CPU help and is the slower of the two, while SHA-1 uses the CPU's SHA extensions
//! where it has them (the `sha1` crate detects them at run time). A small upload, whose
//! bytes all fit in one batch, is hashed at its end without a lane.
//!
//! The lanes differ when they fall behind (memory stays bounded either way). The SHA-1
//! lane makes the upload wait once `LANE_QUEUE` batches are queued: it is faster than any
//! disk. The MD5 lane (about 650 MB/s a core, `blob::md5`) must not cap a faster upload
//! for long. It may hold `MD5_LAG` bytes not yet hashed without a wait, for bursts (the
//! bytes a socket buffered). Past them the upload waits for the lane, but in all for no
//! more than a `MD5_WAIT_SHARE`th of its time so far: a lane short of a core for a
//! moment (on two cores, a local client, the writer and both lanes share them) is waited
//! for, while a lane slower than the network for good is given up within a fraction of a
//! second. Once that share is spent, or when all uploads' MD5 lanes together hold
//! `MD5_LAG_BUDGET` bytes, the lane stops receiving instead: it finishes the batches it
//! was sent and keeps its hasher state and the offset it reached. The upload then answers
//! without an MD5 (`Digests::md5` is `None`), and once its blob is committed, the state
//! goes to the store's MD5 thread (`md5_fill`) as an [`Md5Resume`], which reads back only
//! the part from that offset on (past the page cache: `blob::local::scan`) and writes the
//! MD5 into the blob's row. If the process dies first, the MD5 stays empty and upkeep's
//! backfill (`Store::queue_missing_md5`) computes it from the start.
//!
//! Why wait at all: without it, uploads at 470–630 MB/s from a client on the same two
//! cores left the lane behind in their first few hundred megabytes, and reading the rest
//! back cost more CPU than the hashing and kept the server busy for seconds after the
//! 201, into the next upload, which then lost its own lane (bench/RESULTS.md). Room for
//! 4 MiB had already proven too short for mere bursts. The allowance is counted in bytes
//! because an upload's first batches are smaller than the rest (`blob::hand_off`).

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use data_encoding::HEXLOWER;
use sha1::{Digest, Sha1};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;

use super::contract::{BlobKey, BlobWriter, Digests, StagedBlob};
use super::hand_off;
use super::md5::Md5;
use crate::error::{Result, StorageError};

/// Batches the SHA-1 lane may have queued before the upload waits for it. Each batch
/// wakes both lanes' threads, so batches are as large as `blob::hand_off` says.
const LANE_QUEUE: usize = 2;
/// Bytes an MD5 lane may have been sent and not yet hashed before its upload waits for
/// it or, past its `MD5_WAIT_SHARE`, leaves it behind (20 MiB: the 4 MiB batch it
/// hashes and four more). An upload that waits for its MD5 (`Md5Pace::Wait`) queues no
/// more than for SHA-1.
const MD5_LAG: usize = 20 * 1024 * 1024;
/// An upload waits for its MD5 lane, in all, for at most this fraction of its time so far
/// (a quarter): that is all it can lose to the lane, while reading the rest back would
/// cost more CPU than hashing it.
const MD5_WAIT_SHARE: u32 = 4;
/// Bytes all uploads' MD5 lanes may hold queued together: past it, a lane that needs more
/// is left behind, so many uploads at once cannot make the lag cost more memory than this.
const MD5_LAG_BUDGET: usize = 64 * 1024 * 1024;
static MD5_LAG_HELD: LazyLock<Arc<Semaphore>> =
    LazyLock::new(|| Arc::new(Semaphore::new(MD5_LAG_BUDGET)));
/// Bytes hashed on the uploading task itself at the end (well under a millisecond);
/// more go to the blocking pool.
const INLINE_MAX: usize = 64 * 1024;

/// Chunks of an upload, in order, shared by both lanes.
type Batch = Arc<Vec<Bytes>>;

/// A batch on its way to a lane, with the shares of `MD5_LAG` and `MD5_LAG_BUDGET` it
/// holds until it is hashed (MD5 only).
struct Queued {
    batch: Batch,
    _lag: Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)>,
}

impl Digests {
    /// Both digests of bytes at hand.
    pub fn of(data: &[u8]) -> Self {
        Self::of_chunks(&[Bytes::copy_from_slice(data)])
    }

    fn of_chunks(chunks: &[Bytes]) -> Self {
        Digests {
            md5: Some(digest_of::<Md5>(chunks)),
            sha1: digest_of::<Sha1>(chunks),
        }
    }
}

fn digest_of<H: Hasher>(chunks: &[Bytes]) -> String {
    let mut hasher = H::default();
    for chunk in chunks {
        hasher.feed(chunk);
    }
    hasher.hex()
}

/// A digest being computed: this project's MD5 or the `sha1` crate's SHA-1.
trait Hasher: Default + Send + 'static {
    fn feed(&mut self, data: &[u8]);
    fn hex(self) -> String;
}

impl Hasher for Md5 {
    fn feed(&mut self, data: &[u8]) {
        self.update(data);
    }

    fn hex(self) -> String {
        HEXLOWER.encode(&self.finalize())
    }
}

impl Hasher for Sha1 {
    fn feed(&mut self, data: &[u8]) {
        Digest::update(self, data);
    }

    fn hex(self) -> String {
        HEXLOWER.encode(&Digest::finalize(self))
    }
}

/// MD5 fed chunk by chunk: also the state a lagging upload hands on (see `md5_fill`).
#[derive(Default)]
pub struct Md5Stream(Md5);

impl Md5Stream {
    /// Hashes a chunk.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The digest, lowercase hex.
    pub fn finish(self) -> String {
        HEXLOWER.encode(&self.0.finalize())
    }
}

/// The MD5 state over a blob's first `len` bytes.
#[derive(Default)]
pub(crate) struct Md5Prefix {
    pub(crate) hashed: Md5Stream,
    pub(crate) len: u64,
}

/// A committed blob whose MD5 is still to be completed from the blob itself, from the
/// end of `prefix` on.
pub(crate) struct Md5Resume {
    pub(crate) key: BlobKey,
    pub(crate) prefix: Md5Prefix,
}

/// Where a committed upload sends its unfinished MD5: the store's MD5 thread.
pub(crate) type Md5Resumer = Arc<dyn Fn(Md5Resume) + Send + Sync>;

/// What an upload does when its MD5 lane falls behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Md5Pace {
    /// Leaves it behind; the MD5 is completed after the commit.
    RideAlong,
    /// Waits for it: the client sent an MD5 to be checked before the commit.
    Wait,
}

/// Holds a lane back before each batch: a test's way to make it fall behind.
#[derive(Clone, Default)]
struct Stall(#[cfg(test)] Option<Arc<std::sync::Mutex<()>>>);

impl Stall {
    fn wait(&self) {
        #[cfg(test)]
        if let Some(lock) = &self.0 {
            drop(lock.lock());
        }
    }
}

/// One digest computed on the blocking pool from the batches it is sent. The hasher
/// comes back, unfinalized, once the queue is closed.
struct Lane<D> {
    /// `None` once the lane was left behind (MD5 only): nothing more is sent.
    batches: Option<mpsc::Sender<Queued>>,
    hashing: JoinHandle<D>,
    /// Bytes sent so far.
    sent: u64,
}

impl<D: Hasher> Lane<D> {
    fn start(queue: usize, stall: Stall) -> Self {
        let (batches, mut queued) = mpsc::channel::<Queued>(queue);
        let hashing = tokio::task::spawn_blocking(move || {
            let mut hasher = D::default();
            // Ends when the queue closes: finished, left behind, or dropped mid-upload.
            // `_lag` is held until the batch is hashed.
            while let Some(Queued { batch, _lag }) = queued.blocking_recv() {
                stall.wait();
                for chunk in batch.iter() {
                    hasher.feed(chunk);
                }
            }
            hasher
        });
        Lane {
            batches: Some(batches),
            hashing,
            sent: 0,
        }
    }

    /// Sends a batch, waiting while the queue is full.
    async fn feed(&mut self, batch: Batch, len: usize) -> Result<()> {
        let queue = self.batches.as_ref().ok_or_else(lane_failed)?;
        let queued = Queued { batch, _lag: None };
        queue.send(queued).await.map_err(|_| lane_failed())?;
        self.sent += len as u64;
        Ok(())
    }

    /// Sends a batch once the lane is less than `MD5_LAG` behind, waiting for that only
    /// as long as `lag` allows; past that, or past the budget of all lanes, the lane is
    /// left behind for good.
    async fn feed_or_fall_behind(
        &mut self,
        batch: Batch,
        len: usize,
        lag: &mut Md5Lag,
    ) -> Result<()> {
        let Some(queue) = &self.batches else {
            return Ok(());
        };
        let Some(own) = lag.take(len).await else {
            self.leave_behind();
            return Ok(());
        };
        let all = u32::try_from(len)
            .ok()
            .and_then(|len| Arc::clone(&MD5_LAG_HELD).try_acquire_many_owned(len).ok());
        let Some(all) = all else {
            self.leave_behind();
            return Ok(());
        };
        let queued = Queued {
            batch,
            _lag: Some((own, all)),
        };
        match queue.try_send(queued) {
            Ok(()) => self.sent += len as u64,
            // Not while `MD5_LAG` holds (see `Lanes::start`), but never a reason to wait.
            Err(mpsc::error::TrySendError::Full(_)) => self.leave_behind(),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(lane_failed()),
        }
        Ok(())
    }

    /// Sends nothing more: closing the queue lets the thread finish what it holds and stop.
    fn leave_behind(&mut self) {
        tracing::debug!(
            at = self.sent,
            "MD5 lane left behind; finished after the commit"
        );
        self.batches = None;
    }

    /// Where the lane stopped, if it was left behind.
    fn behind_at(&self) -> Option<u64> {
        self.batches.is_none().then_some(self.sent)
    }

    async fn finish(self) -> Result<D> {
        drop(self.batches);
        self.hashing.await.map_err(|_| lane_failed())
    }
}

fn lane_failed() -> StorageError {
    StorageError::Io(std::io::Error::other("a hashing thread failed"))
}

/// How far an upload's MD5 lane is behind, how long the upload has waited for it, and
/// since when the upload runs.
struct Md5Lag {
    /// `MD5_LAG` bytes, taken by each batch sent until it is hashed.
    room: Arc<Semaphore>,
    since: Instant,
    waited: Duration,
}

impl Md5Lag {
    fn since(since: Instant) -> Self {
        Md5Lag {
            room: Arc::new(Semaphore::new(MD5_LAG)),
            since,
            waited: Duration::ZERO,
        }
    }

    /// Room for `len` more bytes, waited for within the upload's share; `None` when there
    /// is none by then.
    async fn take(&mut self, len: usize) -> Option<OwnedSemaphorePermit> {
        if len > MD5_LAG {
            return None;
        }
        let len = u32::try_from(len).ok()?;
        if let Ok(room) = Arc::clone(&self.room).try_acquire_many_owned(len) {
            return Some(room);
        }
        let waiting = Instant::now();
        let room = Arc::clone(&self.room).acquire_many_owned(len);
        let room = tokio::time::timeout(self.left(), room).await;
        self.waited += waiting.elapsed();
        room.ok()?.ok()
    }

    /// How much longer the upload may wait: its share of the time so far, less what it
    /// has waited.
    fn left(&self) -> Duration {
        (self.since.elapsed() / MD5_WAIT_SHARE).saturating_sub(self.waited)
    }
}

/// The two lanes of one upload, started with its first full batch.
struct Lanes {
    md5: Lane<Md5>,
    sha1: Lane<Sha1>,
    md5_lag: Md5Lag,
}

impl Lanes {
    fn start(md5_pace: Md5Pace, upload_began: Instant, md5_stall: Stall) -> Self {
        let md5_queue = match md5_pace {
            // Room for every batch `MD5_LAG` lets through: all but the last are at least
            // this large.
            Md5Pace::RideAlong => MD5_LAG / hand_off::SHORTEST + 1,
            Md5Pace::Wait => LANE_QUEUE,
        };
        Lanes {
            md5: Lane::start(md5_queue, md5_stall),
            sha1: Lane::start(LANE_QUEUE, Stall::default()),
            md5_lag: Md5Lag::since(upload_began),
        }
    }

    async fn feed(&mut self, batch: Vec<Bytes>, len: usize, md5_pace: Md5Pace) -> Result<()> {
        let batch = Arc::new(batch);
        match md5_pace {
            Md5Pace::RideAlong => {
                self.md5
                    .feed_or_fall_behind(batch.clone(), len, &mut self.md5_lag)
                    .await?;
                self.sha1.feed(batch, len).await
            }
            Md5Pace::Wait => {
                let md5 = self.md5.feed(batch.clone(), len);
                tokio::try_join!(md5, self.sha1.feed(batch, len))?;
                Ok(())
            }
        }
    }

    /// The digests; the MD5 is missing when its lane was left behind, and then comes
    /// the part it hashed.
    async fn finish(self) -> Result<(Digests, Option<Md5Prefix>)> {
        let md5_behind_at = self.md5.behind_at();
        let (md5, sha1) = tokio::try_join!(self.md5.finish(), self.sha1.finish())?;
        let sha1 = sha1.hex();
        Ok(match md5_behind_at {
            None => (
                Digests {
                    md5: Some(md5.hex()),
                    sha1,
                },
                None,
            ),
            Some(len) => (
                Digests { md5: None, sha1 },
                Some(Md5Prefix {
                    hashed: Md5Stream(md5),
                    len,
                }),
            ),
        })
    }
}

/// A writer that hashes what passes through it.
pub(crate) struct DigestingWriter {
    inner: Box<dyn BlobWriter>,
    /// Chunks not yet handed to the lanes, and since when they gather.
    pending: Vec<Bytes>,
    pending_len: usize,
    gathering: hand_off::Gathering,
    lanes: Option<Lanes>,
    md5_pace: Md5Pace,
    md5_resumer: Md5Resumer,
    /// When the upload began: its MD5 lane's share of waiting counts from there.
    began: Instant,
    md5_stall: Stall,
}

impl DigestingWriter {
    /// Wraps `inner`; an MD5 left unfinished goes to `md5_resumer` once the blob is
    /// committed.
    pub(crate) fn new(
        inner: Box<dyn BlobWriter>,
        md5_pace: Md5Pace,
        md5_resumer: Md5Resumer,
    ) -> Self {
        DigestingWriter {
            inner,
            pending: Vec::new(),
            pending_len: 0,
            gathering: hand_off::Gathering::default(),
            lanes: None,
            md5_pace,
            md5_resumer,
            began: Instant::now(),
            md5_stall: Stall::default(),
        }
    }

    /// The digests of everything written: from the lanes if they run, else of the
    /// pending chunks, which are then the whole blob.
    async fn digests(
        pending: Vec<Bytes>,
        pending_len: usize,
        lanes: Option<Lanes>,
        md5_pace: Md5Pace,
    ) -> Result<(Digests, Option<Md5Prefix>)> {
        match lanes {
            Some(mut lanes) => {
                if !pending.is_empty() {
                    lanes.feed(pending, pending_len, md5_pace).await?;
                }
                lanes.finish().await
            }
            None if pending_len <= INLINE_MAX => Ok((Digests::of_chunks(&pending), None)),
            None => tokio::task::spawn_blocking(move || (Digests::of_chunks(&pending), None))
                .await
                .map_err(|_| lane_failed()),
        }
    }
}

#[async_trait]
impl BlobWriter for DigestingWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.pending_len += data.len();
        self.pending.push(data.clone());
        // SHA-1 is never left behind: what it was sent is what the lanes were handed.
        let handed = self.lanes.as_ref().map_or(0, |lanes| lanes.sha1.sent);
        if self
            .gathering
            .goes_now(self.pending_len, hand_off::next_hand_off(handed))
        {
            let batch = std::mem::take(&mut self.pending);
            let len = std::mem::take(&mut self.pending_len);
            let (md5_pace, began, md5_stall) = (self.md5_pace, self.began, &self.md5_stall);
            self.lanes
                .get_or_insert_with(|| Lanes::start(md5_pace, began, md5_stall.clone()))
                .feed(batch, len, md5_pace)
                .await?;
        }
        self.inner.write(data).await
    }

    fn written(&self) -> u64 {
        self.inner.written()
    }

    async fn finish(self: Box<Self>) -> Result<Box<dyn StagedBlob>> {
        let DigestingWriter {
            inner,
            pending,
            pending_len,
            gathering: _,
            lanes,
            md5_pace,
            md5_resumer,
            began: _,
            md5_stall: _,
        } = *self;
        // The lanes catch up while the tail is written and synced.
        let digests = Self::digests(pending, pending_len, lanes, md5_pace);
        let ((digests, md5_prefix), staged) = tokio::try_join!(digests, inner.finish())?;
        Ok(Box::new(DigestedBlob {
            inner: staged,
            digests,
            md5_prefix,
            md5_resumer,
        }))
    }
}

struct DigestedBlob {
    inner: Box<dyn StagedBlob>,
    digests: Digests,
    /// What the MD5 lane hashed before it was left behind.
    md5_prefix: Option<Md5Prefix>,
    md5_resumer: Md5Resumer,
}

impl StagedBlob for DigestedBlob {
    fn key(&self) -> &BlobKey {
        self.inner.key()
    }

    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn digests(&self) -> Option<&Digests> {
        Some(&self.digests)
    }

    fn inline(&self) -> Option<&[u8]> {
        self.inner.inline()
    }

    fn committed(self: Box<Self>) {
        let key = self.inner.key().clone();
        self.inner.committed();
        // Only now: the MD5 thread reads the blob and writes its row.
        if let Some(prefix) = self.md5_prefix {
            (self.md5_resumer)(Md5Resume { key, prefix });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::hand_off::{FIRST_HAND_OFFS, HAND_OFF};

    #[test]
    fn known_digests_and_claims() {
        let d = Digests::of(b"hello");
        assert_eq!(d.md5.as_deref(), Some("5d41402abc4b2a76b9719d911017c592"));
        let mut stream = Md5Stream::default();
        stream.update(b"hel");
        stream.update(b"lo");
        assert_eq!(stream.finish(), "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(d.sha1, "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d");
        assert_eq!(
            d.verify("SHA1:AAF4C61DDCC5E8A2DABEDE0F3B482CD9AEA9434D"),
            Some(true)
        );
        assert_eq!(
            d.verify("MD5:00000000000000000000000000000000"),
            Some(false)
        );
        assert_eq!(d.verify("ADLER32:062c0215"), None);
        assert_eq!(d.verify("nonsense"), None);
        let empty = Digests::of(b"");
        assert_eq!(
            empty.md5.as_deref(),
            Some("d41d8cd98f00b204e9800998ecf8427e")
        );
        assert_eq!(empty.sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }

    /// A writer that keeps nothing: the digests are all that is checked.
    struct Discard(u64);

    #[async_trait]
    impl BlobWriter for Discard {
        async fn write(&mut self, data: Bytes) -> Result<()> {
            self.0 += data.len() as u64;
            Ok(())
        }

        fn written(&self) -> u64 {
            self.0
        }

        async fn finish(self: Box<Self>) -> Result<Box<dyn StagedBlob>> {
            Ok(Box::new(Discarded(BlobKey::random(), self.0)))
        }
    }

    struct Discarded(BlobKey, u64);

    impl StagedBlob for Discarded {
        fn key(&self) -> &BlobKey {
            &self.0
        }

        fn size(&self) -> u64 {
            self.1
        }

        fn committed(self: Box<Self>) {}
    }

    /// A resumer that keeps what it is sent.
    fn kept() -> (Md5Resumer, Arc<std::sync::Mutex<Vec<Md5Resume>>>) {
        let resumes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let keep = Arc::clone(&resumes);
        let resumer: Md5Resumer = Arc::new(move |resume| keep.lock().unwrap().push(resume));
        (resumer, resumes)
    }

    /// Streams `data` and commits it; returns the digests, the MD5 completed from `data`
    /// if the lane was left behind (as `md5_fill` does), and where it was. A held stall
    /// is released before the chunk numbered with it, or else before the finish. The
    /// upload began `ago` before the call.
    async fn streamed_with(
        data: &[u8],
        chunk: usize,
        md5_pace: Md5Pace,
        md5_stall: Stall,
        release_after: Option<(usize, std::sync::MutexGuard<'_, ()>)>,
        ago: Duration,
    ) -> (Digests, Option<u64>) {
        let (resumer, resumes) = kept();
        let inner = Box::new(Discard(0));
        let mut writer = Box::new(DigestingWriter::new(inner, md5_pace, resumer));
        writer.md5_stall = md5_stall;
        writer.began = Instant::now().checked_sub(ago).unwrap();
        let mut release_after = release_after;
        for (i, part) in data.chunks(chunk).enumerate() {
            if release_after.as_ref().is_some_and(|(at, _)| *at == i) {
                release_after = None;
            }
            writer.write(Bytes::copy_from_slice(part)).await.unwrap();
        }
        drop(release_after);
        let staged = writer.finish().await.unwrap();
        assert_eq!(staged.size(), data.len() as u64);
        let mut digests = staged.digests().cloned().unwrap();
        let key = staged.key().clone();
        staged.committed();
        let resumed = resumes.lock().unwrap().pop();
        let behind_at = match resumed {
            None => None,
            Some(Md5Resume { key: of, prefix }) => {
                assert_eq!(of, key);
                assert_eq!(digests.md5, None, "no MD5 at the commit when left behind");
                let mut hashed = prefix.hashed;
                hashed.update(&data[prefix.len as usize..]);
                digests.md5 = Some(hashed.finish());
                Some(prefix.len)
            }
        };
        (digests, behind_at)
    }

    /// A stall held from now for `time` by a thread of its own, which ends then.
    fn stalled_for(time: Duration) -> (Stall, std::thread::JoinHandle<()>) {
        let stall = Arc::new(std::sync::Mutex::new(()));
        let (locked, is_locked) = std::sync::mpsc::channel();
        let holder = {
            let stall = Arc::clone(&stall);
            std::thread::spawn(move || {
                let _held = stall.lock().unwrap();
                locked.send(()).unwrap();
                std::thread::sleep(time);
            })
        };
        is_locked.recv().unwrap();
        (Stall(Some(stall)), holder)
    }

    async fn streamed(data: &[u8], chunk: usize) -> Digests {
        let (pace, stall) = (Md5Pace::RideAlong, Stall::default());
        streamed_with(data, chunk, pace, stall, None, Duration::ZERO)
            .await
            .0
    }

    /// Every size around the places where the work changes hands: inline, one batch on
    /// the blocking pool, the lanes, a lane's full queue.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn streamed_digests_match_at_every_boundary() {
        let batches = HAND_OFF * (LANE_QUEUE + 3);
        let data: Vec<u8> = (0..batches + 7).map(|i| (i * 31 % 251) as u8).collect();
        let sizes = [
            0,
            1,
            INLINE_MAX,
            INLINE_MAX + 1,
            FIRST_HAND_OFFS - 1,
            FIRST_HAND_OFFS,
            FIRST_HAND_OFFS + 1,
            HAND_OFF - 1,
            HAND_OFF,
            HAND_OFF + 1,
            2 * HAND_OFF,
            batches + 7,
        ];
        for size in sizes {
            let data = &data[..size];
            let whole = Digests::of(data);
            for chunk in [1000, 65_536, 100_003, HAND_OFF, 3 * HAND_OFF] {
                if size > 4 * HAND_OFF && chunk == 1000 {
                    continue;
                }
                assert_eq!(
                    streamed(data, chunk).await,
                    whole,
                    "{size} bytes in chunks of {chunk}"
                );
            }
        }
    }

    /// An MD5 lane held back is left behind, the upload goes on, and the MD5 resumed
    /// from where it stopped equals the one-shot MD5, wherever that was.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lagging_md5_lane_is_resumed_from_where_it_stopped() {
        let batches = 2 * MD5_LAG + 3 * HAND_OFF;
        let data: Vec<u8> = (0..batches + 7).map(|i| (i * 7 % 253) as u8).collect();
        let mut offsets = std::collections::BTreeSet::new();
        for size in [MD5_LAG + 2 * HAND_OFF + 1, batches + 7] {
            let data = &data[..size];
            let whole = Digests::of(data);
            for chunk in [65_536, 100_003, HAND_OFF + 5] {
                // Held from the start, or released partway: the lane stops at different
                // offsets; it cannot keep up while held, so it is always left behind.
                for release_at in [None, Some(2), Some(MD5_LAG / HAND_OFF + 3)] {
                    let stall = Arc::new(std::sync::Mutex::new(()));
                    let held = stall.lock().unwrap();
                    let at_chunk = release_at.map_or(usize::MAX, |at| at * HAND_OFF / chunk);
                    let md5_stall = Stall(Some(Arc::clone(&stall)));
                    let held = Some((at_chunk, held));
                    let (digests, behind_at) = streamed_with(
                        data,
                        chunk,
                        Md5Pace::RideAlong,
                        md5_stall,
                        held,
                        Duration::ZERO,
                    )
                    .await;
                    let what =
                        format!("{size} bytes in chunks of {chunk}, released {release_at:?}");
                    if release_at.is_none() {
                        let offset = behind_at.expect(&what);
                        assert!(offset < size as u64, "{what}");
                        offsets.insert(offset);
                    }
                    if let Some(offset) = behind_at {
                        offsets.insert(offset);
                    }
                    assert_eq!(digests, whole, "{what}");
                }
            }
        }
        assert!(offsets.len() > 2, "the lane stopped at {offsets:?}");
    }

    /// A burst the MD5 lane cannot follow, as when an upload starts by reading what the
    /// socket buffered, leaves it behind only past `MD5_LAG` bytes: with room for 4 MiB,
    /// uploads at half the lane's speed lost it there and had their blobs read back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_within_the_lag_keeps_the_md5_lane() {
        // The whole upload arrives while the lane is held: one batch in its hands, the
        // rest queued. A writer that keeps nothing outruns any hasher, so only a burst
        // can be tested this way.
        let data: Vec<u8> = (0..MD5_LAG).map(|i| (i * 11 % 239) as u8).collect();
        let stall = Arc::new(std::sync::Mutex::new(()));
        let held = stall.lock().unwrap();
        let md5_stall = Stall(Some(Arc::clone(&stall)));
        let held = Some((usize::MAX, held));
        let (digests, behind_at) = streamed_with(
            &data,
            65_536,
            Md5Pace::RideAlong,
            md5_stall,
            held,
            Duration::ZERO,
        )
        .await;
        assert_eq!(behind_at, None, "left behind in a burst of {MD5_LAG} bytes");
        assert_eq!(digests, Digests::of(&data));
    }

    /// An MD5 lane held back for a moment past its queue is waited for, within the
    /// upload's share of waiting: here the upload began 20 s ago, so it may wait 5 s, and
    /// the lane is held for a fifth of a second. Before uploads waited, such a moment left
    /// the lane behind and the rest of the blob was read back after the commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_moment_behind_is_waited_for_within_the_share() {
        let data: Vec<u8> = (0..MD5_LAG + 4 * HAND_OFF + 5)
            .map(|i| (i * 17 % 233) as u8)
            .collect();
        let (md5_stall, holder) = stalled_for(Duration::from_millis(200));
        let twenty_s = Duration::from_secs(20);
        let (digests, behind_at) =
            streamed_with(&data, 65_536, Md5Pace::RideAlong, md5_stall, None, twenty_s).await;
        holder.join().unwrap();
        assert_eq!(behind_at, None, "left behind though it could wait");
        assert_eq!(digests, Digests::of(&data));
    }

    /// An upload whose client sent an MD5 waits for a slow lane: the MD5 is there at the
    /// end, to be checked before the commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_upload_waiting_for_md5_is_never_left_without_it() {
        let data: Vec<u8> = (0..HAND_OFF * (LANE_QUEUE + 3) + 11)
            .map(|i| (i * 13 % 241) as u8)
            .collect();
        // Held past the queue's room, in an upload that began just now: one that rides
        // along would leave the lane behind at once.
        let (md5_stall, holder) = stalled_for(Duration::from_millis(200));
        let (digests, behind_at) = streamed_with(
            &data,
            65_536,
            Md5Pace::Wait,
            md5_stall,
            None,
            Duration::ZERO,
        )
        .await;
        holder.join().unwrap();
        assert_eq!(behind_at, None);
        assert_eq!(digests, Digests::of(&data));
    }

    /// A file of a few megabytes is hashed while it streams: the lanes start with its
    /// first megabyte, not with its first 4 MiB (which left files under 4 MiB to be
    /// hashed after their last byte).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_lanes_start_with_the_first_megabyte() {
        let data: Vec<u8> = (0..3 * FIRST_HAND_OFFS + 9)
            .map(|i| (i * 19 % 229) as u8)
            .collect();
        let (resumer, _) = kept();
        let inner = Box::new(Discard(0));
        let mut writer = Box::new(DigestingWriter::new(inner, Md5Pace::RideAlong, resumer));
        writer.gathering = hand_off::Gathering::patient();
        let mut chunks = data.chunks(65_536);
        for part in chunks.by_ref().take(FIRST_HAND_OFFS / 65_536) {
            writer.write(Bytes::copy_from_slice(part)).await.unwrap();
        }
        let sent = writer.lanes.as_ref().map(|lanes| lanes.sha1.sent);
        assert_eq!(sent, Some(FIRST_HAND_OFFS as u64));
        for part in chunks {
            writer.write(Bytes::copy_from_slice(part)).await.unwrap();
        }
        let sent = writer.lanes.as_ref().map(|lanes| lanes.sha1.sent);
        assert_eq!(sent, Some(3 * FIRST_HAND_OFFS as u64));
        let staged = writer.finish().await.unwrap();
        assert_eq!(staged.digests(), Some(&Digests::of(&data)));
    }

    /// A slow upload's bytes go to the lanes once they have gathered for `MAX_GATHER`,
    /// however few, instead of waiting in memory for a full batch.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_upload_is_hashed_as_it_trickles_in() {
        let some = hand_off::SHORTEST + 100;
        let data: Vec<u8> = (0..some + 1).map(|i| (i * 13 % 233) as u8).collect();
        let (resumer, _) = kept();
        let inner = Box::new(Discard(0));
        let mut writer = Box::new(DigestingWriter::new(inner, Md5Pace::RideAlong, resumer));
        writer
            .write(Bytes::copy_from_slice(&data[..some]))
            .await
            .unwrap();
        assert!(writer.lanes.is_none(), "a fresh batch is not due");
        tokio::time::sleep(hand_off::MAX_GATHER).await;
        writer
            .write(Bytes::copy_from_slice(&data[some..]))
            .await
            .unwrap();
        let sent = writer.lanes.as_ref().map(|lanes| lanes.sha1.sent);
        assert_eq!(sent, Some(some as u64 + 1));
        assert!(writer.pending.is_empty());
        let staged = writer.finish().await.unwrap();
        assert_eq!(staged.digests(), Some(&Digests::of(&data)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_writer_ends_its_lanes() {
        let (resumer, resumes) = kept();
        let inner = Box::new(Discard(0));
        let mut writer = DigestingWriter::new(inner, Md5Pace::RideAlong, resumer);
        writer
            .write(Bytes::from(vec![1; 3 * HAND_OFF]))
            .await
            .unwrap();
        let lanes = writer.lanes.take().unwrap();
        let (md5, sha1) = (lanes.md5.hashing, lanes.sha1.hashing);
        drop((lanes.md5.batches, lanes.sha1.batches, writer));
        let within = std::time::Duration::from_secs(5);
        tokio::time::timeout(within, md5).await.unwrap().unwrap();
        tokio::time::timeout(within, sha1).await.unwrap().unwrap();
        assert!(resumes.lock().unwrap().is_empty());
    }
}
