//! The one error trait. Every room's error says its status, the RFC precondition where
//! there is one, and the sentence a person reads; [`HttpError::into_response`] is the
//! only code that turns an error into HTTP. The storage crate's errors get their status
//! and words here, once, for every room.

use davgate_storage::StorageError;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

use crate::proto::precondition::Precondition;
use crate::proto::response::error_body;
use crate::response::{self, Body};
use crate::units::ByteSize;

/// An error a client is answered with.
pub trait HttpError {
    /// The HTTP status.
    fn status(&self) -> StatusCode;

    /// What happened and what to do next, for the person behind the client. Never a
    /// credential, never internal detail.
    fn message(&self) -> String;

    /// The RFC precondition that failed, written as a WebDAV error body.
    fn precondition(&self) -> Option<Precondition> {
        None
    }

    /// Headers the answer needs (`WWW-Authenticate`, `Retry-After`, `Allow`, …).
    fn add_headers(&self, _headers: &mut HeaderMap) {}

    /// Detail for the server log, for failures the client cannot act on.
    fn log_detail(&self) -> Option<String> {
        None
    }

    /// The answer.
    fn into_response(self) -> Response<Body>
    where
        Self: Sized,
    {
        respond(&self)
    }
}

/// Turns any room's error into its answer.
pub fn respond(error: &dyn HttpError) -> Response<Body> {
    let status = error.status();
    if let Some(detail) = error.log_detail() {
        tracing::error!(%status, error = %detail, "request failed");
    }
    let mut resp = match error.precondition() {
        Some(precondition) => {
            let mut resp = Response::new(response::full(error_body(
                &precondition,
                Some(&error.message()),
            )));
            *resp.status_mut() = status;
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml; charset=utf-8"),
            );
            resp
        }
        None => response::text(status, error.message()),
    };
    error.add_headers(resp.headers_mut());
    resp
}

/// The one table from storage outcomes to answers.
impl HttpError for StorageError {
    fn status(&self) -> StatusCode {
        match self {
            StorageError::NotFound => StatusCode::NOT_FOUND,
            StorageError::Conflict(_) | StorageError::UidConflict { .. } => StatusCode::CONFLICT,
            StorageError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            StorageError::Invalid(_) => StatusCode::FORBIDDEN,
            StorageError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            // RFC 4331 §6: a quota overrun is 507, and so is a disk with no room left.
            StorageError::QuotaExceeded(_) => StatusCode::INSUFFICIENT_STORAGE,
            e if e.is_out_of_space() => StatusCode::INSUFFICIENT_STORAGE,
            StorageError::Backend(_) | StorageError::Io(_) | StorageError::Migrate(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn message(&self) -> String {
        match self {
            StorageError::NotFound => {
                "there is nothing at this path: list the folder or collection to see what it holds"
                    .into()
            }
            StorageError::Conflict(what) => format!("{what}; choose another name, or retry"),
            StorageError::UidConflict { name } => {
                format!("the UID is already used by {name}: update that resource instead")
            }
            StorageError::PreconditionFailed => {
                "the resource changed (If-Match) or exists (If-None-Match): fetch it again, \
                 then retry"
                    .into()
            }
            StorageError::Invalid(why) => format!("request refused: {why}"),
            StorageError::TooLarge { limit } => format!(
                "upload refused: the file is larger than the upload limit of {} ({limit} bytes). \
                 Ask the administrator to raise it with `davgate user set-upload-limit`",
                ByteSize(*limit)
            ),
            StorageError::QuotaExceeded(o) => format!(
                "refused: the storage quota of {} ({} bytes) would be exceeded; {} are in use \
                 and this change needs {} more, so nothing was changed. Free space (empty the \
                 trash at /trash/) or ask for a larger quota",
                ByteSize(o.quota),
                o.quota,
                ByteSize(o.used),
                ByteSize(o.needed)
            ),
            e if e.is_out_of_space() => {
                "the server is out of storage space, so nothing was changed; retry later, and \
                 tell the administrator"
                    .into()
            }
            StorageError::Backend(_) | StorageError::Io(_) | StorageError::Migrate(_) => {
                "the server failed; nothing was changed, retry later".into()
            }
        }
    }

    fn add_headers(&self, headers: &mut HeaderMap) {
        if matches!(
            self,
            StorageError::TooLarge { .. } | StorageError::QuotaExceeded(_)
        ) || self.is_out_of_space()
        {
            // The rest of an upload's body is only drained, bounded; the connection ends.
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
    }

    fn log_detail(&self) -> Option<String> {
        matches!(
            self,
            StorageError::Backend(_) | StorageError::Io(_) | StorageError::Migrate(_)
        )
        .then(|| self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use davgate_storage::QuotaOverrun;

    use super::*;

    #[test]
    fn every_storage_error_has_one_status() {
        let full = std::io::Error::from_raw_os_error(libc::ENOSPC);
        let table = [
            (StorageError::NotFound, 404),
            (StorageError::Conflict("the name is taken"), 409),
            (
                StorageError::UidConflict {
                    name: "a.ics".into(),
                },
                409,
            ),
            (StorageError::PreconditionFailed, 412),
            (StorageError::Invalid("bad name".into()), 403),
            (StorageError::TooLarge { limit: 10 }, 413),
            (
                StorageError::QuotaExceeded(QuotaOverrun {
                    quota: 10,
                    used: 5,
                    needed: 6,
                }),
                507,
            ),
            (StorageError::Io(full), 507),
            (StorageError::Io(std::io::Error::other("broken")), 500),
            (StorageError::Backend(sqlx::Error::PoolTimedOut), 500),
        ];
        for (error, status) in table {
            let resp = respond(&error);
            assert_eq!(resp.status().as_u16(), status, "{error:?}");
            let message = error.message();
            assert!(!message.is_empty(), "{error:?} says nothing");
            assert!(
                !message.contains("broken") && !message.contains("pool"),
                "internal detail reached the client: {message}"
            );
        }
    }
}
