//! Content digests (SHA-1 and MD5) of blobs, for every store, computed from the bytes
//! as they stream in.
//!
//! Sync clients compare them instead of downloading (rclone reads ownCloud's
//! `oc:checksums`). An upload hands each full batch of its body's chunks (refcounted
//! `Bytes`, never copied) to two hashing lanes of its own on the blocking pool, one per
//! digest, and goes on receiving; the blob is never read back. Reading it back cost more
//! than the hashing: large blobs are written past the page cache, so the read came from
//! the disk, with seconds of kernel time per gigabyte. The lanes run side by side because
//! MD5 has no CPU help and is the slower of the two, while SHA-1 uses the CPU's SHA
//! extensions where it has them (the `sha1` crate detects them at run time). A lane that
//! falls `LANE_QUEUE` batches behind makes the upload wait, so memory stays bounded. A
//! small upload, whose bytes all fit in one batch, is hashed at its end without a lane.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use data_encoding::HEXLOWER;
use md5::Md5;
use sha1::{Digest, Sha1};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::contract::{BlobKey, BlobWriter, Digests, StagedBlob};
use crate::error::{Result, StorageError};

/// Bytes gathered before a batch is handed to the lanes.
const HASH_BATCH: usize = 1024 * 1024;
/// Batches a lane may have queued before the upload waits for it.
const LANE_QUEUE: usize = 4;
/// Bytes hashed on the uploading task itself at the end (well under a millisecond);
/// more go to the blocking pool.
const INLINE_MAX: usize = 64 * 1024;

/// Chunks of an upload, in order, shared by both lanes.
type Batch = Arc<Vec<Bytes>>;

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

fn digest_of<D: Digest>(chunks: &[Bytes]) -> String {
    let mut hasher = D::new();
    for chunk in chunks {
        hasher.update(chunk);
    }
    HEXLOWER.encode(&hasher.finalize())
}

/// MD5 fed chunk by chunk (for blobs stored before MD5s were computed while streaming;
/// see `md5_fill`).
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

/// One digest computed on the blocking pool from the batches it is sent.
struct Lane {
    batches: mpsc::Sender<Batch>,
    hashing: JoinHandle<String>,
}

impl Lane {
    fn start<D: Digest + Send + 'static>() -> Self {
        let (batches, mut queued) = mpsc::channel::<Batch>(LANE_QUEUE);
        let hashing = tokio::task::spawn_blocking(move || {
            let mut hasher = D::new();
            // Ends when the writer closes the queue: finished, or dropped mid-upload.
            while let Some(batch) = queued.blocking_recv() {
                for chunk in batch.iter() {
                    hasher.update(chunk);
                }
            }
            HEXLOWER.encode(&hasher.finalize())
        });
        Lane { batches, hashing }
    }

    async fn feed(&self, batch: Batch) -> Result<()> {
        self.batches.send(batch).await.map_err(|_| lane_failed())
    }

    async fn finish(self) -> Result<String> {
        drop(self.batches);
        self.hashing.await.map_err(|_| lane_failed())
    }
}

fn lane_failed() -> StorageError {
    StorageError::Io(std::io::Error::other("a hashing thread failed"))
}

/// The two lanes of one upload, started with its first full batch.
struct Lanes {
    md5: Lane,
    sha1: Lane,
}

impl Lanes {
    fn start() -> Self {
        Lanes {
            md5: Lane::start::<Md5>(),
            sha1: Lane::start::<Sha1>(),
        }
    }

    async fn feed(&self, batch: Vec<Bytes>) -> Result<()> {
        let batch = Arc::new(batch);
        tokio::try_join!(self.md5.feed(batch.clone()), self.sha1.feed(batch))?;
        Ok(())
    }

    async fn finish(self) -> Result<Digests> {
        let (md5, sha1) = tokio::try_join!(self.md5.finish(), self.sha1.finish())?;
        Ok(Digests {
            md5: Some(md5),
            sha1,
        })
    }
}

/// A writer that hashes what passes through it.
pub(crate) struct DigestingWriter {
    inner: Box<dyn BlobWriter>,
    /// Chunks not yet handed to the lanes.
    pending: Vec<Bytes>,
    pending_len: usize,
    lanes: Option<Lanes>,
}

impl DigestingWriter {
    pub(crate) fn new(inner: Box<dyn BlobWriter>) -> Self {
        DigestingWriter {
            inner,
            pending: Vec::new(),
            pending_len: 0,
            lanes: None,
        }
    }

    /// The digests of everything written: from the lanes if they run, else of the
    /// pending chunks, which are then the whole blob.
    async fn digests(
        pending: Vec<Bytes>,
        pending_len: usize,
        lanes: Option<Lanes>,
    ) -> Result<Digests> {
        match lanes {
            Some(lanes) => {
                if !pending.is_empty() {
                    lanes.feed(pending).await?;
                }
                lanes.finish().await
            }
            None if pending_len <= INLINE_MAX => Ok(Digests::of_chunks(&pending)),
            None => tokio::task::spawn_blocking(move || Digests::of_chunks(&pending))
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
        if self.pending_len >= HASH_BATCH {
            let batch = std::mem::take(&mut self.pending);
            self.pending_len = 0;
            self.lanes
                .get_or_insert_with(Lanes::start)
                .feed(batch)
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
            lanes,
        } = *self;
        // The lanes catch up while the tail is written and synced.
        let (digests, staged) =
            tokio::try_join!(Self::digests(pending, pending_len, lanes), inner.finish())?;
        Ok(Box::new(DigestedBlob {
            inner: staged,
            digests,
        }))
    }
}

struct DigestedBlob {
    inner: Box<dyn StagedBlob>,
    digests: Digests,
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
        self.inner.committed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    async fn streamed(data: &[u8], chunk: usize) -> Digests {
        let mut writer = Box::new(DigestingWriter::new(Box::new(Discard(0))));
        for part in data.chunks(chunk) {
            writer.write(Bytes::copy_from_slice(part)).await.unwrap();
        }
        let staged = writer.finish().await.unwrap();
        assert_eq!(staged.size(), data.len() as u64);
        staged.digests().cloned().unwrap()
    }

    /// Every size around the places where the work changes hands: inline, one batch on
    /// the blocking pool, the lanes, a lane's full queue.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn streamed_digests_match_at_every_boundary() {
        let batches = HASH_BATCH * (LANE_QUEUE + 3);
        let data: Vec<u8> = (0..batches + 7).map(|i| (i * 31 % 251) as u8).collect();
        let sizes = [
            0,
            1,
            INLINE_MAX,
            INLINE_MAX + 1,
            HASH_BATCH - 1,
            HASH_BATCH,
            HASH_BATCH + 1,
            2 * HASH_BATCH,
            batches + 7,
        ];
        for size in sizes {
            let data = &data[..size];
            for chunk in [1000, 65_536, 100_003, HASH_BATCH, 3 * HASH_BATCH] {
                if size > 4 * HASH_BATCH && chunk == 1000 {
                    continue;
                }
                assert_eq!(
                    streamed(data, chunk).await,
                    Digests::of(data),
                    "{size} bytes in chunks of {chunk}"
                );
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_writer_ends_its_lanes() {
        let mut writer = DigestingWriter::new(Box::new(Discard(0)));
        writer
            .write(Bytes::from(vec![1; 3 * HASH_BATCH]))
            .await
            .unwrap();
        let lanes = writer.lanes.take().unwrap();
        let (md5, sha1) = (lanes.md5.hashing, lanes.sha1.hashing);
        drop((lanes.md5.batches, lanes.sha1.batches, writer));
        let within = std::time::Duration::from_secs(5);
        tokio::time::timeout(within, md5).await.unwrap().unwrap();
        tokio::time::timeout(within, sha1).await.unwrap().unwrap();
    }
}
