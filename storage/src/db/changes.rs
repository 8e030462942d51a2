//! Whether a write was committed since a row was read: a version every write transaction
//! changes, so a reader can keep a row exactly as long as the version it read it under.
//!
//! Commits made by this process change a counter in memory. Beside an SQLite file they
//! also write fresh random bytes into a small file, which the CLI, running as another
//! process on the same machine, changes in the same way: a password it changes while the
//! server runs shows on the server's very next read. PostgreSQL may have writers on other
//! machines: there the version also counts the notices they send (see `notices`), and
//! while nobody listens for them nothing is tracked and nothing may be kept.
//!
//! A second version leaves out the commits of file content alone
//! ([`Wrote::FileContent`]): rows those commits cannot change (an account's settings
//! and credentials, its locks, its folders) are kept across them. A sync job's stream
//! of uploads would otherwise make every request read its account, its locks and the
//! folder it uploads into again: the three reads a small upload cost. The marker has a
//! half for each kind of commit; PostgreSQL's notices do not tell them apart, so there
//! every commit counts in both versions.

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

/// The marker's bytes. The first half changes with each commit that wrote more than
/// file content (binaries before the split wrote only those 16, for every commit), the
/// second with each commit of file content alone.
const SHARED_LEN: usize = 32;
const HALF: usize = SHARED_LEN / 2;

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

/// What a commit wrote, as far as the rows kept between commits are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Wrote {
    /// Files' content only: their nodes and blobs, and the usage charged to their
    /// account. No account's settings or credentials, no lock.
    FileContent,
    /// Anything (or nobody knows what).
    Anything,
}

/// The commit version of one database.
#[derive(Debug)]
pub(crate) struct Changes {
    /// Commits this process made.
    local: AtomicU64,
    /// Commits this process made that wrote more than file content.
    beyond_content: AtomicU64,
    reach: Reach,
}

impl Changes {
    /// Tracks nothing: every [`Self::version`] is `None`.
    #[cfg(test)]
    pub(crate) fn untracked() -> Self {
        Changes {
            local: AtomicU64::new(0),
            beyond_content: AtomicU64::new(0),
            reach: Reach::Untracked,
        }
    }

    /// Tracks the commits of the PostgreSQL database at `url` once [`Self::listen`] is
    /// called; until then nothing.
    pub(crate) fn notified(url: &str) -> Self {
        Changes {
            local: AtomicU64::new(0),
            beyond_content: AtomicU64::new(0),
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
                beyond_content: AtomicU64::new(0),
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
            beyond_content: AtomicU64::new(0),
            reach,
        }
    }

    /// The version now, or `None` when nothing read may be kept.
    pub(crate) fn version(&self) -> Option<Version> {
        self.version_counting(&self.local, SHARED_LEN)
    }

    /// The version of the rows no commit of file content changes (see the module's
    /// header): this process's commits of [`Wrote::FileContent`] leave it as it was.
    pub(crate) fn version_beyond_content(&self) -> Option<Version> {
        self.version_counting(&self.beyond_content, HALF)
    }

    /// The version made of `commits` and the first `marker_len` bytes of the marker.
    fn version_counting(&self, commits: &AtomicU64, marker_len: usize) -> Option<Version> {
        let local = commits.load(Ordering::SeqCst);
        let mut shared = [0; SHARED_LEN];
        match &self.reach {
            Reach::Untracked => return None,
            Reach::ThisProcess => {}
            Reach::Notified(notices) => {
                shared[..8].copy_from_slice(&notices.heard()?.to_le_bytes())
            }
            // A read of a page the kernel holds: cheaper than any query. A short read
            // (a marker no commit has written yet, or an older binary's) leaves zeros.
            Reach::ThisMachine(file) => {
                file.read_at(&mut shared[..marker_len], 0).ok()?;
            }
        }
        Some(Version { local, shared })
    }

    /// Records a commit (or an attempt whose outcome is unknown) that wrote `wrote`.
    pub(crate) fn committed(&self, wrote: Wrote) {
        if wrote == Wrote::Anything {
            self.beyond_content.fetch_add(1, Ordering::SeqCst);
        }
        self.local.fetch_add(1, Ordering::SeqCst);
        if let Reach::ThisMachine(file) = &self.reach {
            // Random bytes rather than a counter: concurrent writers need no lock, and
            // any write makes the version differ from every one read before.
            let fresh: [u8; HALF] = rand::random();
            let half = match wrote {
                Wrote::Anything => 0,
                Wrote::FileContent => HALF,
            };
            if let Err(e) = file.write_all_at(&fresh, half as u64) {
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
        cli.committed(Wrote::Anything);
        let after_cli = server.version().expect("tracked");
        assert_ne!(after_cli, before);
        server.committed(Wrote::Anything);
        assert_ne!(server.version().expect("tracked"), after_cli);
    }

    #[test]
    fn file_content_leaves_the_version_beyond_content_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("davgate.db");
        let server = Changes::sqlite(Some(&db));
        let (all, beyond) = (server.version(), server.version_beyond_content());
        server.committed(Wrote::FileContent);
        assert_ne!(server.version(), all);
        assert_eq!(server.version_beyond_content(), beyond);

        let all = server.version();
        server.committed(Wrote::Anything);
        assert_ne!(server.version(), all);
        assert_ne!(server.version_beyond_content(), beyond);

        // Another process's commits show in the marker, each in its half.
        let cli = Changes::sqlite(Some(&db));
        let (all, beyond) = (server.version(), server.version_beyond_content());
        cli.committed(Wrote::FileContent);
        assert_ne!(server.version(), all);
        assert_eq!(server.version_beyond_content(), beyond);
        cli.committed(Wrote::Anything);
        assert_ne!(server.version_beyond_content(), beyond);

        // A binary from before the split wrote 16 bytes at the start, for any commit.
        let beyond = server.version_beyond_content();
        std::fs::OpenOptions::new()
            .write(true)
            .open(shared_path(&db))
            .unwrap()
            .write_all_at(&[7; 16], 0)
            .unwrap();
        assert_ne!(server.version_beyond_content(), beyond);
    }

    #[test]
    fn in_memory_tracks_this_process_and_postgres_nothing() {
        let memory = Changes::sqlite(None);
        let before = memory.version().expect("tracked");
        memory.committed(Wrote::Anything);
        assert_ne!(memory.version(), Some(before));
        assert_eq!(Changes::untracked().version(), None);
    }

    #[test]
    fn postgres_keeps_nothing_until_it_listens() {
        let changes = Changes::notified("postgres://localhost/unused");
        assert_eq!(changes.version(), None);
        changes.committed(Wrote::Anything);
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
