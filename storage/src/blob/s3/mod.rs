//! Blobs as objects in an S3-compatible bucket (AWS, SeaweedFS, MinIO, Garage, …), so that
//! any number of nodes share one blob store.
//!
//! The contract is the local store's: a writer streams into a multipart upload (or one
//! PUT for a blob smaller than a part) and dropping it before the finish aborts the
//! upload; a staged blob exists under its key but nothing references it until the
//! metadata transaction commits, and dropping it uncommitted deletes it. A node killed
//! mid-upload leaves either an incomplete multipart upload, which garbage collection
//! aborts once it is older than `multipart_max_age` (a day by default; `uploads`), or a
//! complete object nothing references, which garbage collection deletes once it is older
//! than the grace period: an upload in flight on another node is never collected.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::client::{HttpConnector, ReqwestConnector};
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStore};

mod error;
mod reader;
mod uploads;
mod writer;

use error::io_error;
use reader::S3Reader;
use uploads::BucketApi;
use writer::S3Writer;

use super::contract::{BlobKey, BlobReader, BlobStore, BlobWriter, IdleBlob, ListedBlob};
use crate::error::{Result, StorageError};

/// The smallest part S3 accepts (except the last one).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// Where the bucket is and how to reach it.
#[derive(Clone)]
pub struct S3Config {
    /// The endpoint URL of an S3-compatible server; `None` for AWS itself.
    pub endpoint: Option<String>,
    /// The bucket holding the blobs.
    pub bucket: String,
    /// The region the requests are signed for.
    pub region: String,
    /// Path-style URLs (`endpoint/bucket/key`) instead of virtual-hosted ones
    /// (`bucket.endpoint/key`), which most self-hosted servers need.
    pub path_style: bool,
    /// The access key; `None` reads `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<String>,
    /// The secret key; `None` reads `AWS_SECRET_ACCESS_KEY`. Never logged.
    pub secret_access_key: Option<String>,
    /// Bytes per multipart part; an upload holds at most about two parts in memory.
    pub part_size: usize,
    /// Whether a plain `http://` endpoint is accepted (tests on loopback).
    pub allow_http: bool,
    /// How old an unreferenced object must be before garbage collection deletes it: an
    /// upload that finished on another node but has not committed yet is younger.
    pub gc_grace: Duration,
    /// How old an incomplete multipart upload must be before garbage collection aborts
    /// it: one that old is no longer streaming on any node (its node was killed).
    pub multipart_max_age: Duration,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("path_style", &self.path_style)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "***"),
            )
            .field("part_size", &self.part_size)
            .field("allow_http", &self.allow_http)
            .field("gc_grace", &self.gc_grace)
            .field("multipart_max_age", &self.multipart_max_age)
            .finish()
    }
}

/// Blobs in one S3 bucket, each under its key at the bucket's top level.
#[derive(Clone)]
pub struct S3BlobStore {
    bucket: Arc<AmazonS3>,
    part_size: usize,
    gc_grace: Duration,
    multipart_max_age: Duration,
    /// Requests object_store has no call for (listing multipart uploads).
    api: Arc<BucketApi>,
}

impl fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3BlobStore")
            .field("part_size", &self.part_size)
            .finish_non_exhaustive()
    }
}

impl S3BlobStore {
    /// A client for the bucket; nothing is sent until the first call.
    pub fn open(config: &S3Config) -> Result<Self> {
        if config.part_size < MIN_PART_SIZE {
            return Err(StorageError::Invalid(format!(
                "the S3 part size must be at least {MIN_PART_SIZE} bytes"
            )));
        }
        let options = ClientOptions::new().with_allow_http(config.allow_http);
        // The AWS_* variables first (credentials, session token), then the file's keys.
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_virtual_hosted_style_request(!config.path_style)
            .with_client_options(options.clone());
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(id) = &config.access_key_id {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let bucket = builder
            .build()
            .map_err(|e| StorageError::Invalid(format!("S3 settings: {e}")))?;
        let api = BucketApi {
            http: ReqwestConnector::default()
                .connect(&options)
                .map_err(|e| StorageError::Invalid(format!("S3 settings: {e}")))?,
            url: uploads::bucket_url(
                config.endpoint.as_deref(),
                &config.bucket,
                &config.region,
                config.path_style,
            ),
            region: config.region.clone(),
        };
        Ok(S3BlobStore {
            bucket: Arc::new(bucket),
            part_size: config.part_size,
            gc_grace: config.gc_grace,
            multipart_max_age: config.multipart_max_age,
            api: Arc::new(api),
        })
    }

    /// The incomplete multipart uploads in the bucket as (key, upload id): what a node
    /// killed mid-upload leaves until [`BlobStore::abort_stale_uploads`] aborts it.
    pub async fn incomplete_uploads(&self) -> Result<Vec<(String, String)>> {
        let listed = self.api.incomplete(&self.bucket).await?;
        Ok(listed.into_iter().map(|u| (u.key, u.upload_id)).collect())
    }

    /// Deletes the bucket, which must be empty: for tests, each on a bucket of its own.
    pub async fn delete_bucket(&self) -> Result<()> {
        self.api.delete_bucket(&self.bucket).await
    }

    /// Starts writing a new blob under `key` (an object already there is replaced when
    /// the upload completes): uploads get a random key through [`BlobStore::create`];
    /// `davgate migrate` keeps the keys the database already holds.
    pub fn create_as(&self, key: BlobKey) -> Box<dyn BlobWriter> {
        let path = path(&key);
        Box::new(S3Writer::new(
            self.bucket.clone(),
            path,
            key,
            self.part_size,
        ))
    }
}

fn path(key: &BlobKey) -> Path {
    Path::from(key.as_str())
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn create(&self) -> Result<Box<dyn BlobWriter>> {
        Ok(self.create_as(BlobKey::random()))
    }

    async fn open(&self, key: &BlobKey) -> Result<Box<dyn BlobReader>> {
        let path = path(key);
        let meta = self.bucket.head(&path).await.map_err(io_error)?;
        Ok(Box::new(S3Reader::new(
            self.bucket.clone(),
            path,
            meta.size,
        )))
    }

    async fn delete(&self, key: &BlobKey) -> Result<()> {
        match self.bucket.delete(&path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(io_error(e)),
        }
    }

    async fn idle(&self) -> Result<Vec<Box<dyn IdleBlob>>> {
        let grace = i64::try_from(self.gc_grace.as_millis()).unwrap_or(i64::MAX);
        let cutoff = crate::db::now_ms().saturating_sub(grace);
        let mut idle: Vec<Box<dyn IdleBlob>> = Vec::new();
        let mut listing = self.bucket.list(None);
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(io_error)?;
            let Some(key) = BlobKey::parse(meta.location.as_ref()) else {
                continue;
            };
            if meta.last_modified.timestamp_millis() <= cutoff {
                idle.push(Box::new(S3Idle {
                    bucket: self.bucket.clone(),
                    key,
                }));
            }
        }
        Ok(idle)
    }

    async fn list(&self) -> Result<Vec<ListedBlob>> {
        let grace = i64::try_from(self.gc_grace.as_millis()).unwrap_or(i64::MAX);
        let cutoff = crate::db::now_ms().saturating_sub(grace);
        let mut listed = Vec::new();
        let mut listing = self.bucket.list(None);
        while let Some(meta) = listing.next().await {
            let meta = match meta {
                Ok(meta) => meta,
                // No bucket yet (it is made on the first upload): nothing in it.
                Err(_) if listed.is_empty() && !self.api.bucket_exists(&self.bucket).await? => {
                    return Ok(listed);
                }
                Err(e) => return Err(io_error(e)),
            };
            let Some(key) = BlobKey::parse(meta.location.as_ref()) else {
                continue;
            };
            listed.push(ListedBlob {
                key,
                size: meta.size,
                in_flight: meta.last_modified.timestamp_millis() > cutoff,
            });
        }
        Ok(listed)
    }

    async fn abort_stale_uploads(&self) -> Result<usize> {
        self.api
            .abort_older_than(&self.bucket, self.multipart_max_age)
            .await
    }

    async fn ready(&self) -> Result<()> {
        // One listing page of at most one key: proves the endpoint, the credentials and
        // the bucket without reading a blob.
        let mut listing = self.bucket.list(None);
        match listing.next().await {
            None | Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(io_error(e)),
        }
    }
}

struct S3Idle {
    bucket: Arc<AmazonS3>,
    key: BlobKey,
}

#[async_trait]
impl IdleBlob for S3Idle {
    fn key(&self) -> &BlobKey {
        &self.key
    }

    async fn delete(self: Box<Self>) -> Result<()> {
        match self.bucket.delete(&path(&self.key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(io_error(e)),
        }
    }
}
