//! Reading one S3 blob: a GET from the requested offset that later reads continue, so a
//! whole download or a range is one request streamed in order, and a jump elsewhere
//! (a second range, a seek) starts another ranged GET.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::aws::AmazonS3;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore};
use tokio::sync::Mutex;

use super::error::io_error;
use crate::blob::contract::BlobReader;
use crate::error::Result;

pub(super) struct S3Reader {
    bucket: Arc<AmazonS3>,
    path: Path,
    len: u64,
    cursor: Mutex<Option<Cursor>>,
}

/// An open GET: the offset its next byte has, and bytes received but not yet read.
struct Cursor {
    offset: u64,
    body: BoxStream<'static, object_store::Result<Bytes>>,
    leftover: Bytes,
}

impl S3Reader {
    pub(super) fn new(bucket: Arc<AmazonS3>, path: Path, len: u64) -> Self {
        S3Reader {
            bucket,
            path,
            len,
            cursor: Mutex::new(None),
        }
    }

    async fn get_from(&self, offset: u64) -> Result<Cursor> {
        let options = GetOptions {
            range: (offset > 0).then_some(GetRange::Offset(offset)),
            ..GetOptions::default()
        };
        let got = self
            .bucket
            .get_opts(&self.path, options)
            .await
            .map_err(io_error)?;
        Ok(Cursor {
            offset,
            body: got.into_stream(),
            leftover: Bytes::new(),
        })
    }
}

#[async_trait]
impl BlobReader for S3Reader {
    fn len(&self) -> u64 {
        self.len
    }

    async fn read_at(&self, offset: u64, max: usize) -> Result<Bytes> {
        let want = max.min(self.len.saturating_sub(offset) as usize);
        if want == 0 {
            return Ok(Bytes::new());
        }
        let mut slot = self.cursor.lock().await;
        let mut cursor = match slot.take() {
            Some(c) if c.offset == offset => c,
            _ => self.get_from(offset).await?,
        };
        let read = cursor.read(want).await;
        // A broken GET is not continued: the next read starts a new one.
        if read.is_ok() {
            *slot = Some(cursor);
        }
        read
    }
}

impl Cursor {
    /// The next `want` bytes (fewer only where the object ends).
    async fn read(&mut self, want: usize) -> Result<Bytes> {
        let mut read = BytesMut::new();
        while read.len() < want {
            if self.leftover.is_empty() {
                match self.body.next().await {
                    Some(chunk) => self.leftover = chunk.map_err(io_error)?,
                    None => break,
                }
            }
            let take = (want - read.len()).min(self.leftover.len());
            let piece = self.leftover.split_to(take);
            self.offset += take as u64;
            if read.is_empty() && take == want {
                // The common case: one received chunk holds the whole read; no copy.
                return Ok(piece);
            }
            read.extend_from_slice(&piece);
        }
        Ok(read.freeze())
    }
}
