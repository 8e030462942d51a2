//! Finishing dav-server's response: words for bare error statuses, and the headers
//! clients look for (`X-OC-Mtime: accepted`, `DAV`).

use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::BodyExt;

use super::fs::AccountFs;
use crate::response::{self, Body};

/// What the request asked for that the response should confirm.
pub(crate) struct Confirm {
    /// Answer `X-OC-Mtime: accepted` on success (rclone checks for it).
    pub(crate) oc_mtime: bool,
}

/// Turns dav-server's response into ours.
pub(crate) fn finish(
    dav: Response<dav_server::body::Body>,
    fs: &AccountFs,
    confirm: &Confirm,
) -> Response<Body> {
    let status = dav.status();
    if status.is_client_error() || status.is_server_error() {
        if let Some(refusal) = fs.refusal() {
            let mut resp = response::text(refusal.status(), refusal.message());
            if matches!(
                refusal.status(),
                StatusCode::PAYLOAD_TOO_LARGE | StatusCode::INSUFFICIENT_STORAGE
            ) {
                // The rest of the body is only drained, bounded; the connection ends after.
                resp.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            return resp;
        }
        if is_empty(&dav)
            && let Some(message) = explain(status)
        {
            let (parts, _) = dav.into_parts();
            let mut resp = response::text(status, message);
            for name in [header::ALLOW, header::CONNECTION] {
                if let Some(v) = parts.headers.get(&name) {
                    resp.headers_mut().insert(name, v.clone());
                }
            }
            return resp;
        }
    }
    let (mut parts, body) = dav.into_parts();
    if confirm.oc_mtime && status.is_success() {
        parts
            .headers
            .insert("x-oc-mtime", HeaderValue::from_static("accepted"));
    }
    Response::from_parts(parts, body.boxed_unsync())
}

fn is_empty(resp: &Response<dav_server::body::Body>) -> bool {
    resp.headers()
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() == b"0")
}

/// What a bare status means for a file client, and what to do about it.
fn explain(status: StatusCode) -> Option<&'static str> {
    Some(match status {
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
        StatusCode::BAD_GATEWAY => "the destination must be a path under /files/ on this server",
        StatusCode::INTERNAL_SERVER_ERROR => "the server failed; nothing was changed, retry later",
        StatusCode::NOT_IMPLEMENTED => "this request is not supported by davgate",
        _ => return None,
    })
}
