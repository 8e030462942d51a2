//! Blobs as files in a local directory, sharded by the first two hex digits of the key.
//!
//! A writer holds an exclusive `flock` on its file from creation until the commit that
//! references it; garbage collection only considers files whose lock it can take, so it
//! never races a live upload, and a process that died mid-upload leaves a file nobody
//! holds. Directories are created 0700 and files 0600: nobody but the server's user
//! reads anyone's files.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

mod scan;
mod staged;
mod writer;

use scan::DirectScan;

use staged::{blocking, remove_if_present};
use writer::LocalWriter;

use super::contract::{
    BlobKey, BlobReader, BlobScan, BlobStore, BlobWriter, IdleBlob, ListedBlob, scan_by_read_at,
};
use crate::error::Result;

/// Blobs up to this size are read whole when opened.
const PREFETCH: usize = 64 * 1024;

/// Blob files under one directory.
#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: Arc<PathBuf>,
}

impl LocalBlobStore {
    /// Uses (and creates) `root` for blob files.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        private_dirs(&root)?;
        Ok(LocalBlobStore {
            root: Arc::new(root),
        })
    }

    fn path(&self, key: &BlobKey) -> PathBuf {
        self.root.join(&key.as_str()[..2]).join(key.as_str())
    }

    /// Starts writing a new blob under `key`, which must not exist yet: uploads get a
    /// random key through [`BlobStore::create`]; `davgate migrate` keeps the keys the
    /// database already holds.
    pub async fn create_as(&self, key: BlobKey) -> Result<Box<dyn BlobWriter>> {
        let path = self.path(&key);
        let file = blocking(move || {
            private_dirs(path.parent().expect("blob paths have a shard directory"))?;
            let file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?;
            file.try_lock().map_err(lock_error)?;
            Ok((file, path))
        })
        .await?;
        Ok(Box::new(LocalWriter::new(file.0, file.1, key)))
    }
}

/// Creates `dir` and any missing parents owner-only (0700), whatever the umask: blobs
/// are people's files. Directories that already exist keep the mode they have.
fn private_dirs(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn ready(&self) -> Result<()> {
        let meta = tokio::fs::metadata(&*self.root).await?;
        if meta.is_dir() {
            Ok(())
        } else {
            Err(std::io::Error::other("the blob directory is not a directory").into())
        }
    }

    async fn create(&self) -> Result<Box<dyn BlobWriter>> {
        self.create_as(BlobKey::random()).await
    }

    async fn open(&self, key: &BlobKey) -> Result<Box<dyn BlobReader>> {
        let path = self.path(key);
        // Small files (most of a sync) are read whole in the same trip to the blocking
        // pool as the open: one thread hop per GET instead of two.
        let (file, len, head) = blocking(move || {
            let file = File::open(&path)?;
            let len = file.metadata()?.len();
            let head = if len <= PREFETCH as u64 {
                Some(read_exact_at(&file, 0, len as usize)?)
            } else {
                None
            };
            Ok((file, len, head))
        })
        .await?;
        Ok(Box::new(LocalReader {
            file: Arc::new(file),
            len,
            head,
        }))
    }

    async fn delete(&self, key: &BlobKey) -> Result<()> {
        let path = self.path(key);
        blocking(move || remove_if_present(&path)).await
    }

    async fn idle(&self) -> Result<Vec<Box<dyn IdleBlob>>> {
        let root = self.root.clone();
        blocking(move || {
            let mut idle: Vec<Box<dyn IdleBlob>> = Vec::new();
            for (key, entry) in blob_files(&root)? {
                let Ok(file) = File::open(entry.path()) else {
                    continue;
                };
                if file.try_lock().is_ok() {
                    idle.push(Box::new(LocalIdle {
                        _file: file,
                        path: entry.path(),
                        key,
                    }));
                }
            }
            Ok(idle)
        })
        .await
    }

    async fn list(&self) -> Result<Vec<ListedBlob>> {
        let root = self.root.clone();
        blocking(move || Ok(list_files(&root)?)).await
    }
}

/// The time between a writer creating its file and locking it: a file younger than this
/// counts as in flight without trying its lock, so a listing never takes a lock a new
/// upload is about to take.
const FRESH: Duration = Duration::from_secs(60);

/// The blob files under `root`, each with its key; other names are passed over.
fn blob_files(root: &Path) -> io::Result<Vec<(BlobKey, std::fs::DirEntry)>> {
    let mut files = Vec::new();
    for shard in std::fs::read_dir(root)? {
        let shard = shard?;
        if !shard.file_type()?.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(shard.path())? {
            let entry = entry?;
            if let Some(key) = entry.file_name().to_str().and_then(BlobKey::parse) {
                files.push((key, entry));
            }
        }
    }
    Ok(files)
}

/// Lists the blob files under `root`; a file a writer holds (or just created) is in flight.
fn list_files(root: &Path) -> io::Result<Vec<ListedBlob>> {
    let mut listed = Vec::new();
    for (key, entry) in blob_files(root)? {
        let Ok(meta) = entry.metadata() else {
            continue; // deleted meanwhile
        };
        let fresh = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_none_or(|age| age < FRESH);
        let in_flight = fresh
            || match File::open(entry.path()) {
                // A shared lock is refused only while a writer holds its exclusive one.
                Ok(file) => file.try_lock_shared().is_err(),
                Err(_) => continue,
            };
        listed.push(ListedBlob {
            key,
            size: meta.len(),
            in_flight,
        });
    }
    Ok(listed)
}

struct LocalReader {
    file: Arc<File>,
    len: u64,
    /// The whole content of a small blob, read at open.
    head: Option<Bytes>,
}

#[async_trait]
impl BlobReader for LocalReader {
    fn len(&self) -> u64 {
        self.len
    }

    async fn read_at(&self, offset: u64, max: usize) -> Result<Bytes> {
        let want = max.min(self.len.saturating_sub(offset) as usize);
        if want == 0 {
            return Ok(Bytes::new());
        }
        if let Some(head) = &self.head {
            let start = offset as usize;
            return Ok(head.slice(start..start + want));
        }
        let file = self.file.clone();
        blocking(move || read_exact_at(&file, offset, want)).await
    }

    fn local_file(&self) -> Option<Arc<File>> {
        // A small blob was read whole at open; sending it needs no file.
        self.head.is_none().then(|| self.file.clone())
    }

    fn scan(self: Box<Self>, offset: u64) -> Box<dyn BlobScan> {
        if self.head.is_some() {
            return scan_by_read_at(self, offset);
        }
        // The file was opened for this reader alone, which the scan now owns.
        Box::new(DirectScan::new(self.file, self.len, offset))
    }
}

struct LocalIdle {
    _file: File,
    path: PathBuf,
    key: BlobKey,
}

#[async_trait]
impl IdleBlob for LocalIdle {
    fn key(&self) -> &BlobKey {
        &self.key
    }

    async fn delete(self: Box<Self>) -> Result<()> {
        remove_if_present(&self.path)
    }
}

/// Reads up to `want` bytes at `offset` (fewer only at the end of the file).
fn read_exact_at(file: &File, offset: u64, want: usize) -> Result<Bytes> {
    let mut buf = vec![0u8; want];
    let mut filled = 0;
    while filled < want {
        let n = file.read_at(&mut buf[filled..], offset + filled as u64)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buf.truncate(filled);
    Ok(Bytes::from(buf))
}

fn lock_error(err: TryLockError) -> io::Error {
    match err {
        TryLockError::Error(e) => e,
        TryLockError::WouldBlock => io::Error::other("a fresh blob file is locked by someone else"),
    }
}
