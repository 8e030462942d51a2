//! Moving blob bytes during a migration: each blob the source store holds is streamed to
//! the target store under the same key, chunk by chunk, hashed on the way, [`PARALLEL`]
//! blobs at a time.
//!
//! Inline blobs are rows of `blob_data` and travel with their table. When the target
//! keeps its blobs in the source's own directory nothing moves. Before anything is
//! written the target store must hold no blob the source lacks: one that does belongs
//! to another installation (objects under the source's own keys are what a failed run
//! left, and are replaced). A blob whose row lacks its digests (stored before uploads
//! computed them) gets them from the copy, so the final read-back can verify it too. A
//! blob the source cannot read is counted and left for the read-back, which reports it
//! missing: one lost file does not stop the rest. A failure of the target store ends
//! the migration with an error naming the blob (nothing is committed; the copies still
//! in flight are dropped, and a dropped writer deletes what it wrote).

use std::collections::HashSet;
use std::path::PathBuf;

use futures_util::{Stream, TryStreamExt, stream};
use sha1::{Digest, Sha1};
use sqlx::{Any, AnyPool, Transaction};

use super::report::{BlobCopy, MigrationError, Progress};
use crate::blob::{BlobKey, BlobStore, BlobWriter, LocalBlobStore, Md5, S3BlobStore};
use crate::error::{Result, StorageError};
use crate::store::{BlobStoreConfig, Store};

/// Blob rows read per query, and blobs handled between progress reports.
const BATCH: i64 = 500;
/// Bytes read and written per step.
const CHUNK: usize = 1 << 20;
/// Blobs copied at once. One copy waits on a request per S3 part or an fsync per file
/// far more than it moves bytes, so several keep both stores busy; each holds one
/// [`CHUNK`] and, on S3, about two parts, so memory stays bounded whatever the sizes.
const PARALLEL: usize = 8;

/// Where blob bytes go.
pub(super) enum Destination {
    /// Nowhere: the target reads the source's own directory.
    InPlace,
    /// Another local directory.
    Local(LocalBlobStore, PathBuf),
    /// An S3 bucket, with its name.
    S3(S3BlobStore, String),
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
                    Destination::Local(LocalBlobStore::open(dir)?, dir.clone())
                }
            }
            BlobStoreConfig::S3(config) => {
                Destination::S3(S3BlobStore::open(config)?, config.bucket.clone())
            }
        })
    }

    /// Refuses a target store holding a blob `source` has no row for; returns the keys
    /// it holds that `source` has (left by an earlier run that failed), which the copy
    /// replaces.
    pub(super) async fn ensure_only_known(
        &self,
        source: &Store,
    ) -> std::result::Result<HashSet<String>, MigrationError> {
        let (listed, store) = match self {
            Destination::InPlace => return Ok(HashSet::new()),
            Destination::Local(store, dir) => {
                (store.list().await?, format!("directory {}", dir.display()))
            }
            Destination::S3(store, bucket) => (store.list().await?, format!("bucket {bucket}")),
        };
        let mut left = HashSet::new();
        let mut unknown = Vec::new();
        for batch in listed.chunks(BATCH as usize) {
            let known: HashSet<String> = source.referenced(batch).await?.into_iter().collect();
            for blob in batch {
                let key = blob.key.as_str().to_owned();
                if known.contains(&key) {
                    left.insert(key);
                } else {
                    unknown.push(key);
                }
            }
        }
        unknown.sort_unstable();
        match unknown.first() {
            None => Ok(left),
            Some(example) => Err(MigrationError::TargetStoreNotEmpty {
                store,
                unknown: unknown.len() as u64,
                example: example.clone(),
            }),
        }
    }

    /// A writer for `key`; an object left there by an earlier, failed run (its rows
    /// were rolled back) is replaced.
    async fn create(&self, key: &BlobKey) -> Result<Box<dyn BlobWriter>> {
        match self {
            Destination::InPlace => Err(StorageError::Invalid(
                "blobs kept in place are not written".into(),
            )),
            Destination::S3(store, _) => Ok(store.create_as(key.clone())),
            Destination::Local(store, _) => match store.create_as(key.clone()).await {
                Err(StorageError::Io(e)) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    store.delete(key).await?;
                    store.create_as(key.clone()).await
                }
                other => other,
            },
        }
    }
}

/// One `blobs` row of the source: key, SHA-1 and MD5 as stored, and whether its bytes
/// are inline (a count of `blob_data` rows).
type BlobRow = (String, Option<String>, Option<String>, i64);

/// Streams every blob of `source` that is not inline to `destination`, [`PARALLEL`] at
/// a time, filling in the target rows' missing digests inside `tx`; `left` holds the
/// keys an earlier run left in the target (see [`Destination::ensure_only_known`]).
pub(super) async fn copy_blobs(
    source: &Store,
    tx: &mut Transaction<'static, Any>,
    destination: &Destination,
    left: &HashSet<String>,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> std::result::Result<BlobCopy, MigrationError> {
    let mut copy = BlobCopy::default();
    let mut handled = 0i64;
    let moves = source_rows(&source.db.pool)
        .map_err(MigrationError::from)
        .map_ok(|row| async move {
            let moved = move_one(source, destination, &row).await?;
            Ok::<_, MigrationError>((row, moved))
        })
        .try_buffer_unordered(PARALLEL);
    let mut moves = std::pin::pin!(moves);
    while let Some(((key, sha1, md5, _), moved)) = moves.try_next().await? {
        handled += 1;
        match moved {
            Moved::Inline => copy.inline += 1,
            Moved::InPlace => copy.in_place += 1,
            Moved::SourceUnreadable(e) => {
                tracing::warn!(key, "the source blob could not be read: {e}");
                copy.unreadable += 1;
            }
            Moved::Whole { bytes, digests } => {
                copy.copied += 1;
                copy.bytes += bytes;
                copy.replaced += u64::from(left.contains(&key));
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
        }
        if handled % BATCH == 0 {
            progress(Progress::Blobs(copy.clone()));
        }
    }
    if handled % BATCH != 0 {
        progress(Progress::Blobs(copy.clone()));
    }
    Ok(copy)
}

/// The source's `blobs` rows in key order, read [`BATCH`] at a time.
fn source_rows(pool: &AnyPool) -> impl Stream<Item = sqlx::Result<BlobRow>> + Send + '_ {
    stream::try_unfold(String::new(), move |after| async move {
        let rows: Vec<BlobRow> = sqlx::query_as(
            "SELECT b.key, b.sha1, b.md5, \
               (SELECT COUNT(*) FROM blob_data d WHERE d.key = b.key) \
             FROM blobs b WHERE b.key > $1 ORDER BY b.key LIMIT $2",
        )
        .bind(&after)
        .bind(BATCH)
        .fetch_all(pool)
        .await?;
        let Some(last) = rows.last() else {
            return Ok::<_, sqlx::Error>(None);
        };
        let after = last.0.clone();
        Ok(Some((stream::iter(rows.into_iter().map(Ok)), after)))
    })
    .try_flatten()
}

/// What became of one row's blob, short of a failure of the target store (an error
/// naming the blob, which ends the migration: its transaction is rolled back).
enum Moved {
    /// Its bytes are a row of `blob_data`, copied with the tables.
    Inline,
    /// The target reads the source's directory: nothing to move.
    InPlace,
    /// Every byte the source had, with its length and SHA-1 and MD5 as hex.
    Whole {
        bytes: u64,
        digests: (String, String),
    },
    /// The source store could not open or read it: left for the read-back to report.
    SourceUnreadable(StorageError),
}

/// Moves the blob of `row`, if it is to move.
async fn move_one(
    source: &Store,
    destination: &Destination,
    row: &BlobRow,
) -> std::result::Result<Moved, MigrationError> {
    let (key, _, _, inline) = row;
    if *inline > 0 {
        return Ok(Moved::Inline);
    }
    if matches!(destination, Destination::InPlace) {
        return Ok(Moved::InPlace);
    }
    let Some(blob_key) = BlobKey::parse(key) else {
        return Ok(Moved::SourceUnreadable(StorageError::Invalid(
            "the key is not a blob key".into(),
        )));
    };
    copy_one(source, destination, &blob_key)
        .await
        .map_err(|error| MigrationError::BlobNotCopied {
            key: key.clone(),
            error,
        })
}

/// Streams one blob across.
async fn copy_one(source: &Store, destination: &Destination, key: &BlobKey) -> Result<Moved> {
    let reader = match source.blobs.open(key).await {
        Ok(reader) => reader,
        Err(e) => return Ok(Moved::SourceUnreadable(e)),
    };
    // Dropped on an error, the writer deletes what it wrote.
    let mut writer = destination.create(key).await?;
    let mut sha1 = Sha1::default();
    let mut md5 = Md5::default();
    let mut offset = 0u64;
    while offset < reader.len() {
        let chunk = match reader.read_at(offset, CHUNK).await {
            Ok(chunk) => chunk,
            Err(e) => return Ok(Moved::SourceUnreadable(e)),
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
    Ok(Moved::Whole {
        bytes: offset,
        digests: (hex.encode(&sha1.finalize()), hex.encode(&md5.finalize())),
    })
}
