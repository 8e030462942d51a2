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
mod ids;
mod locks;
mod md5_fill;
mod names;
mod props;
mod tree;

use std::path::PathBuf;
use std::sync::Arc;

pub use accounts::{Account, TotpState};
pub use audit::{AuditEntry, AuditEvent};
pub use blob::{BlobKey, BlobStore, Digests, LocalBlobStore, Streamed};
pub use credentials::{AppPassword, LastUse, NewAppPassword, UseRecord};
pub use db::{Backend, now_ms};
pub use error::{QuotaOverrun, Result, StorageError};
pub use gc::GarbageReport;
pub use groupware::{
    Change, Changes, Collection, CollectionChange, CollectionId, CollectionKind, DavObject,
    NewCollection, NewObject, ObjectMeta, Precondition, Share, Written,
};
pub use ids::{AccountId, NodeId};
pub use locks::LockRecord;
pub use names::{name_key, validate_name};
pub use props::{DeadProp, PropChange};
pub use tree::{CreateMode, MAX_DEPTH, NewContent, Node, NodeKind, TreeRoot};

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
    /// Run first on the thread the store starts for background work (the MD5 of large
    /// uploads), e.g. to lower its priority below the request threads'.
    pub background_thread_init: Option<fn()>,
}

/// The rows read on every request, kept between commits.
#[derive(Default)]
struct KeptRows {
    accounts: db::Snapshots<AccountId, Option<Account>>,
    /// Path walks by root and the segments' NFC keys as JSON; misses too.
    paths: db::Snapshots<(NodeId, String), Option<Node>>,
}

/// The database plus the blob store.
#[derive(Clone)]
pub struct Store {
    db: Db,
    snapshots: Arc<KeptRows>,
    blobs: Arc<dyn BlobStore>,
    md5: Arc<md5_fill::Md5Filler>,
}

impl Store {
    /// Connects, runs pending migrations and opens the blob store.
    pub async fn open(config: &StoreConfig) -> Result<Self> {
        let db = Db::connect(&config.database_url, config.max_connections).await?;
        db.migrate().await?;
        let blobs: Arc<dyn BlobStore> = Arc::new(LocalBlobStore::open(&config.blob_dir)?);
        let md5 = md5_fill::Md5Filler::start(
            db.clone(),
            Arc::clone(&blobs),
            config.background_thread_init,
        )?;
        Ok(Store {
            db,
            snapshots: Arc::default(),
            blobs,
            md5: Arc::new(md5),
        })
    }

    /// Which database is behind this store.
    pub fn backend(&self) -> Backend {
        self.db.backend
    }

    /// The blob store, for streaming reads.
    pub fn blobs(&self) -> &dyn BlobStore {
        &*self.blobs
    }

    /// Starts an upload: a new blob whose SHA-1 (and, if asked, MD5) is computed as it
    /// streams in. Background MD5 work waits until it is finished or dropped.
    pub async fn upload(&self, streamed: Streamed) -> Result<Box<dyn blob::BlobWriter>> {
        let inner = self.blobs.create().await?;
        let digesting = Box::new(blob::DigestingWriter::new(inner, streamed));
        Ok(self.md5.streaming(digesting))
    }

    /// Queues for the MD5 thread the blobs that lack one (uploads a crash interrupted
    /// before it, or that found its queue full); returns how many it took.
    pub async fn queue_missing_md5(&self) -> Result<usize> {
        let keys: Vec<String> =
            sqlx::query_scalar("SELECT key FROM blobs WHERE md5 IS NULL LIMIT 1000")
                .fetch_all(&self.db.pool)
                .await?;
        Ok(keys
            .iter()
            .filter_map(|k| BlobKey::parse(k))
            .take_while(|key| self.md5.queue(key.clone()))
            .count())
    }
}
