//! The data directory's in-use lock, `DATA_DIR/davgate.lock`: every server holds it
//! shared while it runs and `davgate migrate` holds it exclusive, so a migration never
//! copies an installation a server is still writing to, and no server starts on one
//! that is being copied. An `flock`, so a killed process leaves no stale lock behind.

use std::fs::File;
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The lock file's name in the data directory.
pub const FILE_NAME: &str = "davgate.lock";

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it in a way that excludes ours.
    #[error("{} is held by another process", path.display())]
    Held {
        /// The lock file.
        path: PathBuf,
    },
    /// The file could not be opened or locked.
    #[error("{}: {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
}

impl DataDirLock {
    /// The lock a server holds while it runs; any number of servers share it.
    pub fn shared(data_dir: &Path) -> Result<Self, LockError> {
        Self::take(data_dir, File::try_lock_shared)
    }

    /// The lock `davgate migrate` holds: refused while anything holds it at all.
    pub fn exclusive(data_dir: &Path) -> Result<Self, LockError> {
        Self::take(data_dir, File::try_lock)
    }

    fn take(
        data_dir: &Path,
        lock: fn(&File) -> Result<(), std::fs::TryLockError>,
    ) -> Result<Self, LockError> {
        let path = data_dir.join(FILE_NAME);
        let io_error = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        // Owner-only whatever the umask, as `server::open_store` creates it.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
            .map_err(io_error)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_error)?;
        match lock(&file) {
            Ok(()) => Ok(DataDirLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(LockError::Held { path }),
            Err(std::fs::TryLockError::Error(e)) => Err(io_error(e)),
        }
    }
}
