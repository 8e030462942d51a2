//! sync-collection (RFC 6578): what changed since a token, from the store's change log.

use davgate_storage::StorageError;
use http::Response;

use super::members::{Members, member_path, named, options};
use crate::dav::access::Opened;
use crate::dav::ctx::Ctx;
use crate::dav::error::{DavError, DavResult};
use crate::dav::sync_token::{parse_token, sync_token};
use crate::proto::precondition::Precondition;
use crate::proto::request::SyncCollection;
use crate::proto::status::Status;
use crate::response::Body;

/// Answers sync-collection. The Depth header (Thunderbird sends 1) is ignored: members
/// of a calendar or address book are one level deep anyway.
pub(super) async fn sync(
    ctx: &Ctx<'_>,
    opened: &Opened,
    request: &SyncCollection,
) -> DavResult<Response<Body>> {
    let id = opened.collection.id;
    let invalid = || {
        DavError::condition(
            Precondition::ValidSyncToken,
            "the sync token is unknown or belongs to another collection: sync again from scratch with an empty token",
        )
    };
    let since = parse_token(request.sync_token.as_deref().unwrap_or(""), id).ok_or_else(invalid)?;
    let limit = request.limit.map(|n| n as usize);
    let changes = ctx
        .store()
        .changes_since(id, since, limit)
        .await
        .map_err(|e| match e {
            StorageError::Invalid(_) => invalid(),
            e => e.into(),
        })?;
    let live: Vec<String> = changes
        .changes
        .iter()
        .filter(|c| c.etag.is_some())
        .map(|c| c.name.clone())
        .collect();
    let objects = named(ctx, id, &live).await?;
    let options = options(ctx, opened, None);
    let mut ms = Members::new(ctx, opened, &request.props, options);
    for change in &changes.changes {
        match objects.iter().find(|o| o.meta.name == change.name) {
            Some(object) => ms.push(object),
            // Deleted, or deleted again since the change log was read.
            None => ms.push_status(&member_path(ctx, &change.name), Status::NOT_FOUND),
        }
    }
    if changes.truncated {
        ms.push_truncated("more changes follow: sync again with the returned token");
    }
    let token = sync_token(id, changes.seq);
    Ok(ms.finish(Some(&token)))
}
