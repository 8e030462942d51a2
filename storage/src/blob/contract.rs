//! What a blob store is: the key that names a blob and the traits a backend implements
//! (store, writer, staged blob, reader, idle blob). A leaf under the backends and the
//! digesting writer, which all implement or wrap these.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::Result;

/// The name of a blob: 128 random bits in hex, never derived from user input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobKey(String);

impl BlobKey {
    /// A fresh random key.
    pub fn random() -> Self {
        let bits: u128 = rand::random();
        BlobKey(format!("{bits:032x}"))
    }

    /// A fresh key that sorts after those made in earlier milliseconds: the time in
    /// milliseconds (48 bits) and 80 random bits, in hex. For blobs kept in the
    /// database, where three indexes are ordered by key: random keys made every upload
    /// write a page of each somewhere in the middle, while keys in order add to the
    /// last pages, which the uploads committed together share. Keys of the blob
    /// store's files stay random: their first characters pick the folder.
    pub fn time_ordered() -> Self {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
            & ((1 << 48) - 1);
        let random: u128 = rand::random::<u128>() >> 48;
        BlobKey(format!("{ms:012x}{random:020x}"))
    }

    /// Accepts a key read back from the database or a directory listing.
    pub fn parse(s: &str) -> Option<Self> {
        Self::well_formed(s).then(|| BlobKey(s.to_owned()))
    }

    /// [`Self::parse`] keeping the string it is given: a listing reads thousands of keys.
    pub fn parse_owned(s: String) -> Option<Self> {
        Self::well_formed(&s).then_some(BlobKey(s))
    }

    fn well_formed(s: &str) -> bool {
        s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where blob bytes live.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Starts writing a new blob under a fresh key.
    async fn create(&self) -> Result<Box<dyn BlobWriter>>;
    /// Opens a committed blob for reading.
    async fn open(&self, key: &BlobKey) -> Result<Box<dyn BlobReader>>;
    /// Opens a committed blob whose size the caller read with its row (a GET): a store
    /// that keeps blobs in two places by size looks first where one of `size` goes.
    async fn open_sized(&self, key: &BlobKey, size: u64) -> Result<Box<dyn BlobReader>> {
        let _ = size;
        self.open(key).await
    }
    /// Deletes a blob no node references any more; a missing blob is not an error.
    async fn delete(&self, key: &BlobKey) -> Result<()>;
    /// Blobs no writer is working on right now: the candidates for garbage collection.
    /// Each holds the blob so that no writer can claim it while the caller decides.
    async fn idle(&self) -> Result<Vec<Box<dyn IdleBlob>>>;
    /// Aborts uploads that stopped half-way without their writer's cleanup (a process
    /// killed mid-upload) and are old enough that no writer can still be at work on them;
    /// returns how many. Only S3 has such uploads (incomplete multipart uploads): a
    /// local half-written file is an idle blob like any other.
    async fn abort_stale_uploads(&self) -> Result<usize> {
        Ok(0)
    }
    /// Whether the store can be reached now (for a readiness probe); cheap.
    async fn ready(&self) -> Result<()>;
    /// Every blob object in the store with its size, for a consistency check. Read-only:
    /// unlike [`BlobStore::idle`] it holds nothing, so a writer is never disturbed.
    async fn list(&self) -> Result<Vec<ListedBlob>>;
}

/// A blob object as the store lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedBlob {
    /// The blob's key.
    pub key: BlobKey,
    /// Its size in bytes as stored.
    pub size: u64,
    /// Whether a writer may still be working on it (a held file, or an object younger
    /// than the garbage-collection grace): unreferenced is then not yet an orphan.
    pub in_flight: bool,
}

/// A blob being written. Dropping it before [`BlobWriter::finish`] deletes the bytes.
#[async_trait]
pub trait BlobWriter: Send + Sync {
    /// Appends bytes.
    async fn write(&mut self, data: Bytes) -> Result<()>;
    /// Bytes written so far.
    fn written(&self) -> u64;
    /// Makes the bytes durable. The blob stays unreferenced until committed.
    async fn finish(self: Box<Self>) -> Result<Box<dyn StagedBlob>>;
}

/// A durable blob waiting for its commit. Dropping it deletes the bytes;
/// [`StagedBlob::committed`] keeps them.
pub trait StagedBlob: Send + Sync {
    /// The blob's key.
    fn key(&self) -> &BlobKey;
    /// Its size in bytes.
    fn size(&self) -> u64;
    /// Digests of its content, when they were computed while it was written.
    fn digests(&self) -> Option<&Digests> {
        None
    }
    /// The bytes themselves, for a blob small enough to be kept in the database: the
    /// commit that references it must write them (`blob_data`). `None` for a blob the
    /// store holds.
    fn inline(&self) -> Option<&[u8]> {
        None
    }
    /// The database now references the blob: keep it.
    fn committed(self: Box<Self>);
}

/// A committed blob opened for reading.
#[async_trait]
pub trait BlobReader: Send + Sync {
    /// The blob's size in bytes.
    fn len(&self) -> u64;
    /// True for an empty blob.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Reads up to `max` bytes at `offset`; an empty result means end of blob.
    async fn read_at(&self, offset: u64, max: usize) -> Result<Bytes>;
    /// The local file holding the whole blob, for a server that can send straight from
    /// it (sendfile); `None` when reading through [`Self::read_at`] is the only way.
    /// The file is never written again while a reader holds it.
    fn local_file(&self) -> Option<Arc<std::fs::File>> {
        None
    }
    /// Reads the blob once from `offset` to its end, for work that needs every byte
    /// (hashing). By default in [`Self::read_at`]'s chunks; a store can do better (a
    /// local blob is read past the page cache into one buffer).
    fn scan(self: Box<Self>, offset: u64) -> Box<dyn BlobScan>
    where
        Self: 'static,
    {
        scan_by_read_at(self, offset)
    }
}

/// The default [`BlobReader::scan`], for a store that overrides it only for some blobs.
pub(crate) fn scan_by_read_at<R: BlobReader + ?Sized + 'static>(
    reader: Box<R>,
    offset: u64,
) -> Box<dyn BlobScan> {
    Box::new(ReadAtScan {
        reader,
        offset,
        chunk: Bytes::new(),
    })
}

/// A blob read once, in order: [`BlobReader::scan`].
#[async_trait]
pub trait BlobScan: Send {
    /// The next bytes; empty at the end of the blob.
    async fn next_chunk(&mut self) -> Result<&[u8]>;
}

/// Bytes a default scan asks `read_at` for at a time.
const SCAN_CHUNK: usize = 1024 * 1024;

/// A scan through `read_at`.
struct ReadAtScan<R: ?Sized> {
    reader: Box<R>,
    offset: u64,
    chunk: Bytes,
}

#[async_trait]
impl<R: BlobReader + ?Sized> BlobScan for ReadAtScan<R> {
    async fn next_chunk(&mut self) -> Result<&[u8]> {
        self.chunk = self.reader.read_at(self.offset, SCAN_CHUNK).await?;
        self.offset += self.chunk.len() as u64;
        Ok(&self.chunk)
    }
}

/// A blob held for a garbage-collection decision.
#[async_trait]
pub trait IdleBlob: Send {
    /// The blob's key.
    fn key(&self) -> &BlobKey;
    /// Deletes the blob.
    async fn delete(self: Box<Self>) -> Result<()>;
}

/// Hex digests of a blob's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// MD5, lowercase hex; `None` for a blob stored before uploads computed it while
    /// streaming, until upkeep fills it in.
    pub md5: Option<String>,
    /// SHA-1, lowercase hex.
    pub sha1: String,
}

impl Digests {
    /// Whether `claim` ("SHA1:hex" or "MD5:hex", as in ownCloud's `OC-Checksum`)
    /// matches; `None` when it names an algorithm not computed here.
    pub fn verify(&self, claim: &str) -> Option<bool> {
        let (algorithm, hex) = claim.trim().split_once(':')?;
        let ours = match algorithm.to_ascii_uppercase().as_str() {
            "SHA1" => &self.sha1,
            "MD5" => self.md5.as_ref()?,
            _ => return None,
        };
        Some(ours.eq_ignore_ascii_case(hex.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::BlobKey;

    #[test]
    fn a_key_is_32_lowercase_hex_digits_borrowed_or_owned() {
        let good = "0123456789abcdef0123456789abcdef";
        for bad in [
            "",
            "0123456789abcdef0123456789abcde",
            "0123456789ABCDEF0123456789ABCDEF",
            "0123456789abcdef0123456789abcdeg",
            "../3456789abcdef0123456789abcdef",
        ] {
            assert_eq!(BlobKey::parse(bad), None, "{bad}");
            assert_eq!(BlobKey::parse_owned(bad.to_owned()), None, "{bad}");
        }
        assert_eq!(BlobKey::parse(good).unwrap().as_str(), good);
        assert_eq!(BlobKey::parse_owned(good.to_owned()), BlobKey::parse(good));
    }

    #[test]
    fn time_ordered_keys_are_keys_and_sort_by_their_millisecond() {
        let first = BlobKey::time_ordered();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = BlobKey::time_ordered();
        for key in [&first, &second] {
            assert_eq!(BlobKey::parse(key.as_str()).as_ref(), Some(key));
        }
        assert!(first.as_str() < second.as_str(), "{first:?} {second:?}");
        // Made in the same millisecond, two keys still differ by their random part.
        assert_ne!(BlobKey::time_ordered(), BlobKey::time_ordered());
    }
}
