//! Restoring from the trash: MOVE `/trash/ITEM` to a path under `/files/` (on the files
//! host, `/.trash/ITEM` to any path outside `/.trash/`).
//!
//! dav-server cannot move between two trees, so this one method is ours: the same
//! destination checks as a MOVE ([`super::copymove`]), then one storage transaction.

use davgate_storage::{Location, StorageError, TreeRoot};
use http::{Response, StatusCode};

use super::copymove::{self, Placement, Relocation};
use super::fs::AccountFs;
use super::locks::DbLocks;
use crate::response::{self, Body};
use crate::route::{Destination, Routed};

/// Restores the trashed item at the request path to `destination`.
pub(crate) async fn restore(
    fs: &AccountFs,
    routed: &Routed,
    destination: &Destination,
    principal: &str,
    locks: &DbLocks,
) -> Response<Body> {
    if destination.tree != Some(TreeRoot::Files) {
        let example = routed
            .mount
            .href(TreeRoot::Files, &["NAME".to_owned()], false);
        return response::text(
            StatusCode::FORBIDDEN,
            format!("restore an item by moving it into your files, e.g. Destination: {example}"),
        );
    }
    let overwrite = copymove::overwrite(routed);
    let node = match fs.node_at(&routed.path).await {
        Ok(node) => node,
        Err(_) => return no_such_item(routed),
    };
    let Some(expected) = Location::of(&node) else {
        return response::text(StatusCode::FORBIDDEN, "the trash itself cannot be moved");
    };
    let store = fs.store();
    let account = fs.account();
    let placement = match Placement::find(store, account, &destination.path, overwrite).await {
        Ok(placement) => placement,
        Err(resp) => return *resp,
    };
    let tokens = routed.conditions.lock_tokens();
    if let Err(resp) = placement.check_locks(locks, principal, &tokens).await {
        return *resp;
    }
    // One transaction: the item is checked to be still in the trash, an existing
    // destination goes to the trash, and the item moves, or nothing happens.
    match store
        .move_node(account.id, node.id, &expected, &placement.target(overwrite))
        .await
    {
        Ok(placed) => placement.finish(locks, &placed).await,
        Err(StorageError::NotFound) => no_such_item(routed),
        Err(e) => copymove::refused(e, Relocation::Move),
    }
}

fn no_such_item(routed: &Routed) -> Response<Body> {
    let trash = routed.mount.href(TreeRoot::Trash, &[], true);
    response::text(
        StatusCode::NOT_FOUND,
        format!("there is no such item in the trash: list it with PROPFIND {trash} and retry"),
    )
}
