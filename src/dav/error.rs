//! Everything a CalDAV/CardDAV request can fail with, turned into a response in one place.

use davgate_storage::StorageError;
use http::{HeaderValue, Response, StatusCode, header};

use crate::proto::precondition::Precondition;
use crate::proto::response::error_body;
use crate::proto::{InvalidDepth, XmlError};
use crate::response::{self, Body};

/// Why a request failed.
#[derive(Debug)]
pub enum DavError {
    /// The request body could not be used.
    Xml(XmlError),
    /// An RFC precondition failed; the body names it, with a hint for the user.
    Condition {
        /// The HTTP status.
        status: StatusCode,
        /// The failed precondition.
        precondition: Precondition,
        /// What to do about it, in words.
        hint: String,
    },
    /// A plain status with a message.
    Status(StatusCode, String),
    /// The store failed.
    Storage(StorageError),
}

impl DavError {
    /// A failed precondition with the status the RFCs suggest for it.
    pub fn condition(precondition: Precondition, hint: impl Into<String>) -> Self {
        let status =
            StatusCode::from_u16(precondition.status().code()).unwrap_or(StatusCode::FORBIDDEN);
        DavError::Condition {
            status,
            precondition,
            hint: hint.into(),
        }
    }

    /// 404 with a message.
    pub fn not_found(what: impl Into<String>) -> Self {
        DavError::Status(StatusCode::NOT_FOUND, what.into())
    }

    /// 404 for a calendar object or vCard that is not there.
    pub fn no_object() -> Self {
        Self::not_found(
            "there is no such calendar object or contact: sync the collection (or PROPFIND it with Depth 1) to see what it holds",
        )
    }

    /// 403 with a message.
    pub fn forbidden(why: impl Into<String>) -> Self {
        DavError::Status(StatusCode::FORBIDDEN, why.into())
    }

    /// The one place a failure becomes a response.
    pub fn into_response(self) -> Response<Body> {
        match self {
            DavError::Xml(e) => match e.precondition() {
                Some(precondition) => {
                    DavError::condition(precondition, e.to_string()).into_response()
                }
                None => response::text(StatusCode::BAD_REQUEST, e.to_string()),
            },
            DavError::Condition {
                status,
                precondition,
                hint,
            } => {
                let mut resp =
                    Response::new(response::full(error_body(&precondition, Some(&hint))));
                *resp.status_mut() = status;
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/xml; charset=utf-8"),
                );
                resp
            }
            DavError::Status(status, message) => response::text(status, message),
            DavError::Storage(e) => match e {
                StorageError::NotFound => {
                    response::text(StatusCode::NOT_FOUND, "there is nothing at this path")
                }
                StorageError::PreconditionFailed => response::text(
                    StatusCode::PRECONDITION_FAILED,
                    "the resource changed (If-Match) or exists (If-None-Match): fetch it again, then retry",
                ),
                StorageError::Conflict(what) => {
                    response::text(StatusCode::CONFLICT, format!("{what}; choose another name"))
                }
                StorageError::Invalid(why) => response::text(StatusCode::BAD_REQUEST, why),
                e => {
                    tracing::error!(error = %e, "storage failure");
                    response::text(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the server failed; nothing was changed, retry later",
                    )
                }
            },
        }
    }
}

impl From<XmlError> for DavError {
    fn from(e: XmlError) -> Self {
        DavError::Xml(e)
    }
}

impl From<StorageError> for DavError {
    fn from(e: StorageError) -> Self {
        DavError::Storage(e)
    }
}

impl From<InvalidDepth> for DavError {
    fn from(invalid: InvalidDepth) -> Self {
        DavError::Status(StatusCode::BAD_REQUEST, invalid.to_string())
    }
}

/// Result alias for the handlers.
pub type DavResult<T> = Result<T, DavError>;
