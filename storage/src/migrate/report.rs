//! What a migration reports: its progress, its result and why it was refused or failed.
//! A leaf under the copying modules, which all report through these types.

use crate::check::CheckReport;
use crate::db::Backend;
use crate::error::StorageError;

/// What became of the blobs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlobCopy {
    /// Blobs streamed into the target store.
    pub copied: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Blobs kept in the database, copied with `blob_data`.
    pub inline: u64,
    /// Blobs left where they are (the target uses the source's blob directory).
    pub in_place: u64,
    /// Blobs the source store could not read (the read-back reports each).
    pub unreadable: u64,
    /// Of the copied blobs, those the target store already held under their key: left
    /// by an earlier run that failed (its rows were rolled back), and replaced.
    pub replaced: u64,
}

/// Rows copied into one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopy {
    /// The table.
    pub table: &'static str,
    /// Rows copied (equal to the rows in the source, or the migration fails).
    pub rows: u64,
}

/// Something the migration has done, reported while it runs (a large installation takes
/// a while).
#[derive(Debug, Clone)]
pub enum Progress {
    /// A table was copied.
    Table(TableCopy),
    /// Blob bytes copied so far.
    Blobs(BlobCopy),
    /// The copy is committed; reading every blob back from the target now.
    Verifying,
}

/// What a migration moved and what reading it back found.
#[derive(Debug, Clone)]
pub struct MigrationReport {
    /// Rows per table, in the order copied.
    pub tables: Vec<TableCopy>,
    /// Blobs and bytes moved.
    pub blobs: BlobCopy,
    /// Every blob row of the target checked against the target store: a problem here
    /// means a blob that does not match its row (see [`crate::BlobProblem`]).
    pub check: CheckReport,
}

/// Why a migration was refused or failed. Everything before the commit is undone.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// The target database is not PostgreSQL.
    #[error("the target database must be PostgreSQL (postgres://…), not {0}")]
    TargetNotPostgres(String),
    /// The source database is not SQLite.
    #[error("the installation to migrate must be on SQLite; this one is on {0}")]
    SourceNotSqlite(Backend),
    /// The target database already holds data.
    #[error("the target database is not empty: table {table} has rows")]
    TargetNotEmpty {
        /// The first table found with rows.
        table: String,
    },
    /// The target blob store holds blobs the source has no row for: it belongs to
    /// another installation, or to an earlier migration from elsewhere.
    #[error(
        "the target blob store ({store}) is not empty: it holds {unknown} blobs this \
         installation does not know, such as {example}"
    )]
    TargetStoreNotEmpty {
        /// The bucket or directory.
        store: String,
        /// How many objects the source has no row for.
        unknown: u64,
        /// One of them.
        example: String,
    },
    /// The target store failed to take one blob: nothing was committed.
    #[error("blob {key}: the target store failed: {error}")]
    BlobNotCopied {
        /// The blob.
        key: String,
        /// What the store said.
        error: StorageError,
    },
    /// The source has a table this version does not know how to copy.
    #[error("the source database has a table {table} this version of davgate does not copy")]
    UnknownTable {
        /// The table.
        table: String,
    },
    /// The two schemas disagree about a column.
    #[error("column {table}.{column}: {problem}")]
    Schema {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Fewer rows arrived than the source holds (rows no longer reachable, such as a file
    /// whose folder is gone).
    #[error("table {table}: {source_rows} rows in the source but {copied} copied")]
    RowsLost {
        /// The table.
        table: &'static str,
        /// Rows in the source.
        source_rows: u64,
        /// Rows copied.
        copied: u64,
    },
    /// The database or a blob store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<sqlx::Error> for MigrationError {
    fn from(e: sqlx::Error) -> Self {
        MigrationError::Storage(e.into())
    }
}
