//! `davgate check`: the metadata against the blob files, read-only, on a live server.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::common::bin::davgate;
use crate::common::server::TestServer;

/// Every blob file under the blob directory.
fn blob_paths(root: &Path) -> BTreeSet<PathBuf> {
    let mut paths = BTreeSet::new();
    for shard in std::fs::read_dir(root).unwrap() {
        let shard = shard.unwrap().path();
        if shard.is_dir() {
            for file in std::fs::read_dir(&shard).unwrap() {
                paths.insert(file.unwrap().path());
            }
        }
    }
    paths
}

/// Uploads `body` as `name` and returns the blob file it landed in.
async fn upload(server: &TestServer, name: &str, body: &[u8]) -> PathBuf {
    let before = blob_paths(&server.blob_dir());
    server.alice().put(name, body.to_vec()).await.status(201);
    let after = blob_paths(&server.blob_dir());
    let new: Vec<_> = after.difference(&before).cloned().collect();
    assert_eq!(new.len(), 1, "one new blob for {name}");
    new[0].clone()
}

/// Runs `davgate check`; returns (success, stdout).
fn check(data_dir: &Path) -> (bool, String) {
    let out = davgate(data_dir, &["check"], "");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "check exits 0 or 1: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), stdout)
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reports_missing_truncated_corrupted_and_stray_blobs() {
    // Every blob a file of its own: the check over the blob store is what is tested here.
    let server = TestServer::start_with("inline_blob_max = 0").await;
    let files = "/files";
    let deleted = upload(&server, &format!("{files}/deleted.txt"), b"to be deleted").await;
    let truncated = upload(
        &server,
        &format!("{files}/truncated.txt"),
        b"to be truncated",
    )
    .await;
    let corrupted = upload(
        &server,
        &format!("{files}/corrupted.txt"),
        b"to be corrupted",
    )
    .await;
    upload(&server, &format!("{files}/fine.txt"), b"left alone").await;

    let (clean, out) = check(server.data_dir());
    assert!(clean, "a clean installation passes: {out}");
    assert!(
        out.contains("checked 4 blobs") && out.contains("no problems"),
        "{out}"
    );

    std::fs::remove_file(&deleted).unwrap();
    std::fs::write(&truncated, b"to be").unwrap();
    std::fs::write(&corrupted, b"to be CORRUPTED").unwrap();
    // A stray file as a crash leaves it: old enough not to be an upload in flight.
    let stray_key = "00ff00ff00ff00ff00ff00ff00ff00ff";
    let stray = server.blob_dir().join("00").join(stray_key);
    std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
    std::fs::write(&stray, b"nobody's").unwrap();
    let old = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&stray)
        .unwrap()
        .set_modified(old)
        .unwrap();
    // A fresh unreferenced file may be an upload in flight: mentioned, not a problem.
    let fresh = server
        .blob_dir()
        .join("01")
        .join("01ff00ff00ff00ff00ff00ff00ff00ff");
    std::fs::create_dir_all(fresh.parent().unwrap()).unwrap();
    std::fs::write(&fresh, b"on its way").unwrap();

    let (clean, out) = check(server.data_dir());
    assert!(!clean, "problems make the exit status non-zero: {out}");
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    let line = |word: &str, key: &str| out.lines().any(|l| l.starts_with(word) && l.contains(key));
    assert!(line("missing:", &name(&deleted)), "{out}");
    assert!(line("wrong size:", &name(&truncated)), "{out}");
    assert!(line("wrong checksum:", &name(&corrupted)), "{out}");
    assert!(line("orphan:", stray_key), "{out}");
    assert!(out.contains("used by alice: deleted.txt"), "{out}");
    assert!(out.contains("restore it from a backup"), "{out}");
    assert!(
        !out.contains(&name(&fresh)),
        "in flight is no orphan: {out}"
    );
    assert!(out.contains("1 unreferenced but recent"), "{out}");
    assert!(out.contains("; 4 problems"), "{out}");
    // Read-only: nothing was repaired or deleted.
    assert!(stray.exists() && fresh.exists() && !deleted.exists());
    assert_eq!(std::fs::read(&truncated).unwrap(), b"to be");
    server.stop().await;
}
