//! A blob file written but not yet committed, and the blocking-pool helpers both the
//! writer and the store use. A leaf below `local` and `local::writer`.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::blob::contract::{BlobKey, StagedBlob};
use crate::error::Result;

pub(super) struct LocalStaged {
    pub(super) file: Option<Arc<File>>,
    pub(super) path: PathBuf,
    pub(super) key: BlobKey,
    pub(super) size: u64,
}

impl StagedBlob for LocalStaged {
    fn key(&self) -> &BlobKey {
        &self.key
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn committed(mut self: Box<Self>) {
        // Closing the file releases the lock; the blob now belongs to the database.
        self.file = None;
    }
}

impl Drop for LocalStaged {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = remove_if_present(&self.path);
        }
    }
}

pub(super) fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    joined(tokio::task::spawn_blocking(f)).await
}

/// Waits for a task on the blocking pool; one that panicked is an I/O error.
pub(super) async fn joined<T>(task: tokio::task::JoinHandle<Result<T>>) -> Result<T> {
    task.await
        .map_err(|e| io::Error::other(format!("blob task failed: {e}")))?
}
