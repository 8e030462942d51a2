//! The blob store contract, one function run on every store: the local directory always,
//! and an S3 bucket when `DAVGATE_S3_ENDPOINT` names one (`.ci/s3.sh` starts SeaweedFS
//! and prints it, with the `AWS_*` credentials). Without it the S3 cases are skipped,
//! unless `DAVGATE_REQUIRE_INTEROP=1` makes that a failure.

use std::time::Duration;

use bytes::Bytes;
use davgate_storage::blob::{BlobStore, MIN_PART_SIZE};
use davgate_storage::{
    BlobStoreConfig, CreateMode, Digests, LocalBlobStore, NameWas, NewContent, S3BlobStore,
    S3Config, Store, StoreConfig,
};

/// An S3 configuration on a bucket of its own (SeaweedFS creates it on first upload),
/// or `None` when no S3 server is given.
fn s3_config() -> Option<S3Config> {
    let Ok(endpoint) = std::env::var("DAVGATE_S3_ENDPOINT") else {
        assert!(
            std::env::var("DAVGATE_REQUIRE_INTEROP").as_deref() != Ok("1"),
            "DAVGATE_S3_ENDPOINT is not set (start .ci/s3.sh) but DAVGATE_REQUIRE_INTEROP=1"
        );
        eprintln!("skipped: no S3 server (DAVGATE_S3_ENDPOINT unset)");
        return None;
    };
    Some(S3Config {
        endpoint: Some(endpoint),
        bucket: format!("davgate-test-{:016x}", rand::random::<u64>()),
        region: "us-east-1".into(),
        path_style: true,
        access_key_id: None,
        secret_access_key: None,
        part_size: MIN_PART_SIZE,
        allow_http: true,
        // Every unreferenced object is collectable at once, so collection is testable.
        gc_grace: Duration::ZERO,
        multipart_max_age: Duration::from_secs(86400),
    })
}

/// Empties and deletes a test's bucket: SeaweedFS keeps volumes for every bucket, and
/// a run's worth of left buckets can exhaust a small server.
async fn remove_bucket(config: &S3Config) {
    let bucket = S3BlobStore::open(&S3Config {
        multipart_max_age: Duration::ZERO,
        ..config.clone()
    })
    .unwrap();
    bucket.abort_stale_uploads().await.unwrap();
    for blob in bucket.list().await.unwrap() {
        bucket.delete(&blob.key).await.unwrap();
    }
    bucket.delete_bucket().await.unwrap();
}

/// Bytes that differ at every offset a test may look at.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i >> 16) as u8)
        .collect()
}

async fn write_blob(
    store: &dyn BlobStore,
    data: &[u8],
) -> Box<dyn davgate_storage::blob::StagedBlob> {
    let mut writer = store.create().await.unwrap();
    // Odd-sized chunks, as a network delivers them.
    for chunk in data.chunks(100_003) {
        writer.write(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    assert_eq!(writer.written(), data.len() as u64);
    writer.finish().await.unwrap()
}

async fn read_all(store: &dyn BlobStore, key: &davgate_storage::BlobKey, step: usize) -> Vec<u8> {
    let reader = store.open(key).await.unwrap();
    let mut read = Vec::new();
    loop {
        let chunk = reader.read_at(read.len() as u64, step).await.unwrap();
        if chunk.is_empty() {
            assert_eq!(read.len() as u64, reader.len());
            return read;
        }
        read.extend_from_slice(&chunk);
    }
}

/// Blobs not being written, as garbage collection would see them.
async fn idle_count(store: &dyn BlobStore) -> usize {
    store.idle().await.unwrap().len()
}

/// Waits (bounded) until `key` is gone: S3 deletes of dropped blobs run in the background.
async fn gone(store: &dyn BlobStore, key: &davgate_storage::BlobKey) -> bool {
    for _ in 0..100 {
        if store.open(key).await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// What every blob store does.
async fn contract(store: &dyn BlobStore, part_size: usize) {
    // A small blob: written, committed, read whole and by range.
    let small = write_blob(store, b"hello, blob").await;
    assert_eq!(small.size(), 11);
    let small_key = small.key().clone();
    small.committed();
    assert_eq!(read_all(store, &small_key, 4).await, b"hello, blob");
    let reader = store.open(&small_key).await.unwrap();
    assert_eq!(&reader.read_at(7, 100).await.unwrap()[..], b"blob");
    assert_eq!(&reader.read_at(0, 5).await.unwrap()[..], b"hello");
    assert!(reader.read_at(11, 10).await.unwrap().is_empty());
    store.ready().await.unwrap();

    // A blob of more than two parts, read back in order and out of order.
    let data = pattern(2 * part_size + 777_777);
    let large = write_blob(store, &data).await;
    let large_key = large.key().clone();
    large.committed();
    assert!(read_all(store, &large_key, 1 << 20).await == data);
    let reader = store.open(&large_key).await.unwrap();
    let middle = part_size as u64 - 10;
    assert_eq!(
        reader.read_at(middle, 20).await.unwrap(),
        data[middle as usize..middle as usize + 20]
    );
    assert_eq!(reader.read_at(5, 3).await.unwrap(), data[5..8]);
    let tail = data.len() as u64 - 3;
    assert_eq!(
        reader.read_at(tail, 1 << 20).await.unwrap(),
        data[tail as usize..]
    );

    // A writer dropped after more than a part leaves nothing behind.
    let before = idle_count(store).await;
    let mut abandoned = store.create().await.unwrap();
    for chunk in pattern(part_size + 1_000_000).chunks(65_536) {
        abandoned
            .write(Bytes::copy_from_slice(chunk))
            .await
            .unwrap();
    }
    drop(abandoned);
    // A staged blob dropped before its commit is deleted.
    let refused = write_blob(store, &pattern(1000)).await;
    let refused_key = refused.key().clone();
    drop(refused);
    assert!(gone(store, &refused_key).await, "an uncommitted blob stays");
    assert_eq!(
        idle_count(store).await,
        before,
        "a dropped writer left a blob"
    );

    // Deleting is idempotent.
    store.delete(&small_key).await.unwrap();
    assert!(store.open(&small_key).await.is_err());
    store.delete(&small_key).await.unwrap();
    store.delete(&large_key).await.unwrap();
}

/// What a store on top of the blob store does with it: both digests while streaming,
/// garbage collection.
async fn store_contract(blob_store: BlobStoreConfig) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
    let store = Store::open(&StoreConfig {
        database_url: url,
        blob_store,
        max_connections: 4,
        background_thread_init: None,
        sqlite_synchronous: Default::default(),
        inline_blob_max: davgate_storage::DEFAULT_INLINE_BLOB_MAX,
    })
    .await
    .unwrap();
    let account = store
        .create_account("alice", "$argon2id$placeholder")
        .await
        .unwrap();
    let data = pattern(6 * 1024 * 1024 + 5);
    let mut writer = store.upload().await.unwrap();
    for chunk in data.chunks(100_003) {
        writer.write(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    let staged = writer.finish().await.unwrap();
    let expected = Digests::of(&data);
    let at_staging = staged.digests().cloned().expect("digests");
    assert_eq!(at_staging.sha1, expected.sha1);
    // The MD5 is there unless the upload outran it; then it follows the commit.
    let md5_followed = at_staging.md5.is_none();
    if !md5_followed {
        assert_eq!(at_staging, expected);
    }
    let node = store
        .commit_upload(
            account.id,
            account.files_root,
            "big.bin",
            NewContent {
                blob: staged,
                mtime_ms: None,
                content_type: None,
            },
            CreateMode::CreateOrReplace,
            NameWas::Free,
        )
        .await
        .unwrap()
        .node;
    let mut stored = None;
    for _ in 0..500 {
        stored = store.node(node.id).await.unwrap().unwrap().digests;
        if !md5_followed || stored.as_ref().is_some_and(|d| d.md5.is_some()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(stored, Some(expected), "both digests recorded");
    let key = node.blob.clone().unwrap();
    assert!(read_all(store.blobs(), &key, 1 << 20).await == data);

    // A small upload is kept in the database, above any store: read back whole, with
    // both digests at its commit.
    let mut writer = store.upload().await.unwrap();
    writer.write(Bytes::from_static(b"small")).await.unwrap();
    let small = store
        .commit_upload(
            account.id,
            account.files_root,
            "small.txt",
            NewContent {
                blob: writer.finish().await.unwrap(),
                mtime_ms: None,
                content_type: None,
            },
            CreateMode::CreateOrReplace,
            NameWas::Free,
        )
        .await
        .unwrap()
        .node;
    assert_eq!(small.digests, Some(Digests::of(b"small")));
    let small_key = small.blob.clone().unwrap();
    assert_eq!(read_all(store.blobs(), &small_key, 2).await, b"small");

    // What a node killed between its upload and its commit leaves: a blob nobody holds
    // and nothing references (past the inline threshold: a file or object of its own).
    let orphan = write_blob(store.blobs(), &pattern(100_000)).await;
    let orphan_key = orphan.key().clone();
    orphan.committed();
    let report = store.collect_garbage().await.unwrap();
    assert_eq!(report.deleted, 1);
    assert!(store.blobs().open(&orphan_key).await.is_err());
    assert!(
        store.blobs().open(&key).await.is_ok(),
        "a referenced blob stays"
    );
    assert_eq!(read_all(store.blobs(), &small_key, 1 << 20).await, b"small");
}

#[tokio::test]
async fn local_store_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBlobStore::open(dir.path()).unwrap();
    contract(&store, MIN_PART_SIZE).await;
    store_contract(BlobStoreConfig::Local(dir.path().join("store"))).await;
}

#[tokio::test]
async fn s3_store_keeps_the_contract() {
    let Some(config) = s3_config() else { return };
    let store = S3BlobStore::open(&config).unwrap();
    contract(&store, config.part_size).await;
    remove_bucket(&config).await;
    let config = s3_config().unwrap();
    store_contract(BlobStoreConfig::S3(config.clone())).await;
    remove_bucket(&config).await;
}

/// What a node killed mid-upload leaves in S3, seen from another node's collector: an
/// object younger than the grace and an incomplete multipart upload younger than the
/// multipart age are spared (their writer may be at work), older ones are collected.
#[tokio::test]
async fn s3_collection_spares_young_uploads_and_collects_old_ones() {
    let Some(config) = s3_config() else { return };
    let patient = S3BlobStore::open(&S3Config {
        gc_grace: Duration::from_secs(3600),
        ..config.clone()
    })
    .unwrap();
    let prompt = S3BlobStore::open(&S3Config {
        multipart_max_age: Duration::ZERO,
        ..config.clone()
    })
    .unwrap();

    // A finished object nobody committed: in flight for the patient collector.
    let staged = write_blob(&patient, &pattern(1000)).await;
    let staged_key = staged.key().clone();
    staged.committed();
    assert_eq!(
        idle_count(&patient).await,
        0,
        "a young object is collectable"
    );
    assert!(patient.list().await.unwrap()[0].in_flight);
    assert_eq!(idle_count(&prompt).await, 1);

    // A writer that sent two parts and never finished nor aborted (its process died).
    let mut killed = patient.create().await.unwrap();
    for chunk in pattern(2 * config.part_size + 1000).chunks(1 << 20) {
        killed.write(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    std::mem::forget(killed);
    let mut listed = Vec::new();
    for _ in 0..100 {
        listed = patient.incomplete_uploads().await.unwrap();
        if !listed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(listed.len(), 1, "the killed upload is listed: {listed:?}");
    assert_eq!(patient.abort_stale_uploads().await.unwrap(), 0);
    assert_eq!(patient.incomplete_uploads().await.unwrap(), listed);
    assert_eq!(prompt.abort_stale_uploads().await.unwrap(), 1);
    assert!(prompt.incomplete_uploads().await.unwrap().is_empty());
    // Aborting frees the parts without making an object of them.
    assert_eq!(prompt.list().await.unwrap().len(), 1);
    prompt.delete(&staged_key).await.unwrap();
    remove_bucket(&config).await;
}

#[test]
fn s3_store_refuses_parts_below_the_s3_minimum() {
    let config = S3Config {
        endpoint: Some("http://127.0.0.1:9".into()),
        bucket: "b".into(),
        region: "us-east-1".into(),
        path_style: true,
        access_key_id: Some("id".into()),
        secret_access_key: Some("secret".into()),
        part_size: MIN_PART_SIZE - 1,
        allow_http: true,
        gc_grace: Duration::ZERO,
        multipart_max_age: Duration::from_secs(86400),
    };
    assert!(S3BlobStore::open(&config).is_err());
    let shown = format!("{config:?}");
    assert!(
        !shown.contains("secret\""),
        "the secret key is never shown: {shown}"
    );
}
