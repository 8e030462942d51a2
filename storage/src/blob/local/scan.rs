//! Reading a whole local blob once, past the page cache: for background work (the MD5
//! read-back) that must not pay for caching what nobody reads again.
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

use rustix::io::Errno;

use super::writer::{ALIGN, set_direct};

/// Bytes per read: large enough that a direct read's latency is paid rarely.
const CHUNK: usize = 4 * 1024 * 1024;

/// Reads one local file chunk by chunk into a buffer of its own, aligned for direct I/O.
pub(crate) struct DirectScan {
    file: Arc<File>,
    direct: bool,
    memory: Vec<u8>,
    start: usize,
}

impl DirectScan {
    /// Reads `file`, directly if its file system allows it. The file must not be shared
    /// with another reader: its open flags change.
    pub(crate) fn new(file: Arc<File>) -> Self {
        let direct = set_direct(&file, true).is_ok();
        let memory = vec![0; CHUNK + ALIGN];
        // Within ALIGN - 1 at run time; were it not, direct reads fail over to cached ones.
        let start = memory.as_ptr().align_offset(ALIGN).min(ALIGN);
        DirectScan {
            file,
            direct,
            memory,
            start,
        }
    }

    /// Up to a chunk of bytes from `offset` on; empty at the end of the file.
    pub(crate) fn read_at(&mut self, offset: u64) -> io::Result<&[u8]> {
        loop {
            // Direct reads start on an aligned offset; the bytes before `offset` are skipped.
            let skip = if self.direct {
                (offset % ALIGN as u64) as usize
            } else {
                0
            };
            let buffer = &mut self.memory[self.start..self.start + CHUNK];
            match self.file.read_at(buffer, offset - skip as u64) {
                Ok(read) => {
                    let filled = &self.memory[self.start..self.start + read];
                    return Ok(&filled[skip.min(read)..]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Alignment the file system wants beyond ours: read through the cache.
                Err(e) if self.direct && Errno::from_io_error(&e) == Some(Errno::INVAL) => {
                    set_direct(&self.file, false)?;
                    self.direct = false;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every offset, aligned or not, reads the same bytes as the file holds, to its end.
    #[test]
    fn reads_from_any_offset_to_the_end() {
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
            let mut scan = DirectScan::new(Arc::new(File::open(&path).unwrap()));
            let mut seen = Vec::new();
            let mut offset = from as u64;
            loop {
                let chunk = scan.read_at(offset).unwrap();
                if chunk.is_empty() {
                    break;
                }
                offset += chunk.len() as u64;
                seen.extend_from_slice(chunk);
            }
            assert_eq!(seen, data[from..], "from {from}");
        }
    }
}
