//! The metadata database: one pool over SQLite or PostgreSQL (an SQLite file's queries
//! on read connections of our own, see `readers`), migrations, write transactions.
//!
//! Queries are written once in the dialect both databases accept (`$1` placeholders,
//! `RETURNING`, `ON CONFLICT`, `WITH RECURSIVE`) and run through sqlx's `Any` driver.
//! The gaps between the two live here and in the two migration folders. Every write goes
//! through [`WriteTx`], whose commit returns only once the commit is durable (on SQLite
//! with one fsync shared by concurrent commits, see the `wal_flush` module).

pub(crate) mod batch;
mod changes;
mod counted;
mod notices;
mod readers;
#[cfg(test)]
mod readers_tests;
mod snapshots;
mod sqlite_settings;
mod statistics;
mod wal_flush;

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyPool, Connection, Executor, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::Result;

pub(crate) use changes::{Changes, Version, Wrote};
pub use counted::QueryCount;
pub(crate) use counted::{CountedPool, count_one};
use readers::Readers;
pub(crate) use snapshots::Snapshots;
use wal_flush::{Ticket, WalFlusher};

/// Which database sits behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file: the zero-setup default.
    Sqlite,
    /// A PostgreSQL server: for several nodes sharing one database.
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

impl Backend {
    /// Recognises the backend from a connection URL.
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// Whether an SQLite commit is durable when it returns. Both run the connections at
/// `PRAGMA synchronous = NORMAL` in WAL mode; they differ in who fsyncs the WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSynchronous {
    /// Every commit reaches the disk (the WAL is fsynced) before it returns: an upload
    /// answered 201 survives a power cut. Commits that return while a fsync runs share
    /// the next one (`db::wal_flush`); a lone commit pays one, as `synchronous = FULL` did.
    #[default]
    Full,
    /// The WAL is fsynced only at checkpoints: cheaper small writes, still consistent
    /// after any crash, but a power cut or kernel crash may roll back the last commits,
    /// answered or not. A crash of davgate alone loses nothing.
    Normal,
}

/// The `PRAGMA synchronous` level of every SQLite connection: NORMAL, so a COMMIT does
/// not fsync; [`SqliteSynchronous::Full`] adds the grouped fsync after it.
pub(crate) const SQLITE_SYNCHRONOUS_LEVEL: i64 = 1;

/// What an idle SQLite connection gives back in [`Db::release_memory`]: its page cache
/// (heap: pages read from the file and the log). After a 50,000-entry listing the caches
/// and the pages a map used to hold were most of what stayed.
const SQLITE_RELEASE: &str = "PRAGMA shrink_memory";

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A pool plus what it takes to write safely to it.
#[derive(Clone)]
pub(crate) struct Db {
    pub(crate) pool: CountedPool,
    /// Where write transactions run. On an SQLite file, one connection of its own: a
    /// connection that sees another's commit drops its whole page cache before its next
    /// read, so with writes spread over the pool every write transaction started cold.
    /// The only writer keeps its cache across its own commits. Elsewhere, `pool`.
    writer: AnyPool,
    pub(crate) backend: Backend,
    /// SQLite has one writer at a time; queueing writers here, in order, beats
    /// having them poll the file lock with `busy_timeout` sleeps.
    write_gate: Option<Arc<Mutex<()>>>,
    /// Changed by every commit, so rows read before it are known to be stale.
    pub(crate) changes: Arc<Changes>,
    /// Makes SQLite commits durable after they return; `None` when nothing must
    /// (PostgreSQL, an in-memory database, `sqlite_synchronous = "normal"`).
    wal: Option<Arc<WalFlusher>>,
    /// What the store was asked for (SQLite only).
    synchronous: SqliteSynchronous,
}

/// A write transaction; holds the SQLite write gate until it ends.
pub(crate) struct WriteTx {
    pub(crate) tx: Transaction<'static, Any>,
    pub(crate) backend: Backend,
    _gate: Option<OwnedMutexGuard<()>>,
    changes: Arc<Changes>,
    wal: Option<Arc<WalFlusher>>,
    /// What the transaction writes; [`Wrote::Anything`] unless its writer says less.
    pub(crate) wrote: Wrote,
}

impl WriteTx {
    /// Commits, and returns once the commit is durable: nothing may acknowledge a write
    /// before this returns `Ok`.
    pub(crate) async fn commit(self) -> Result<()> {
        self.commit_undurable().await?.wait().await
    }

    /// Commits and releases the write gate, leaving the wait for durability to the
    /// caller: the writer of a batch of uploads starts on the next batch while the
    /// uploaders of this one wait for the disk.
    pub(crate) async fn commit_undurable(self) -> Result<Durability> {
        let WriteTx {
            tx,
            _gate: gate,
            changes,
            wal,
            wrote,
            ..
        } = self;
        let committed = tx.commit().await;
        // Also when the commit failed: whether it reached the database is unknown.
        changes.committed(wrote);
        committed?;
        // The next writer commits while this one waits for the disk: that is what lets
        // one fsync cover both.
        drop(gate);
        Ok(Durability(wal.map(|wal| {
            let ticket = wal.committed();
            (wal, ticket)
        })))
    }
}

/// A commit that is in the database and may still have to reach the disk (see
/// `wal_flush`); nothing may acknowledge it before [`Durability::wait`] returns `Ok`.
pub(crate) struct Durability(Option<(Arc<WalFlusher>, Ticket)>);

impl Durability {
    /// Returns once the commit is durable.
    pub(crate) async fn wait(&self) -> Result<()> {
        if let Some((wal, ticket)) = &self.0 {
            wal.durable(*ticket).await?;
        }
        Ok(())
    }
}

impl Db {
    /// Whether writes run one at a time behind the write gate (SQLite), so that uploads
    /// finishing together are best committed together (see `batch`).
    pub(crate) fn writes_one_at_a_time(&self) -> bool {
        self.write_gate.is_some()
    }
}

/// Whether a pooled connection may be handed out. A transaction dropped without a
/// commit queues its rollback on the connection; when the COMMIT itself failed (a full
/// disk: SQLite has then already rolled back, so the queued ROLLBACK fails too), the
/// connection would keep counting a transaction that no longer exists, and every later
/// write on it would fail with "begin_with at non-zero transaction depth". A ping runs
/// after whatever is queued; a connection still in a transaction after it is closed.
async fn discard_if_still_in_transaction(conn: &mut sqlx::AnyConnection) -> sqlx::Result<bool> {
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    conn.ping().await?;
    if conn.is_in_transaction() {
        tracing::warn!("closing a database connection left inside a failed transaction");
        return Ok(false);
    }
    Ok(true)
}

impl Db {
    pub(crate) async fn connect(
        url: &str,
        max_connections: u32,
        synchronous: SqliteSynchronous,
    ) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url).ok_or_else(|| {
            crate::StorageError::Invalid(format!(
                "unsupported database URL {url:?}: use sqlite://PATH or postgres://…"
            ))
        })?;
        let options = AnyConnectOptions::from_str(url)?;
        if backend == Backend::Sqlite
            && let Some(file) = sqlite_file(url)?
            && creates_if_missing(url)
        {
            create_private(&file)?;
        }
        let pool = pool_options(backend, max_connections)
            .connect_with(options.clone())
            .await?;
        // SQLite's one writer gets a connection of its own (see `Db::writer`); an
        // in-memory database exists only on the connections of its pool, so it has none.
        let on_file = backend == Backend::Sqlite && sqlite_file(url)?.is_some();
        let writer = if on_file {
            pool_options(backend, 1)
                .connect_with(options.clone())
                .await?
        } else {
            pool.clone()
        };
        // Queries on an SQLite file skip the pool's hand-offs (see `readers`); an
        // in-memory database has no file that connections of their own could open.
        let readers = on_file.then(|| Readers::new(options.clone(), max_connections));
        let write_gate = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        let (changes, wal) = match backend {
            Backend::Sqlite => {
                let file = sqlite_file(url)?;
                let wal = match (&file, synchronous) {
                    (Some(file), SqliteSynchronous::Full) => {
                        Some(Arc::new(WalFlusher::for_database(file)))
                    }
                    _ => None,
                };
                (Changes::sqlite(file.as_deref()), wal)
            }
            Backend::Postgres => (Changes::notified(url), None),
        };
        Ok(Db {
            pool: CountedPool::new(pool, readers),
            writer,
            backend,
            write_gate,
            changes: Arc::new(changes),
            wal,
            synchronous,
        })
    }

    pub(crate) async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&*self.pool).await?;
        // The migrations committed outside WriteTx.
        if let Some(wal) = &self.wal {
            wal.durable(wal.committed()).await?;
        }
        Ok(())
    }

    /// How SQLite commits are made durable, as configured; `None` on PostgreSQL.
    pub(crate) fn sqlite_synchronous(&self) -> Option<SqliteSynchronous> {
        (self.backend == Backend::Sqlite).then_some(self.synchronous)
    }

    /// Fsyncs of SQLite's write-ahead log since the store opened (0 when there is no
    /// [`WalFlusher`]).
    pub(crate) fn wal_flushes(&self) -> u64 {
        self.wal.as_ref().map_or(0, |wal| wal.flushes())
    }

    /// Starts a transaction that will write.
    ///
    /// On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`): a deferred
    /// transaction that reads and then writes can fail with SQLITE_BUSY when another
    /// process wrote in between, and no busy timeout can save it.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx> {
        let gate = match &self.write_gate {
            Some(gate) => Some(gate.clone().lock_owned().await),
            None => None,
        };
        counted::count_one();
        let tx = match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.writer.begin().await?,
        };
        Ok(WriteTx {
            tx,
            backend: self.backend,
            _gate: gate,
            changes: self.changes.clone(),
            wal: self.wal.clone(),
            wrote: Wrote::Anything,
        })
    }

    /// Makes the idle SQLite connections, the writer's included, give back their page
    /// cache (see [`SQLITE_RELEASE`]); returns how many did. Connections in
    /// use are left alone, and none is opened. Does nothing on PostgreSQL, whose caches
    /// live in its own processes.
    pub(crate) async fn release_memory(&self) -> Result<usize> {
        if self.backend != Backend::Sqlite {
            return Ok(0);
        }
        // Taken all at once, so that no connection is handed out twice; each goes back as
        // soon as it is done. Bounded by the pools' sizes.
        let mut idle = Vec::new();
        for pool in [&*self.pool, &self.writer] {
            while let Some(conn) = pool.try_acquire() {
                idle.push(conn);
            }
        }
        let mut released = 0;
        for mut conn in idle {
            // A connection whose transaction failed is for `before_acquire` to judge.
            if conn.is_in_transaction() {
                continue;
            }
            conn.execute(SQLITE_RELEASE).await?;
            released += 1;
        }
        if let Some(readers) = self.pool.readers() {
            released += readers.release_memory(SQLITE_RELEASE).await?;
        }
        Ok(released)
    }
}

/// How the connections of a pool of at most `max` are made and handed out.
fn pool_options(backend: Backend, max: u32) -> AnyPoolOptions {
    let pool = AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(readers::CONNECTION_WAIT)
        .before_acquire(|conn, _meta| Box::pin(discard_if_still_in_transaction(conn)));
    // PostgreSQL keeps its generic plans of the prepared statements: `statistics` keeps
    // them made from the tables' current sizes.
    if backend == Backend::Postgres {
        return pool;
    }
    // An SQLite connection is a handle in this process that cannot go away under us:
    // pinging it before each use (sqlx's default) only added a round trip to its worker
    // thread to every query.
    pool.test_before_acquire(false)
        .after_connect(|conn, _meta| Box::pin(sqlite_settings::apply(conn)))
}

/// `name` as a quoted SQL identifier, whatever characters it holds.
pub(crate) fn quoted_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Whether an SQLite URL asks for the database to be created (`mode=rwc`).
fn creates_if_missing(url: &str) -> bool {
    url.split_once('?')
        .is_some_and(|(_, query)| query.split('&').any(|pair| pair == "mode=rwc"))
}

/// Creates a missing database file owner-only (0600) before SQLite creates it through
/// the umask (0644 under the usual 022). SQLite gives the `-wal` and `-shm` files the
/// database file's mode, and so does the change marker: all four stay private. An
/// existing file keeps its mode, which an operator may have chosen.
fn create_private(file: &Path) -> Result<()> {
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file);
    match created {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        // A missing parent directory: SQLite reports it in its own words.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The file behind an SQLite URL, `None` for an in-memory database.
fn sqlite_file(url: &str) -> Result<Option<PathBuf>> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Ok(None);
    }
    let options = SqliteConnectOptions::from_str(url)?;
    Ok(Some(options.get_filename().to_path_buf()))
}

/// Milliseconds since the Unix epoch, the unit of every timestamp column.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    use super::*;

    #[test]
    fn only_a_create_url_gets_its_file_made_private() {
        assert!(creates_if_missing("sqlite:///d/davgate.db?mode=rwc"));
        assert!(creates_if_missing("sqlite://x.db?cache=shared&mode=rwc"));
        assert!(!creates_if_missing("sqlite://x.db?mode=rw"));
        assert!(!creates_if_missing("sqlite://x.db"));
    }

    #[test]
    fn identifiers_are_quoted_with_inner_quotes_doubled() {
        assert_eq!(quoted_identifier("nodes"), "\"nodes\"");
        assert_eq!(quoted_identifier("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn a_new_database_file_is_owner_only_and_an_existing_one_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.db");
        create_private(&new).unwrap();
        let mode = std::fs::metadata(&new).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let shared = dir.path().join("shared.db");
        std::fs::write(&shared, b"").unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o660)).unwrap();
        create_private(&shared).unwrap();
        let mode = std::fs::metadata(&shared).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660, "an operator's choice stays");
    }

    /// Every idle connection, the writer's too, gives its memory back and still reads
    /// without a map; one in use is left alone.
    #[tokio::test]
    async fn idle_connections_release_their_memory_and_read_without_a_map() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
        let db = Db::connect(&url, 3, SqliteSynchronous::Normal)
            .await
            .unwrap();
        let mut tx = db.begin_write().await.unwrap();
        sqlx::query("CREATE TABLE t (v INTEGER)")
            .execute(&mut *tx.tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        // Three reader connections open, one of them kept busy.
        let readers = db
            .pool
            .readers()
            .expect("an SQLite file has readers of its own");
        let mut open = Vec::new();
        for _ in 0..3 {
            open.push(readers.acquire().await.unwrap());
        }
        let mut busy = open.pop().unwrap();
        drop(open);
        assert_eq!(readers.num_idle(), 2, "back at once, with no round trip");
        // The writer goes back to sqlx's pool on a task of its own.
        for _ in 0..500 {
            if db.writer.num_idle() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        // sqlx's pool keeps the connection it opened to check the URL, for migrations.
        let pooled = db.pool.num_idle();
        assert_eq!(
            db.release_memory().await.unwrap(),
            pooled + 3,
            "two readers, the writer and the pool's idle ones"
        );

        let mmap: i64 = sqlx::query_scalar("PRAGMA mmap_size")
            .fetch_one(busy.conn())
            .await
            .unwrap();
        assert_eq!(mmap, 0);
        drop(busy);
        let mut writer = db.writer.acquire().await.unwrap();
        let mmap: i64 = sqlx::query_scalar("PRAGMA mmap_size")
            .fetch_one(&mut *writer)
            .await
            .unwrap();
        assert_eq!(mmap, 0, "the writer reads without a map too");
        drop(writer);
        let mut all = Vec::new();
        for _ in 0..3 {
            let mut reader = readers.acquire().await.unwrap();
            let mmap: i64 = sqlx::query_scalar("PRAGMA mmap_size")
                .fetch_one(reader.conn())
                .await
                .unwrap();
            let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
                .fetch_one(reader.conn())
                .await
                .unwrap();
            assert_eq!((mmap, rows), (0, 0));
            all.push(reader);
        }
    }

    /// Sixteen write transactions at once on a real database share the fsyncs, and all
    /// of them are there. The fsync is slowed to a disk's: this machine's virtual disk
    /// answers in a tenth of a millisecond, faster than a transaction, and a flush that
    /// ends before the next commit returns has nothing to share.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sixteen_concurrent_commits_share_fewer_fsyncs() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("meta.db");
        let url = format!("sqlite://{}?mode=rwc", file.display());
        let mut db = Db::connect(&url, 4, SqliteSynchronous::Full).await.unwrap();
        sqlx::query("CREATE TABLE t (v INTEGER)")
            .execute(&db.pool)
            .await
            .unwrap();
        let flusher = Arc::new(WalFlusher::for_slow_disk(
            &file,
            std::time::Duration::from_millis(20),
        ));
        db.wal = Some(flusher.clone());
        let commits: Vec<_> = (0..16_i64)
            .map(|v| {
                let db = db.clone();
                tokio::spawn(async move {
                    let mut tx = db.begin_write().await?;
                    sqlx::query("INSERT INTO t (v) VALUES ($1)")
                        .bind(v)
                        .execute(&mut *tx.tx)
                        .await?;
                    tx.commit().await
                })
            })
            .collect();
        for commit in commits {
            commit.await.unwrap().unwrap();
        }
        let flushes = flusher.flushes();
        assert!(
            (1..16).contains(&flushes),
            "{flushes} fsyncs for 16 commits"
        );
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(rows, 16);
    }
}
