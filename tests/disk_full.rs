//! A full disk: writes are answered 507 with words that say so, a LOCK is never "locked
//! by another client", reads keep working, and once space is freed writes work again
//! without a restart. Runs on a small tmpfs, which needs root; skipped with a message
//! otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::TestServer;

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the filesystem with one file, returning its path.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).expect("filler");
    let chunk = vec![0u8; 64 * 1024];
    while file.write_all(&chunk).is_ok() {}
    // Whatever is left below a chunk too.
    while file.write_all(&chunk[..512]).is_ok() {}
    let _ = file.sync_all();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_507_and_writes_come_back_when_space_is_freed() {
    let Some(tmpfs) = Tmpfs::mount("24m") else {
        eprintln!("skipped: mounting a tmpfs needs root (run as root to test a full disk)");
        return;
    };
    let data = tempfile::tempdir_in(tmpfs.path()).expect("data dir");
    let srv = TestServer::start_in(data, "").await;
    let dav = srv.alice();
    dav.put("/files/kept.txt", "still readable")
        .await
        .status(201);
    dav.put("/files/other.txt", "x").await.status(201);

    let filler = fill(tmpfs.path());

    let upload = dav.put("/files/new.bin", vec![7u8; 256 * 1024]).await;
    assert_eq!(upload.status, 507, "{}", upload.text());
    assert!(
        upload.text().contains("out of storage space"),
        "{}",
        upload.text()
    );
    let lock = dav
        .req("LOCK", "/files/other.txt")
        .header("Timeout", "Second-60")
        .body(
            r#"<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"#,
        )
        .send()
        .await;
    assert_ne!(lock.status, 423, "no lock exists: {}", lock.text());
    if lock.status != 200 {
        assert_eq!(lock.status, 507, "{}", lock.text());
    }
    for (method, path) in [("DELETE", "/files/other.txt"), ("COPY", "/files/kept.txt")] {
        let mut req = dav.req(method, path);
        if method == "COPY" {
            req = req.header("Destination", &dav.url("/files/copy.txt"));
        }
        let resp = req.send().await;
        assert!(
            resp.status.is_success() || resp.status == 507,
            "{method}: {} {}",
            resp.status,
            resp.text()
        );
        assert!(!resp.text().trim().is_empty() || resp.status.is_success());
    }
    assert_eq!(
        dav.get("/files/kept.txt").await.status(200).text(),
        "still readable"
    );

    std::fs::remove_file(filler).expect("free the space");
    dav.put("/files/after.txt", "space again").await.status(201);
    dav.put("/files/after2.txt", "and again").await.status(201);
    assert_eq!(
        dav.get("/files/after.txt").await.status(200).text(),
        "space again"
    );
    srv.stop().await;
}
