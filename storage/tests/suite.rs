//! One storage suite for every backend: SQLite always, PostgreSQL when `DATABASE_URL`
//! points at a server (each test then gets a database of its own, dropped afterwards).
//! Each runs twice on a local blob directory: with small blobs kept in the database (the
//! default) and with every blob a file (`inline_blob_max = 0`). PostgreSQL also runs with
//! every blob an object in S3 when `DAVGATE_S3_ENDPOINT` names a server (required under
//! `DAVGATE_REQUIRE_INTEROP=1`), on a bucket of its own emptied afterwards; with inline
//! blobs S3 would see only the few large ones, so that case is left out.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use davgate_storage::blob::{BlobStore, MIN_PART_SIZE};
use davgate_storage::{
    Account, BlobStoreConfig, CopyDepth, CreateMode, DeadProp, Digests, Location, LockRecord,
    NameWas, NewContent, NodeId, Overwrite, PropChange, S3BlobStore, S3Config, StorageError, Store,
    StoreConfig, Target,
};
use sqlx::Executor;

/// Where a fixture's blobs live.
#[derive(Clone, Copy)]
enum Blobs {
    /// A directory of the fixture's own.
    Local,
    /// A bucket of its own on the S3 server of `DAVGATE_S3_ENDPOINT`.
    S3,
}

/// A store on a fresh database, cleaned up on drop.
struct Fixture {
    store: Store,
    url: String,
    blob_store: BlobStoreConfig,
    /// The store's `inline_blob_max`.
    inline_max: u64,
    _dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl Fixture {
    async fn sqlite(inline_max: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
        Self::open(dir, url, None, inline_max, Blobs::Local).await
    }

    async fn postgres(admin_url: &str, inline_max: u64, blobs: Blobs) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let name = format!("davgate_test_{:016x}", rand::random::<u64>());
        sqlx::any::install_default_drivers();
        let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(admin_url)
            .await
            .unwrap();
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap();
        let (path, query) = admin_url.split_once('?').unwrap_or((admin_url, ""));
        let (base, _) = path
            .rsplit_once('/')
            .expect("DATABASE_URL names a database");
        let url = format!("{base}/{name}?{query}");
        Self::open(
            dir,
            url,
            Some((admin_url.to_owned(), name)),
            inline_max,
            blobs,
        )
        .await
    }

    async fn open(
        dir: tempfile::TempDir,
        url: String,
        postgres: Option<(String, String)>,
        inline_max: u64,
        blobs: Blobs,
    ) -> Self {
        let blob_store = match blobs {
            Blobs::Local => BlobStoreConfig::Local(dir.path().join("blobs")),
            Blobs::S3 => {
                let config =
                    s3_config(std::env::var("DAVGATE_S3_ENDPOINT").expect("DAVGATE_S3_ENDPOINT"));
                // SeaweedFS makes a bucket on its first upload; until then listing it fails.
                let bucket = S3BlobStore::open(&config).unwrap();
                let mut first = bucket.create().await.unwrap();
                first.write(Bytes::from_static(b"first")).await.unwrap();
                let first = first.finish().await.unwrap();
                let key = first.key().clone();
                first.committed();
                bucket.delete(&key).await.unwrap();
                BlobStoreConfig::S3(config)
            }
        };
        let store = open_store(&url, &blob_store, inline_max).await;
        Fixture {
            store,
            url,
            blob_store,
            inline_max,
            _dir: dir,
            postgres,
        }
    }

    async fn close(self) {
        let Fixture {
            store,
            postgres,
            blob_store,
            ..
        } = self;
        drop(store);
        if let BlobStoreConfig::S3(config) = blob_store {
            // Empty the bucket: every object, and every upload a test left unfinished.
            let bucket = S3BlobStore::open(&S3Config {
                multipart_max_age: Duration::ZERO,
                ..config
            })
            .unwrap();
            bucket.abort_stale_uploads().await.unwrap();
            for blob in bucket.list().await.unwrap() {
                bucket.delete(&blob.key).await.unwrap();
            }
            // An S3 server keeps volumes for each bucket: dozens would fill a small one.
            bucket.delete_bucket().await.unwrap();
        }
        if let Some((admin_url, name)) = postgres {
            let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url)
                .await
                .unwrap();
            admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await
                .unwrap();
        }
    }

    /// Another store on the same database, as the CLI opens while the server runs.
    async fn second_store(&self) -> Store {
        open_store(&self.url, &self.blob_store, self.inline_max).await
    }

    /// Blobs the blob store holds, finished or being written: files in the blob
    /// directory, or objects and incomplete multipart uploads in the bucket. S3 deletes
    /// and aborts of dropped blobs run in the background, so there the count is read
    /// until it holds still (bounded).
    async fn blob_files(&self) -> usize {
        let config = match &self.blob_store {
            BlobStoreConfig::Local(dir) => return count_files(dir),
            BlobStoreConfig::S3(config) => config,
        };
        let bucket = S3BlobStore::open(config).unwrap();
        let count = || async {
            bucket.list().await.unwrap().len() + bucket.incomplete_uploads().await.unwrap().len()
        };
        let mut last = count().await;
        let mut still = 0;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = count().await;
            still = if now == last { still + 1 } else { 0 };
            last = now;
            if still == 3 {
                break;
            }
        }
        last
    }

    /// Puts an orphan in the blob store: what a process killed between writing a blob
    /// and committing it leaves (a file nobody holds, or an object).
    async fn plant_orphan(&self) -> davgate_storage::BlobKey {
        match &self.blob_store {
            BlobStoreConfig::Local(dir) => {
                let key = format!("ab{}", "0".repeat(30));
                let orphan = dir.join("ab").join(&key);
                std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
                std::fs::write(&orphan, b"orphan").unwrap();
                davgate_storage::BlobKey::parse(&key).unwrap()
            }
            BlobStoreConfig::S3(config) => {
                let bucket = S3BlobStore::open(config).unwrap();
                let mut writer = bucket.create().await.unwrap();
                writer.write(Bytes::from_static(b"orphan")).await.unwrap();
                let staged = writer.finish().await.unwrap();
                let key = staged.key().clone();
                staged.committed();
                key
            }
        }
    }

    /// Blobs wherever their bytes are: files, and rows of small blobs in the database.
    async fn stored_blobs(&self) -> usize {
        let mut db = <sqlx::AnyConnection as sqlx::Connection>::connect(&self.url)
            .await
            .unwrap();
        let inline: i64 = sqlx::query_scalar("SELECT count(*) FROM blob_data")
            .fetch_one(&mut db)
            .await
            .unwrap();
        self.blob_files().await + inline as usize
    }

    /// Copies `src`, named `from` in the account's files root, to `to` beside it.
    async fn copy_in_root(
        &self,
        account: &Account,
        src: NodeId,
        from: &str,
        to: &str,
    ) -> davgate_storage::Node {
        self.store
            .copy_tree(
                account.id,
                src,
                &at(account.files_root, from),
                &target(account.files_root, to, Overwrite::Refuse),
                CopyDepth::Subtree,
            )
            .await
            .unwrap()
            .node
    }

    /// Rows of `blobs` no node points at: what a refused upload must not leave.
    async fn unreferenced_blob_rows(&self) -> i64 {
        let mut db = <sqlx::AnyConnection as sqlx::Connection>::connect(&self.url)
            .await
            .unwrap();
        sqlx::query_scalar(
            "SELECT count(*) FROM blobs b \
             WHERE NOT EXISTS (SELECT 1 FROM nodes n WHERE n.blob_key = b.key)",
        )
        .fetch_one(&mut db)
        .await
        .unwrap()
    }

    async fn account(&self, name: &str) -> Account {
        self.store
            .create_account(name, "$argon2id$placeholder")
            .await
            .unwrap()
    }

    /// The names in `parent`, in the listing's order.
    async fn names(&self, parent: NodeId) -> Vec<String> {
        let children = self.store.children(parent).await.unwrap();
        children.into_iter().map(|n| n.name).collect()
    }

    async fn fresh(&self, id: davgate_storage::AccountId) -> Account {
        self.store.account(id).await.unwrap().unwrap()
    }

    async fn upload(
        &self,
        account: &Account,
        parent: NodeId,
        name: &str,
        data: &[u8],
    ) -> davgate_storage::Result<davgate_storage::Node> {
        let mut writer = self.store.upload().await?;
        // Odd-sized chunks, as a network delivers them, never aligned to the writer's
        // buffers.
        for chunk in data.chunks(100_003) {
            writer.write(Bytes::copy_from_slice(chunk)).await?;
        }
        let blob = writer.finish().await?;
        let content = NewContent {
            blob,
            mtime_ms: None,
            content_type: None,
        };
        // Free whether or not it is: a taken name tries the short way and falls back.
        self.store
            .commit_upload(
                account.id,
                parent,
                name,
                content,
                CreateMode::CreateOrReplace,
                NameWas::Free,
            )
            .await
            .map(|uploaded| uploaded.node)
    }

    /// `data` committed to `parent/name` as `mode` allows, the name thought `was`.
    async fn commit(
        &self,
        account: &Account,
        parent: NodeId,
        name: &str,
        data: &[u8],
        mode: CreateMode,
        was: NameWas,
    ) -> davgate_storage::Result<davgate_storage::Node> {
        let mut writer = self.store.upload().await?;
        writer.write(Bytes::copy_from_slice(data)).await?;
        let content = NewContent {
            blob: writer.finish().await?,
            mtime_ms: None,
            content_type: None,
        };
        self.store
            .commit_upload(account.id, parent, name, content, mode, was)
            .await
            .map(|uploaded| uploaded.node)
    }

    /// The node's MD5 once the background thread filled it in, or `None` after `wait`.
    async fn md5_within(&self, id: NodeId, wait: std::time::Duration) -> Option<String> {
        let step = std::time::Duration::from_millis(20);
        for _ in 0..=wait.as_millis() / step.as_millis() {
            let node = self.store.node(id).await.unwrap().unwrap();
            let md5 = node.digests.and_then(|d| d.md5);
            if md5.is_some() {
                return md5;
            }
            tokio::time::sleep(step).await;
        }
        None
    }

    /// The node's whole content, read a megabyte at a time.
    async fn read(&self, node: &davgate_storage::Node) -> Vec<u8> {
        let reader = self
            .store
            .blobs()
            .open_sized(node.blob.as_ref().unwrap(), node.size)
            .await
            .unwrap();
        let mut read = Vec::new();
        loop {
            let chunk = reader.read_at(read.len() as u64, 1 << 20).await.unwrap();
            if chunk.is_empty() {
                return read;
            }
            read.extend_from_slice(&chunk);
        }
    }
}

fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                count_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}

/// The suite's S3 settings on a fresh bucket: the smallest parts, so that a few
/// megabytes make a multipart upload; every unreferenced object collectable at once; an
/// unfinished upload aborted only by the fixture's cleanup.
fn s3_config(endpoint: String) -> S3Config {
    S3Config {
        endpoint: Some(endpoint),
        bucket: format!("davgate-suite-{:016x}", rand::random::<u64>()),
        region: "us-east-1".into(),
        path_style: true,
        access_key_id: None,
        secret_access_key: None,
        part_size: MIN_PART_SIZE,
        allow_http: true,
        gc_grace: Duration::ZERO,
        multipart_max_age: Duration::from_secs(86400),
    }
}

async fn open_store(url: &str, blob_store: &BlobStoreConfig, inline_blob_max: u64) -> Store {
    Store::open(&StoreConfig {
        database_url: url.to_owned(),
        blob_store: blob_store.clone(),
        max_connections: 4,
        background_thread_init: None,
        sqlite_synchronous: Default::default(),
        inline_blob_max,
    })
    .await
    .unwrap()
}

/// Runs each case on SQLite, and on PostgreSQL when `DATABASE_URL` is set; each with
/// small blobs in the database and with every blob in a file.
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            suite!(@sqlite davgate_storage::DEFAULT_INLINE_BLOB_MAX; $($name),*);
        }
        mod sqlite_blob_files {
            suite!(@sqlite 0; $($name),*);
        }
        mod postgres {
            suite!(@postgres davgate_storage::DEFAULT_INLINE_BLOB_MAX; $($name),*);
        }
        mod postgres_blob_files {
            suite!(@postgres 0; $($name),*);
        }
        mod postgres_s3 {
            suite!(@postgres_s3 $($name),*);
        }
    };
    (@sqlite $inline:expr; $($name:ident),*) => {
        $(#[tokio::test]
        async fn $name() {
            let f = super::Fixture::sqlite($inline).await;
            super::$name(&f).await;
            f.close().await;
        })*
    };
    (@postgres $inline:expr; $($name:ident),*) => {
        $(#[tokio::test]
        async fn $name() {
            let Some(url) = super::postgres_url() else { return };
            let f = super::Fixture::postgres(&url, $inline, super::Blobs::Local).await;
            super::$name(&f).await;
            f.close().await;
        })*
    };
    (@postgres_s3 $($name:ident),*) => {
        $(#[tokio::test]
        async fn $name() {
            let Some(url) = super::postgres_url() else { return };
            if std::env::var("DAVGATE_S3_ENDPOINT").is_err() {
                assert!(
                    std::env::var("DAVGATE_REQUIRE_INTEROP").as_deref() != Ok("1"),
                    "DAVGATE_S3_ENDPOINT is not set (start .ci/s3.sh) but DAVGATE_REQUIRE_INTEROP=1"
                );
                eprintln!("DAVGATE_S3_ENDPOINT is not set: S3 run skipped");
                return;
            }
            let f = super::Fixture::postgres(&url, 0, super::Blobs::S3).await;
            super::$name(&f).await;
            f.close().await;
        })*
    };
}

/// `DATABASE_URL`, or `None` (skip) unless `DAVGATE_REQUIRE_POSTGRES` is set.
fn postgres_url() -> Option<String> {
    let url = std::env::var("DATABASE_URL").ok();
    if url.is_none() {
        assert!(
            std::env::var("DAVGATE_REQUIRE_POSTGRES").is_err(),
            "DAVGATE_REQUIRE_POSTGRES is set but DATABASE_URL is not"
        );
        eprintln!("DATABASE_URL is not set: PostgreSQL run skipped");
    }
    url
}

suite!(
    periodic_jobs_run_on_one_node_at_a_time,
    kept_rows_on_one_node_follow_commits_on_another,
    accounts_are_unique_and_versioned,
    kept_rows_follow_every_commit_at_once,
    the_account_and_its_locks_are_kept_across_uploads,
    uploads_say_what_they_wrote_and_their_folder_is_kept,
    uploads_commit_replace_and_release,
    a_same_size_replacement_waits_for_no_lock_on_the_account,
    generic_plans_follow_a_growing_table,
    create_new_refuses_an_existing_name,
    an_upload_ends_alike_whatever_its_name_was_thought_to_be,
    large_uploads_read_back_exactly,
    background_md5_waits_while_uploads_stream,
    abandoned_and_refused_uploads_leave_nothing,
    small_blobs_live_in_the_database_and_larger_ones_in_files,
    a_file_blob_opens_without_a_look_in_the_database,
    an_upload_finds_its_folder_and_its_file_in_one_walk,
    names_compare_in_nfc,
    a_listing_reads_what_a_single_read_does,
    moves_are_one_row_and_refuse_cycles,
    copies_share_blobs_and_count_quota,
    moves_check_the_source_and_trash_the_destination,
    concurrent_moves_and_deletes_have_one_winner,
    crossed_folder_moves_never_make_a_cycle,
    subtree_copies_are_all_or_nothing,
    trash_restore_purge_and_retention,
    dead_props_patch_atomically,
    locks_check_and_insert_atomically,
    garbage_collection_spares_live_and_referenced_blobs,
    deleting_an_account_deletes_its_bytes,
    app_passwords_are_created_listed_and_revoked,
    second_factor_steps_and_backup_codes_work_once,
    addresses_and_the_audit_log,
    portal_sessions_expire_and_end,
    collections_are_created_defaulted_and_changed,
    objects_keep_one_uid_and_honour_preconditions,
    bulk_object_reads_carry_what_a_single_read_does,
    sync_reports_changes_and_deletions_since_a_token,
    collections_are_shared_read_only_or_read_write,
    reminder_firings_are_replaced_and_claimed_once,
    the_email_destination_follows_the_account_address,
    a_destination_gets_a_burst_of_its_rate_and_the_rest_later,
    many_objects_get_their_firings_in_one_call,
);

/// Account rows and path walks are kept between commits; a commit by this store or by
/// another one on the same database (the CLI beside the server) shows on the very next
/// read.
async fn kept_rows_follow_every_commit_at_once(f: &Fixture) {
    let a = f.account("alice").await;
    assert_eq!(f.fresh(a.id).await, f.fresh(a.id).await);
    let cli = f.second_store().await;
    cli.set_password_hash(a.id, "$argon2id$from-the-cli")
        .await
        .unwrap();
    let changed = f.fresh(a.id).await;
    assert_eq!(changed.password_hash, "$argon2id$from-the-cli");
    assert_eq!(changed.credential_generation, a.credential_generation + 1);
    cli.set_disabled(a.id, true).await.unwrap();
    assert!(f.fresh(a.id).await.disabled);
    let root = a.files_root;
    assert_eq!(f.store.resolve(root, &["one.txt"]).await.unwrap(), None);
    f.upload(&a, root, "one.txt", b"12345").await.unwrap();
    assert_eq!(f.fresh(a.id).await.used_bytes, 5);
    let found = f.store.resolve(root, &["one.txt"]).await.unwrap();
    assert_eq!(found.expect("uploaded").size, 5);
    cli.delete_account(a.id).await.unwrap();
    assert_eq!(f.store.account(a.id).await.unwrap(), None);
    assert_eq!(f.store.resolve(root, &["one.txt"]).await.unwrap(), None);
}

/// A sync job's uploads leave what every request reads of its account (settings,
/// credentials) and its locks kept: on SQLite, neither costs a statement between
/// uploads. Every other change shows at once, made here or by the CLI, and the usage is
/// exact where it is asked for. (On PostgreSQL the store hears its own uploads' notices
/// and reads locks every time: the counts are not asserted there.)
async fn the_account_and_its_locks_are_kept_across_uploads(f: &Fixture) {
    use davgate_storage::QueryCount;
    let a = f.account("alice").await;
    let root = a.files_root;
    let sqlite = f.store.backend() == davgate_storage::Backend::Sqlite;
    let statements = |store: Store| async move {
        let count = QueryCount::new();
        let (account, locks) = count
            .scope(async {
                let account = store.account_settings(a.id).await.unwrap().unwrap();
                (account, store.locks(a.id).await.unwrap())
            })
            .await;
        (count.get(), account, locks)
    };
    f.upload(&a, root, "one.txt", b"12345").await.unwrap();
    // Kept rows are read again after a second: on a busy machine one round may pay
    // for that, so the first round that reads nothing is the proof.
    let mut counts = Vec::new();
    for _ in 0..5 {
        statements(f.store.clone()).await;
        f.upload(&a, root, "two.txt", b"1234567").await.unwrap();
        f.upload(&a, root, "one.txt", b"123").await.unwrap();
        let (count, account, locks) = statements(f.store.clone()).await;
        assert_eq!(account.password_hash, a.password_hash);
        assert!(locks.is_empty());
        counts.push(count);
        if count == 0 || !sqlite {
            break;
        }
    }
    if sqlite {
        assert_eq!(
            counts.last(),
            Some(&0),
            "every read after the uploads went to the database: {counts:?} statements"
        );
    }
    assert_eq!(f.store.used_bytes(a.id).await.unwrap(), Some(10));

    // A lock and a password changed by the CLI, then a lock taken here: each is seen
    // by the next read.
    let cli = f.second_store().await;
    let lock = alice_lock("opaquelocktoken:kept", "/one.txt", false);
    let taken = cli.add_lock(a.id, lock.clone(), |_| None).await.unwrap();
    assert!(taken.is_ok());
    let (_, _, locks) = statements(f.store.clone()).await;
    assert_eq!(locks, vec![lock.clone()]);
    cli.set_password_hash(a.id, "$argon2id$from-the-cli")
        .await
        .unwrap();
    let (_, account, _) = statements(f.store.clone()).await;
    assert_eq!(account.password_hash, "$argon2id$from-the-cli");
    f.upload(&a, root, "three.txt", b"1").await.unwrap();
    let second = LockRecord {
        token: "opaquelocktoken:kept-2".into(),
        path: "/three.txt".into(),
        ..lock
    };
    let taken = f.store.add_lock(a.id, second, |_| None).await.unwrap();
    assert!(taken.is_ok());
    let (_, _, locks) = statements(f.store.clone()).await;
    assert_eq!(locks.len(), 2);
    f.store.set_disabled(a.id, true).await.unwrap();
    let (_, account, _) = statements(f.store.clone()).await;
    assert!(account.disabled);
}

/// An upload says whether it made its file or replaced one, whatever was guessed before
/// its body arrived. The folder uploads go into (`upload_folder`) is kept across them,
/// and ends with any other commit, here or by the CLI.
async fn uploads_say_what_they_wrote_and_their_folder_is_kept(f: &Fixture) {
    use davgate_storage::{FOLDER_AT_NAME, FileWritten, QueryCount};
    let a = f.account("alice").await;
    let root = a.files_root;
    let commit = |name: String, was: NameWas| async move {
        let mut writer = f.store.upload().await.unwrap();
        writer.write(Bytes::from_static(b"x")).await.unwrap();
        let content = NewContent {
            blob: writer.finish().await.unwrap(),
            mtime_ms: None,
            content_type: None,
        };
        let mode = CreateMode::CreateOrReplace;
        f.store
            .commit_upload(a.id, root, &name, content, mode, was)
            .await
    };
    for was in [NameWas::Free, NameWas::Taken] {
        let name = format!("{was:?}.txt");
        let first = commit(name.clone(), was).await.unwrap();
        assert_eq!(first.written, FileWritten::Created, "{was:?}");
        let second = commit(name, was).await.unwrap();
        assert_eq!(second.written, FileWritten::Replaced, "{was:?}");
    }

    let dir = f.store.create_dir(a.id, root, "dir").await.unwrap();
    let folder = |segments: &'static [&'static str]| async move {
        let count = QueryCount::new();
        let found = count
            .scope(f.store.upload_folder(root, segments))
            .await
            .unwrap();
        (found.map(|node| node.id), count.get())
    };
    assert_eq!(folder(&["dir"]).await.0, Some(dir.id));
    assert_eq!(folder(&[]).await.0, Some(root));
    f.upload(&a, dir.id, "file.txt", b"12345").await.unwrap();
    if f.store.backend() == davgate_storage::Backend::Sqlite {
        // Read again after a second: the first of five looks that costs nothing.
        let mut counts = Vec::new();
        for _ in 0..5 {
            folder(&["dir"]).await;
            f.upload(&a, dir.id, "file.txt", b"123").await.unwrap();
            counts.push(folder(&["dir"]).await.1);
            if counts.last() == Some(&0) {
                break;
            }
        }
        assert_eq!(counts.last(), Some(&0), "{counts:?} statements");
    }
    assert_eq!(
        folder(&["dir", "file.txt"]).await.0,
        None,
        "a file is no folder"
    );
    assert_eq!(folder(&["missing"]).await.0, None);
    // A folder at an upload's name is refused by its commit, and says so.
    let refused = commit("dir".into(), NameWas::Free).await;
    assert!(
        matches!(refused, Err(StorageError::Conflict(why)) if why == FOLDER_AT_NAME),
        "{refused:?}"
    );

    // The folder deleted by the CLI: gone for the next upload.
    let cli = f.second_store().await;
    cli.trash(a.id, a.trash_root, dir.id, "/dir").await.unwrap();
    assert_eq!(folder(&["dir"]).await.0, None);
}

/// Two stores on one database are two nodes: a job one of them runs is skipped by the
/// other until it is released; on SQLite (one node) every job just runs.
async fn periodic_jobs_run_on_one_node_at_a_time(f: &Fixture) {
    use davgate_storage::Job;
    let other_node = f.second_store().await;
    let lease = f
        .store
        .try_job(Job::TrashPurge)
        .await
        .unwrap()
        .expect("free");
    let postgres = f.store.backend() == davgate_storage::Backend::Postgres;
    let elsewhere = other_node.try_job(Job::TrashPurge).await.unwrap();
    assert_eq!(elsewhere.is_none(), postgres, "taken on the other node");
    drop(elsewhere);
    let ran = other_node
        .run_job(Job::TrashPurge, async { Ok(7) })
        .await
        .unwrap();
    assert_eq!(ran, (!postgres).then_some(7));
    // Other jobs stay free meanwhile.
    let collection = other_node.try_job(Job::BlobCollection).await.unwrap();
    assert_eq!(
        collection.expect("a different job").job(),
        Job::BlobCollection
    );
    lease.release().await;
    let ran = other_node
        .run_job(Job::TrashPurge, async { Ok(7) })
        .await
        .unwrap();
    assert_eq!(ran, Some(7), "free once released");
    // A lease dropped without release (a node dying mid-job) frees the job too, once
    // the server sees its connection close.
    let dropped = f
        .store
        .try_job(Job::Md5Backfill)
        .await
        .unwrap()
        .expect("free");
    drop(dropped);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if other_node
            .try_job(Job::Md5Backfill)
            .await
            .unwrap()
            .is_some()
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a dropped lease stays taken"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// What one node (or the CLI) commits, another shows on its very next read: on
/// PostgreSQL, where a notification could arrive after that read, nothing is kept.
async fn kept_rows_on_one_node_follow_commits_on_another(f: &Fixture) {
    let a = f.account("alice").await;
    let other_node = f.second_store().await;
    for disabled in [true, false, true] {
        assert_eq!(
            other_node.account(a.id).await.unwrap().unwrap().disabled,
            !disabled
        );
        f.store.set_disabled(a.id, disabled).await.unwrap();
        assert_eq!(
            other_node.account(a.id).await.unwrap().unwrap().disabled,
            disabled
        );
    }
}

async fn accounts_are_unique_and_versioned(f: &Fixture) {
    let a = f.account("alice").await;
    assert!(matches!(
        f.store.create_account("alice", "x").await,
        Err(StorageError::Conflict(_))
    ));
    assert!(matches!(
        f.store.create_account("bad:name", "x").await,
        Err(StorageError::Invalid(_))
    ));
    f.store
        .set_password_hash(a.id, "$argon2id$new")
        .await
        .unwrap();
    let after = f.fresh(a.id).await;
    assert_eq!(after.credential_generation, a.credential_generation + 1);
    assert_eq!(after.password_hash, "$argon2id$new");
    f.store.set_disabled(a.id, true).await.unwrap();
    let disabled = f.fresh(a.id).await;
    assert!(disabled.disabled);
    assert_eq!(
        disabled.credential_generation,
        after.credential_generation + 1
    );
    f.store.set_quota(a.id, Some(1000)).await.unwrap();
    f.store.set_upload_limit(a.id, Some(500)).await.unwrap();
    let limited = f.fresh(a.id).await;
    assert_eq!(
        (limited.quota_bytes, limited.upload_limit_bytes),
        (Some(1000), Some(500))
    );
    assert_eq!(f.store.accounts().await.unwrap().len(), 1);
}

async fn uploads_commit_replace_and_release(f: &Fixture) {
    let a = f.account("alice").await;
    let first = f
        .upload(&a, a.files_root, "note.txt", b"hello")
        .await
        .unwrap();
    let digests = first.digests.clone().expect("uploads record digests");
    assert_eq!(digests.sha1, "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d");
    assert_eq!(
        digests.md5.as_deref(),
        Some("5d41402abc4b2a76b9719d911017c592"),
        "both digests are known at the commit"
    );
    assert_eq!(f.read(&first).await, b"hello");
    assert_eq!(f.fresh(a.id).await.used_bytes, 5);
    let second = f
        .upload(&a, a.files_root, "note.txt", b"hello, world")
        .await
        .unwrap();
    assert_eq!(second.id, first.id);
    assert_ne!(
        second.etag, first.etag,
        "a content change must change the ETag"
    );
    assert_eq!(f.read(&second).await, b"hello, world");
    assert_eq!(f.fresh(a.id).await.used_bytes, 12);
    assert_eq!(f.stored_blobs().await, 1, "the replaced blob is deleted");
}

/// Replacing a file with one of its size charges nothing, so its commit takes no lock
/// on the account's row: on PostgreSQL, sync clients overwriting many files of one
/// account at once would otherwise wait for each other's commits in turn. The lock is
/// held here by another transaction for as long as the replacement runs; a
/// replacement that changes the size still charges the difference afterwards.
/// PostgreSQL keeps a prepared statement's generic plan until the table's next ANALYZE.
/// Made while `nodes` held a handful of rows, the plan of a lookup by name scans the whole
/// table; once the table has grown, `refresh_statistics` analyzes it and the same
/// statement, on the same connection, uses the index. SQLite has nothing to refresh.
async fn generic_plans_follow_a_growing_table(f: &Fixture) {
    let a = f.account("alice").await;
    if f.store.backend() == davgate_storage::Backend::Sqlite {
        assert_eq!(
            f.store.refresh_statistics().await.unwrap(),
            Vec::<String>::new()
        );
        return;
    }
    let mut db = <sqlx::AnyConnection as sqlx::Connection>::connect(&f.url)
        .await
        .unwrap();
    // Generic at once, where a pooled connection switches after five runs; and the
    // statistics autovacuum would have taken of the few rows there are.
    for setup in [
        "SET plan_cache_mode = force_generic_plan",
        "ANALYZE nodes",
        "PREPARE child (bigint, text) AS \
         SELECT id FROM nodes WHERE parent_id = $1 AND name_key = $2",
    ] {
        db.execute(setup).await.unwrap();
    }
    async fn plan(db: &mut sqlx::AnyConnection) -> String {
        sqlx::query_scalar::<_, String>("EXPLAIN EXECUTE child (1, 'x')")
            .fetch_all(db)
            .await
            .unwrap()
            .join("\n")
    }
    let small = plan(&mut db).await;
    assert!(
        small.contains("Seq Scan"),
        "the plan on a few rows: {small}"
    );

    let folder = f.store.create_dir(a.id, a.files_root, "big").await.unwrap();
    for i in 0..1_000 {
        f.store
            .create_dir(a.id, folder.id, &format!("d{i}"))
            .await
            .unwrap();
    }
    // The pooled connections report their changes to the statistics within seconds.
    let mut analyzed = Vec::new();
    for _ in 0..120 {
        analyzed = f.store.refresh_statistics().await.unwrap();
        if analyzed.iter().any(|t| t == "nodes") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        analyzed.iter().any(|t| t == "nodes"),
        "analyzed: {analyzed:?}"
    );
    let grown = plan(&mut db).await;
    assert!(
        grown.contains("Index Scan using nodes_by_parent") && !grown.contains("Seq Scan"),
        "the plan on 1,000 rows: {grown}"
    );
    // Analyzed now: nothing has grown since.
    assert!(
        !f.store
            .refresh_statistics()
            .await
            .unwrap()
            .contains(&"nodes".to_owned())
    );
}

async fn a_same_size_replacement_waits_for_no_lock_on_the_account(f: &Fixture) {
    let a = f.account("alice").await;
    f.upload(&a, a.files_root, "note.txt", b"hello")
        .await
        .unwrap();
    let mut holder = None;
    if f.store.backend() == davgate_storage::Backend::Postgres {
        let mut db = <sqlx::AnyConnection as sqlx::Connection>::connect(&f.url)
            .await
            .unwrap();
        db.execute("BEGIN").await.unwrap();
        sqlx::query("UPDATE accounts SET used_bytes = used_bytes WHERE id = $1")
            .bind(a.id.0)
            .execute(&mut db)
            .await
            .unwrap();
        holder = Some(db);
    }
    let same_size = tokio::time::timeout(
        Duration::from_secs(20),
        f.commit(
            &a,
            a.files_root,
            "note.txt",
            b"world",
            CreateMode::CreateOrReplace,
            NameWas::Taken,
        ),
    )
    .await
    .expect("the replacement waited for the lock on the account's row")
    .unwrap();
    if let Some(mut db) = holder {
        db.execute("ROLLBACK").await.unwrap();
    }
    assert_eq!(f.read(&same_size).await, b"world");
    assert_eq!(f.fresh(a.id).await.used_bytes, 5);
    assert_eq!(f.stored_blobs().await, 1, "the replaced blob is deleted");

    let longer = f
        .commit(
            &a,
            a.files_root,
            "note.txt",
            b"hello, world",
            CreateMode::CreateOrReplace,
            NameWas::Taken,
        )
        .await
        .unwrap();
    assert_eq!(f.read(&longer).await, b"hello, world");
    assert_eq!(f.fresh(a.id).await.used_bytes, 12);
    assert_eq!(f.stored_blobs().await, 1);
}

async fn create_new_refuses_an_existing_name(f: &Fixture) {
    let a = f.account("alice").await;
    f.upload(&a, a.files_root, "x", b"1").await.unwrap();
    let mut w = f.store.blobs().create().await.unwrap();
    w.write(Bytes::from_static(b"2")).await.unwrap();
    let content = NewContent {
        blob: w.finish().await.unwrap(),
        mtime_ms: None,
        content_type: None,
    };
    let err = f
        .store
        .commit_upload(
            a.id,
            a.files_root,
            "x",
            content,
            CreateMode::CreateNew,
            NameWas::Free,
        )
        .await;
    assert!(matches!(err, Err(StorageError::Conflict(_))));
    assert_eq!(f.stored_blobs().await, 1, "the refused blob is gone");
}

/// The request's guess about the name (`NameWas`) picks how the commit writes, never
/// what it does: each case answers the same, charges the same and leaves the same
/// tree under either guess.
async fn an_upload_ends_alike_whatever_its_name_was_thought_to_be(f: &Fixture) {
    for was in [NameWas::Free, NameWas::Taken] {
        let a = f.account(&format!("user{was:?}").to_lowercase()).await;
        let root = a.files_root;
        let used = |n: u64| async move { assert_eq!(f.fresh(a.id).await.used_bytes, n, "{was:?}") };

        let new = f
            .commit(&a, root, "f", b"1234", CreateMode::CreateOrReplace, was)
            .await
            .unwrap();
        used(4).await;
        let replaced = f
            .commit(&a, root, "f", b"12", CreateMode::CreateOrReplace, was)
            .await
            .unwrap();
        assert_eq!((replaced.id, replaced.size), (new.id, 2), "{was:?}");
        used(2).await;
        let replaced = f
            .commit(&a, root, "f", b"123", CreateMode::ReplaceExisting, was)
            .await
            .unwrap();
        assert_eq!(replaced.id, new.id, "{was:?}");
        used(3).await;

        let dir = f.store.create_dir(a.id, root, "d").await.unwrap();
        let refusals = [
            ("f", CreateMode::CreateNew, root, "the file exists"),
            (
                "d",
                CreateMode::CreateOrReplace,
                root,
                "a folder has that name",
            ),
            ("missing", CreateMode::ReplaceExisting, root, "not found"),
            (
                "in-a-file",
                CreateMode::CreateOrReplace,
                new.id,
                "not found",
            ),
        ];
        for (name, mode, parent, why) in refusals {
            let err = f
                .commit(&a, parent, name, b"xy", mode, was)
                .await
                .unwrap_err();
            match (&err, why) {
                (StorageError::Conflict(said), _) => assert_eq!(*said, why, "{was:?} {name}"),
                (StorageError::NotFound, "not found") => {}
                _ => panic!("{was:?} {name}: {err:?}, expected {why}"),
            }
        }
        used(3).await;
        assert_eq!(f.unreferenced_blob_rows().await, 0, "{was:?}");

        f.store.set_quota(a.id, Some(5)).await.unwrap();
        // Refused whole: (used, needed) as the error says, and no blob row left behind.
        let account = &a;
        let over_quota = |name: &'static str, data: &'static [u8], said: (u64, u64)| async move {
            let err = f
                .commit(
                    account,
                    dir.id,
                    name,
                    data,
                    CreateMode::CreateOrReplace,
                    was,
                )
                .await
                .unwrap_err();
            assert!(
                matches!(err, StorageError::QuotaExceeded(ref o) if (o.used, o.needed) == said),
                "{was:?} {name}: {err:?}"
            );
            assert_eq!(f.unreferenced_blob_rows().await, 0, "{was:?} {name}");
        };
        over_quota("big", b"123", (3, 3)).await;
        used(3).await;
        f.commit(&a, dir.id, "fits", b"12", CreateMode::CreateNew, was)
            .await
            .unwrap();
        used(5).await;
        f.commit(&a, dir.id, "empty", b"", CreateMode::CreateOrReplace, was)
            .await
            .unwrap();
        used(5).await;
        assert_eq!(f.names(dir.id).await, ["empty", "fits"], "{was:?}");

        // Replacing charges the difference: more is refused whole, less always fits.
        over_quota("fits", b"123", (5, 1)).await;
        used(5).await;
        let smaller = f
            .commit(&a, dir.id, "fits", b"1", CreateMode::CreateOrReplace, was)
            .await
            .unwrap();
        assert_eq!(f.read(&smaller).await, b"1", "{was:?}");
        used(4).await;
        assert_eq!(f.unreferenced_blob_rows().await, 0, "{was:?}");
    }
}

/// Past the writer's first megabytes (which go through the page cache) the bytes go to
/// the disk directly; odd chunk sizes, an unaligned tail and a size that leaves no tail
/// must all come back unchanged.
async fn large_uploads_read_back_exactly(f: &Fixture) {
    let a = f.account("alice").await;
    for (name, size) in [("odd.bin", (9 << 20) + 4321), ("even.bin", 6 << 20)] {
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let node = f.upload(&a, a.files_root, name, &data).await.unwrap();
        assert_eq!(node.size, data.len() as u64);
        let expected = Digests::of(&data);
        assert_eq!(node.digests.as_ref().map(|d| &d.sha1), Some(&expected.sha1));
        // An upload faster than MD5 gets it shortly after the commit.
        let md5 = f.md5_within(node.id, std::time::Duration::from_secs(10));
        assert_eq!(md5.await, expected.md5, "{name}");
        assert!(
            f.read(&node).await == data,
            "{name} reads back byte for byte"
        );
    }
}

/// A blob stored before uploads computed MD5 while streaming gets it from upkeep, but not
/// while an upload streams: the transfer comes first.
async fn background_md5_waits_while_uploads_stream(f: &Fixture) {
    let a = f.account("alice").await;
    // Past the inline threshold: a file the MD5 thread reads back.
    let data = vec![b'h'; 100_000];
    let node = f.upload(&a, a.files_root, "done.txt", &data).await.unwrap();
    // What an older version left: SHA-1 only.
    sqlx::any::install_default_drivers();
    let mut db = <sqlx::AnyConnection as sqlx::Connection>::connect(&f.url)
        .await
        .unwrap();
    db.execute("UPDATE blobs SET md5 = NULL").await.unwrap();
    drop(db);
    let streaming = f.store.upload().await.unwrap();
    assert_eq!(f.store.queue_missing_md5().await.unwrap(), 1);
    let short = std::time::Duration::from_millis(300);
    assert_eq!(
        f.md5_within(node.id, short).await,
        None,
        "waits for the upload"
    );
    drop(streaming);
    let md5 = f
        .md5_within(node.id, std::time::Duration::from_secs(2))
        .await;
    assert_eq!(md5, Digests::of(&data).md5);
}

/// Blobs up to the threshold are rows in the database, one byte more makes a file; both
/// read back whole and by range, with both digests, and go when released.
async fn small_blobs_live_in_the_database_and_larger_ones_in_files(f: &Fixture) {
    let a = f.account("alice").await;
    let threshold = davgate_storage::DEFAULT_INLINE_BLOB_MAX as usize;
    let at = pattern(threshold);
    let past = pattern(threshold + 1);
    let small = f.upload(&a, a.files_root, "at.bin", &at).await.unwrap();
    let files_for_small = f.blob_files().await;
    let large = f.upload(&a, a.files_root, "past.bin", &past).await.unwrap();
    let empty = f.upload(&a, a.files_root, "empty", b"").await.unwrap();
    if f.inline_max > 0 {
        assert_eq!(
            files_for_small, 0,
            "a blob up to the threshold makes no file"
        );
        assert_eq!(f.blob_files().await, 1, "one byte more makes a file");
        // Its MD5 was computed at the commit: no read-back in the background.
        let digests = small.digests.clone().unwrap();
        assert_eq!(digests, Digests::of(&at));
    } else {
        assert_eq!(f.blob_files().await, 3, "every blob is a file");
    }
    assert_eq!(f.stored_blobs().await, 3);
    assert!(f.read(&small).await == at);
    assert!(f.read(&large).await == past);
    assert!(f.read(&empty).await.is_empty());
    let reader = f
        .store
        .blobs()
        .open(small.blob.as_ref().unwrap())
        .await
        .unwrap();
    assert_eq!(reader.len(), threshold as u64);
    assert_eq!(reader.read_at(1000, 10).await.unwrap(), at[1000..1010]);
    assert_eq!(
        reader.read_at(threshold as u64 - 3, 100).await.unwrap(),
        at[threshold - 3..]
    );
    assert!(
        reader
            .read_at(threshold as u64, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(reader.read_at(u64::MAX, 10).await.unwrap().is_empty());
    for node in [&small, &large] {
        let md5 = f
            .md5_within(node.id, std::time::Duration::from_secs(5))
            .await;
        assert_eq!(md5, Digests::of(&f.read(node).await).md5);
    }
    assert_eq!(f.fresh(a.id).await.used_bytes, (2 * threshold + 1) as u64);
    // A store with the other threshold (a changed configuration) reads them all alike.
    let other = open_store(
        &f.url,
        &f.blob_store,
        if f.inline_max > 0 { 0 } else { 1 << 20 },
    )
    .await;
    for (node, data) in [(&small, &at), (&large, &past)] {
        let key = node.blob.as_ref().unwrap();
        for reader in [
            other.blobs().open(key).await.unwrap(),
            // Looked for first where the other threshold puts it, found where it is.
            other.blobs().open_sized(key, node.size).await.unwrap(),
        ] {
            assert!(reader.read_at(0, 1 << 20).await.unwrap() == data[..]);
        }
    }
    drop(other);

    // Replacing a small file releases its row; a garbage collection finds nothing.
    let replaced = f.upload(&a, a.files_root, "at.bin", b"new").await.unwrap();
    assert_eq!(replaced.id, small.id);
    assert_eq!(f.stored_blobs().await, 3);
    assert_eq!(f.store.collect_garbage().await.unwrap().deleted, 0);
    assert!(f.read(&replaced).await == b"new");
    for name in ["at.bin", "past.bin", "empty"] {
        let node = f.store.child(a.files_root, name).await.unwrap().unwrap();
        f.store.purge(a.id, node.id).await.unwrap();
    }
    assert_eq!(f.stored_blobs().await, 0);
    assert_eq!(f.fresh(a.id).await.used_bytes, 0);
}

/// A GET of a blob past the inline threshold opens its file and nothing else: the
/// database's small-blob table is not asked first (here it is gone altogether, so a
/// look there would fail). Blobs up to the threshold are still found in it.
async fn a_file_blob_opens_without_a_look_in_the_database(f: &Fixture) {
    let a = f.account("alice").await;
    let threshold = davgate_storage::DEFAULT_INLINE_BLOB_MAX as usize;
    let small = f.upload(&a, a.files_root, "small", b"small").await.unwrap();
    let past = pattern(threshold + 1);
    let large = f.upload(&a, a.files_root, "large", &past).await.unwrap();
    assert!(f.read(&small).await == b"small");
    sqlx::any::install_default_drivers();
    let mut db = <sqlx::AnyConnection as sqlx::Connection>::connect(&f.url)
        .await
        .unwrap();
    db.execute("DROP TABLE blob_data").await.unwrap();
    drop(db);
    assert!(f.read(&large).await == past);
    if f.inline_max == 0 {
        assert!(f.read(&small).await == b"small", "every blob is a file");
    }
}

/// What a PUT resolves before it streams: the folder and the file it replaces, if
/// any; nothing when the folder is missing or is a file.
async fn an_upload_finds_its_folder_and_its_file_in_one_walk(f: &Fixture) {
    let a = f.account("alice").await;
    let root = a.files_root;
    let dir = f.store.create_dir(a.id, root, "Docs").await.unwrap();
    let file = f.upload(&a, dir.id, "Caf\u{e9}.txt", b"x").await.unwrap();
    let top = f.upload(&a, root, "top", b"y").await.unwrap();
    let walk = |segments: &'static [&'static str]| f.store.resolve_parent_and_child(root, segments);
    let (parent, child) = walk(&["Docs", "Cafe\u{301}.txt"]).await.unwrap().unwrap();
    assert_eq!((parent.id, child.map(|c| c.id)), (dir.id, Some(file.id)));
    let (parent, child) = walk(&["Docs", "new"]).await.unwrap().unwrap();
    assert_eq!((parent.id, child), (dir.id, None));
    let (parent, child) = walk(&["top"]).await.unwrap().unwrap();
    assert_eq!((parent.id, child.map(|c| c.id)), (root, Some(top.id)));
    assert_eq!(walk(&["Missing", "new"]).await.unwrap(), None);
    assert_eq!(
        walk(&["top", "new"]).await.unwrap(),
        None,
        "a file is no folder"
    );
    assert_eq!(walk(&[]).await.unwrap(), None);
}

/// Bytes that differ at every offset a test may look at.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i >> 16) as u8)
        .collect()
}

async fn abandoned_and_refused_uploads_leave_nothing(f: &Fixture) {
    let a = f.account("alice").await;
    let mut w = f.store.blobs().create().await.unwrap();
    // Past the switch to direct I/O, with a write still in flight when it is dropped.
    w.write(Bytes::from(vec![7u8; 9 << 20])).await.unwrap();
    assert_eq!(f.blob_files().await, 1);
    drop(w);
    assert_eq!(
        f.blob_files().await,
        0,
        "a dropped writer deletes its bytes"
    );

    f.store.set_quota(a.id, Some(10)).await.unwrap();
    let err = f.upload(&a, a.files_root, "big", &[1u8; 11]).await;
    match err {
        Err(StorageError::QuotaExceeded(o)) => assert_eq!((o.quota, o.used, o.needed), (10, 0, 11)),
        other => panic!("expected QuotaExceeded, got {other:?}"),
    }
    assert_eq!(f.stored_blobs().await, 0);
    assert_eq!(f.fresh(a.id).await.used_bytes, 0);
    assert!(f.store.child(a.files_root, "big").await.unwrap().is_none());
}

async fn names_compare_in_nfc(f: &Fixture) {
    let a = f.account("alice").await;
    f.store
        .create_dir(a.id, a.files_root, "Cafe\u{301}")
        .await
        .unwrap();
    let found = f
        .store
        .child(a.files_root, "Caf\u{e9}")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.name, "Cafe\u{301}", "the name is kept as sent");
    assert!(matches!(
        f.store.create_dir(a.id, a.files_root, "Caf\u{e9}").await,
        Err(StorageError::Conflict(_))
    ));
    let resolved = f.store.resolve(a.files_root, &["Caf\u{e9}"]).await.unwrap();
    assert_eq!(resolved.map(|n| n.id), Some(found.id));
    f.upload(&a, found.id, "b.txt", b"b").await.unwrap();
    f.upload(&a, found.id, "a.txt", b"a").await.unwrap();
    f.store.create_dir(a.id, found.id, "c").await.unwrap();
    let names = f.names(found.id).await;
    assert_eq!(
        names,
        ["a.txt", "b.txt", "c"],
        "children come sorted by name"
    );
    let leaf = f
        .store
        .resolve(a.files_root, &["Cafe\u{301}", "a.txt"])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        leaf.digests.unwrap().sha1,
        "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8"
    );
    assert!(
        f.store
            .resolve(a.files_root, &["Caf\u{e9}", "a.txt", "below-a-file"])
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        f.store
            .resolve(a.files_root, &["nope", "a.txt"])
            .await
            .unwrap()
            .is_none()
    );
    assert!(f.store.children(a.trash_root).await.unwrap().is_empty());
}

/// A folder's listing (one JSON row on SQLite, plain rows on PostgreSQL) carries every
/// column a single read does, digests included, sorted by name; asked without digests,
/// everything else.
async fn a_listing_reads_what_a_single_read_does(f: &Fixture) {
    let a = f.account("alice").await;
    let dir = f.store.create_dir(a.id, a.files_root, "d").await.unwrap();
    let mut files = Vec::new();
    files.push(f.upload(&a, dir.id, "b.txt", b"bee").await.unwrap());
    files.push(
        f.upload(&a, dir.id, "a.txt", &pattern(300_000))
            .await
            .unwrap(),
    );
    files.push(f.upload(&a, dir.id, "empty", b"").await.unwrap());
    f.store.create_dir(a.id, dir.id, "c").await.unwrap();
    // The MD5s are filled in behind the uploads: wait, so both reads see the same row.
    for file in &files {
        let wait = std::time::Duration::from_secs(30);
        assert!(f.md5_within(file.id, wait).await.is_some(), "{}", file.name);
    }
    let listed = f.store.children(dir.id).await.unwrap();
    let names: Vec<&str> = listed.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["a.txt", "b.txt", "c", "empty"]);
    for node in &listed {
        let read = f.store.node(node.id).await.unwrap().unwrap();
        assert_eq!(node, &read, "{} listed as read alone", node.name);
    }
    assert!(listed[0].digests.is_some() && listed[0].blob.is_some());
    assert!(f.store.children(listed[2].id).await.unwrap().is_empty());
    // Without digests, the same listing with every `digests` left out.
    let light = f
        .store
        .children_listing(dir.id, davgate_storage::ChildDigests::Skip)
        .await
        .unwrap();
    let expected: Vec<_> = listed
        .iter()
        .cloned()
        .map(|mut n| {
            n.digests = None;
            n
        })
        .collect();
    assert_eq!(light, expected);
}

async fn moves_are_one_row_and_refuse_cycles(f: &Fixture) {
    let a = f.account("alice").await;
    let dir = f.store.create_dir(a.id, a.files_root, "a").await.unwrap();
    let sub = f.store.create_dir(a.id, dir.id, "b").await.unwrap();
    f.upload(&a, sub.id, "f", b"data").await.unwrap();
    let home = at(a.files_root, "a");
    assert!(matches!(
        f.store
            .move_node(
                a.id,
                dir.id,
                &home,
                &target(sub.id, "loop", Overwrite::Refuse)
            )
            .await,
        Err(StorageError::Invalid(_))
    ));
    f.store
        .move_node(
            a.id,
            dir.id,
            &home,
            &target(a.files_root, "renamed", Overwrite::Refuse),
        )
        .await
        .unwrap();
    let moved = f
        .store
        .resolve(a.files_root, &["renamed", "b", "f"])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f.read(&moved).await, b"data");
    let other = f
        .store
        .create_dir(a.id, a.files_root, "other")
        .await
        .unwrap();
    assert!(matches!(
        f.store
            .move_node(
                a.id,
                other.id,
                &at(a.files_root, "other"),
                &target(a.files_root, "renamed", Overwrite::Refuse)
            )
            .await,
        Err(StorageError::PreconditionFailed)
    ));
}

async fn copies_share_blobs_and_count_quota(f: &Fixture) {
    let a = f.account("alice").await;
    let src = f.upload(&a, a.files_root, "src", b"12345").await.unwrap();
    f.store
        .patch_dead_props(
            a.id,
            src.id,
            &[PropChange::Set(prop(
                "urn:x",
                "p",
                b"<p xmlns=\"urn:x\">v</p>",
            ))],
        )
        .await
        .unwrap();
    let copy = f.copy_in_root(&a, src.id, "src", "copy").await;
    assert_eq!(f.read(&copy).await, b"12345");
    assert_eq!(f.fresh(a.id).await.used_bytes, 10);
    assert_eq!(
        f.store.dead_props(copy.id).await.unwrap().len(),
        1,
        "COPY keeps dead properties"
    );
    assert_eq!(
        f.stored_blobs().await,
        1,
        "a copy shares the immutable blob"
    );
    let trash = f
        .store
        .trash(a.id, a.trash_root, src.id, "/src")
        .await
        .unwrap();
    f.store.purge(a.id, trash.id).await.unwrap();
    assert_eq!(
        f.stored_blobs().await,
        1,
        "the blob lives while the copy references it"
    );
    assert_eq!(f.read(&copy).await, b"12345");
    let t2 = f
        .store
        .trash(a.id, a.trash_root, copy.id, "/copy")
        .await
        .unwrap();
    f.store.purge(a.id, t2.id).await.unwrap();
    assert_eq!(f.stored_blobs().await, 0);
    assert_eq!(f.fresh(a.id).await.used_bytes, 0);

    // Replacing one of two files that share a blob leaves the other's bytes alone.
    let src = f.upload(&a, a.files_root, "s2", b"abc").await.unwrap();
    f.copy_in_root(&a, src.id, "s2", "c2").await;
    let replaced = f.upload(&a, a.files_root, "c2", b"wxyz").await.unwrap();
    assert_eq!(f.read(&replaced).await, b"wxyz");
    assert_eq!(f.read(&src).await, b"abc");
    assert_eq!(f.stored_blobs().await, 2);
    assert_eq!(f.fresh(a.id).await.used_bytes, 7);
}

fn target<'a>(parent: NodeId, name: &'a str, overwrite: Overwrite) -> Target<'a> {
    Target {
        parent,
        name,
        overwrite,
        origin: "/dest",
    }
}

fn at(parent: NodeId, name: &str) -> Location<'_> {
    Location { parent, name }
}

async fn moves_check_the_source_and_trash_the_destination(f: &Fixture) {
    let a = f.account("alice").await;
    let root = a.files_root;
    let src = f.upload(&a, root, "src", b"new").await.unwrap();
    let old = f.upload(&a, root, "dest", b"old").await.unwrap();

    assert!(matches!(
        f.store
            .move_node(
                a.id,
                src.id,
                &at(root, "elsewhere"),
                &target(root, "x", Overwrite::Replace)
            )
            .await,
        Err(StorageError::NotFound)
    ));
    assert!(matches!(
        f.store
            .move_node(
                a.id,
                src.id,
                &at(root, "src"),
                &target(root, "dest", Overwrite::Refuse)
            )
            .await,
        Err(StorageError::PreconditionFailed)
    ));
    assert!(matches!(
        f.store
            .move_node(
                a.id,
                src.id,
                &at(root, "src"),
                &target(NodeId(i64::MAX), "x", Overwrite::Replace)
            )
            .await,
        Err(StorageError::Conflict(_))
    ));
    let placed = f
        .store
        .move_node(
            a.id,
            src.id,
            &at(root, "src"),
            &target(root, "dest", Overwrite::Replace),
        )
        .await
        .unwrap();
    assert_eq!(placed.node.id, src.id);
    let replaced = placed
        .replaced
        .expect("the old destination went to the trash");
    assert_eq!(replaced.id, old.id);
    assert_eq!(replaced.parent, Some(a.trash_root));
    assert_eq!(replaced.trash_origin.as_deref(), Some("/dest"));
    let now_there = f.store.child(root, "dest").await.unwrap().unwrap();
    assert_eq!(f.read(&now_there).await, b"new");
    assert_eq!(
        f.fresh(a.id).await.used_bytes,
        6,
        "trashed bytes still count"
    );

    // A second request that found the file at its old place loses.
    assert!(matches!(
        f.store
            .move_node(
                a.id,
                src.id,
                &at(root, "src"),
                &target(root, "again", Overwrite::Replace)
            )
            .await,
        Err(StorageError::NotFound)
    ));
    assert!(matches!(
        f.store
            .trash_at(a.id, a.trash_root, src.id, &at(root, "src"), "/src")
            .await,
        Err(StorageError::NotFound)
    ));
    assert_eq!(
        f.store.child(root, "dest").await.unwrap().unwrap().id,
        src.id
    );

    // A restore is a move out of the trash; purging what was restored meanwhile fails.
    let restored = f
        .store
        .move_node(
            a.id,
            old.id,
            &at(a.trash_root, &replaced.name),
            &target(root, "old", Overwrite::Refuse),
        )
        .await
        .unwrap();
    assert_eq!(restored.node.trashed_ms, None);
    assert!(matches!(
        f.store
            .purge_at(a.id, old.id, &at(a.trash_root, &replaced.name))
            .await,
        Err(StorageError::NotFound)
    ));
    assert_eq!(f.read(&restored.node).await, b"old");
}

async fn concurrent_moves_and_deletes_have_one_winner(f: &Fixture) {
    let a = f.account("alice").await;
    let root = a.files_root;
    for round in 0..10 {
        let name = format!("f{round}");
        let file = f.upload(&a, root, &name, b"x").await.unwrap();
        let (s1, s2) = (f.store.clone(), f.store.clone());
        let (n1, n2) = (name.clone(), name.clone());
        let one = tokio::spawn(async move {
            s1.move_node(
                a.id,
                file.id,
                &at(root, &n1),
                &target(root, &format!("{n1}-a"), Overwrite::Replace),
            )
            .await
        });
        let other = tokio::spawn(async move {
            if round % 2 == 0 {
                s2.move_node(
                    a.id,
                    file.id,
                    &at(root, &n2),
                    &target(root, &format!("{n2}-b"), Overwrite::Replace),
                )
                .await
                .map(drop)
            } else {
                s2.trash_at(a.id, a.trash_root, file.id, &at(root, &n2), "/f")
                    .await
                    .map(drop)
            }
        });
        let (one, other) = (one.await.unwrap(), other.await.unwrap());
        assert!(
            one.is_ok() != other.is_ok(),
            "round {round}: exactly one wins: {one:?} / {other:?}"
        );
        let first_won = one.is_ok();
        let loser = if first_won {
            other.map(drop)
        } else {
            one.map(drop)
        };
        assert!(matches!(loser, Err(StorageError::NotFound)), "{loser:?}");
        let now = f.store.node(file.id).await.unwrap().unwrap();
        if first_won {
            assert_eq!(now.name, format!("{name}-a"));
            assert_eq!(now.parent, Some(root));
        } else if round % 2 == 0 {
            assert_eq!(now.name, format!("{name}-b"));
        } else {
            assert_eq!(now.parent, Some(a.trash_root));
        }
    }
}

async fn crossed_folder_moves_never_make_a_cycle(f: &Fixture) {
    let a = f.account("alice").await;
    let root = a.files_root;
    for round in 0..10 {
        let (na, nb) = (format!("a{round}"), format!("b{round}"));
        let da = f.store.create_dir(a.id, root, &na).await.unwrap();
        let db = f.store.create_dir(a.id, root, &nb).await.unwrap();
        let (s1, s2) = (f.store.clone(), f.store.clone());
        let (na1, nb2) = (na.clone(), nb.clone());
        let a_into_b = tokio::spawn(async move {
            s1.move_node(
                a.id,
                da.id,
                &at(root, &na1),
                &target(db.id, "x", Overwrite::Refuse),
            )
            .await
        });
        let b_into_a = tokio::spawn(async move {
            s2.move_node(
                a.id,
                db.id,
                &at(root, &nb2),
                &target(da.id, "x", Overwrite::Refuse),
            )
            .await
        });
        let results = [a_into_b.await.unwrap(), b_into_a.await.unwrap()];
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "round {round}: {results:?}"
        );
        let on_root = f.store.children(root).await.unwrap();
        assert_eq!(
            on_root
                .iter()
                .filter(|n| n.name == na || n.name == nb)
                .count(),
            1,
            "round {round}: one folder stays on the root, holding the other"
        );
    }
}

async fn subtree_copies_are_all_or_nothing(f: &Fixture) {
    let a = f.account("alice").await;
    let root = a.files_root;
    let dir = f.store.create_dir(a.id, root, "src").await.unwrap();
    let sub = f.store.create_dir(a.id, dir.id, "sub").await.unwrap();
    f.upload(&a, dir.id, "one", b"1").await.unwrap();
    let two = f.upload(&a, sub.id, "two", b"22").await.unwrap();
    f.store
        .patch_dead_props(
            a.id,
            two.id,
            &[PropChange::Set(prop(
                "urn:x",
                "p",
                b"<p xmlns=\"urn:x\">v</p>",
            ))],
        )
        .await
        .unwrap();
    assert_eq!(f.fresh(a.id).await.used_bytes, 3);

    let copy = f
        .store
        .copy_tree(
            a.id,
            dir.id,
            &at(root, "src"),
            &target(root, "copy", Overwrite::Refuse),
            CopyDepth::Subtree,
        )
        .await
        .unwrap();
    assert!(copy.replaced.is_none());
    let copied = f
        .store
        .resolve(root, &["copy", "sub", "two"])
        .await
        .unwrap()
        .unwrap();
    assert_ne!(copied.id, two.id);
    assert_eq!(f.read(&copied).await, b"22");
    assert_eq!(f.store.dead_props(copied.id).await.unwrap().len(), 1);
    assert_eq!(f.fresh(a.id).await.used_bytes, 6);
    assert_eq!(
        f.stored_blobs().await,
        2,
        "copies share the immutable blobs"
    );

    let shallow = f
        .store
        .copy_tree(
            a.id,
            dir.id,
            &at(root, "src"),
            &target(root, "shallow", Overwrite::Refuse),
            CopyDepth::Node,
        )
        .await
        .unwrap();
    assert!(f.store.children(shallow.node.id).await.unwrap().is_empty());

    assert!(matches!(
        f.store
            .copy_tree(
                a.id,
                dir.id,
                &at(root, "src"),
                &target(sub.id, "loop", Overwrite::Replace),
                CopyDepth::Subtree
            )
            .await,
        Err(StorageError::Invalid(_))
    ));
    assert!(matches!(
        f.store
            .copy_tree(
                a.id,
                dir.id,
                &at(root, "src"),
                &target(root, "src", Overwrite::Replace),
                CopyDepth::Subtree
            )
            .await,
        Err(StorageError::Invalid(_))
    ));

    // A quota the copy would pass: nothing of it stays, not even the trashed destination.
    f.store.set_quota(a.id, Some(8)).await.unwrap();
    assert!(matches!(
        f.store
            .copy_tree(
                a.id,
                dir.id,
                &at(root, "src"),
                &target(root, "copy", Overwrite::Replace),
                CopyDepth::Subtree
            )
            .await,
        Err(StorageError::QuotaExceeded(_))
    ));
    assert!(matches!(
        f.store
            .copy_tree(
                a.id,
                dir.id,
                &at(root, "src"),
                &target(root, "third", Overwrite::Replace),
                CopyDepth::Subtree
            )
            .await,
        Err(StorageError::QuotaExceeded(_))
    ));
    assert!(f.store.child(root, "third").await.unwrap().is_none());
    assert_eq!(
        f.store.child(root, "copy").await.unwrap().unwrap().id,
        copy.node.id
    );
    assert!(f.store.children(a.trash_root).await.unwrap().is_empty());
    assert_eq!(f.fresh(a.id).await.used_bytes, 6);
}

async fn trash_restore_purge_and_retention(f: &Fixture) {
    let a = f.account("alice").await;
    let dir = f
        .store
        .create_dir(a.id, a.files_root, "docs")
        .await
        .unwrap();
    f.upload(&a, dir.id, "a.txt", b"aaa").await.unwrap();
    let trashed = f
        .store
        .trash(a.id, a.trash_root, dir.id, "/docs/")
        .await
        .unwrap();
    assert!(trashed.name.starts_with("docs.d"));
    assert_eq!(trashed.trash_origin.as_deref(), Some("/docs/"));
    assert!(f.store.child(a.files_root, "docs").await.unwrap().is_none());
    assert_eq!(
        f.fresh(a.id).await.used_bytes,
        3,
        "trashed bytes still count"
    );
    let listed = f.store.children(a.trash_root).await.unwrap();
    assert_eq!(listed.len(), 1);
    f.store
        .move_node(
            a.id,
            trashed.id,
            &at(a.trash_root, &trashed.name),
            &target(a.files_root, "docs", Overwrite::Refuse),
        )
        .await
        .unwrap();
    let restored = f
        .store
        .resolve(a.files_root, &["docs", "a.txt"])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f.read(&restored).await, b"aaa");
    assert_eq!(
        f.store.node(dir.id).await.unwrap().unwrap().trashed_ms,
        None
    );

    let again = f
        .store
        .trash(a.id, a.trash_root, dir.id, "/docs/")
        .await
        .unwrap();
    assert_eq!(
        f.store
            .purge_trash_before(again.trashed_ms.unwrap())
            .await
            .unwrap(),
        0,
        "not old enough"
    );
    assert_eq!(
        f.store
            .purge_trash_before(davgate_storage::now_ms() + 1)
            .await
            .unwrap(),
        1
    );
    assert!(f.store.children(a.trash_root).await.unwrap().is_empty());
    assert_eq!(f.fresh(a.id).await.used_bytes, 0);
    assert_eq!(f.stored_blobs().await, 0);
}

async fn dead_props_patch_atomically(f: &Fixture) {
    let a = f.account("alice").await;
    let dir = f.store.create_dir(a.id, a.files_root, "d").await.unwrap();
    let file = f.upload(&a, dir.id, "f", b"x").await.unwrap();
    f.store
        .patch_dead_props(
            a.id,
            file.id,
            &[
                PropChange::Set(prop("urn:a", "one", b"<one xmlns=\"urn:a\">1</one>")),
                PropChange::Set(prop("urn:a", "two", b"<two xmlns=\"urn:a\">2</two>")),
            ],
        )
        .await
        .unwrap();
    f.store
        .patch_dead_props(
            a.id,
            file.id,
            &[
                PropChange::Set(prop("urn:a", "one", b"<one xmlns=\"urn:a\">uno</one>")),
                PropChange::Remove {
                    namespace: "urn:a".into(),
                    name: "two".into(),
                },
                PropChange::Remove {
                    namespace: "urn:a".into(),
                    name: "absent".into(),
                },
            ],
        )
        .await
        .unwrap();
    let props = f.store.dead_props(file.id).await.unwrap();
    assert_eq!(props.len(), 1);
    assert_eq!(props[0].xml, b"<one xmlns=\"urn:a\">uno</one>");
    let batch = f.store.dead_props_of_children(dir.id).await.unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].0, file.id);
    let other = f.account("bob").await;
    assert!(matches!(
        f.store.patch_dead_props(other.id, file.id, &[]).await,
        Err(StorageError::NotFound)
    ));
}

/// An exclusive lock alice holds for a minute.
fn alice_lock(token: &str, path: &str, deep: bool) -> LockRecord {
    LockRecord {
        token: token.into(),
        path: path.into(),
        principal: Some("alice".into()),
        owner_xml: None,
        expires_ms: davgate_storage::now_ms() + 60_000,
        shared: false,
        deep,
    }
}

async fn locks_check_and_insert_atomically(f: &Fixture) {
    let a = f.account("alice").await;
    let lock = alice_lock("opaquelocktoken:1", "/a", true);
    assert!(
        f.store
            .add_lock(a.id, lock.clone(), |_| None)
            .await
            .unwrap()
            .is_ok()
    );
    let second = LockRecord {
        token: "opaquelocktoken:2".into(),
        ..lock.clone()
    };
    let clash = f
        .store
        .add_lock(a.id, second, |current| current.first().cloned())
        .await
        .unwrap();
    assert_eq!(clash.unwrap_err().token, "opaquelocktoken:1");
    assert_eq!(f.store.locks(a.id).await.unwrap().len(), 1);
    let later = davgate_storage::now_ms() + 120_000;
    let refreshed = f
        .store
        .refresh_lock(a.id, "opaquelocktoken:1", later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refreshed.expires_ms, later);
    assert_eq!(
        f.store
            .remove_locks(a.id, &["opaquelocktoken:1".into()])
            .await
            .unwrap(),
        1
    );
    assert!(f.store.locks(a.id).await.unwrap().is_empty());
    let expired = LockRecord {
        token: "opaquelocktoken:3".into(),
        expires_ms: 1,
        ..lock.clone()
    };
    f.store
        .add_lock(a.id, expired, |_| None)
        .await
        .unwrap()
        .unwrap();
    assert!(
        f.store.locks(a.id).await.unwrap().is_empty(),
        "expired locks are not returned"
    );
    assert_eq!(
        f.store
            .purge_expired_locks(a.id, davgate_storage::now_ms())
            .await
            .unwrap(),
        0,
        "reading purged the expired lock already"
    );
    assert!(
        f.store
            .refresh_lock(a.id, "opaquelocktoken:3", later)
            .await
            .unwrap()
            .is_none(),
        "an expired lock cannot be refreshed back to life"
    );
}

async fn garbage_collection_spares_live_and_referenced_blobs(f: &Fixture) {
    let a = f.account("alice").await;
    f.upload(&a, a.files_root, "kept", b"kept").await.unwrap();
    let mut live = f.store.blobs().create().await.unwrap();
    // Past the inline threshold and past a part, so that it is a file in the blob
    // directory or a multipart upload in the bucket.
    live.write(Bytes::from(vec![1u8; MIN_PART_SIZE + 1000]))
        .await
        .unwrap();
    // What a crash leaves: a blob nobody holds and nothing references.
    let orphan = f.plant_orphan().await;
    let report = f.store.collect_garbage().await.unwrap();
    assert_eq!(report.deleted, 1);
    assert!(f.store.blobs().open(&orphan).await.is_err());
    assert_eq!(
        f.stored_blobs().await,
        2,
        "the referenced and the in-progress blob stay"
    );
    drop(live);
}

async fn deleting_an_account_deletes_its_bytes(f: &Fixture) {
    let a = f.account("alice").await;
    f.upload(&a, a.files_root, "f", b"bytes").await.unwrap();
    f.store.delete_account(a.id).await.unwrap();
    assert!(f.store.account(a.id).await.unwrap().is_none());
    assert_eq!(f.stored_blobs().await, 0);
    assert!(matches!(
        f.store.delete_account(a.id).await,
        Err(StorageError::NotFound)
    ));
}

async fn app_passwords_are_created_listed_and_revoked(f: &Fixture) {
    let a = f.account("alice").await;
    let new = |public_id: &str, name: &str| davgate_storage::NewAppPassword {
        public_id: public_id.into(),
        name: name.into(),
        scopes: 1,
        read_only: false,
        secret_hash: "$argon2id$x".into(),
        expires_ms: None,
    };
    let one = f
        .store
        .create_app_password(a.id, new("aaaa1111", "rclone"))
        .await
        .unwrap();
    f.store
        .create_app_password(a.id, new("bbbb2222", "nas"))
        .await
        .unwrap();
    assert!(matches!(
        f.store
            .create_app_password(a.id, new("aaaa1111", "dup"))
            .await,
        Err(StorageError::Conflict(_))
    ));
    assert_eq!(
        f.store.app_password("aaaa1111").await.unwrap().unwrap().id,
        one.id
    );
    assert_eq!(f.store.app_passwords(a.id).await.unwrap().len(), 2);

    let generation = f.fresh(a.id).await.credential_generation;
    f.store.revoke_app_password(a.id, "aaaa1111").await.unwrap();
    assert_eq!(f.fresh(a.id).await.credential_generation, generation + 1);
    assert!(
        f.store
            .app_password("aaaa1111")
            .await
            .unwrap()
            .unwrap()
            .revoked_ms
            .is_some()
    );
    assert!(matches!(
        f.store.revoke_app_password(a.id, "aaaa1111").await,
        Err(StorageError::NotFound)
    ));
    assert_eq!(f.store.revoke_all_app_passwords(a.id).await.unwrap(), 1);
    assert_eq!(f.fresh(a.id).await.credential_generation, generation + 2);

    f.store
        .record_uses(&[davgate_storage::UseRecord {
            id: one.id,
            last: davgate_storage::LastUse {
                at_ms: 42,
                addr: "127.0.0.1".into(),
                agent: "rclone/v1".into(),
            },
        }])
        .await
        .unwrap();
    let used = f.store.app_password("aaaa1111").await.unwrap().unwrap();
    assert_eq!(used.last_used.unwrap().agent, "rclone/v1");
}

async fn second_factor_steps_and_backup_codes_work_once(f: &Fixture) {
    let a = f.account("alice").await;
    f.store.set_totp_pending(a.id, b"sealed").await.unwrap();
    assert!(matches!(
        f.fresh(a.id).await.totp,
        davgate_storage::TotpState::Pending { .. }
    ));
    let generation = f.fresh(a.id).await.credential_generation;
    f.store
        .enable_totp(a.id, 100, &["h1".into(), "h2".into()])
        .await
        .unwrap();
    let on = f.fresh(a.id).await;
    assert!(matches!(
        on.totp,
        davgate_storage::TotpState::On { last_step: 100, .. }
    ));
    assert_eq!(on.credential_generation, generation + 1);
    assert!(matches!(
        f.store.set_totp_pending(a.id, b"x").await,
        Err(StorageError::Conflict(_))
    ));

    assert!(
        !f.store.accept_totp_step(a.id, 100).await.unwrap(),
        "a step is accepted once"
    );
    assert!(!f.store.accept_totp_step(a.id, 99).await.unwrap());
    assert!(f.store.accept_totp_step(a.id, 101).await.unwrap());

    let codes = f.store.unused_backup_codes(a.id).await.unwrap();
    assert_eq!(codes.len(), 2);
    assert!(f.store.use_backup_code(a.id, codes[0].0).await.unwrap());
    assert!(
        !f.store.use_backup_code(a.id, codes[0].0).await.unwrap(),
        "a backup code works once"
    );
    assert_eq!(f.store.unused_backup_codes(a.id).await.unwrap().len(), 1);

    f.store.disable_totp(a.id).await.unwrap();
    assert!(matches!(
        f.fresh(a.id).await.totp,
        davgate_storage::TotpState::Off
    ));
    assert!(f.store.unused_backup_codes(a.id).await.unwrap().is_empty());
}

async fn addresses_and_the_audit_log(f: &Fixture) {
    let a = f.account("alice").await;
    assert!(
        f.store
            .note_address(a.id, "aaaa1111", "192.0.2.1")
            .await
            .unwrap()
    );
    assert!(
        !f.store
            .note_address(a.id, "aaaa1111", "192.0.2.1")
            .await
            .unwrap()
    );
    assert!(
        f.store
            .note_address(a.id, "aaaa1111", "192.0.2.2")
            .await
            .unwrap()
    );
    f.store
        .audit(
            a.id,
            davgate_storage::AuditEvent::RepeatedFailures,
            "5 failures",
            Some("198.51.100.7"),
        )
        .await
        .unwrap();
    let log = f.store.audit_log(a.id, 10).await.unwrap();
    assert_eq!(log.len(), 3);
    assert_eq!(
        log[0].event,
        Some(davgate_storage::AuditEvent::RepeatedFailures),
        "newest first"
    );
    assert_eq!(log[2].event, Some(davgate_storage::AuditEvent::NewAddress));
    assert_eq!(f.store.audit_log(a.id, 1).await.unwrap().len(), 1);
}

async fn portal_sessions_expire_and_end(f: &Fixture) {
    use davgate_storage::{AuditSource, NewSession, SessionLimits, SessionStage};
    let a = f.account("alice").await;
    let b = f.account("bob").await;
    let limits = SessionLimits {
        idle_ms: 60_000,
        lifetime_ms: 3_600_000,
    };
    let new = |hash: &str, account| NewSession {
        id_hash: hash.into(),
        account,
        stage: SessionStage::SignedIn,
        addr: "192.0.2.1".into(),
        agent: "Firefox".into(),
        csrf_token: format!("csrf-{hash}"),
    };
    let one = f
        .store
        .create_session(new("h1", a.id), limits)
        .await
        .unwrap();
    f.store
        .create_session(new("h2", a.id), limits)
        .await
        .unwrap();
    f.store
        .create_session(new("h3", a.id), limits)
        .await
        .unwrap();
    f.store
        .create_session(new("hb", b.id), limits)
        .await
        .unwrap();
    let now = davgate_storage::now_ms();
    let found = f.store.session("h1", limits, now).await.unwrap().unwrap();
    assert_eq!((found.id, found.csrf_token.as_str()), (one.id, "csrf-h1"));
    assert_eq!(found.stage, SessionStage::SignedIn);
    assert!(
        f.store
            .session("nope", limits, now)
            .await
            .unwrap()
            .is_none()
    );

    // Idle: unused for the idle timeout ends it; a touch keeps it going.
    f.store.touch_session(one.id, now + 50_000).await.unwrap();
    assert!(
        f.store
            .session("h1", limits, now + 100_000)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        f.store
            .session("h2", limits, now + 100_000)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        f.store.session("h2", limits, now).await.unwrap().is_none(),
        "an ended session is gone"
    );
    // Absolute: however busy, a session ends at its lifetime.
    f.store
        .touch_session(one.id, now + 3_599_000)
        .await
        .unwrap();
    assert!(
        f.store
            .session("h1", limits, now + 3_600_000)
            .await
            .unwrap()
            .is_none()
    );

    let live = f.store.sessions(a.id, limits).await.unwrap();
    assert_eq!(live.len(), 1, "h3 only");
    let keep = f
        .store
        .create_session(new("h4", a.id), limits)
        .await
        .unwrap();
    assert!(
        !f.store.end_session(b.id, keep.id).await.unwrap(),
        "not bob's"
    );
    assert_eq!(
        f.store
            .end_sessions(
                a.id,
                Some(keep.id),
                &AuditSource::client("192.0.2.1", "Firefox")
            )
            .await
            .unwrap(),
        1
    );
    let entry = &f.store.audit_log(a.id, 1).await.unwrap()[0];
    assert_eq!(
        entry.event,
        Some(davgate_storage::AuditEvent::SessionsEnded)
    );
    assert_eq!(entry.agent.as_deref(), Some("Firefox"));
    assert!(f.store.end_session(a.id, keep.id).await.unwrap());
    assert!(f.store.sessions(a.id, limits).await.unwrap().is_empty());

    // A password change ends every session but the one that made it, and cached
    // sign-ins with them.
    let mine = f
        .store
        .create_session(new("h5", a.id), limits)
        .await
        .unwrap();
    f.store
        .create_session(new("h6", a.id), limits)
        .await
        .unwrap();
    let generation = f.fresh(a.id).await.credential_generation;
    f.store
        .change_password(a.id, "$argon2id$new", Some(mine.id), &AuditSource::cli())
        .await
        .unwrap();
    let left = f.store.sessions(a.id, limits).await.unwrap();
    assert_eq!(left.iter().map(|s| s.id).collect::<Vec<_>>(), [mine.id]);
    assert_eq!(f.fresh(a.id).await.credential_generation, generation + 1);
    f.store
        .set_password_hash(a.id, "$argon2id$cli")
        .await
        .unwrap();
    assert!(f.store.sessions(a.id, limits).await.unwrap().is_empty());
    assert_eq!(f.store.sessions(b.id, limits).await.unwrap().len(), 1);
    f.store.delete_account(a.id).await.unwrap();
    assert!(f.store.session("h5", limits, now).await.unwrap().is_none());
}

fn calendar(slug: &str) -> davgate_storage::NewCollection {
    davgate_storage::NewCollection {
        slug: slug.into(),
        components: 3,
        ..Default::default()
    }
}

fn event(name: &str, uid: &str, span: (i64, i64)) -> davgate_storage::NewObject {
    davgate_storage::NewObject {
        name: name.into(),
        uid: uid.into(),
        component: 1,
        data: format!("BEGIN:VCALENDAR\r\nUID:{uid}\r\nEND:VCALENDAR\r\n"),
        first_start: Some(span.0),
        last_end: Some(span.1),
    }
}

async fn collections_are_created_defaulted_and_changed(f: &Fixture) {
    use davgate_storage::{CollectionChange, CollectionKind};
    let a = f.account("alice").await;
    let book = davgate_storage::NewCollection {
        slug: "contacts".into(),
        ..Default::default()
    };
    assert!(
        f.store
            .ensure_default_collections(a.id, calendar("personal"), book.clone())
            .await
            .unwrap()
    );
    assert!(
        !f.store
            .ensure_default_collections(a.id, calendar("personal"), book)
            .await
            .unwrap()
    );
    let cals = f
        .store
        .collections(a.id, CollectionKind::Calendar)
        .await
        .unwrap();
    assert_eq!(cals.len(), 1);
    assert!(cals[0].is_default);
    assert_eq!(
        f.store
            .collections(a.id, CollectionKind::AddressBook)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(matches!(
        f.store
            .create_collection(a.id, CollectionKind::Calendar, calendar("personal"))
            .await,
        Err(StorageError::Conflict(_))
    ));
    assert!(matches!(
        f.store
            .create_collection(a.id, CollectionKind::Calendar, calendar("bad/slug"))
            .await,
        Err(StorageError::Invalid(_))
    ));
    let work = f
        .store
        .create_collection(a.id, CollectionKind::Calendar, calendar("work"))
        .await
        .unwrap();
    f.store
        .update_collection(
            work.id,
            &[
                CollectionChange::DisplayName(Some("Work".into())),
                CollectionChange::Color(Some("#FF0000FF".into())),
                CollectionChange::Order(Some(3)),
                CollectionChange::Dead(PropChange::Set(prop(
                    "urn:x",
                    "y",
                    b"<y xmlns=\"urn:x\"/>",
                ))),
            ],
        )
        .await
        .unwrap();
    let work2 = f
        .store
        .collection(a.id, CollectionKind::Calendar, "work")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            work2.displayname.as_deref(),
            work2.color.as_deref(),
            work2.sort_order
        ),
        (Some("Work"), Some("#FF0000FF"), Some(3))
    );
    assert!(
        work2.sync_seq > work.sync_seq,
        "property changes move the CTag"
    );
    assert_eq!(
        f.store.collection_dead_props(work.id).await.unwrap().len(),
        1
    );
    f.store.delete_collection(work.id).await.unwrap();
    assert!(f.store.collection_by_id(work.id).await.unwrap().is_none());
}

/// Every bulk read of objects (one JSON row on SQLite, plain rows on PostgreSQL) carries
/// every column a single read does, an open span and text needing escapes included,
/// sorted by name whatever order the names were asked in.
async fn bulk_object_reads_carry_what_a_single_read_does(f: &Fixture) {
    use davgate_storage::{CollectionKind, Precondition};
    let a = f.account("alice").await;
    let cal = f
        .store
        .create_collection(a.id, CollectionKind::Calendar, calendar("bulk"))
        .await
        .unwrap();
    let mut open = event("c.ics", "uid-c", (300, 0));
    open.last_end = None;
    open.data =
        "BEGIN:VCALENDAR\r\nSUMMARY:\"quoted\" \\ back, ünïcode\r\nEND:VCALENDAR\r\n".into();
    for new in [
        event("b.ics", "uid-b", (100, 200)),
        open,
        event("a.ics", "uid-a", (0, 10)),
    ] {
        f.store
            .put_object(cal.id, new, Precondition::Absent)
            .await
            .unwrap();
    }
    let mut single = Vec::new();
    for name in ["a.ics", "b.ics", "c.ics"] {
        single.push(f.store.object(cal.id, name).await.unwrap().unwrap());
    }
    let metas: Vec<_> = single.iter().map(|o| o.meta.clone()).collect();
    assert_eq!(f.store.objects(cal.id).await.unwrap(), single);
    let asked: Vec<String> = ["c.ics", "none.ics", "a.ics", "b.ics"]
        .map(String::from)
        .into();
    assert_eq!(f.store.objects_named(cal.id, &asked).await.unwrap(), single);
    assert_eq!(
        f.store.object_metas_named(cal.id, &asked).await.unwrap(),
        metas
    );
    assert_eq!(
        f.store
            .objects_overlapping(cal.id, Some(150), None)
            .await
            .unwrap(),
        single[1..]
    );
    assert!(
        f.store
            .objects_overlapping(cal.id, Some(20), Some(90))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn objects_keep_one_uid_and_honour_preconditions(f: &Fixture) {
    use davgate_storage::{CollectionKind, Precondition};
    let a = f.account("alice").await;
    let cal = f
        .store
        .create_collection(a.id, CollectionKind::Calendar, calendar("c"))
        .await
        .unwrap();
    let w = f
        .store
        .put_object(
            cal.id,
            event("a.ics", "uid-a", (0, 10)),
            Precondition::Absent,
        )
        .await
        .unwrap();
    assert!(w.created);
    assert!(matches!(
        f.store
            .put_object(
                cal.id,
                event("a.ics", "uid-a", (0, 10)),
                Precondition::Absent
            )
            .await,
        Err(StorageError::PreconditionFailed)
    ));
    match f
        .store
        .put_object(cal.id, event("b.ics", "uid-a", (0, 10)), Precondition::None)
        .await
    {
        Err(StorageError::UidConflict { name }) => assert_eq!(name, "a.ics"),
        other => panic!("expected a UID conflict, got {other:?}"),
    }
    assert!(matches!(
        f.store
            .put_object(
                cal.id,
                event("a.ics", "uid-a", (0, 10)),
                Precondition::IfMatch("stale".into())
            )
            .await,
        Err(StorageError::PreconditionFailed)
    ));
    let w2 = f
        .store
        .put_object(
            cal.id,
            event("a.ics", "uid-a", (5, 20)),
            Precondition::IfMatch(w.etag.clone()),
        )
        .await
        .unwrap();
    assert!(!w2.created);
    assert_ne!(w2.etag, w.etag);
    f.store
        .put_object(
            cal.id,
            event("b.ics", "uid-b", (100, 200)),
            Precondition::None,
        )
        .await
        .unwrap();
    let got = f.store.object(cal.id, "a.ics").await.unwrap().unwrap();
    assert_eq!(got.uid, "uid-a");
    assert!(got.data.contains("UID:uid-a"));
    let names = |objs: Vec<davgate_storage::DavObject>| {
        objs.into_iter().map(|o| o.meta.name).collect::<Vec<_>>()
    };
    assert_eq!(
        names(
            f.store
                .objects_overlapping(cal.id, Some(0), Some(50))
                .await
                .unwrap()
        ),
        ["a.ics"]
    );
    assert_eq!(
        names(
            f.store
                .objects_overlapping(cal.id, Some(150), None)
                .await
                .unwrap()
        ),
        ["b.ics"]
    );
    assert_eq!(
        names(
            f.store
                .objects_overlapping(cal.id, None, None)
                .await
                .unwrap()
        )
        .len(),
        2
    );
    assert_eq!(f.store.object_list(cal.id).await.unwrap().len(), 2);
    // Without text, sorted by name whatever order they were asked in, missing skipped.
    let metas = f
        .store
        .object_metas_named(cal.id, &["b.ics".into(), "none.ics".into(), "a.ics".into()])
        .await
        .unwrap();
    let listed: Vec<&str> = metas.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(listed, ["a.ics", "b.ics"]);
    assert_eq!(metas[0].etag, w2.etag);
    assert!(
        f.store
            .object_metas_named(cal.id, &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        f.store
            .delete_object(cal.id, "a.ics", Precondition::IfMatch(w.etag))
            .await,
        Err(StorageError::PreconditionFailed)
    ));
    f.store
        .delete_object(cal.id, "a.ics", Precondition::None)
        .await
        .unwrap();
    assert!(matches!(
        f.store
            .delete_object(cal.id, "a.ics", Precondition::None)
            .await,
        Err(StorageError::NotFound)
    ));
}

async fn sync_reports_changes_and_deletions_since_a_token(f: &Fixture) {
    use davgate_storage::{CollectionKind, Precondition};
    let a = f.account("alice").await;
    let cal = f
        .store
        .create_collection(a.id, CollectionKind::Calendar, calendar("c"))
        .await
        .unwrap();
    for i in 0..3 {
        f.store
            .put_object(
                cal.id,
                event(&format!("{i}.ics"), &format!("u{i}"), (0, 1)),
                Precondition::None,
            )
            .await
            .unwrap();
    }
    let all = f.store.changes_since(cal.id, 0, None).await.unwrap();
    assert_eq!(all.changes.len(), 3);
    let token = all.seq;
    f.store
        .put_object(cal.id, event("1.ics", "u1", (0, 2)), Precondition::None)
        .await
        .unwrap();
    f.store
        .delete_object(cal.id, "2.ics", Precondition::None)
        .await
        .unwrap();
    f.store
        .put_object(cal.id, event("3.ics", "u3", (0, 1)), Precondition::None)
        .await
        .unwrap();
    let delta = f.store.changes_since(cal.id, token, None).await.unwrap();
    let summary: Vec<(String, bool)> = delta
        .changes
        .iter()
        .map(|c| (c.name.clone(), c.etag.is_some()))
        .collect();
    assert_eq!(
        summary,
        [
            ("1.ics".into(), true),
            ("2.ics".into(), false),
            ("3.ics".into(), true)
        ]
    );
    assert!(!delta.truncated);
    assert!(
        f.store
            .changes_since(cal.id, delta.seq, None)
            .await
            .unwrap()
            .changes
            .is_empty()
    );

    let first = f.store.changes_since(cal.id, token, Some(2)).await.unwrap();
    assert!(first.truncated);
    assert_eq!(first.changes.len(), 2);
    let rest = f
        .store
        .changes_since(cal.id, first.seq, Some(2))
        .await
        .unwrap();
    assert_eq!(rest.changes.len(), 1);
    assert_eq!(rest.changes[0].name, "3.ics");
    assert!(!rest.truncated);
    assert!(matches!(
        f.store.changes_since(cal.id, 999, None).await,
        Err(StorageError::Invalid(_))
    ));
    // Re-creating a deleted name clears its tombstone.
    f.store
        .put_object(cal.id, event("2.ics", "u2", (0, 1)), Precondition::None)
        .await
        .unwrap();
    let again = f.store.changes_since(cal.id, token, None).await.unwrap();
    assert!(again.changes.iter().all(|c| c.etag.is_some()));
}

async fn collections_are_shared_read_only_or_read_write(f: &Fixture) {
    use davgate_storage::CollectionKind;
    let a = f.account("alice").await;
    let b = f.account("bob").await;
    let cal = f
        .store
        .create_collection(a.id, CollectionKind::Calendar, calendar("team"))
        .await
        .unwrap();
    assert!(matches!(
        f.store.share(cal.id, a.id, true).await,
        Err(StorageError::Invalid(_))
    ));
    f.store.share(cal.id, b.id, true).await.unwrap();
    let shared = f
        .store
        .shared_with(b.id, CollectionKind::Calendar)
        .await
        .unwrap();
    assert_eq!(shared.len(), 1);
    assert_eq!(
        (shared[0].owner.as_str(), shared[0].read_only),
        ("alice", true)
    );
    // Owner and grantee see each other; an account without a share sees no one.
    let c = f.account("carol").await;
    assert_eq!(f.store.share_partners(a.id, 10).await.unwrap(), ["bob"]);
    assert_eq!(f.store.share_partners(b.id, 10).await.unwrap(), ["alice"]);
    assert!(f.store.share_partners(c.id, 10).await.unwrap().is_empty());
    f.store.share(cal.id, c.id, true).await.unwrap();
    assert_eq!(
        f.store.share_partners(a.id, 10).await.unwrap(),
        ["bob", "carol"]
    );
    assert_eq!(f.store.share_partners(a.id, 1).await.unwrap(), ["bob"]);
    f.store.unshare(cal.id, c.id).await.unwrap();
    f.store.share(cal.id, b.id, false).await.unwrap();
    assert!(
        !f.store
            .shared_with(b.id, CollectionKind::Calendar)
            .await
            .unwrap()[0]
            .read_only
    );
    assert!(
        f.store
            .shared_with(b.id, CollectionKind::AddressBook)
            .await
            .unwrap()
            .is_empty()
    );
    f.store.unshare(cal.id, b.id).await.unwrap();
    assert!(matches!(
        f.store.unshare(cal.id, b.id).await,
        Err(StorageError::NotFound)
    ));
}

fn prop(namespace: &str, name: &str, xml: &[u8]) -> DeadProp {
    DeadProp {
        namespace: namespace.into(),
        name: name.into(),
        prefix: None,
        xml: xml.to_vec(),
    }
}

/// A store on a fresh SQLite file with `synchronous` asked for.
async fn sqlite_store(
    dir: &tempfile::TempDir,
    synchronous: davgate_storage::SqliteSynchronous,
) -> Store {
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
    Store::open(&StoreConfig {
        database_url: url,
        blob_store: BlobStoreConfig::Local(dir.path().join("blobs")),
        max_connections: 4,
        background_thread_init: None,
        sqlite_synchronous: synchronous,
        inline_blob_max: davgate_storage::DEFAULT_INLINE_BLOB_MAX,
    })
    .await
    .unwrap()
}

/// Every SQLite connection runs at `synchronous = NORMAL` (no fsync in COMMIT); FULL,
/// the default, adds exactly one fsync of the WAL to a lone commit before it returns,
/// NORMAL none.
#[tokio::test]
async fn sqlite_commits_are_as_durable_as_configured() {
    use davgate_storage::SqliteSynchronous;
    for (wanted, flushes_per_commit) in
        [(SqliteSynchronous::Full, 1), (SqliteSynchronous::Normal, 0)]
    {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&dir, wanted).await;
        // Two reads at once hold two pooled connections: each must have the setting.
        let (a, b) = tokio::join!(store.sqlite_synchronous(), store.sqlite_synchronous());
        assert_eq!((a.unwrap(), b.unwrap()), (Some(wanted), Some(wanted)));
        let before = store.wal_flushes();
        store
            .create_account("alice", "$argon2id$placeholder")
            .await
            .unwrap();
        assert_eq!(
            store.wal_flushes() - before,
            flushes_per_commit,
            "{wanted:?}"
        );
        store.account_by_name("alice").await.unwrap();
        assert_eq!(
            store.wal_flushes() - before,
            flushes_per_commit,
            "a read pays nothing"
        );
    }
    assert_eq!(SqliteSynchronous::default(), SqliteSynchronous::Full);
}

/// A firing is claimed by one worker, hidden for its lease, and a rewrite of its object
/// neither resends what was sent nor keeps what the new version dropped.
async fn reminder_firings_are_replaced_and_claimed_once(f: &Fixture) {
    use davgate_storage::{NewDueAlarm, Outcome, WebhookFormat};
    let a = f.account("alice").await;
    let cal = f
        .store
        .create_collection(
            a.id,
            davgate_storage::CollectionKind::Calendar,
            calendar("work"),
        )
        .await
        .unwrap();
    let dest = f
        .store
        .add_destination(
            a.id,
            "chat",
            "https://example.com/hook",
            WebhookFormat::Slack,
            None,
        )
        .await
        .unwrap();
    assert!(matches!(
        f.store
            .add_destination(
                a.id,
                "chat",
                "https://example.com/other",
                WebhookFormat::Json,
                None
            )
            .await,
        Err(davgate_storage::StorageError::Conflict(_))
    ));
    assert!(f.store.has_destinations(a.id).await.unwrap());
    f.store.set_route(cal.id, dest.id).await.unwrap();
    assert_eq!(f.store.route_of(cal.id).await.unwrap(), Some(dest.clone()));
    let firing = |key: &str, due_ms: i64| NewDueAlarm {
        alarm_key: key.into(),
        uid: "u1".into(),
        due_ms,
        destination: dest.id,
        fields: "{}".into(),
    };
    let first = [firing("a", 1_000), firing("b", 2_000)];
    f.store
        .replace_due_alarms(a.id, cal.id, "e.ics", &first, i64::MIN)
        .await
        .unwrap();
    let claimed = f
        .store
        .claim_due_alarms(1_500, 60_000, 10, unlimited())
        .await
        .unwrap()
        .alarms;
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].due_ms, claimed[0].tries), (1_000, 1));
    // Leased: a second worker sees nothing.
    assert!(
        f.store
            .claim_due_alarms(1_500, 60_000, 10, unlimited())
            .await
            .unwrap()
            .alarms
            .is_empty()
    );
    f.store
        .finish_due_alarm(&claimed[0], &Outcome::Sent { late: false })
        .await
        .unwrap();
    // The object is written again with the same first firing and a moved second one.
    f.store
        .replace_due_alarms(
            a.id,
            cal.id,
            "e.ics",
            &[firing("a", 1_000), firing("c", 3_000)],
            i64::MIN,
        )
        .await
        .unwrap();
    let pending = f.store.pending_alarms(cal.id, "e.ics").await.unwrap();
    assert_eq!(pending, vec![(3_000, "c".to_owned())]);
    let claimed = f
        .store
        .claim_due_alarms(5_000, 60_000, 10, unlimited())
        .await
        .unwrap()
        .alarms;
    assert_eq!(claimed.len(), 1);
    f.store
        .finish_due_alarm(
            &claimed[0],
            &Outcome::Skipped {
                detail: "too late".into(),
            },
        )
        .await
        .unwrap();
    let log = f.store.delivery_log(a.id, 10).await.unwrap();
    let statuses: Vec<&str> = log.iter().map(|l| l.status.as_str()).collect();
    assert_eq!(statuses, ["skipped", "sent"]);
    // Deleting the object clears what is pending; removing the destination its route.
    f.store
        .replace_due_alarms(
            a.id,
            cal.id,
            "e.ics",
            &[firing("d", 9_000), firing("e", 20_000)],
            i64::MIN,
        )
        .await
        .unwrap();
    // A recomputation at 10 s looks ahead only: the overdue firing waits for a worker.
    f.store
        .replace_due_alarms(a.id, cal.id, "e.ics", &[], 10_000)
        .await
        .unwrap();
    let pending = f.store.pending_alarms(cal.id, "e.ics").await.unwrap();
    assert_eq!(pending, vec![(9_000, "d".to_owned())]);
    f.store
        .replace_due_alarms(a.id, cal.id, "e.ics", &[], i64::MIN)
        .await
        .unwrap();
    assert!(
        f.store
            .pending_alarms(cal.id, "e.ics")
            .await
            .unwrap()
            .is_empty()
    );
    f.store.remove_destination(a.id, "chat").await.unwrap();
    assert_eq!(f.store.route_of(cal.id).await.unwrap(), None);
}

/// Setting an address gives the account the e-mail destination (found by name like a
/// webhook, so routes and X-DAVGATE-DESTINATION reach it); a new address replaces it,
/// none removes it with its pending firings; a webhook cannot take its name.
async fn the_email_destination_follows_the_account_address(f: &Fixture) {
    use davgate_storage::{DestinationKind, EMAIL_DESTINATION, WebhookFormat};
    let a = f.account("alice").await;
    assert_eq!(f.store.account_email(a.id).await.unwrap(), None);
    assert!(!f.store.has_destinations(a.id).await.unwrap());
    f.store
        .set_account_email(a.id, Some("alice@example.org"))
        .await
        .unwrap();
    f.store
        .set_account_email(a.id, Some("alice@example.net"))
        .await
        .unwrap();
    assert_eq!(
        f.store.account_email(a.id).await.unwrap().as_deref(),
        Some("alice@example.net")
    );
    let email = f
        .store
        .destination(a.id, EMAIL_DESTINATION)
        .await
        .unwrap()
        .expect("the e-mail destination");
    assert_eq!(
        (email.kind, email.url.as_str()),
        (DestinationKind::Email, "alice@example.net")
    );
    assert!(f.store.has_destinations(a.id).await.unwrap());
    assert!(matches!(
        f.store
            .add_destination(
                a.id,
                EMAIL_DESTINATION,
                "https://x.example/",
                WebhookFormat::Slack,
                None
            )
            .await,
        Err(StorageError::Conflict(_))
    ));
    f.store.set_account_email(a.id, None).await.unwrap();
    assert_eq!(f.store.account_email(a.id).await.unwrap(), None);
    assert_eq!(
        f.store.destination(a.id, EMAIL_DESTINATION).await.unwrap(),
        None
    );
    assert!(!f.store.has_destinations(a.id).await.unwrap());
}

/// The rate limit is kept by the claim as a token bucket: at two a minute, of three
/// firings due at once for one destination two are claimed now and the third is moved to
/// when the bucket has room, 30 s later (held, not lateness); another destination is not
/// held up.
async fn a_destination_gets_a_burst_of_its_rate_and_the_rest_later(f: &Fixture) {
    use davgate_storage::{NewDueAlarm, Outcome, WebhookFormat};
    let a = f.account("alice").await;
    let cal = f
        .store
        .create_collection(
            a.id,
            davgate_storage::CollectionKind::Calendar,
            calendar("work"),
        )
        .await
        .unwrap();
    let busy = f
        .store
        .add_destination(
            a.id,
            "busy",
            "https://example.com/1",
            WebhookFormat::Json,
            None,
        )
        .await
        .unwrap();
    let quiet = f
        .store
        .add_destination(
            a.id,
            "quiet",
            "https://example.com/2",
            WebhookFormat::Json,
            None,
        )
        .await
        .unwrap();
    let firing = |key: &str, destination: i64| NewDueAlarm {
        alarm_key: key.into(),
        uid: "u".into(),
        due_ms: 10_000,
        destination,
        fields: "{}".into(),
    };
    let rows = [
        firing("a", busy.id),
        firing("b", busy.id),
        firing("c", busy.id),
        firing("q", quiet.id),
    ];
    f.store
        .replace_due_alarms(a.id, cal.id, "e.ics", &rows, i64::MIN)
        .await
        .unwrap();
    let names = |claimed: &[davgate_storage::ClaimedAlarm]| {
        let mut names: Vec<String> = claimed.iter().map(|c| c.destination.name.clone()).collect();
        names.sort();
        names
    };
    let two = davgate_storage::RateLimit::per_minute(2);
    let now = f
        .store
        .claim_due_alarms(10_000, 60_000, 10, two)
        .await
        .unwrap()
        .alarms;
    assert_eq!(names(&now), ["busy", "busy", "quiet"]);
    // Another node a moment later finds the bucket empty.
    let empty = f
        .store
        .claim_due_alarms(10_500, 60_000, 10, two)
        .await
        .unwrap();
    assert!(empty.alarms.is_empty());
    assert_eq!(
        empty.next_due_ms,
        Some(40_000),
        "held until the bucket has room"
    );
    let later = f
        .store
        .claim_due_alarms(40_000, 60_000, 10, two)
        .await
        .unwrap()
        .alarms;
    assert_eq!(names(&later), ["busy"]);
    assert_eq!(later[0].held_ms, 30_000);
    for claimed in now.iter().chain(&later) {
        f.store
            .finish_due_alarm(claimed, &Outcome::Sent { late: false })
            .await
            .unwrap();
    }
    assert_eq!(f.store.delivery_log(a.id, 10).await.unwrap().len(), 4);
}

fn unlimited() -> davgate_storage::RateLimit {
    davgate_storage::RateLimit::per_minute(60_000)
}

/// The scheduler's batch write: each object's pending firings replaced as by
/// `replace_due_alarms`, a deleted object's all dropped, an object with none left alone.
async fn many_objects_get_their_firings_in_one_call(f: &Fixture) {
    use davgate_storage::{NewDueAlarm, ObjectAlarms, WebhookFormat};
    let a = f.account("alice").await;
    let cal = f
        .store
        .create_collection(
            a.id,
            davgate_storage::CollectionKind::Calendar,
            calendar("work"),
        )
        .await
        .unwrap();
    let dest = f
        .store
        .add_destination(
            a.id,
            "chat",
            "https://example.com/1",
            WebhookFormat::Json,
            None,
        )
        .await
        .unwrap();
    let firing = |key: &str, due_ms: i64| NewDueAlarm {
        alarm_key: key.into(),
        uid: "u".into(),
        due_ms,
        destination: dest.id,
        fields: "{}".into(),
    };
    let object = |name: &str, alarms: Vec<NewDueAlarm>, from_ms: i64| ObjectAlarms {
        account: a.id,
        collection: cal.id,
        object_name: name.into(),
        alarms,
        from_ms,
    };
    f.store
        .replace_many_due_alarms(&[
            object("kept.ics", vec![firing("a", 1_000), firing("b", 9_000)], 0),
            object("gone.ics", vec![firing("c", 2_000)], 0),
            object("none.ics", Vec::new(), 0),
        ])
        .await
        .unwrap();
    f.store
        .replace_many_due_alarms(&[
            // Recomputed from 5 s on: the overdue one stays, the later one is replaced.
            object("kept.ics", vec![firing("d", 8_000)], 5_000),
            object("gone.ics", Vec::new(), i64::MIN),
            object("none.ics", Vec::new(), 5_000),
        ])
        .await
        .unwrap();
    let pending = |name: &'static str| f.store.pending_alarms(cal.id, name);
    assert_eq!(
        pending("kept.ics").await.unwrap(),
        [(1_000, "a".to_owned()), (8_000, "d".to_owned())]
    );
    assert!(pending("gone.ics").await.unwrap().is_empty());
    assert!(pending("none.ics").await.unwrap().is_empty());
}
