//! sync-collection (RFC 6578): what changed since a token, from the store's change log.

use davgate_storage::StorageError;
use http::Response;

use super::members::{Members, by_name, member_path, named, options, wants_data};
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
    let options = options(ctx, opened, None);
    let mut ms = Members::new(ctx, opened, &request.props, options);
    // Each change finds its member by a search in the store's sorted answer: a scan per
    // change made an initial sync quadratic (20,000 events: 200 million comparisons).
    // A member missing there was deleted again since the change log was read.
    if wants_data(&request.props) {
        let objects = named(ctx, id, &live).await?;
        for change in &changes.changes {
            match by_name(&objects, &change.name, |o| &o.meta.name) {
                Some(object) => ms.push(object),
                None => ms.push_status(&member_path(ctx, &change.name), Status::NOT_FOUND),
            }
        }
    } else {
        let metas = ctx.store().object_metas_named(id, &live).await?;
        for change in &changes.changes {
            match by_name(&metas, &change.name, |m| &m.name) {
                Some(meta) => ms.push_listed(meta),
                None => ms.push_status(&member_path(ctx, &change.name), Status::NOT_FOUND),
            }
        }
    }
    if changes.truncated {
        ms.push_truncated("more changes follow: sync again with the returned token");
    }
    let token = sync_token(id, changes.seq);
    Ok(ms.finish(Some(&token)))
}
