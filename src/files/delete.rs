//! DELETE (RFC 4918 §9.6). In the files tree an item goes to the trash as one piece,
//! whatever it holds, except client noise ([`super::trash_skip`]), which is purged; in
//! the trash it is purged. Storage checks in its transaction that the item is still
//! where this request found it, so a DELETE that lost a race with a MOVE gets 404
//! rather than 204 for something it did not delete.

use davgate_storage::{Location, TreeRoot};
use http::{HeaderValue, Response, StatusCode, header};

use super::errors::FilesError;
use super::request::Ctx;
use super::trash_skip::TrashSkip;
use crate::proto::Depth;
use crate::response::{self, Body};

/// Answers a DELETE of the request path.
pub(crate) async fn delete(
    ctx: &Ctx<'_>,
    depth: Option<Depth>,
    trash_skip: &TrashSkip,
) -> Result<Response<Body>, FilesError> {
    if depth == Some(Depth::One) {
        return Err(FilesError::DeleteDepth);
    }
    let node = ctx.node().await?.ok_or(FilesError::NotFound)?;
    ctx.check_conditions(Some(&node)).await?;
    ctx.check_locks(true).await?;
    let Some(expected) = Location::of(&node) else {
        return Err(FilesError::DeleteRoot);
    };
    let (store, account) = (ctx.store, ctx.account);
    match ctx.tree {
        TreeRoot::Files if !node.is_dir() && trash_skip.matches(&ctx.routed.path) => {
            store.purge_at(account.id, node.id, &expected).await?;
        }
        TreeRoot::Files => {
            let origin = ctx.key();
            store
                .trash_at(account.id, account.trash_root, node.id, &expected, &origin)
                .await?;
        }
        TreeRoot::Trash => store.purge_at(account.id, node.id, &expected).await?,
    }
    if ctx.tree == TreeRoot::Files
        && let Err(e) = ctx.locks.release_below(&ctx.key()).await
    {
        // The delete is committed; a stale lock only blocks a new file of this name
        // until it expires.
        tracing::warn!(error = %e, "could not remove the locks of a deleted item");
    }
    let mut resp = Response::new(response::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    Ok(resp)
}
