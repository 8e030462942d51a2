//! Migrations applied to a database that holds rows from before them.

use std::str::FromStr;

use davgate_storage::{AccountId, Store, StoreConfig, now_ms};
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
        blob_dir: dir.path().join("blobs"),
        max_connections: 1,
        background_thread_init: None,
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
