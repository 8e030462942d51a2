//! Restoring from the trash: MOVE `/trash/ITEM` to a path under `/files/`.
//!
//! The same destination checks as a MOVE ([`super::copymove`]), then one storage
//! transaction.

use davgate_storage::{Location, StorageError, TreeRoot};
use http::{Response, StatusCode};

use super::copymove::{self, Placement, Relocation};
use super::request::Ctx;
use crate::response::{self, Body};
use crate::route::Destination;

/// Restores the trashed item at the request path to `destination`.
pub(crate) async fn restore(ctx: &Ctx<'_>, destination: &Destination) -> Response<Body> {
    let (routed, locks, principal) = (ctx.routed, ctx.locks, ctx.principal);
    if destination.tree != Some(TreeRoot::Files) {
        return response::text(
            StatusCode::FORBIDDEN,
            "restore an item by moving it to a path under /files/, e.g. Destination: /files/NAME",
        );
    }
    let overwrite = copymove::overwrite(routed);
    let node = match ctx.node().await {
        Ok(Some(node)) => node,
        _ => return no_such_item(),
    };
    let Some(expected) = Location::of(&node) else {
        return response::text(StatusCode::FORBIDDEN, "the trash itself cannot be moved");
    };
    let (store, account) = (ctx.store, ctx.account);
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
        Err(StorageError::NotFound) => no_such_item(),
        Err(e) => copymove::refused(e, Relocation::Move),
    }
}

fn no_such_item() -> Response<Body> {
    response::text(
        StatusCode::NOT_FOUND,
        "there is no such item in the trash: list it with PROPFIND /trash/ and retry",
    )
}
