//! The read connections of an SQLite file (`readers`), driven through the store's pool
//! as the queries of a request drive them.

use std::time::Duration;

use futures_util::TryStreamExt;

use super::readers::Readers;
use super::{Db, SqliteSynchronous};

async fn db_with_rows(dir: &tempfile::TempDir, max: u32) -> Db {
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
    let db = Db::connect(&url, max, SqliteSynchronous::Normal)
        .await
        .unwrap();
    let mut tx = db.begin_write().await.unwrap();
    for sql in [
        "CREATE TABLE t (v INTEGER)",
        "INSERT INTO t (v) WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n \
         WHERE v < 5000) SELECT v FROM n",
    ] {
        sqlx::query(sql).execute(&mut *tx.tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    db
}

fn readers(db: &Db) -> &Readers {
    db.pool.readers().expect("an SQLite file has readers")
}

/// A query's connection is idle again the moment its answer is in, with no task or
/// round trip in between, and the next query takes the same one.
#[tokio::test(flavor = "current_thread")]
async fn a_connection_is_back_as_soon_as_its_query_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_rows(&dir, 4).await;
    for _ in 0..3 {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(n, 5000);
        assert_eq!(readers(&db).num_idle(), 1, "one connection, reused");
        assert_eq!(readers(&db).size(), 1);
    }
    let rows: Vec<i64> = sqlx::query_scalar("SELECT v FROM t WHERE v <= 3 ORDER BY v")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(rows, [1, 2, 3]);
    assert_eq!(readers(&db).num_idle(), 1);
}

/// Rows dropped unread leave nothing behind on the connection: the next query on it
/// answers, and sees a commit made after the abandoned one began (its statement was
/// reset, so no old read transaction pins an old snapshot).
#[tokio::test]
async fn a_read_dropped_halfway_leaves_the_connection_clean() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_rows(&dir, 1).await;
    {
        let mut rows = sqlx::query_scalar::<_, i64>("SELECT v FROM t ORDER BY v").fetch(&db.pool);
        assert_eq!(rows.try_next().await.unwrap(), Some(1));
    }
    let mut tx = db.begin_write().await.unwrap();
    sqlx::query("INSERT INTO t (v) VALUES (-1)")
        .execute(&mut *tx.tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(n, 5001, "the one connection sees the new row");
    assert_eq!(readers(&db).num_idle(), 1);
}

/// No more than `max` connections are out; a further read waits for one to come back.
#[tokio::test]
async fn reads_beyond_the_limit_wait_for_a_connection() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_rows(&dir, 2).await;
    let readers = readers(&db);
    let first = readers.acquire().await.unwrap();
    let _second = readers.acquire().await.unwrap();
    assert_eq!((readers.size(), readers.num_idle()), (2, 0));
    let third = tokio::time::timeout(Duration::from_millis(200), readers.acquire()).await;
    assert!(third.is_err(), "a third connection was handed out");
    drop(first);
    let mut third = readers.acquire().await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
        .fetch_one(third.conn())
        .await
        .unwrap();
    assert_eq!(n, 5000);
}

/// A failed query is an error for its caller, and the connection serves the next.
#[tokio::test]
async fn a_failed_query_keeps_its_connection_usable() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_rows(&dir, 1).await;
    let e = sqlx::query("SELECT v FROM nowhere")
        .execute(&db.pool)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no such table"), "{e}");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(n, 5000);
    assert_eq!(readers(&db).num_idle(), 1);
}
