//! davgate's storage: the only code that touches SQL or blob bytes.
//!
//! [`Store`] bundles the metadata database (SQLite by default, PostgreSQL to scale out;
//! see [`db`]) with a [`blob::BlobStore`]. It owns the data model: accounts and their
//! quota, the file tree with its trash, dead properties, WebDAV locks, portal sessions and reminder rows
//! ([`migrate`] copies all of it from one installation into another). Protocol code
//! above it never sees SQL, a blob path or a transaction: every operation here is one
//! atomic step that either happened or did not.
//!
//! Invariants kept here:
//! - a blob is visible only once a committed transaction references it, and a replaced
//!   or purged blob is deleted once nothing references it;
//! - an account's `used_bytes` is the sum of its files, live and trashed, and a write
//!   that would pass its quota is refused inside the same transaction;
//! - a rename or move is one row update; a node's name is unique in its folder after
//!   Unicode NFC normalisation.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod accounts;
mod audit;
mod auth_checks;
mod auth_failures;
pub mod blob;
mod check;
mod credentials;
pub mod db;
mod email;
mod error;
mod gc;
mod groupware;
mod ids;
mod jobs;
mod locks;
mod md5_fill;
#[cfg(test)]
mod md5_resume_tests;
pub mod migrate;
mod model;
mod names;
mod props;
mod reminder_rate;
mod reminders;
mod sessions;
mod store;
mod tree;
#[cfg(test)]
mod upload_batch_tests;

pub use accounts::{Account, TotpState};
pub use audit::{AuditEntry, AuditEvent, AuditSource};
pub use auth_checks::{AccountTurn, CheckEnd, Reservation};
pub use auth_failures::{ScoreRules, SharedScore, SharedScores};
pub use blob::{BlobKey, BlobStore, Digests, LocalBlobStore, S3BlobStore, S3Config};
pub use check::{BlobProblem, CheckReport};
pub use credentials::{AppPassword, LastUse, NewAppPassword, UseRecord};
pub use db::{Backend, QueryCount, SqliteSynchronous, now_ms};
pub use error::{QuotaOverrun, Result, StorageError};
pub use gc::GarbageReport;
pub use groupware::{
    Change, Changes, Collection, CollectionChange, CollectionId, CollectionKind, DavObject,
    NewCollection, NewObject, ObjectMeta, Precondition, Share, Written,
};
pub use ids::{AccountId, NodeId};
pub use jobs::{Job, JobLease};
pub use locks::LockRecord;
pub use md5_fill::StreamingTransfer;
pub use names::{name_key, validate_name};
pub use props::{DeadProp, PropChange};
pub use reminder_rate::RateLimit;
pub use reminders::{
    ClaimRound, ClaimedAlarm, DeliveryRecord, Destination, DestinationKind, EMAIL_DESTINATION,
    NewDueAlarm, ObjectAlarms, Outcome, WebhookFormat,
};
pub use sessions::{NewSession, PortalSession, SessionLimits, SessionStage};
pub use store::{BlobStoreConfig, DEFAULT_INLINE_BLOB_MAX, Store, StoreConfig};
pub use tree::{
    ChildDigests, CopyDepth, CreateMode, FOLDER_AT_NAME, FileWritten, Location, MAX_DEPTH, NameWas,
    NewContent, Node, NodeKind, Overwrite, Placed, Target, TreeRoot, Uploaded,
};
