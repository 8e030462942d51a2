//! Blob stores: immutable byte objects, written once by streaming and read by range.
//!
//! A blob is invisible until a database transaction references it (`blobs` table plus a
//! node pointing at it). Writers stage the bytes, make them durable, and hand a
//! [`StagedBlob`] to the commit; dropping either a writer or a staged blob deletes the
//! bytes, so an aborted or refused upload leaves nothing behind. Whatever a crash leaves
//! is found by [`crate::Store::collect_garbage`]. Small blobs skip the store: they are
//! kept in the database, written by the commit that references them (`inline`).

mod contract;
mod counted;
mod digest;
mod hand_off;
mod inline;
mod local;
mod md5;
mod s3;

pub use contract::{
    BlobKey, BlobReader, BlobScan, BlobStore, BlobWriter, Digests, IdleBlob, ListedBlob, StagedBlob,
};
pub(crate) use counted::CountedBlobStore;
pub(crate) use digest::{DigestingWriter, Md5Prefix, Md5Resume, Md5Resumer};
pub use digest::{Md5Pace, Md5Stream};
pub(crate) use inline::InlineBlobStore;
pub use local::LocalBlobStore;
pub(crate) use md5::Md5;
pub use s3::{MIN_PART_SIZE, S3BlobStore, S3Config};
