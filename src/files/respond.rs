//! Finishing dav-server's response: the refusal the filesystem recorded or words for a
//! bare error status, the headers clients look for (`X-OC-Mtime: accepted`), and a
//! multipart body reframed with a boundary of our own.

use http::{HeaderValue, Response, header};
use http_body_util::BodyExt;

use super::errors::FilesError;
use super::fs::AccountFs;
use super::multipart;
use crate::error::HttpError;
use crate::response::Body;

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
        if let Some(refusal) = fs.take_refusal() {
            return refusal.into_response();
        }
        if is_empty(&dav) {
            let (parts, _) = dav.into_parts();
            let mut resp = FilesError::Status(status).into_response();
            // A 416 says how long the file is (RFC 9110 §15.5.17), so the client can retry.
            for name in [header::ALLOW, header::CONNECTION, header::CONTENT_RANGE] {
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
    if let Some(boundary) = multipart::take_over(&mut parts.headers) {
        let body = multipart::Reframed::new(body, boundary);
        return Response::from_parts(parts, body.boxed_unsync());
    }
    Response::from_parts(parts, body.boxed_unsync())
}

fn is_empty(resp: &Response<dav_server::body::Body>) -> bool {
    resp.headers()
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() == b"0")
}
