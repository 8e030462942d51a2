//! davgate's storage: the only code that touches SQL or blob bytes.
//!
//! [`Store`] bundles the metadata database (SQLite by default, PostgreSQL to scale out;
//! see [`db`]) with a [`blob::BlobStore`]. It owns the data model: accounts and their
//! quota, the file tree with its trash, dead properties and WebDAV locks. Protocol code
//! above it never sees SQL, a blob path or a transaction: every operation here is one
//! atomic step that either happened or did not.
//!
//! Invariants kept here:
//! - a blob is visible only once a committed transaction references it, and a replaced
//!   or purged blob is deleted once nothing references it;
//! - an account's `used_bytes` is the sum of its files, live and trashed, and a write
//!   that would pass its quota is refused inside the same transaction;
//! - a rename or move is one row update; a node's name is unique in its folder after
//!   Unicode NFC normalisation.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod accounts;
mod audit;
pub mod blob;
mod credentials;
pub mod db;
mod error;
mod gc;
mod groupware;
mod locks;
mod names;
mod props;
mod tree;

use std::path::PathBuf;
use std::sync::Arc;

pub use accounts::{Account, AccountId, TotpState};
pub use audit::{AuditEntry, AuditEvent};
pub use blob::{BlobKey, BlobStore, Digests, LocalBlobStore};
pub use credentials::{AppPassword, LastUse, NewAppPassword, UseRecord};
pub use db::{Backend, now_ms};
pub use error::{QuotaOverrun, Result, StorageError};
pub use gc::GarbageReport;
pub use groupware::{
    Change, Changes, Collection, CollectionChange, CollectionId, CollectionKind, DavObject,
    NewCollection, NewObject, ObjectMeta, Precondition, Share, Written,
};
pub use locks::LockRecord;
pub use names::{name_key, validate_name};
pub use props::{DeadProp, PropChange};
pub use tree::{CreateMode, MAX_DEPTH, NewContent, Node, NodeId, NodeKind, TreeRoot};

use db::Db;

/// Where the store keeps its data.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `sqlite://PATH?mode=rwc` or `postgres://…`.
    pub database_url: String,
    /// Directory for the local blob store.
    pub blob_dir: PathBuf,
    /// Upper bound on pooled database connections.
    pub max_connections: u32,
}

/// The database plus the blob store.
#[derive(Clone)]
pub struct Store {
    db: Db,
    blobs: Arc<dyn BlobStore>,
}

impl Store {
    /// Connects, runs pending migrations and opens the blob store.
    pub async fn open(config: &StoreConfig) -> Result<Self> {
        let db = Db::connect(&config.database_url, config.max_connections).await?;
        db.migrate().await?;
        let blobs = Arc::new(LocalBlobStore::open(&config.blob_dir)?);
        Ok(Store { db, blobs })
    }

    /// Which database is behind this store.
    pub fn backend(&self) -> Backend {
        self.db.backend
    }

    /// The blob store, for streaming reads.
    pub fn blobs(&self) -> &dyn BlobStore {
        &*self.blobs
    }

    /// Starts an upload: a new blob whose MD5 and SHA-1 are computed as it streams in.
    pub async fn upload(&self) -> Result<Box<dyn blob::BlobWriter>> {
        let inner = self.blobs.create().await?;
        Ok(Box::new(blob::DigestingWriter::new(inner)))
    }
}
