//! [`Store`]: the database plus the blob store, and the rows kept between commits. The
//! operations live in the modules that own their tables (`accounts`, `tree`, `props`,
//! …), each adding its methods with `impl Store`; this module depends on none of them,
//! only on the row types in `model`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::blob::{
    self, BlobKey, BlobStore, CountedBlobStore, InlineBlobStore, LocalBlobStore, S3BlobStore,
    S3Config,
};
use crate::db::{self, Backend, Db};
use crate::error::Result;
use crate::ids::{AccountId, NodeId};
use crate::md5_fill;
use crate::model::account::Account;
use crate::model::lock::LockRecord;
use crate::model::node::Node;

/// Where the store keeps its data.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `sqlite://PATH?mode=rwc` or `postgres://…`.
    pub database_url: String,
    /// Where blob bytes live.
    pub blob_store: BlobStoreConfig,
    /// Upper bound on pooled database connections.
    pub max_connections: u32,
    /// Run first on the thread the store starts for background work (the MD5 of large
    /// uploads), e.g. to lower its priority below the request threads'.
    pub background_thread_init: Option<fn()>,
    /// How SQLite makes commits durable; ignored for PostgreSQL.
    pub sqlite_synchronous: db::SqliteSynchronous,
    /// Blobs up to this many bytes are kept in the database, written by the commit
    /// that references them, instead of in the blob store; 0 keeps none there.
    pub inline_blob_max: u64,
}

/// The default of [`StoreConfig::inline_blob_max`]: most files of a sync (notes,
/// thumbnails, source files) are smaller, and a database row costs them far less than a
/// file of their own with its fsyncs.
pub const DEFAULT_INLINE_BLOB_MAX: u64 = 64 * 1024;

/// Which blob store holds the bytes.
#[derive(Debug, Clone)]
pub enum BlobStoreConfig {
    /// Files under a local directory (one machine).
    Local(PathBuf),
    /// Objects in an S3-compatible bucket (any number of nodes).
    S3(S3Config),
}

impl BlobStoreConfig {
    fn open(&self) -> Result<Arc<dyn BlobStore>> {
        Ok(match self {
            BlobStoreConfig::Local(dir) => Arc::new(LocalBlobStore::open(dir)?),
            BlobStoreConfig::S3(config) => Arc::new(S3BlobStore::open(config)?),
        })
    }
}

/// The rows read on every request, kept between commits.
#[derive(Default)]
pub(crate) struct KeptRows {
    pub(crate) accounts: db::Snapshots<AccountId, Option<Account>>,
    /// The same rows, kept across commits of file content (`Store::account_settings`).
    pub(crate) account_settings: db::Snapshots<AccountId, Option<Account>>,
    /// Each account's locks, expired ones too, kept across commits of file content.
    pub(crate) locks: db::Snapshots<AccountId, Vec<LockRecord>>,
    /// Path walks by root and the segments' NFC keys as JSON; misses too.
    pub(crate) paths: db::Snapshots<(NodeId, String), Option<Node>>,
    /// The folders uploads go into, by the same keys, kept across commits of file
    /// content; `None` where there is no folder.
    pub(crate) upload_folders: db::Snapshots<(NodeId, String), Option<Node>>,
}

/// The database plus the blob store.
#[derive(Clone)]
pub struct Store {
    pub(crate) db: Db,
    pub(crate) snapshots: Arc<KeptRows>,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) md5: Arc<md5_fill::Md5Filler>,
    /// Errors the blob store returned since the store was opened.
    blob_errors: Arc<AtomicU64>,
    /// Writes waiting to be committed together (SQLite).
    pub(crate) write_batches: Arc<db::batch::WriteBatches>,
}

impl Store {
    /// Connects, runs pending migrations and opens the blob store.
    pub async fn open(config: &StoreConfig) -> Result<Self> {
        let db = Db::connect(
            &config.database_url,
            config.max_connections,
            config.sqlite_synchronous,
        )
        .await?;
        db.migrate().await?;
        // Counted above the inline layer, so that a blob it looks for in one place and
        // finds in the other (see `open_sized`) counts as no error.
        let counted = CountedBlobStore::new(Arc::new(InlineBlobStore::new(
            config.blob_store.open()?,
            db.clone(),
            config.inline_blob_max,
        )));
        let blob_errors = counted.errors();
        let blobs: Arc<dyn BlobStore> = Arc::new(counted);
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
            blob_errors,
            write_batches: Arc::default(),
        })
    }

    /// Keeps hot rows (account rows, path walks) between commits on PostgreSQL too, as
    /// on SQLite: starts the connection that hears other nodes' commits (see
    /// `db::notices`). Until it listens, and whenever it is lost, every read goes to the
    /// database. For a server; a short-lived command has no use for it. Needs a Tokio
    /// runtime; does nothing on SQLite or when called again.
    pub fn follow_changes(&self) {
        self.db.changes.listen();
    }

    /// Holds background hashing (the MD5 thread, `md5_fill`) back while a download
    /// streams, as uploads already do, so that the transfer gets the CPU first: keep the
    /// guard for as long as the body is being sent.
    pub fn download_streaming(&self) -> md5_fill::StreamingTransfer {
        self.md5.transfer()
    }

    /// Analyzes the PostgreSQL tables that have doubled, or changed as many rows as they
    /// held, since their last ANALYZE, so that the generic plans of prepared statements
    /// follow their growth; returns their names. Call it every few seconds. Nothing on
    /// SQLite.
    pub async fn refresh_statistics(&self) -> Result<Vec<String>> {
        self.db.analyze_grown_tables().await
    }

    /// Which database is behind this store.
    pub fn backend(&self) -> Backend {
        self.db.backend
    }

    /// Whether the database and the blob store answer now (a readiness probe).
    pub async fn ready(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.db.pool).await?;
        self.blobs.ready().await
    }

    /// Errors the blob store returned since the store was opened (a full disk, a blob
    /// missing or unreadable): worth an operator's alert.
    pub fn blob_errors(&self) -> u64 {
        self.blob_errors.load(Ordering::Relaxed)
    }

    /// Has the idle database connections give back the memory they cache (SQLite only),
    /// after a large answer; returns how many did.
    pub async fn release_memory(&self) -> Result<usize> {
        self.db.release_memory().await
    }

    /// Database connections open for queries (on an SQLite file, the read connections
    /// too), and how many of them are idle.
    pub fn pool_connections(&self) -> (u32, usize) {
        let (size, idle) = (self.db.pool.size(), self.db.pool.num_idle());
        match self.db.pool.readers() {
            Some(readers) => (
                size.saturating_add(u32::try_from(readers.size()).unwrap_or(u32::MAX)),
                idle + readers.num_idle(),
            ),
            None => (size, idle),
        }
    }

    /// How SQLite commits are made durable, checked on one pooled connection: `None` on
    /// PostgreSQL, or when that connection does not run at the `PRAGMA synchronous`
    /// level davgate sets (NORMAL: the fsync of a durable commit is the store's own).
    pub async fn sqlite_synchronous(&self) -> Result<Option<db::SqliteSynchronous>> {
        let Some(configured) = self.db.sqlite_synchronous() else {
            return Ok(None);
        };
        let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&self.db.pool)
            .await?;
        Ok((level == db::SQLITE_SYNCHRONOUS_LEVEL).then_some(configured))
    }

    /// Fsyncs of SQLite's write-ahead log since the store opened, each covering every
    /// commit that returned before it started; 0 on PostgreSQL and with
    /// `sqlite_synchronous = "normal"`.
    pub fn wal_flushes(&self) -> u64 {
        self.db.wal_flushes()
    }

    /// The blob store, for streaming reads.
    pub fn blobs(&self) -> &dyn BlobStore {
        &*self.blobs
    }

    /// Starts an upload: a new blob whose SHA-1 and MD5 are computed as it streams in
    /// (the MD5 completed after the commit when the upload outruns it; see
    /// `blob::digest`). Filling in MD5s waits until the upload is finished or dropped.
    pub async fn upload(&self) -> Result<Box<dyn blob::BlobWriter>> {
        self.upload_paced(blob::Md5Pace::RideAlong).await
    }

    /// Starts an upload whose MD5 lane is paced as `md5_pace` says: `Wait` when the
    /// client sent an MD5 that must be checked before the commit.
    pub async fn upload_paced(&self, md5_pace: blob::Md5Pace) -> Result<Box<dyn blob::BlobWriter>> {
        let inner = self.blobs.create().await?;
        let resumer = self.md5.resumer();
        let digesting = Box::new(blob::DigestingWriter::new(inner, md5_pace, resumer));
        Ok(self.md5.streaming(digesting))
    }

    /// Queues for the MD5 thread the blobs that lack one (stored before uploads computed
    /// it while streaming); returns how many it took.
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

#[cfg(test)]
impl Store {
    /// A store on SQLite and a blob directory under `dir`, holding one account: for the
    /// crate's tests.
    pub(crate) async fn for_tests(dir: &std::path::Path) -> (Store, Account) {
        let store = Store::open(&StoreConfig {
            database_url: format!("sqlite://{}?mode=rwc", dir.join("test.db").display()),
            blob_store: BlobStoreConfig::Local(dir.join("blobs")),
            max_connections: 4,
            background_thread_init: None,
            sqlite_synchronous: Default::default(),
            inline_blob_max: DEFAULT_INLINE_BLOB_MAX,
        })
        .await
        .expect("a store in a temporary directory");
        let account = store
            .create_account("alice", "$argon2id$x")
            .await
            .expect("an account in a new store");
        (store, account)
    }
}
