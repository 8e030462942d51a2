//! When the TLS certificate is read again: on SIGHUP (`systemctl reload`), and when the
//! certificate or key file changes on disk (a renewal by certbot, acme.sh, a Kubernetes
//! secret update).
//!
//! Changes are found by polling each file's identity and times every few seconds rather
//! than with inotify: polling works on every filesystem (NFS, overlay, bind mounts) and
//! sees a symlink swapped to a new target, which is how certbot and Kubernetes renew. A
//! new pair that cannot be used (unreadable, malformed, key not fitting the certificate,
//! half-written) leaves the current certificate in service and says why in the log; the
//! next change or SIGHUP tries again.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::tls::{CertFiles, CurrentCert, fingerprint};

/// How often the certificate and key files are checked for a change.
pub const POLL_EVERY: Duration = Duration::from_secs(2);

/// Why the certificate is being read again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The operator sent SIGHUP.
    Hangup,
    /// The certificate or key file changed on disk.
    FilesChanged,
}

impl Trigger {
    fn describe(self) -> &'static str {
        match self {
            Trigger::Hangup => "on SIGHUP",
            Trigger::FilesChanged => "after the files changed on disk",
        }
    }
}

/// Reads the certificate files again and swaps a usable pair in.
#[derive(Clone)]
pub struct CertReloader {
    files: CertFiles,
    current: Arc<CurrentCert>,
    /// The files' stamps when last read, whether or not that read was usable; the lock
    /// also keeps a SIGHUP and the poller from reloading at the same time.
    last_read: Arc<Mutex<FilesStamp>>,
}

impl CertReloader {
    /// Watches `files`, whose current pair `current` serves.
    pub fn new(files: CertFiles, current: Arc<CurrentCert>) -> Self {
        let stamp = FilesStamp::of(&files);
        CertReloader {
            files,
            current,
            last_read: Arc::new(Mutex::new(stamp)),
        }
    }

    /// Reads the files and, when they hold a usable pair, serves it from the next
    /// handshake on; otherwise keeps the current one. Returns whether it swapped.
    pub fn reload(&self, trigger: Trigger) -> bool {
        let mut last_read = self.last_read.lock().unwrap_or_else(|p| p.into_inner());
        *last_read = FilesStamp::of(&self.files);
        match self.files.load() {
            Ok(next) => {
                let (old, new) = (fingerprint(&self.current.current()), fingerprint(&next));
                self.current.replace(next);
                let what = match old == new {
                    true => "unchanged",
                    false => "new",
                };
                tracing::info!(
                    "TLS certificate reloaded {} from {} ({what}, SHA-256 {new})",
                    trigger.describe(),
                    self.files.cert.display()
                );
                true
            }
            Err(e) => {
                tracing::warn!(
                    "TLS certificate not reloaded {}: {}; keeping the current certificate \
                     (SHA-256 {}). Fix the files, then send SIGHUP or wait for the next change",
                    trigger.describe(),
                    e.0,
                    fingerprint(&self.current.current())
                );
                false
            }
        }
    }

    /// Polls the files every [`POLL_EVERY`] and reloads when they change, until stopped.
    pub async fn watch_files(self, mut stopped: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(POLL_EVERY) => {}
                _ = stopped.changed() => return,
            }
            let files = self.files.clone();
            let Ok(now) = tokio::task::spawn_blocking(move || FilesStamp::of(&files)).await else {
                continue;
            };
            let changed = *self.last_read.lock().unwrap_or_else(|p| p.into_inner()) != now;
            if changed {
                let reloader = self.clone();
                let _ = tokio::task::spawn_blocking(move || reloader.reload(Trigger::FilesChanged))
                    .await;
            }
        }
    }
}

/// What identifies one version of the certificate and key files: a rewrite in place
/// changes the size or modification time, a rename or symlink swap the inode.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FilesStamp {
    cert: Option<FileStamp>,
    key: Option<FileStamp>,
}

impl FilesStamp {
    fn of(files: &CertFiles) -> Self {
        FilesStamp {
            cert: FileStamp::of(&files.cert),
            key: FileStamp::of(&files.key),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    device: u64,
    inode: u64,
    size: u64,
    modified_ns: i128,
    changed_ns: i128,
}

impl FileStamp {
    /// `None` while the file is missing or unreadable (mid-swap): that is a change too.
    fn of(path: &Path) -> Option<Self> {
        // Follows symlinks: a swapped link target is a new file.
        let meta = std::fs::metadata(path).ok()?;
        let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        Some(FileStamp {
            device: meta.dev(),
            inode: meta.ino(),
            size: meta.size(),
            modified_ns: ns(meta.mtime(), meta.mtime_nsec()),
            changed_ns: ns(meta.ctime(), meta.ctime_nsec()),
        })
    }
}
