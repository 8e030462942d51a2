//! Garbage collection: blob bytes that no committed transaction references.
//!
//! They appear only when a process dies between writing a blob and committing it, or
//! between a commit that released a blob and deleting its bytes. The blob store offers
//! only blobs no live writer holds (locally a file lock says so; in S3 an object younger
//! than the grace period may still be on its way to a commit on another node), so an
//! upload in progress is never collected. On S3 a node killed mid-body also leaves an
//! incomplete multipart upload, which the same run aborts once it is older than the
//! store's `multipart_max_age`.

use crate::Store;
use crate::blob::IdleBlob;
use crate::error::Result;

/// Keys checked per database query.
const BATCH: usize = 200;

/// What a collection run found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GarbageReport {
    /// Blobs looked at.
    pub examined: usize,
    /// Unreferenced blobs deleted.
    pub deleted: usize,
    /// Incomplete uploads aborted (S3 multipart uploads whose node died).
    pub aborted_uploads: usize,
}

impl Store {
    /// Deletes blob bytes that nothing references and no writer holds.
    pub async fn collect_garbage(&self) -> Result<GarbageReport> {
        let aborted_uploads = self.blobs.abort_stale_uploads().await?;
        let mut idle = self.blobs.idle().await?;
        let mut report = GarbageReport {
            examined: idle.len(),
            deleted: 0,
            aborted_uploads,
        };
        while !idle.is_empty() {
            let batch: Vec<Box<dyn IdleBlob>> = idle.drain(..idle.len().min(BATCH)).collect();
            let placeholders: Vec<String> = (1..=batch.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT key FROM blobs WHERE key IN ({})",
                placeholders.join(", ")
            );
            // Only numbered placeholders are formatted into the statement.
            let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
            for blob in &batch {
                query = query.bind(blob.key().as_str());
            }
            let referenced: Vec<String> = query.fetch_all(&self.db.pool).await?;
            for blob in batch {
                if referenced.iter().any(|k| k == blob.key().as_str()) {
                    continue;
                }
                tracing::info!(blob = blob.key().as_str(), "deleting an unreferenced blob");
                blob.delete().await?;
                report.deleted += 1;
            }
        }
        Ok(report)
    }
}
