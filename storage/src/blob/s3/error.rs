//! Object store failures as the blob layer's errors. A leaf below `s3`, its reader and
//! its writer.

use crate::error::StorageError;

/// An object store failure as the blob layer's I/O error (a missing object stays
/// `NotFound`, as a missing file does locally).
pub(super) fn io_error(e: object_store::Error) -> StorageError {
    let kind = match e {
        object_store::Error::NotFound { .. } => std::io::ErrorKind::NotFound,
        _ => std::io::ErrorKind::Other,
    };
    StorageError::Io(std::io::Error::new(kind, format!("S3: {e}")))
}
