//! Whether a write was committed since a row was read: a version every write transaction
//! changes, so a reader can keep a row exactly as long as the version it read it under.
//!
//! Commits made by this process change a counter in memory. Beside an SQLite file they
//! also write fresh random bytes into a small file, which the CLI, running as another
//! process on the same machine, changes in the same way: a password it changes while the
//! server runs shows on the server's very next read. PostgreSQL may have writers on other
//! machines: there the version also counts the notices they send (see `notices`), and
//! while nobody listens for them nothing is tracked and nothing may be kept.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::notices::Notices;

/// What a version is made of: this process's commits, and the bytes other processes
/// wrote last (zeros when there is no file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Version {
    local: u64,
    shared: [u8; SHARED_LEN],
}

const SHARED_LEN: usize = 16;

/// How far commits can be seen.
#[derive(Debug)]
enum Reach {
    /// Writers elsewhere cannot tell us.
    Untracked,
    /// PostgreSQL: writers anywhere send notices, heard while a connection listens.
    Notified(Arc<Notices>),
    /// Only this process can write (an in-memory SQLite database).
    ThisProcess,
    /// An SQLite file: other processes on this machine change the shared file.
    ThisMachine(File),
}

/// The commit version of one database.
#[derive(Debug)]
pub(crate) struct Changes {
    local: AtomicU64,
    reach: Reach,
}

impl Changes {
    /// Tracks nothing: every [`Self::version`] is `None`.
    #[cfg(test)]
    pub(crate) fn untracked() -> Self {
        Changes {
            local: AtomicU64::new(0),
            reach: Reach::Untracked,
        }
    }

    /// Tracks the commits of the PostgreSQL database at `url` once [`Self::listen`] is
    /// called; until then nothing.
    pub(crate) fn notified(url: &str) -> Self {
        Changes {
            local: AtomicU64::new(0),
            reach: Reach::Notified(Arc::new(Notices::new(url))),
        }
    }

    /// Starts listening for other writers' notices, where there are any (PostgreSQL).
    pub(crate) fn listen(&self) {
        if let Reach::Notified(notices) = &self.reach {
            notices.listen();
        }
    }

    /// Tracks the commits of an SQLite database at `database` (`None`: in memory).
    /// When the shared file cannot be opened nothing is tracked, which is slower but
    /// never stale.
    pub(crate) fn sqlite(database: Option<&Path>) -> Self {
        let Some(database) = database else {
            return Changes {
                local: AtomicU64::new(0),
                reach: Reach::ThisProcess,
            };
        };
        let path = shared_path(database);
        // Whoever may write the database must be able to write the marker too, or
        // its changes would reach a running server only when a kept row ages out.
        let mode = std::fs::metadata(database).map_or(0o600, |m| m.permissions().mode() & 0o666);
        let reach = match OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(mode)
            .open(&path)
        {
            Ok(file) => {
                if file.metadata().is_ok_and(|m| m.len() == 0) {
                    // Just created, through the umask: give it the database's mode.
                    let _ = file.set_permissions(std::fs::Permissions::from_mode(mode));
                }
                Reach::ThisMachine(file)
            }
            Err(e) => {
                tracing::warn!(
                    path = %path.display(),
                    error = %e,
                    "cannot open the change marker: this process reads account rows on \
                     every request, and its own changes reach a running server up to a \
                     second late"
                );
                Reach::Untracked
            }
        };
        Changes {
            local: AtomicU64::new(0),
            reach,
        }
    }

    /// The version now, or `None` when nothing read may be kept.
    pub(crate) fn version(&self) -> Option<Version> {
        let local = self.local.load(Ordering::SeqCst);
        let mut shared = [0; SHARED_LEN];
        match &self.reach {
            Reach::Untracked => return None,
            Reach::ThisProcess => {}
            Reach::Notified(notices) => {
                shared[..8].copy_from_slice(&notices.heard()?.to_le_bytes())
            }
            // A 16-byte read of a page the kernel holds: cheaper than any query. A
            // short read (a marker no commit has written yet) leaves zeros.
            Reach::ThisMachine(file) => {
                file.read_at(&mut shared, 0).ok()?;
            }
        }
        Some(Version { local, shared })
    }

    /// Records a commit (or an attempt whose outcome is unknown).
    pub(crate) fn committed(&self) {
        self.local.fetch_add(1, Ordering::SeqCst);
        if let Reach::ThisMachine(file) = &self.reach {
            // Random bytes rather than a counter: concurrent writers need no lock, and
            // any write makes the version differ from every one read before.
            let fresh: [u8; SHARED_LEN] = rand::random();
            if let Err(e) = file.write_all_at(&fresh, 0) {
                tracing::warn!(error = %e, "cannot update the change marker");
            }
        }
    }
}

/// `davgate.db` → `davgate.db-changes`, beside SQLite's own `-wal` and `-shm`.
fn shared_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-changes");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_anywhere_on_the_machine_changes_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("davgate.db");
        let server = Changes::sqlite(Some(&db));
        let cli = Changes::sqlite(Some(&db));
        let before = server.version().expect("tracked");
        assert_eq!(server.version(), Some(before));
        cli.committed();
        let after_cli = server.version().expect("tracked");
        assert_ne!(after_cli, before);
        server.committed();
        assert_ne!(server.version().expect("tracked"), after_cli);
    }

    #[test]
    fn in_memory_tracks_this_process_and_postgres_nothing() {
        let memory = Changes::sqlite(None);
        let before = memory.version().expect("tracked");
        memory.committed();
        assert_ne!(memory.version(), Some(before));
        assert_eq!(Changes::untracked().version(), None);
    }

    #[test]
    fn postgres_keeps_nothing_until_it_listens() {
        let changes = Changes::notified("postgres://localhost/unused");
        assert_eq!(changes.version(), None);
        changes.committed();
        assert_eq!(changes.version(), None);
    }

    #[test]
    fn the_marker_takes_the_database_files_mode() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("davgate.db");
        std::fs::write(&db, b"").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o660)).unwrap();
        let _changes = Changes::sqlite(Some(&db));
        let marker = std::fs::metadata(shared_path(&db)).unwrap();
        assert_eq!(marker.permissions().mode() & 0o777, 0o660);
    }

    #[test]
    fn an_unopenable_marker_tracks_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let changes = Changes::sqlite(Some(&dir.path().join("missing/davgate.db")));
        assert_eq!(changes.version(), None);
    }
}
