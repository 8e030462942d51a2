//! Everything a file request can fail with, as one type that `crate::error` answers:
//! each verb returns `Result<Response, FilesError>`, and a storage error keeps the
//! status and words `crate::error` gives it once for every room.

use davgate_storage::{StorageError, TreeRoot};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::error::HttpError;
use crate::proto::precondition::Precondition;
use crate::proto::{InvalidDepth, XmlError};

/// The status an access log line shows for a request whose client went away before
/// sending its body (nginx's 499): no client ever reads it.
// 499 is in the range `StatusCode` accepts, so the conversion cannot fail.
const CLIENT_CLOSED_REQUEST: StatusCode = match StatusCode::from_u16(499) {
    Ok(status) => status,
    Err(_) => StatusCode::BAD_REQUEST,
};

/// Why a file request was refused.
#[derive(Debug)]
pub(crate) enum FilesError {
    /// The store refused or failed; its status and words are given once, in `crate::error`.
    Storage(StorageError),
    /// The body was shorter than the length the client announced.
    ShortBody { expected: u64, received: u64 },
    /// The body went on past the length the client announced.
    LongBody { expected: u64 },
    /// The content does not match the checksum the client sent with it.
    ChecksumMismatch { claim: String },
    /// A method the trash does not answer.
    TrashReadOnly,
    /// PROPFIND with `Depth: infinity`.
    InfiniteDepth,
    /// A `Depth` other than `0`, `1` or `infinity`.
    InvalidDepth(InvalidDepth),
    /// PUT with `Content-Range`.
    PartialPut,
    /// An XML body over the limit.
    XmlTooLarge { limit: usize },
    /// The body could not be read to its end.
    BodyFailed(BodyFailure),
    /// A COPY or MOVE from the files into the trash.
    IntoTrash,
    /// A status whose standard meaning says it all, explained.
    Status(StatusCode),
    /// A method the tree does not answer.
    MethodNotAllowed(TreeRoot),
    /// MKCOL of a name already taken, or PUT onto a folder: 405, whose `Allow` says what
    /// the resource there takes (RFC 9110 §15.5.6).
    Taken(Occupant),
    /// A `Range` no part of which lies in the file of this length.
    RangeNotSatisfiable { len: u64 },
    /// Nothing at the request path.
    NotFound,
    /// `If`, `If-Match` or `If-None-Match` does not hold.
    ConditionFailed,
    /// A write without the token of the lock rooted at these decoded hrefs.
    Locked { roots: Vec<String> },
    /// A LOCK refused because of the lock rooted at these decoded hrefs.
    LockConflict { roots: Vec<String> },
    /// A well-formed XML body that is not the request the method takes.
    Xml(XmlError),
    /// LOCK with `Depth: 1`.
    LockDepth,
    /// A LOCK or write on an unmapped URL whose folder does not exist.
    NoParent,
    /// A lock refresh naming no lock token, or several.
    RefreshNeedsOneToken,
    /// UNLOCK without a `Lock-Token` header.
    UnlockNeedsToken,
    /// DELETE with `Depth: 1`.
    DeleteDepth,
    /// DELETE of a tree's root.
    DeleteRoot,
    /// No lock with the submitted token covers the resource: 412 for a refresh, 409
    /// for an UNLOCK.
    NoSuchLock(StatusCode),
}

/// What already stands at a path a MKCOL or PUT wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occupant {
    Folder,
    File,
}

impl Occupant {
    /// The methods a resource of this kind takes.
    fn allowed(self) -> &'static str {
        match self {
            Occupant::Folder => {
                "OPTIONS, GET, HEAD, DELETE, PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK"
            }
            Occupant::File => {
                "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK"
            }
        }
    }
}

impl From<StorageError> for FilesError {
    fn from(e: StorageError) -> Self {
        FilesError::Storage(e)
    }
}

impl HttpError for FilesError {
    fn status(&self) -> StatusCode {
        match self {
            FilesError::Storage(e) => e.status(),
            FilesError::ShortBody { .. }
            | FilesError::LongBody { .. }
            | FilesError::ChecksumMismatch { .. }
            | FilesError::PartialPut
            | FilesError::InvalidDepth(_)
            | FilesError::BodyFailed(BodyFailure::Malformed) => StatusCode::BAD_REQUEST,
            FilesError::BodyFailed(BodyFailure::ClientGone) => CLIENT_CLOSED_REQUEST,
            FilesError::TrashReadOnly | FilesError::MethodNotAllowed(_) | FilesError::Taken(_) => {
                StatusCode::METHOD_NOT_ALLOWED
            }
            FilesError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            FilesError::InfiniteDepth | FilesError::IntoTrash => StatusCode::FORBIDDEN,
            FilesError::XmlTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            FilesError::Status(status) => *status,
            FilesError::NotFound => StatusCode::NOT_FOUND,
            FilesError::ConditionFailed => StatusCode::PRECONDITION_FAILED,
            FilesError::Locked { .. } | FilesError::LockConflict { .. } => StatusCode::LOCKED,
            FilesError::Xml(_)
            | FilesError::LockDepth
            | FilesError::DeleteDepth
            | FilesError::RefreshNeedsOneToken
            | FilesError::UnlockNeedsToken => StatusCode::BAD_REQUEST,
            FilesError::NoParent => StatusCode::CONFLICT,
            FilesError::DeleteRoot => StatusCode::FORBIDDEN,
            FilesError::NoSuchLock(status) => *status,
        }
    }

    fn message(&self) -> String {
        match self {
            FilesError::Storage(e) => e.message(),
            FilesError::ShortBody { expected, received } => format!(
                "upload refused: the body ended after {received} of the {expected} bytes \
                 announced; nothing was stored, send the file again"
            ),
            FilesError::LongBody { expected } => format!(
                "upload refused: the body is longer than the {expected} bytes announced; \
                 nothing was stored, send the file again with its true length"
            ),
            FilesError::ChecksumMismatch { claim } => format!(
                "upload refused: the content does not match the checksum sent with it ({claim}); \
                 it was damaged on the way and nothing was stored, send the file again"
            ),
            FilesError::TrashReadOnly => "the trash is read-only: list it with PROPFIND, restore \
                 an item with MOVE to a path under /files/ (any path outside /.trash/ on the \
                 files host), or purge it with DELETE"
                .into(),
            FilesError::InfiniteDepth => "PROPFIND with Depth: infinity is not supported; list \
                 one level at a time with Depth: 1"
                .into(),
            FilesError::InvalidDepth(invalid) => invalid.to_string(),
            FilesError::PartialPut => {
                "partial uploads (PUT with Content-Range) are not supported: send the whole file"
                    .into()
            }
            FilesError::XmlTooLarge { limit } => {
                format!("XML request bodies are limited to {} KiB", limit / 1024)
            }
            FilesError::BodyFailed(_) => {
                "the request body was malformed or cut off; send it again".into()
            }
            FilesError::IntoTrash => {
                "files cannot be copied or moved into the trash: use DELETE to move them there"
                    .into()
            }
            FilesError::Status(status) => explain(*status).into(),
            FilesError::MethodNotAllowed(_) => {
                "this method is not supported here; the Allow header lists those that are".into()
            }
            FilesError::Taken(Occupant::Folder) => "a folder exists at this path: a folder \
                 cannot be uploaded to, and MKCOL needs a free name"
                .into(),
            FilesError::Taken(Occupant::File) => "a file exists at this path: MKCOL needs a \
                 free name (delete or move the file first)"
                .into(),
            FilesError::RangeNotSatisfiable { .. } => {
                explain(StatusCode::RANGE_NOT_SATISFIABLE).into()
            }
            FilesError::NotFound => explain(StatusCode::NOT_FOUND).into(),
            FilesError::ConditionFailed => explain(StatusCode::PRECONDITION_FAILED).into(),
            FilesError::Locked { .. } => explain(StatusCode::LOCKED).into(),
            FilesError::LockConflict { .. } => "the resource is already locked by another \
                 client: wait until its lock expires or is released, then lock it again"
                .into(),
            FilesError::Xml(e @ XmlError::Malformed { .. }) => {
                format!("the request body is not well-formed XML: {e}")
            }
            FilesError::Xml(e) => format!("the request body is not understood: {e}"),
            FilesError::LockDepth => "LOCK takes Depth: 0 (the item alone) or Depth: infinity \
                 (everything below it)"
                .into(),
            FilesError::NoParent => explain(StatusCode::CONFLICT).into(),
            FilesError::DeleteDepth => "DELETE removes an item with everything below it: send \
                 Depth: infinity or no Depth"
                .into(),
            FilesError::DeleteRoot => "the root folder cannot be deleted: delete the files and \
                 folders inside it instead"
                .into(),
            FilesError::RefreshNeedsOneToken => "a LOCK without a body refreshes a lock: name \
                 exactly one lock token in the If header, e.g. If: (<urn:uuid:…>)"
                .into(),
            FilesError::UnlockNeedsToken => "UNLOCK needs the lock's token in a Lock-Token \
                 header, e.g. Lock-Token: <urn:uuid:…>"
                .into(),
            FilesError::NoSuchLock(_) => "no lock with this token covers this resource: it \
                 expired or was released; lock the resource again"
                .into(),
        }
    }

    fn precondition(&self) -> Option<Precondition> {
        match self {
            FilesError::InfiniteDepth => Some(Precondition::PropfindFiniteDepth),
            FilesError::Locked { roots } => Some(Precondition::LockTokenSubmitted(roots.clone())),
            FilesError::LockConflict { roots } => {
                Some(Precondition::NoConflictingLock(roots.clone()))
            }
            _ => None,
        }
    }

    fn add_headers(&self, headers: &mut HeaderMap) {
        match self {
            FilesError::Storage(e) => e.add_headers(headers),
            FilesError::TrashReadOnly => {
                headers.insert(
                    header::ALLOW,
                    HeaderValue::from_static(allowed(TreeRoot::Trash)),
                );
            }
            FilesError::MethodNotAllowed(tree) => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allowed(*tree)));
            }
            FilesError::Taken(occupant) => {
                headers.insert(header::ALLOW, HeaderValue::from_static(occupant.allowed()));
            }
            FilesError::RangeNotSatisfiable { len } => {
                // RFC 9110 §15.5.17: say how long the file is, so the client can retry.
                if let Ok(value) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    headers.insert(header::CONTENT_RANGE, value);
                }
            }
            _ => {}
        }
    }

    fn log_detail(&self) -> Option<String> {
        match self {
            FilesError::Storage(e) => e.log_detail(),
            _ => None,
        }
    }
}

/// Why a request body could not be read to its end (judged by `super::body`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFailure {
    /// The framing was broken (a bad chunk size, a stray byte): the client must resend.
    Malformed,
    /// The connection closed or reset before the body ended: nobody reads the answer.
    ClientGone,
}

/// The methods a tree answers, for `Allow`.
pub(crate) fn allowed(tree: TreeRoot) -> &'static str {
    match tree {
        TreeRoot::Files => {
            "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK"
        }
        TreeRoot::Trash => "OPTIONS, GET, HEAD, PROPFIND, DELETE, MOVE",
    }
}

/// What a bare status means for a file client, and what to do about it.
fn explain(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "the request is malformed: check its headers and body",
        StatusCode::FORBIDDEN => "this operation is not allowed on this resource",
        StatusCode::NOT_FOUND => "there is no file or folder at this path",
        StatusCode::METHOD_NOT_ALLOWED => {
            "this method is not allowed here (a folder cannot be uploaded to, and MKCOL needs a free name)"
        }
        StatusCode::CONFLICT => "the parent folder does not exist: create it first with MKCOL",
        StatusCode::PRECONDITION_FAILED => {
            "a precondition failed: the resource changed (If-Match), already exists \
             (If-None-Match or Overwrite: F), or the If header does not match"
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "this method does not take a request body",
        StatusCode::LOCKED => {
            "the resource is locked by another client: send its lock token in an If header, \
             or wait until the lock expires"
        }
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large",
        StatusCode::RANGE_NOT_SATISFIABLE => "the requested range lies outside the file",
        StatusCode::INSUFFICIENT_STORAGE => {
            "there is not enough storage space for this change: free space or retry later"
        }
        StatusCode::NOT_IMPLEMENTED => "this request is not supported by davgate",
        s if s.is_server_error() => "the server failed; nothing was changed, retry later",
        _ => "the request was refused: check its method, headers and body",
    }
}
