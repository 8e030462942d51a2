//! The consistency check behind `davgate check`: the `blobs` rows against the objects
//! in the blob store, read-only.
//!
//! Each row's blob must exist, have the recorded size and hash to the recorded SHA-1 and
//! MD5 (where they were stored); each object in the store must be referenced by a row,
//! unless a writer may still be working on it (see [`ListedBlob::in_flight`]). Nothing
//! is changed: repairs are the operator's decision. Blobs are read with
//! `BlobReader::scan`, so a local one is read past the page cache.

use futures_util::StreamExt;
use sha1::{Digest, Sha1};

use crate::Store;
use crate::blob::{BlobKey, ListedBlob, Md5};
use crate::error::{Result, StorageError};

/// Rows read (and keys looked up) per database query.
const BATCH: i64 = 500;
/// Blobs read at once: an object store answers each read after a round trip, and
/// reading one blob after the other left the check waiting on the network (a check of
/// many small blobs in S3 took a round trip per blob, end to end). Each holds one
/// scan's buffer (`BlobReader::scan`: up to 4 MiB for a local blob, 1 MiB otherwise).
const READ_AHEAD: usize = 8;

/// One inconsistency between the metadata and the blob store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobProblem {
    /// A row references a blob the store does not have: the file's content is lost.
    Missing {
        /// The blob.
        key: String,
    },
    /// The stored object is not as long as the row says.
    WrongSize {
        /// The blob.
        key: String,
        /// The size the row records.
        expected: u64,
        /// The size the store holds.
        found: u64,
    },
    /// The stored bytes do not hash to the recorded digest.
    WrongChecksum {
        /// The blob.
        key: String,
        /// "SHA1" or "MD5".
        algorithm: &'static str,
        /// The digest the row records.
        expected: String,
        /// The digest of the stored bytes.
        found: String,
    },
    /// The store failed to read the blob (other than it being missing).
    Unreadable {
        /// The blob.
        key: String,
        /// What the store said.
        error: String,
    },
    /// An object no row references and no writer holds: left by a crash, safe to delete
    /// (garbage collection does so).
    Orphan {
        /// The blob.
        key: String,
        /// Its size in bytes.
        size: u64,
    },
}

/// What a check found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// Rows of the `blobs` table checked.
    pub rows: u64,
    /// Bytes read and hashed.
    pub bytes_verified: u64,
    /// Objects in the blob store.
    pub objects: u64,
    /// Unreferenced objects a writer may still be working on (uploads in flight).
    pub in_flight: u64,
    /// Everything wrong, in the order found.
    pub problems: Vec<BlobProblem>,
}

type BlobRow = (String, i64, Option<String>, Option<String>);

impl Store {
    /// Verifies every blob row against the store and lists objects nothing references.
    /// Reads everything, changes nothing.
    pub async fn check_blobs(&self) -> Result<CheckReport> {
        let mut report = CheckReport::default();
        let mut after = String::new();
        loop {
            let rows: Vec<BlobRow> = sqlx::query_as(
                "SELECT key, size, sha1, md5 FROM blobs WHERE key > $1 ORDER BY key LIMIT $2",
            )
            .bind(&after)
            .bind(BATCH)
            .fetch_all(&self.db.pool)
            .await?;
            let Some(last) = rows.last() else { break };
            after = last.0.clone();
            report.rows += rows.len() as u64;
            // In order, so that problems are reported as the rows come.
            let mut checked = futures_util::stream::iter(rows)
                .map(|row| self.check_row(row))
                .buffered(READ_AHEAD);
            while let Some((problem, verified)) = checked.next().await {
                report.bytes_verified += verified;
                report.problems.extend(problem);
            }
        }
        let listed = self.blobs.list().await?;
        report.objects = listed.len() as u64;
        for batch in listed.chunks(BATCH as usize) {
            let referenced = self.referenced(batch).await?;
            for blob in batch {
                if referenced.iter().any(|k| k == blob.key.as_str()) {
                    continue;
                }
                if blob.in_flight {
                    report.in_flight += 1;
                } else {
                    report.problems.push(BlobProblem::Orphan {
                        key: blob.key.as_str().to_owned(),
                        size: blob.size,
                    });
                }
            }
        }
        Ok(report)
    }

    /// Up to `limit` files whose content is blob `key`, as "user: file name", so a
    /// person knows what a problem costs.
    pub async fn blob_users(&self, key: &str, limit: i64) -> Result<Vec<String>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT a.username, n.name FROM nodes n JOIN accounts a ON a.id = n.account_id \
             WHERE n.blob_key = $1 ORDER BY n.id LIMIT $2",
        )
        .bind(key)
        .bind(limit)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows.into_iter().map(|(u, n)| format!("{u}: {n}")).collect())
    }

    /// The keys in `batch` that have a row.
    pub(crate) async fn referenced(&self, batch: &[ListedBlob]) -> Result<Vec<String>> {
        let placeholders: Vec<String> = (1..=batch.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT key FROM blobs WHERE key IN ({})",
            placeholders.join(", ")
        );
        // Only numbered placeholders are formatted into the statement.
        let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
        for blob in batch {
            query = query.bind(blob.key.as_str());
        }
        Ok(query.fetch_all(&self.db.pool).await?)
    }

    /// Reads one row's blob through and compares it with the row; also the bytes hashed.
    async fn check_row(&self, row: BlobRow) -> (Option<BlobProblem>, u64) {
        let mut verified = 0;
        let problem = self.compare_row(row, &mut verified).await;
        (problem, verified)
    }

    /// The comparison of one row; `verified` grows by the bytes hashed.
    async fn compare_row(&self, row: BlobRow, verified: &mut u64) -> Option<BlobProblem> {
        let (key, size, sha1, md5) = row;
        let unreadable = |key: String, e: StorageError| match e {
            StorageError::NotFound => BlobProblem::Missing { key },
            StorageError::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
                BlobProblem::Missing { key }
            }
            e => BlobProblem::Unreadable {
                key,
                error: e.to_string(),
            },
        };
        let Some(blob_key) = BlobKey::parse(&key) else {
            return Some(BlobProblem::Unreadable {
                key,
                error: "the key is not a blob key".into(),
            });
        };
        let reader = match self.blobs.open(&blob_key).await {
            Ok(reader) => reader,
            Err(e) => return Some(unreadable(key, e)),
        };
        let expected = size.max(0) as u64;
        if reader.len() != expected {
            return Some(BlobProblem::WrongSize {
                key,
                expected,
                found: reader.len(),
            });
        }
        let mut sha1_hasher = sha1.is_some().then(Sha1::default);
        let mut md5_hasher = md5.is_some().then(Md5::default);
        if sha1_hasher.is_none() && md5_hasher.is_none() {
            return None;
        }
        let mut offset = 0u64;
        let mut scan = reader.scan(0);
        loop {
            let chunk = match scan.next_chunk().await {
                Ok([]) => break,
                Ok(chunk) => chunk,
                Err(e) => return Some(unreadable(key, e)),
            };
            if let Some(h) = &mut sha1_hasher {
                h.update(chunk);
            }
            if let Some(h) = &mut md5_hasher {
                h.update(chunk);
            }
            offset += chunk.len() as u64;
        }
        if offset != expected {
            return Some(BlobProblem::WrongSize {
                key,
                expected,
                found: offset,
            });
        }
        *verified += offset;
        let hex = data_encoding::HEXLOWER;
        if let (Some(h), Some(expected)) = (sha1_hasher, sha1) {
            let found = hex.encode(&h.finalize());
            if !found.eq_ignore_ascii_case(&expected) {
                return Some(BlobProblem::WrongChecksum {
                    key,
                    algorithm: "SHA1",
                    expected,
                    found,
                });
            }
        }
        if let (Some(h), Some(expected)) = (md5_hasher, md5) {
            let found = hex.encode(&h.finalize());
            if !found.eq_ignore_ascii_case(&expected) {
                return Some(BlobProblem::WrongChecksum {
                    key,
                    algorithm: "MD5",
                    expected,
                    found,
                });
            }
        }
        None
    }
}
