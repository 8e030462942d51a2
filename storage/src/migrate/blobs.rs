//! Moving blob bytes during a migration: each blob the source store holds is streamed to
//! the target store under the same key, chunk by chunk, hashed on the way.
//!
//! Inline blobs are rows of `blob_data` and travel with their table. When the target
//! keeps its blobs in the source's own directory nothing moves. A blob whose row lacks
//! its digests (stored before uploads computed them) gets them from the copy, so the
//! final read-back can verify it too. A blob the source cannot read is counted and left
//! for the read-back, which reports it missing: one lost file does not stop the rest. A
//! failure of the target store ends the migration (nothing is committed).

use md5::Md5;
use sha1::{Digest, Sha1};
use sqlx::{Any, Transaction};

use super::report::{BlobCopy, MigrationError, Progress};
use crate::blob::{BlobKey, BlobStore, BlobWriter, LocalBlobStore, S3BlobStore};
use crate::error::{Result, StorageError};
use crate::store::{BlobStoreConfig, Store};

/// Blob rows read per query.
const BATCH: i64 = 500;
/// Bytes read and written per step.
const CHUNK: usize = 1 << 20;

/// Where blob bytes go.
pub(super) enum Destination {
    /// Nowhere: the target reads the source's own directory.
    InPlace,
    /// Another local directory.
    Local(LocalBlobStore),
    /// An S3 bucket.
    S3(S3BlobStore),
}

impl Destination {
    pub(super) fn new(source: &BlobStoreConfig, target: &BlobStoreConfig) -> Result<Self> {
        Ok(match target {
            BlobStoreConfig::Local(dir) => {
                let same = match source {
                    BlobStoreConfig::Local(from) => {
                        from == dir
                            || matches!(
                                (from.canonicalize(), dir.canonicalize()),
                                (Ok(a), Ok(b)) if a == b
                            )
                    }
                    BlobStoreConfig::S3(_) => false,
                };
                if same {
                    Destination::InPlace
                } else {
                    Destination::Local(LocalBlobStore::open(dir)?)
                }
            }
            BlobStoreConfig::S3(config) => Destination::S3(S3BlobStore::open(config)?),
        })
    }

    /// A writer for `key`; an object left there by an earlier, failed run (its rows
    /// were rolled back) is replaced.
    async fn create(&self, key: &BlobKey) -> Result<Box<dyn BlobWriter>> {
        match self {
            Destination::InPlace => Err(StorageError::Invalid(
                "blobs kept in place are not written".into(),
            )),
            Destination::S3(store) => Ok(store.create_as(key.clone())),
            Destination::Local(store) => match store.create_as(key.clone()).await {
                Err(StorageError::Io(e)) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    store.delete(key).await?;
                    store.create_as(key.clone()).await
                }
                other => other,
            },
        }
    }
}

/// One `blobs` row of the source, with whether its bytes are inline.
type BlobRow = (String, Option<String>, Option<String>, i64);

/// Streams every blob of `source` that is not inline to `destination`, filling in the
/// target rows' missing digests inside `tx`.
pub(super) async fn copy_blobs(
    source: &Store,
    tx: &mut Transaction<'static, Any>,
    destination: &Destination,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> std::result::Result<BlobCopy, MigrationError> {
    let mut copy = BlobCopy::default();
    let mut after = String::new();
    loop {
        let rows: Vec<BlobRow> = sqlx::query_as(
            "SELECT b.key, b.sha1, b.md5, \
               (SELECT COUNT(*) FROM blob_data d WHERE d.key = b.key) \
             FROM blobs b WHERE b.key > $1 ORDER BY b.key LIMIT $2",
        )
        .bind(&after)
        .bind(BATCH)
        .fetch_all(&source.db.pool)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.0.clone();
        for (key, sha1, md5, inline) in rows {
            if inline > 0 {
                copy.inline += 1;
                continue;
            }
            if matches!(destination, Destination::InPlace) {
                copy.in_place += 1;
                continue;
            }
            let Some(blob_key) = BlobKey::parse(&key) else {
                copy.unreadable += 1;
                continue;
            };
            let digests = match copy_one(source, destination, &blob_key).await? {
                Copied::Whole { bytes, digests } => {
                    copy.copied += 1;
                    copy.bytes += bytes;
                    digests
                }
                Copied::SourceUnreadable(e) => {
                    tracing::warn!(key, "the source blob could not be read: {e}");
                    copy.unreadable += 1;
                    continue;
                }
            };
            if sha1.is_none() || md5.is_none() {
                sqlx::query(
                    "UPDATE blobs SET sha1 = COALESCE(sha1, $1), md5 = COALESCE(md5, $2) \
                     WHERE key = $3",
                )
                .bind(digests.0)
                .bind(digests.1)
                .bind(&key)
                .execute(&mut **tx)
                .await?;
            }
        }
        progress(Progress::Blobs(copy.clone()));
    }
    Ok(copy)
}

/// How one blob's copy ended, short of a failure of the target store (an error, which
/// ends the migration: its transaction is rolled back).
enum Copied {
    /// Every byte the source had, with its length and SHA-1 and MD5 as hex.
    Whole {
        bytes: u64,
        digests: (String, String),
    },
    /// The source store could not open or read it: left for the read-back to report.
    SourceUnreadable(StorageError),
}

/// Streams one blob across.
async fn copy_one(source: &Store, destination: &Destination, key: &BlobKey) -> Result<Copied> {
    let reader = match source.blobs.open(key).await {
        Ok(reader) => reader,
        Err(e) => return Ok(Copied::SourceUnreadable(e)),
    };
    // Dropped on an error, the writer deletes what it wrote.
    let mut writer = destination.create(key).await?;
    let mut sha1 = Sha1::default();
    let mut md5 = Md5::default();
    let mut offset = 0u64;
    while offset < reader.len() {
        let chunk = match reader.read_at(offset, CHUNK).await {
            Ok(chunk) => chunk,
            Err(e) => return Ok(Copied::SourceUnreadable(e)),
        };
        if chunk.is_empty() {
            // Shorter than it said: what was read is copied, the read-back reports it.
            break;
        }
        sha1.update(&chunk);
        md5.update(&chunk);
        offset += chunk.len() as u64;
        writer.write(chunk).await?;
    }
    writer.finish().await?.committed();
    let hex = data_encoding::HEXLOWER;
    Ok(Copied::Whole {
        bytes: offset,
        digests: (hex.encode(&sha1.finalize()), hex.encode(&md5.finalize())),
    })
}
