//! `davgate migrate`: copies a stopped installation (SQLite and a blob directory) into an
//! empty PostgreSQL database and, optionally, another blob store (an S3 bucket).
//!
//! The steps, in order: both stores are opened (the target's migrations run), every table
//! of the target must be empty and the target blob store must hold no blob the source
//! lacks; then one PostgreSQL transaction copies every table, parents before children and
//! ids kept (`tables`), streams the bytes of every blob the source store holds to the
//! target store under the same key, several at a time (`blobs`), and sets each identity
//! sequence past the copied ids. Only its commit makes rows visible, so a failed run leaves
//! an empty database to run again into (objects already copied are under the source's
//! keys, and are overwritten then). Last, every blob is read back through the target store
//! and checked against its row's size and digests, as `davgate check` does.
//!
//! Inline blobs (`blob_data`) stay inline: they are rows, copied with their table whatever
//! the target's `inline_blob_max`, which decides only where new uploads go. Nothing is
//! held in memory beyond one batch of rows and, per blob in flight, one chunk (and on S3
//! the parts of a multipart upload being sent).

mod blobs;
mod report;
mod tables;

use crate::db::Backend;
use crate::store::{Store, StoreConfig};

pub use self::report::{BlobCopy, MigrationError, MigrationReport, Progress, TableCopy};

/// Copies the installation `source` describes into the one `target` describes (see the
/// module header); `progress` hears of each step.
pub async fn migrate(
    source: &StoreConfig,
    target: &StoreConfig,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<MigrationReport, MigrationError> {
    if Backend::from_url(&target.database_url) != Some(Backend::Postgres) {
        let scheme = target.database_url.split(':').next().unwrap_or_default();
        return Err(MigrationError::TargetNotPostgres(format!("{scheme}:")));
    }
    let from = Store::open(source).await?;
    if from.backend() != Backend::Sqlite {
        return Err(MigrationError::SourceNotSqlite(from.backend()));
    }
    let to = Store::open(target).await?;
    let copied = tables::source_tables(&from.db.pool).await?;
    tables::ensure_empty(&to.db.pool).await?;
    let destination = blobs::Destination::new(&source.blob_store, &target.blob_store)?;
    let left = destination.ensure_only_known(&from).await?;

    let mut tx = to.db.pool.begin().await?;
    let mut report_tables = Vec::new();
    for &table in &copied {
        let rows = tables::copy_table(&from.db.pool, &mut tx, table).await?;
        let copy = TableCopy { table, rows };
        progress(Progress::Table(copy.clone()));
        report_tables.push(copy);
    }
    let blob_copy = blobs::copy_blobs(&from, &mut tx, &destination, &left, progress).await?;
    tables::advance_sequences(&mut tx, &copied).await?;
    tx.commit().await?;

    progress(Progress::Verifying);
    let check = to.check_blobs().await?;
    Ok(MigrationReport {
        tables: report_tables,
        blobs: blob_copy,
        check,
    })
}
