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
pub use blob::{BlobKey, BlobStore, Digests, LocalBlobStore, Streamed};
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
    /// Run first on each thread the store starts for background work (the MD5 of a
    /// large upload), e.g. to lower its priority below the request threads'.
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
    background_thread_init: Option<fn()>,
}

impl Store {
    /// Connects, runs pending migrations and opens the blob store.
    pub async fn open(config: &StoreConfig) -> Result<Self> {
        let db = Db::connect(&config.database_url, config.max_connections).await?;
        db.migrate().await?;
        let blobs = Arc::new(LocalBlobStore::open(&config.blob_dir)?);
        Ok(Store {
            db,
            snapshots: Arc::default(),
            blobs,
            background_thread_init: config.background_thread_init,
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
    /// streams in.
    pub async fn upload(&self, streamed: Streamed) -> Result<Box<dyn blob::BlobWriter>> {
        let inner = self.blobs.create().await?;
        Ok(Box::new(blob::DigestingWriter::new(inner, streamed)))
    }

    /// Computes and stores the MD5 of a committed blob that lacks one. The hashing runs
    /// on a thread of its own (set up by `background_thread_init`): it is background
    /// work, and requests (a GET of the file just uploaded, say) should come first.
    pub async fn fill_md5(&self, key: &BlobKey) -> Result<()> {
        let reader = self.blobs.open(key).await?;
        let runtime = tokio::runtime::Handle::current();
        let (done, hashed) = tokio::sync::oneshot::channel();
        let init = self.background_thread_init;
        std::thread::Builder::new()
            .name("md5".into())
            .spawn(move || {
                if let Some(init) = init {
                    init();
                }
                // Chunks are hashed as they come, so memory stays one chunk whatever
                // the size.
                let result = runtime.block_on(async {
                    let mut hasher = blob::Md5Stream::default();
                    let mut offset = 0u64;
                    loop {
                        let chunk = reader.read_at(offset, 1 << 20).await?;
                        if chunk.is_empty() {
                            return Ok::<_, StorageError>(hasher);
                        }
                        offset += chunk.len() as u64;
                        hasher.update(&chunk);
                    }
                });
                let _ = done.send(result);
            })?;
        let hasher = hashed
            .await
            .map_err(|_| std::io::Error::other("the MD5 thread stopped"))??;
        let md5 = hasher.finish();
        let mut tx = self.db.begin_write().await?;
        sqlx::query("UPDATE blobs SET md5 = $1 WHERE key = $2 AND md5 IS NULL")
            .bind(&md5)
            .bind(key.as_str())
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }

    /// Fills in the MD5 of blobs that lack one (uploads a crash interrupted before it);
    /// returns how many.
    pub async fn fill_missing_md5(&self) -> Result<usize> {
        let keys: Vec<String> =
            sqlx::query_scalar("SELECT key FROM blobs WHERE md5 IS NULL LIMIT 1000")
                .fetch_all(&self.db.pool)
                .await?;
        let mut filled = 0;
        for key in keys.iter().filter_map(|k| BlobKey::parse(k)) {
            match self.fill_md5(&key).await {
                Ok(()) => filled += 1,
                // Released meanwhile.
                Err(StorageError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}
