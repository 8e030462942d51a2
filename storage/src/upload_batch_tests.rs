//! Uploads committed in batches (`db::batch` with `tree::write`'s uploads), tested from
//! outside both: the test needs the store, the tree and the queue together.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;

use tokio::sync::oneshot;

use crate::accounts::Account;
use crate::blob::{BlobKey, StagedBlob};
use crate::db::batch::{BatchItem, write_batch};
use crate::error::{Result, StorageError};
use crate::tree::Node;
use crate::tree::write::{PendingUpload, QueuedUpload};
use crate::{CreateMode, NameWas, NewContent, Store};

async fn staged(store: &Store, bytes: &'static [u8]) -> NewContent {
    let mut writer = store.upload().await.unwrap();
    writer.write(Bytes::from_static(bytes)).await.unwrap();
    NewContent {
        blob: writer.finish().await.unwrap(),
        mtime_ms: None,
        content_type: None,
    }
}

/// Writes `uploads` as one batch, in order; the outcome of each.
async fn one_batch(
    store: &Store,
    account: &Account,
    uploads: Vec<(&str, NewContent, CreateMode)>,
) -> Vec<Result<Node>> {
    let mut batch = Vec::new();
    let mut outcomes = Vec::new();
    for (name, content, mode) in uploads {
        let (reply, outcome) = oneshot::channel();
        let upload = QueuedUpload {
            account: account.id,
            parent: account.files_root,
            name: name.to_owned(),
            size_db: content.blob.size() as i64,
            content,
            mode,
            // Every name thought free: one taken in the batch is looked up and replaced.
            name_was: NameWas::Free,
        };
        let item: Box<dyn BatchItem> = Box::new(PendingUpload {
            upload,
            outcome: None,
            reply,
        });
        batch.push(item);
        outcomes.push(outcome);
    }
    write_batch(&store.db, batch).await;
    let mut nodes = Vec::new();
    for outcome in outcomes {
        nodes.push(outcome.await.unwrap().map(|committed| committed.node));
    }
    nodes
}

async fn names(store: &Store, account: &Account) -> Vec<String> {
    let children = store.children(account.files_root).await.unwrap();
    let mut names: Vec<String> = children.into_iter().map(|n| n.name).collect();
    names.sort();
    names
}

async fn used(store: &Store, account: &Account) -> u64 {
    let row = store.account(account.id).await.unwrap().unwrap();
    row.used_bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_finishing_together_share_a_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let (store, account) = Store::for_tests(dir.path()).await;
    // While another write holds the gate, the first upload's writer waits for it and
    // the other fifteen queue behind: they must go in one transaction after it.
    let held = store.db.begin_write().await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let content = staged(&store, b"sixteen").await;
        let store = store.clone();
        let (id, root) = (account.id, account.files_root);
        tasks.push(tokio::spawn(async move {
            let mode = CreateMode::CreateOrReplace;
            let name = format!("f{i:02}");
            store
                .commit_upload(id, root, &name, content, mode, NameWas::Free)
                .await
        }));
    }
    // Bounded: 500 looks, 10 ms apart.
    for _ in 0..500 {
        if store.write_batches.waiting() >= 15 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(held);
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let begun = store.write_batches.begun.load(Ordering::SeqCst);
    assert!(begun <= 2, "16 uploads took {begun} transactions");
    assert_eq!(names(&store, &account).await.len(), 16);
    assert_eq!(used(&store, &account).await, 16 * 7);
    // Once the queue is empty the writing task ends; the next upload starts another.
    let content = staged(&store, b"later").await;
    let mode = CreateMode::CreateNew;
    let root = account.files_root;
    store
        .commit_upload(account.id, root, "later", content, mode, NameWas::Free)
        .await
        .unwrap();
    assert_eq!(store.write_batches.begun.load(Ordering::SeqCst), begun + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_refused_in_a_batch_leaves_the_others_committed() {
    let dir = tempfile::tempdir().unwrap();
    let (store, account) = Store::for_tests(dir.path()).await;
    // Room for two of the three 10-byte uploads that ask for room.
    store.set_quota(account.id, Some(25)).await.unwrap();
    use CreateMode::{CreateNew, ReplaceExisting};
    let mut uploads = Vec::new();
    for (name, bytes, mode) in [
        ("a", &b"0123456789"[..], CreateNew),
        ("a", b"abcdefghij", CreateNew),
        ("b", b"0123456789", ReplaceExisting),
        ("c", b"0123456789", CreateNew),
        ("d", b"0123456789", CreateNew),
        ("e", b"", CreateNew),
    ] {
        uploads.push((name, staged(&store, bytes).await, mode));
    }
    let outcomes = one_batch(&store, &account, uploads).await;
    let summary: Vec<&str> = outcomes
        .iter()
        .map(|o| match o {
            Ok(_) => "ok",
            Err(StorageError::Conflict(_)) => "conflict",
            Err(StorageError::NotFound) => "not found",
            Err(StorageError::QuotaExceeded(_)) => "quota",
            Err(_) => "other",
        })
        .collect();
    assert_eq!(
        summary,
        ["ok", "conflict", "not found", "ok", "quota", "ok"]
    );
    assert_eq!(names(&store, &account).await, ["a", "c", "e"]);
    assert_eq!(
        used(&store, &account).await,
        20,
        "only what was committed is charged"
    );
}

/// A staged blob under a key of the test's choosing.
struct SameKey(BlobKey);

impl StagedBlob for SameKey {
    fn key(&self) -> &BlobKey {
        &self.0
    }
    fn size(&self) -> u64 {
        0
    }
    fn committed(self: Box<Self>) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_fails_partway_writes_each_upload_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (store, account) = Store::for_tests(dir.path()).await;
    // Two uploads claiming one blob key: the second's blob row breaks the batch
    // after the first was written, so each is written again on its own.
    let key = BlobKey::random();
    let content = |key: &BlobKey| NewContent {
        blob: Box::new(SameKey(key.clone())),
        mtime_ms: None,
        content_type: None,
    };
    let uploads = vec![
        ("w", staged(&store, b"w").await, CreateMode::CreateNew),
        ("x", content(&key), CreateMode::CreateNew),
        ("y", content(&key), CreateMode::CreateNew),
        ("z", staged(&store, b"zz").await, CreateMode::CreateNew),
    ];
    let outcomes = one_batch(&store, &account, uploads).await;
    let failed: Vec<bool> = outcomes.iter().map(Result::is_err).collect();
    assert_eq!(
        failed,
        [false, false, true, false],
        "only the second claim fails"
    );
    assert_eq!(names(&store, &account).await, ["w", "x", "z"]);
    assert_eq!(used(&store, &account).await, 3);
}
