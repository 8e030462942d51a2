//! Restoring from the trash: MOVE `/trash/ITEM` to a path under `/files/`.
//!
//! dav-server cannot move between two trees, so this one method is ours: the same
//! destination checks as a MOVE ([`super::copymove`]), then one storage transaction.

use dav_server::davpath::DavPath;
use davgate_storage::{Location, StorageError, TreeRoot};
use http::request::Parts;
use http::{Response, StatusCode};

use super::conditions;
use super::copymove::{self, Placement, Verb};
use super::fs::AccountFs;
use super::locks::DbLocks;
use super::precheck::Destination;
use crate::response::{self, Body};

/// Restores the trashed item at the request path to `destination`.
pub(crate) async fn restore(
    fs: &AccountFs,
    parts: &Parts,
    destination: &Destination,
    principal: &str,
) -> Response<Body> {
    if destination.tree != Some(TreeRoot::Files) || destination.segments.len() < 2 {
        return response::text(
            StatusCode::FORBIDDEN,
            "restore an item by moving it to a path under /files/, e.g. Destination: /files/NAME",
        );
    }
    let overwrite = match copymove::overwrite(parts) {
        Ok(overwrite) => overwrite,
        Err(resp) => return *resp,
    };
    let Ok(source) = DavPath::new(parts.uri.path()) else {
        return response::text(StatusCode::BAD_REQUEST, "invalid request path");
    };
    let mut source = source;
    if source.set_prefix("/trash").is_err() {
        return response::text(StatusCode::BAD_REQUEST, "invalid request path");
    }
    let node = match fs.node(&source).await {
        Ok(node) => node,
        Err(_) => return no_such_item(),
    };
    let Some(expected) = Location::of(&node) else {
        return response::text(StatusCode::FORBIDDEN, "the trash itself cannot be moved");
    };
    let store = fs.store();
    let account = fs.account();
    let target = &destination.segments[1..];
    let placement = match Placement::find(store, account, target, overwrite).await {
        Ok(placement) => placement,
        Err(resp) => return *resp,
    };
    let tokens = match copymove::if_lists(parts) {
        Ok(lists) => conditions::tokens(&lists),
        Err(resp) => return *resp,
    };
    let locks = DbLocks::new(store.clone(), account.id, "/files");
    if let Err(resp) = placement.check_locks(&locks, principal, &tokens).await {
        return *resp;
    }
    // One transaction: the item is checked to be still in the trash, an existing
    // destination goes to the trash, and the item moves, or nothing happens.
    match store
        .move_node(account.id, node.id, &expected, &placement.target(overwrite))
        .await
    {
        Ok(placed) => placement.finish(&locks, &placed).await,
        Err(StorageError::NotFound) => no_such_item(),
        Err(e) => copymove::refused(e, Verb::Move),
    }
}

fn no_such_item() -> Response<Body> {
    response::text(
        StatusCode::NOT_FOUND,
        "there is no such item in the trash: list it with PROPFIND /trash/ and retry",
    )
}
