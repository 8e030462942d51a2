//! Storage outcomes in dav-server's terms, and the refusals a user is told about.
//!
//! dav-server answers an `FsError` with a bare status; what the status alone cannot say
//! (which limit, how big) is recorded as a [`Refusal`] and written into the response
//! body by [`super::respond`].

use dav_server::fs::FsError;
use davgate_storage::{QuotaOverrun, StorageError};
use http::StatusCode;

use crate::units::ByteSize;

/// Why a request was refused, in words for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The upload passed the per-file size limit.
    UploadTooLarge { limit: u64 },
    /// The upload would pass the account's quota.
    QuotaExceeded(QuotaOverrun),
    /// The body was shorter than the length the client announced.
    ShortBody { expected: u64, received: u64 },
    /// The content does not match the checksum the client sent with it.
    ChecksumMismatch { claim: String },
    /// The store refused the change for a reason the client can act on.
    Invalid(String),
}

impl Refusal {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Refusal::UploadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::QuotaExceeded(_) => StatusCode::INSUFFICIENT_STORAGE,
            Refusal::ShortBody { .. } | Refusal::ChecksumMismatch { .. } => StatusCode::BAD_REQUEST,
            Refusal::Invalid(_) => StatusCode::FORBIDDEN,
        }
    }

    pub(crate) fn message(&self) -> String {
        match self {
            Refusal::UploadTooLarge { limit } => format!(
                "upload refused: the file is larger than the upload limit of {} ({limit} bytes). \
                 Ask the administrator to raise it with `davgate user set-upload-limit`.\n",
                ByteSize(*limit)
            ),
            Refusal::QuotaExceeded(o) => format!(
                "upload refused: the storage quota of {} ({} bytes) would be exceeded; \
                 {} are in use and the upload needs {} more. Free space (empty the trash at \
                 /trash/) or ask for a larger quota.\n",
                ByteSize(o.quota),
                o.quota,
                ByteSize(o.used),
                ByteSize(o.needed)
            ),
            Refusal::ShortBody { expected, received } => format!(
                "upload refused: the body ended after {received} of the {expected} bytes \
                 announced; nothing was stored, send the file again.\n"
            ),
            Refusal::ChecksumMismatch { claim } => format!(
                "upload refused: the content does not match the checksum sent with it ({claim}); \
                 it was damaged on the way and nothing was stored, send the file again.\n"
            ),
            Refusal::Invalid(reason) => format!("request refused: {reason}.\n"),
        }
    }
}

/// Maps a storage error to dav-server's vocabulary, and says whether the user needs
/// to be told more than the status.
pub(crate) fn fs_error(err: StorageError) -> (FsError, Option<Refusal>) {
    match err {
        StorageError::NotFound => (FsError::NotFound, None),
        // The groupware-only outcomes never come from file operations; Exists is what
        // dav-server turns into 412 / 405 should they ever.
        StorageError::Conflict(_)
        | StorageError::UidConflict { .. }
        | StorageError::PreconditionFailed => (FsError::Exists, None),
        StorageError::Invalid(reason) => (FsError::Forbidden, Some(Refusal::Invalid(reason))),
        StorageError::QuotaExceeded(o) => (
            FsError::InsufficientStorage,
            Some(Refusal::QuotaExceeded(o)),
        ),
        StorageError::TooLarge { limit } => {
            (FsError::TooLarge, Some(Refusal::UploadTooLarge { limit }))
        }
        err @ (StorageError::Backend(_) | StorageError::Io(_) | StorageError::Migrate(_)) => {
            tracing::error!(error = %err, "storage failure");
            (FsError::GeneralFailure, None)
        }
    }
}
