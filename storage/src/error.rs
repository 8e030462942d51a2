//! The storage error type: what went wrong in terms a caller can map to a status.

use std::fmt;

/// Everything a storage operation can fail with.
///
/// Callers map these to protocol statuses in one table (`src/error.rs` in the server);
/// `Backend` and `Io` are internal failures whose detail belongs in logs only.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The named account, node, lock or blob does not exist.
    #[error("not found")]
    NotFound,
    /// The operation collides with existing state (a name already taken, a moved source).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// Another resource in the collection already has this UID (RFC 4791 no-uid-conflict).
    #[error("the UID is used by {name}")]
    UidConflict {
        /// The name of the resource holding the UID.
        name: String,
    },
    /// An If-Match or If-None-Match condition did not hold.
    #[error("precondition failed")]
    PreconditionFailed,
    /// The caller asked for something the model does not allow.
    #[error("invalid: {0}")]
    Invalid(String),
    /// Committing would take the account past its quota.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(QuotaOverrun),
    /// A blob grew past its size limit while streaming.
    #[error("too large: limit is {limit} bytes")]
    TooLarge {
        /// The limit that was passed, in bytes.
        limit: u64,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Backend(#[from] sqlx::Error),
    /// The blob store failed.
    #[error("blob store error: {0}")]
    Io(#[from] std::io::Error),
    /// A migration failed.
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// How far a write would take an account past its quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaOverrun {
    /// The account's quota in bytes.
    pub quota: u64,
    /// Bytes in use before the write.
    pub used: u64,
    /// Bytes the write needed on top of `used`.
    pub needed: u64,
}

impl fmt::Display for QuotaOverrun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes needed, {} of {} bytes in use",
            self.needed, self.used, self.quota
        )
    }
}

impl StorageError {
    /// True when what was asked for is not there: a row, or a blob's file or object.
    pub fn is_not_found(&self) -> bool {
        match self {
            StorageError::NotFound => true,
            StorageError::Io(e) => e.kind() == std::io::ErrorKind::NotFound,
            _ => false,
        }
    }

    /// True when the disk (or the database's filesystem) has no room left: the
    /// client is told so instead of a bare server failure, and may retry later.
    pub fn is_out_of_space(&self) -> bool {
        fn full(e: &std::io::Error) -> bool {
            matches!(
                e.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            )
        }
        match self {
            StorageError::Io(e) => full(e),
            StorageError::Backend(sqlx::Error::Io(e)) => full(e),
            // SQLITE_FULL, and PostgreSQL's disk_full class.
            StorageError::Backend(sqlx::Error::Database(db)) => {
                matches!(db.code().as_deref(), Some("13" | "53100"))
            }
            _ => false,
        }
    }

    /// True when a database constraint said the name or key is already taken.
    pub(crate) fn from_unique(err: sqlx::Error, what: &'static str) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => StorageError::Conflict(what),
            _ => StorageError::Backend(err),
        }
    }
}

/// Result alias for storage operations.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;
