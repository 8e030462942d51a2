//! MKCOL (RFC 4918 §9.3): a new folder, where the name is free and its folder exists.
//! A body (extended MKCOL, RFC 5689) is refused with 415: file folders take no
//! properties at creation.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::BodyExt;

use super::body::classify;
use super::errors::{FilesError, Occupant};
use super::mount;
use super::request::Ctx;
use crate::proto::href::encode_path;
use crate::response::{self, Body};

/// Bytes of a MKCOL body read to tell an empty body from one that is not.
const BODY_PROBE: usize = 4096;

/// Answers a MKCOL of the request path.
pub(crate) async fn mkcol<B>(ctx: &Ctx<'_>, body: B) -> Result<Response<Body>, FilesError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    match http_body_util::Limited::new(body, BODY_PROBE)
        .collect()
        .await
    {
        Ok(collected) => {
            if !collected.to_bytes().is_empty() {
                return Err(FilesError::Status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
            }
        }
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(FilesError::Status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        }
        Err(e) => return Err(FilesError::BodyFailed(classify(&*e))),
    }
    let node = ctx.node().await?;
    ctx.check_conditions(node.as_ref()).await?;
    ctx.check_locks(false).await?;
    if let Some(node) = &node {
        return Err(FilesError::Taken(if node.is_dir() {
            Occupant::Folder
        } else {
            Occupant::File
        }));
    }
    let Some((name, parent_path)) = ctx.routed.path.split_last() else {
        return Err(FilesError::Taken(Occupant::Folder));
    };
    let parent = match ctx.node_at(parent_path).await? {
        Some(parent) if parent.is_dir() => parent,
        _ => return Err(FilesError::NoParent),
    };
    ctx.store
        .create_dir(ctx.account.id, parent.id, name)
        .await?;
    let mut resp = Response::new(response::empty());
    *resp.status_mut() = StatusCode::CREATED;
    let location = encode_path(&mount::href(
        ctx.routed.mount,
        ctx.tree,
        &ctx.routed.path,
        true,
    ));
    if let Ok(value) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::CONTENT_LOCATION, value);
    }
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    Ok(resp)
}
