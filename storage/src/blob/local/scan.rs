//! Reading a whole local blob once, past the page cache ([`BlobReader::scan`]): for work
//! that hashes every byte (the MD5 read-back, `davgate check`) and must not pay for
//! caching what nobody reads again.
//!
//! A blob written past its first megabytes with direct I/O is on the disk and not in
//! memory, so a read through the page cache first fills the cache and then copies out of
//! it. Measured on a 1 GiB read-back, that copy alone cost a third as much CPU as the MD5
//! that needed the bytes (0.65 s per GiB). Direct reads land in the buffer by DMA. They
//! are synchronous and larger reads keep the disk busy, hence `CHUNK`. A file system that
//! refuses direct I/O is read through the page cache.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use async_trait::async_trait;
use rustix::io::Errno;

use super::staged::blocking;
use super::writer::{ALIGN, set_direct};
use crate::blob::contract::BlobScan;
use crate::error::Result;

/// Bytes per read: large enough that a direct read's latency is paid rarely.
const CHUNK: usize = 4 * 1024 * 1024;

/// Reads one local file from an offset to its end into one buffer of its own, aligned
/// for direct I/O; each read runs on the blocking pool.
pub(super) struct DirectScan {
    file: Arc<File>,
    direct: bool,
    /// Lent to the blocking pool during a read.
    memory: Option<Vec<u8>>,
    start: usize,
    /// Bytes per read, a multiple of `ALIGN`: `CHUNK`, or less for a smaller blob.
    chunk: usize,
    offset: u64,
    /// The part of the buffer the last read returned.
    filled: std::ops::Range<usize>,
}

impl DirectScan {
    /// Reads `file`, `len` bytes long, from `offset`; directly if its file system allows
    /// it. The file must not be shared with another reader: its open flags change.
    pub(super) fn new(file: Arc<File>, len: u64, offset: u64) -> Self {
        let direct = set_direct(&file, true).is_ok();
        // The rest, plus the unaligned start a direct read skips, rounded up.
        let rest = len.saturating_sub(offset).min(CHUNK as u64) as usize;
        let chunk = (rest + ALIGN).next_multiple_of(ALIGN).min(CHUNK);
        let memory = vec![0; chunk + ALIGN];
        // Within ALIGN - 1 at run time; were it not, direct reads fail over to cached ones.
        let start = memory.as_ptr().align_offset(ALIGN).min(ALIGN);
        DirectScan {
            file,
            direct,
            memory: Some(memory),
            start,
            chunk,
            offset,
            filled: 0..0,
        }
    }
}

#[async_trait]
impl BlobScan for DirectScan {
    async fn next_chunk(&mut self) -> Result<&[u8]> {
        let Some(memory) = self.memory.take() else {
            return Err(io::Error::other("an earlier read of this blob failed").into());
        };
        let (file, direct, start, chunk, offset) = (
            self.file.clone(),
            self.direct,
            self.start,
            self.chunk,
            self.offset,
        );
        let (memory, direct, filled) = blocking(move || {
            let mut memory = memory;
            let (direct, filled) =
                read_chunk(&file, direct, &mut memory[start..start + chunk], offset)?;
            Ok((memory, direct, filled))
        })
        .await?;
        self.direct = direct;
        self.offset += filled.len() as u64;
        self.filled = start + filled.start..start + filled.end;
        Ok(&self.memory.insert(memory)[self.filled.clone()])
    }
}

/// Reads up to `buffer.len()` bytes from `offset` on; returns whether reads stay direct,
/// and which part of `buffer` holds the bytes from `offset` (empty at the end).
fn read_chunk(
    file: &File,
    mut direct: bool,
    buffer: &mut [u8],
    offset: u64,
) -> io::Result<(bool, std::ops::Range<usize>)> {
    loop {
        // Direct reads start on an aligned offset; the bytes before `offset` are skipped.
        let skip = if direct {
            (offset % ALIGN as u64) as usize
        } else {
            0
        };
        match file.read_at(buffer, offset - skip as u64) {
            Ok(read) => return Ok((direct, skip.min(read)..read)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // Alignment the file system wants beyond ours: read through the cache.
            Err(e) if direct && Errno::from_io_error(&e) == Some(Errno::INVAL) => {
                set_direct(file, false)?;
                direct = false;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every offset, aligned or not, reads the same bytes as the file holds, to its end.
    #[tokio::test]
    async fn reads_from_any_offset_to_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let data: Vec<u8> = (0..CHUNK + 3 * ALIGN + 123)
            .map(|i| (i * 31 % 253) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        for from in [
            0,
            1,
            ALIGN - 1,
            ALIGN,
            CHUNK + 5,
            data.len() - 1,
            data.len(),
        ] {
            let file = Arc::new(File::open(&path).unwrap());
            let mut scan = DirectScan::new(file, data.len() as u64, from as u64);
            let mut seen = Vec::new();
            loop {
                let chunk = scan.next_chunk().await.unwrap();
                if chunk.is_empty() {
                    break;
                }
                seen.extend_from_slice(chunk);
            }
            assert_eq!(seen, data[from..], "from {from}");
        }
    }
}
