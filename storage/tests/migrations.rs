//! Migrations applied to a database that holds rows from before them.

use std::str::FromStr;

use davgate_storage::{AccountId, BlobStoreConfig, CollectionKind, Store, StoreConfig, now_ms};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

/// Before 0005, a LOCK without a usable Timeout header was stored with no expiry and
/// never went away; after it, such a lock lasts one more hour.
#[tokio::test]
async fn locks_stored_without_an_expiry_get_one_hour() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
    // The lock's account does not matter here, so no account row is made for it.
    let options = SqliteConnectOptions::from_str(&url)
        .unwrap()
        .foreign_keys(false);
    let pool = SqlitePool::connect_with(options).await.unwrap();
    sqlx::migrate!("./migrations/sqlite")
        .run_to(4, &pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO locks (token, account_id, path, principal, owner_xml, timeout_ms, shared, deep) \
         VALUES ('urn:uuid:old', 7, '/doc.txt', 'alice', NULL, NULL, 0, 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let before = now_ms();
    let store = Store::open(&StoreConfig {
        database_url: url,
        blob_store: BlobStoreConfig::Local(dir.path().join("blobs")),
        max_connections: 1,
        background_thread_init: None,
        sqlite_synchronous: Default::default(),
        inline_blob_max: davgate_storage::DEFAULT_INLINE_BLOB_MAX,
    })
    .await
    .unwrap();
    let locks = store.locks(AccountId(7)).await.unwrap();
    assert_eq!(locks.len(), 1, "the lock is kept, with an expiry");
    let hour = 3_600_000;
    // SQLite's clock in the migration has whole seconds.
    assert!(
        (before + hour - 1_000..=now_ms() + hour).contains(&locks[0].expires_ms),
        "expires at {}, not about an hour after {before}",
        locks[0].expires_ms
    );
}

/// Before 0006, the default calendar was created for VEVENT and VTODO only and refused
/// jtx Board's VJOURNAL notes; after it, existing default calendars take journals too,
/// while calendars whose owner chose their components keep that choice.
#[tokio::test]
async fn default_calendars_made_for_events_and_tasks_take_journals_too() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
    // The collections' account does not matter here, so no account row is made for it.
    let options = SqliteConnectOptions::from_str(&url)
        .unwrap()
        .foreign_keys(false);
    let pool = SqlitePool::connect_with(options).await.unwrap();
    sqlx::migrate!("./migrations/sqlite")
        .run_to(5, &pool)
        .await
        .unwrap();
    // kind 1 is a calendar, 2 an address book; components 1 VEVENT, 2 VTODO, 8 vCard.
    for (kind, slug, components, is_default) in [
        (1, "default", 3, 1),
        (1, "work", 1, 0),
        (1, "plans", 3, 0),
        (2, "default", 8, 1),
    ] {
        sqlx::query(
            "INSERT INTO collections (account_id, kind, slug, components, is_default, created_ms) \
             VALUES (7, $1, $2, $3, $4, 0)",
        )
        .bind(kind)
        .bind(slug)
        .bind(components)
        .bind(is_default)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;

    let store = Store::open(&StoreConfig {
        database_url: url,
        blob_store: BlobStoreConfig::Local(dir.path().join("blobs")),
        max_connections: 1,
        background_thread_init: None,
        sqlite_synchronous: Default::default(),
        inline_blob_max: davgate_storage::DEFAULT_INLINE_BLOB_MAX,
    })
    .await
    .unwrap();
    let components = |list: Vec<davgate_storage::Collection>| -> Vec<(String, i64)> {
        list.into_iter().map(|c| (c.slug, c.components)).collect()
    };
    let calendars = store
        .collections(AccountId(7), CollectionKind::Calendar)
        .await
        .unwrap();
    assert_eq!(
        components(calendars),
        [
            ("default".to_owned(), 7),
            ("plans".to_owned(), 3),
            ("work".to_owned(), 1)
        ],
        "only the default calendar gains VJOURNAL (4)"
    );
    let books = store
        .collections(AccountId(7), CollectionKind::AddressBook)
        .await
        .unwrap();
    assert_eq!(components(books), [("default".to_owned(), 8)]);
}

/// Nodes started together on a fresh PostgreSQL database each run the migrations at
/// start; sqlx's migrator holds a PostgreSQL advisory lock around its run, so one applies
/// them and the others wait and find nothing left. PostgreSQL only.
#[tokio::test]
async fn nodes_starting_together_migrate_once() {
    use sqlx::{Connection, Executor};
    let Ok(admin_url) = std::env::var("DATABASE_URL") else {
        assert!(
            std::env::var("DAVGATE_REQUIRE_POSTGRES").is_err(),
            "DAVGATE_REQUIRE_POSTGRES is set but DATABASE_URL is not"
        );
        eprintln!("DATABASE_URL is not set: PostgreSQL run skipped");
        return;
    };
    sqlx::any::install_default_drivers();
    let name = format!("davgate_migrate_{:016x}", rand::random::<u64>());
    let mut admin = sqlx::AnyConnection::connect(&admin_url).await.unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    let (path, query) = admin_url.split_once('?').unwrap_or((&admin_url, ""));
    let (base, _) = path
        .rsplit_once('/')
        .expect("DATABASE_URL names a database");
    let url = format!("{base}/{name}?{query}");
    let dir = tempfile::tempdir().unwrap();
    let open = |node: usize| {
        let config = StoreConfig {
            database_url: url.clone(),
            blob_store: BlobStoreConfig::Local(dir.path().join(format!("blobs-{node}"))),
            max_connections: 2,
            background_thread_init: None,
            sqlite_synchronous: Default::default(),
            inline_blob_max: davgate_storage::DEFAULT_INLINE_BLOB_MAX,
        };
        async move { Store::open(&config).await }
    };
    let nodes = futures_join(open(0), open(1), open(2)).await;
    for node in &nodes {
        assert!(
            node.is_ok(),
            "a node failed to start: {:?}",
            node.as_ref().err()
        );
    }
    let store = nodes.into_iter().next().unwrap().unwrap();
    store.create_account("alice", "$argon2id$x").await.unwrap();
    drop(store);
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .await
        .unwrap();
}

/// Three futures run at once, their results in order.
async fn futures_join<T>(
    a: impl Future<Output = T>,
    b: impl Future<Output = T>,
    c: impl Future<Output = T>,
) -> Vec<T> {
    let (a, b, c) = tokio::join!(a, b, c);
    vec![a, b, c]
}
