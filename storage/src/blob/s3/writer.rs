//! Writing one blob to S3: one PUT for a blob smaller than a part, otherwise a multipart
//! upload with one part filling while the previous one is sent.
//!
//! Incoming chunks are kept as they are (no copy) until a part's worth has arrived; that
//! part is then sent by a task of its own while the next fills, and a part waits for the
//! one before it, so an upload holds at most about two parts whatever its size. Dropping
//! the writer unfinished aborts the multipart upload: S3 then frees the parts.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use object_store::aws::AmazonS3;
use object_store::path::Path;
use object_store::{MultipartUpload, ObjectStore, PutPayload};
use tokio::task::JoinHandle;

use super::error::io_error;
use crate::blob::contract::{BlobKey, BlobWriter, StagedBlob};
use crate::error::Result;

pub(super) struct S3Writer {
    bucket: Arc<AmazonS3>,
    path: Path,
    key: BlobKey,
    part_size: usize,
    /// Chunks of the part being filled, and their total length.
    pending: Vec<Bytes>,
    pending_len: usize,
    /// The multipart upload, once a full part has arrived; `None` again after it
    /// completed. The mutex only makes it `Sync`: it is reached through `get_mut`.
    upload: Option<Mutex<Box<dyn MultipartUpload>>>,
    /// The part being sent.
    sending: Option<JoinHandle<object_store::Result<()>>>,
    written: u64,
}

impl S3Writer {
    pub(super) fn new(bucket: Arc<AmazonS3>, path: Path, key: BlobKey, part_size: usize) -> Self {
        S3Writer {
            bucket,
            path,
            key,
            part_size,
            pending: Vec::new(),
            pending_len: 0,
            upload: None,
            sending: None,
            written: 0,
        }
    }

    /// Waits for the part being sent, if any.
    async fn part_sent(&mut self) -> Result<()> {
        if let Some(sending) = self.sending.take() {
            sending
                .await
                .map_err(|e| std::io::Error::other(format!("S3 part upload failed: {e}")))?
                .map_err(io_error)?;
        }
        Ok(())
    }

    /// Sends the pending chunks as the next part, once the previous one is through.
    async fn send_part(&mut self) -> Result<()> {
        self.part_sent().await?;
        let upload = match &mut self.upload {
            Some(upload) => upload,
            None => self.upload.insert(Mutex::new(
                self.bucket
                    .put_multipart(&self.path)
                    .await
                    .map_err(io_error)?,
            )),
        };
        let upload = upload.get_mut().unwrap_or_else(PoisonError::into_inner);
        let part: PutPayload = std::mem::take(&mut self.pending).into_iter().collect();
        self.pending_len = 0;
        self.sending = Some(tokio::spawn(upload.put_part(part)));
        Ok(())
    }
}

#[async_trait]
impl BlobWriter for S3Writer {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.written += data.len() as u64;
        self.pending_len += data.len();
        self.pending.push(data);
        if self.pending_len >= self.part_size {
            self.send_part().await?;
        }
        Ok(())
    }

    fn written(&self) -> u64 {
        self.written
    }

    async fn finish(mut self: Box<Self>) -> Result<Box<dyn StagedBlob>> {
        if self.upload.is_none() {
            let whole: PutPayload = std::mem::take(&mut self.pending).into_iter().collect();
            self.bucket.put(&self.path, whole).await.map_err(io_error)?;
        } else {
            if self.pending_len > 0 {
                self.send_part().await?;
            }
            self.part_sent().await?;
            let upload = self
                .upload
                .as_mut()
                .expect("a multipart upload was started");
            let upload = upload.get_mut().unwrap_or_else(PoisonError::into_inner);
            upload.complete().await.map_err(io_error)?;
            self.upload = None;
        }
        Ok(Box::new(S3Staged {
            bucket: Some(self.bucket.clone()),
            path: self.path.clone(),
            key: self.key.clone(),
            size: self.written,
        }))
    }
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        let sending = self.sending.take();
        if let Some(sending) = &sending {
            sending.abort();
        }
        let Some(upload) = self.upload.take() else {
            return;
        };
        let mut upload = upload.into_inner().unwrap_or_else(PoisonError::into_inner);
        // The upload was abandoned: refused, failed or disconnected. The abort runs
        // after the part in flight is cancelled, so no part arrives after it.
        spawn_cleanup(async move {
            if let Some(sending) = sending {
                let _ = sending.await;
            }
            if let Err(e) = upload.abort().await {
                tracing::warn!(error = %e, "aborting an S3 multipart upload failed");
            }
        });
    }
}

/// A blob in the bucket that no transaction references yet.
pub(super) struct S3Staged {
    /// `None` once committed.
    bucket: Option<Arc<AmazonS3>>,
    path: Path,
    key: BlobKey,
    size: u64,
}

impl StagedBlob for S3Staged {
    fn key(&self) -> &BlobKey {
        &self.key
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn committed(mut self: Box<Self>) {
        self.bucket = None;
    }
}

impl Drop for S3Staged {
    fn drop(&mut self) {
        if let Some(bucket) = self.bucket.take() {
            let path = std::mem::take(&mut self.path);
            spawn_cleanup(async move {
                if let Err(e) = bucket.delete(&path).await {
                    tracing::warn!(error = %e, "deleting an uncommitted S3 blob failed");
                }
            });
        }
    }
}

/// Runs the undoing of an upload in the background; without a runtime (the process is
/// ending) the garbage collector or the bucket's lifecycle rule does it later.
fn spawn_cleanup(cleanup: impl Future<Output = ()> + Send + 'static) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(cleanup);
    }
}
