//! sync-collection (RFC 6578): what changed since a token, from the store's change log.

use davgate_storage::{CollectionId, StorageError};
use http::Response;

use super::{Members, member_path, named, options};
use crate::dav::Ctx;
use crate::dav::access::Opened;
use crate::dav::error::{DavError, DavResult};
use crate::proto::precondition::Precondition;
use crate::proto::request::SyncCollection;
use crate::proto::status::Status;
use crate::response::Body;

/// Sync tokens are URIs (RFC 6578 §3.2) naming the collection and its change number.
const TOKEN_PREFIX: &str = "http://davgate.org/ns/sync/";

/// The token of a collection at change `seq`.
pub fn sync_token(collection: CollectionId, seq: i64) -> String {
    format!("{TOKEN_PREFIX}{}-{seq}", collection.0)
}

/// The change number in a token of this collection; 0 for the initial sync.
fn parse_token(token: &str, collection: CollectionId) -> Option<i64> {
    let token = token.trim();
    if token.is_empty() {
        return Some(0);
    }
    let (id, seq) = token.strip_prefix(TOKEN_PREFIX)?.split_once('-')?;
    (id.parse::<i64>().ok()? == collection.0).then_some(())?;
    seq.parse().ok()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_their_collection() {
        let id = CollectionId(7);
        assert_eq!(parse_token("", id), Some(0));
        assert_eq!(parse_token(&sync_token(id, 42), id), Some(42));
        assert_eq!(parse_token(&sync_token(CollectionId(8), 42), id), None);
        for bad in [
            "42",
            "http://davgate.org/ns/sync/7-x",
            "http://example.org/7-1",
            "data:,7-1",
        ] {
            assert_eq!(parse_token(bad, id), None, "{bad}");
        }
    }
}
