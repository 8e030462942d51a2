//! Everything a CalDAV/CardDAV request can fail with; `crate::error` turns it into a
//! response like every other room's error.

use davgate_storage::StorageError;
use http::{HeaderMap, StatusCode};

use crate::error::HttpError;
use crate::proto::precondition::Precondition;
use crate::proto::{InvalidDepth, XmlError};

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
}

impl HttpError for DavError {
    fn status(&self) -> StatusCode {
        match self {
            DavError::Xml(e) => e.precondition().map_or(StatusCode::BAD_REQUEST, |p| {
                StatusCode::from_u16(p.status().code()).unwrap_or(StatusCode::FORBIDDEN)
            }),
            DavError::Condition { status, .. } | DavError::Status(status, _) => *status,
            DavError::Storage(e) => e.status(),
        }
    }

    fn message(&self) -> String {
        match self {
            DavError::Xml(e) => e.to_string(),
            DavError::Condition { hint, .. } => hint.clone(),
            DavError::Status(_, message) => message.clone(),
            DavError::Storage(e) => e.message(),
        }
    }

    fn precondition(&self) -> Option<Precondition> {
        match self {
            DavError::Xml(e) => e.precondition(),
            DavError::Condition { precondition, .. } => Some(precondition.clone()),
            DavError::Status(..) | DavError::Storage(_) => None,
        }
    }

    fn add_headers(&self, headers: &mut HeaderMap) {
        if let DavError::Storage(e) = self {
            e.add_headers(headers);
        }
    }

    fn log_detail(&self) -> Option<String> {
        match self {
            DavError::Storage(e) => e.log_detail(),
            _ => None,
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
