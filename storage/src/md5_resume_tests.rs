//! The MD5 filler resuming a lagging upload's hash, tested from outside `md5_fill`: the
//! test needs the store and the tree, which sit above it.

use std::time::Duration;

use bytes::Bytes;

use crate::accounts::Account;
use crate::blob::{Md5Prefix, Md5Resume, Md5Stream};
use crate::tree::Node;
use crate::{CreateMode, Digests, NameWas, NewContent, Store};

/// Uploads `data` as a new file in the account's root.
async fn upload(store: &Store, account: &Account, name: &str, data: &[u8]) -> Node {
    let mut writer = store.upload().await.unwrap();
    writer.write(Bytes::copy_from_slice(data)).await.unwrap();
    let content = NewContent {
        blob: writer.finish().await.unwrap(),
        mtime_ms: None,
        content_type: None,
    };
    let root = account.files_root;
    store
        .commit_upload(
            account.id,
            root,
            name,
            content,
            CreateMode::CreateNew,
            NameWas::Free,
        )
        .await
        .unwrap()
        .node
}

/// A resumed MD5 goes on from its hasher state, reading the blob only from the
/// offset its lane reached, whatever that offset, and writes the result into the row.
/// The state given here is of other bytes (zeros), so that the MD5 written shows that
/// the state was used and the part before the offset not read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_reads_only_from_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let (store, account) = Store::for_tests(dir.path()).await;
    let data: Vec<u8> = (0..(3 << 20) + 4321)
        .map(|i| (i * 17 % 251) as u8)
        .collect();
    let node = upload(&store, &account, "f.bin", &data).await;
    let key = node.blob.clone().unwrap();
    for offset in [0, 1, 1 << 20, (1 << 20) + 99_999, data.len()] {
        sqlx::query("UPDATE blobs SET md5 = NULL")
            .execute(&store.db.pool)
            .await
            .unwrap();
        let mut hashed = Md5Stream::default();
        hashed.update(&vec![0; offset]);
        let mut seen = vec![0; offset];
        seen.extend_from_slice(&data[offset..]);
        let expected = Digests::of(&seen).md5;
        let len = offset as u64;
        let prefix = Md5Prefix { hashed, len };
        (store.md5.resumer())(Md5Resume {
            key: key.clone(),
            prefix,
        });
        assert_eq!(
            md5_within_5s(&store, &node).await,
            expected,
            "resumed at {offset}"
        );
    }
}

/// A file uploaded into a new store whose MD5 is then cleared, as upkeep finds the blobs
/// of older versions; the store's directory goes with the returned guard.
async fn file_without_md5(data: &[u8]) -> (tempfile::TempDir, Store, Node) {
    let dir = tempfile::tempdir().unwrap();
    let (store, account) = Store::for_tests(dir.path()).await;
    let node = upload(&store, &account, "f.bin", data).await;
    sqlx::query("UPDATE blobs SET md5 = NULL")
        .execute(&store.db.pool)
        .await
        .unwrap();
    (dir, store, node)
}

/// The node's MD5 as it is now.
async fn md5_now(store: &Store, node: &Node) -> Option<String> {
    let node = store.node(node.id).await.unwrap().unwrap();
    node.digests.unwrap().md5
}

/// The MD5 thread waits while a download streams, as it does for uploads, and goes on
/// once the download's guard is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_download_holds_background_hashing_back_until_it_ends() {
    // Past the inline limit, and hashed whole at the upload's end: no resume is queued.
    let data: Vec<u8> = (0..200_000).map(|i| (i % 253) as u8).collect();
    let (_dir, store, node) = file_without_md5(&data).await;

    let download = store.download_streaming();
    assert!(store.md5.queue(node.blob.clone().unwrap()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        md5_now(&store, &node).await,
        None,
        "hashed while a download streamed"
    );
    drop(download);
    assert_eq!(md5_within_5s(&store, &node).await, Digests::of(&data).md5);
}

/// A burst of short transfers with gaps between them (a sync's small files) holds the
/// MD5 thread back as one long transfer would: it waits for a pause, not a gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_short_transfers_holds_background_hashing_back_until_it_pauses() {
    let data: Vec<u8> = (0..200_000).map(|i| (i % 251) as u8).collect();
    let (_dir, store, node) = file_without_md5(&data).await;
    assert!(store.md5.queue(node.blob.clone().unwrap()));
    // 40 transfers of 5 ms, 10 ms apart: 600 ms of gaps far shorter than a pause.
    for _ in 0..40 {
        let transfer = store.download_streaming();
        tokio::time::sleep(Duration::from_millis(5)).await;
        drop(transfer);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        md5_now(&store, &node).await,
        None,
        "hashed in the gaps of a burst"
    );
    assert_eq!(md5_within_5s(&store, &node).await, Digests::of(&data).md5);
}

/// The node's MD5 once it is filled, looking every 20 ms for up to 5 s.
async fn md5_within_5s(store: &Store, node: &Node) -> Option<String> {
    let mut md5 = None;
    for _ in 0..250 {
        md5 = md5_now(store, node).await;
        if md5.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    md5
}
