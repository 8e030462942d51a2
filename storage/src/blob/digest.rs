//! Content digests (SHA-1 and MD5) of blobs, for every store.
//!
//! Sync clients compare them instead of downloading (rclone reads ownCloud's
//! `oc:checksums`). SHA-1 is computed while a blob streams in, on the blocking pool and
//! overlapping the write of the next bytes; with the CPU's SHA extensions it costs
//! little. MD5 has no such help and would cost half a core at disk speed, so it is
//! computed while streaming only when the caller asks (a client sent an MD5 to verify, or
//! the file is small), and otherwise after the commit by the store's MD5 thread
//! (`md5_fill`).

use async_trait::async_trait;
use bytes::Bytes;
use data_encoding::HEXLOWER;
use md5::Md5;
use sha1::{Digest, Sha1};
use tokio::task::JoinHandle;

use super::contract::{BlobKey, BlobWriter, Digests, StagedBlob};
use crate::error::{Result, StorageError};

/// Bytes gathered before a hashing job is handed to the blocking pool.
const HASH_BATCH: usize = 1024 * 1024;

/// Which digests to compute while a blob streams in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streamed {
    /// SHA-1 only; MD5 follows after the commit.
    Sha1,
    /// SHA-1 and MD5, because the client sent an MD5 to verify.
    Sha1AndMd5,
}

impl Digests {
    /// Both digests of bytes at hand.
    pub fn of(data: &[u8]) -> Self {
        let mut hashers = Hashers::new(Streamed::Sha1AndMd5);
        hashers.update(data);
        hashers.finish()
    }
}

struct Hashers {
    md5: Option<Md5>,
    sha1: Sha1,
}

impl Hashers {
    fn new(streamed: Streamed) -> Self {
        Hashers {
            md5: (streamed == Streamed::Sha1AndMd5).then(Md5::default),
            sha1: Sha1::default(),
        }
    }

    fn update(&mut self, data: &[u8]) {
        if let Some(md5) = &mut self.md5 {
            md5.update(data);
        }
        self.sha1.update(data);
    }

    fn finish(self) -> Digests {
        Digests {
            md5: self.md5.map(|m| HEXLOWER.encode(&m.finalize())),
            sha1: HEXLOWER.encode(&self.sha1.finalize()),
        }
    }
}

/// MD5 fed chunk by chunk (for filling it in after the commit).
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

/// A writer that hashes what passes through it.
pub(crate) struct DigestingWriter {
    inner: Box<dyn BlobWriter>,
    pending: Vec<Bytes>,
    pending_len: usize,
    /// The hashers, unless a job holds them.
    idle: Option<Box<Hashers>>,
    job: Option<JoinHandle<Box<Hashers>>>,
}

impl DigestingWriter {
    pub(crate) fn new(inner: Box<dyn BlobWriter>, streamed: Streamed) -> Self {
        DigestingWriter {
            inner,
            pending: Vec::new(),
            pending_len: 0,
            idle: Some(Box::new(Hashers::new(streamed))),
            job: None,
        }
    }

    async fn hashers(&mut self) -> Result<Box<Hashers>> {
        if let Some(h) = self.idle.take() {
            return Ok(h);
        }
        let job = self.job.take().expect("hashers are idle or in a job");
        job.await
            .map_err(|e| StorageError::Io(std::io::Error::other(format!("hashing failed: {e}"))))
    }

    /// Hands the pending bytes to a hashing job; waits only for the previous job.
    async fn dispatch(&mut self) -> Result<()> {
        let mut hashers = self.hashers().await?;
        let batch = std::mem::take(&mut self.pending);
        self.pending_len = 0;
        self.job = Some(tokio::task::spawn_blocking(move || {
            for chunk in &batch {
                hashers.update(chunk);
            }
            hashers
        }));
        Ok(())
    }
}

#[async_trait]
impl BlobWriter for DigestingWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.pending_len += data.len();
        self.pending.push(data.clone());
        if self.pending_len >= HASH_BATCH {
            self.dispatch().await?;
        }
        self.inner.write(data).await
    }

    fn written(&self) -> u64 {
        self.inner.written()
    }

    async fn finish(mut self: Box<Self>) -> Result<Box<dyn StagedBlob>> {
        self.dispatch().await?;
        let hashers = self.hashers().await?;
        let digests = hashers.finish();
        let staged = self.inner.finish().await?;
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
    }
}
