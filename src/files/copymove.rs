//! COPY and MOVE under `/files/` (RFC 4918 §9.8, §9.9), each one storage transaction.
//!
//! The router has read Destination and Overwrite; Depth is read here, the conditional
//! headers are checked by [`super::request::Ctx`], locks at the source of a MOVE and at
//! the destination, and then storage looks up, checks and acts in one transaction (a
//! folder is never copied file by file): a copy cut short leaves nothing, and of two requests racing for
//! one node, one wins and the other gets 404 or 412. The restore MOVE in [`super::trash`]
//! shares the destination half ([`Placement`]).

use davgate_storage::{
    Account, CopyDepth, Location, Node, Overwrite, Placed, StorageError, Store, Target, TreeRoot,
};
use http::{HeaderValue, Response, StatusCode, header};

use super::errors::FilesError;
use super::locks::DbLocks;
use super::mount::path_key;
use super::request::Ctx;
use crate::error::HttpError;
use crate::proto::Depth;
use crate::response::{self, Body};
use crate::route::{Destination, Routed, Verb};

/// Which of the two methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relocation {
    Copy,
    Move,
}

/// A COPY or MOVE under `/files/`, as routed, with its `Depth`.
pub(crate) struct Request<'a> {
    pub(crate) ctx: &'a Ctx<'a>,
    /// `None` when no `Depth` was sent (an unreadable one is refused before).
    pub(crate) depth: Option<Depth>,
}

/// Answers a COPY or MOVE of the request path to `destination`.
pub(crate) async fn copy_or_move(req: Request<'_>, destination: &Destination) -> Response<Body> {
    let ctx = req.ctx;
    let (store, account, routed, locks, principal) =
        (ctx.store, ctx.account, ctx.routed, ctx.locks, ctx.principal);
    let verb = match routed.verb {
        Verb::Copy => Relocation::Copy,
        _ => Relocation::Move,
    };
    let overwrite = overwrite(routed);
    let depth = match (verb, req.depth) {
        (_, Some(Depth::Infinity)) => CopyDepth::Subtree,
        (_, None) => CopyDepth::Subtree,
        (Relocation::Copy, Some(Depth::Zero)) => CopyDepth::Node,
        (Relocation::Copy, _) => {
            return response::text(
                StatusCode::BAD_REQUEST,
                "COPY takes Depth: 0 (the item alone) or Depth: infinity (everything below it)",
            );
        }
        _ => {
            return response::text(
                StatusCode::BAD_REQUEST,
                "MOVE always moves everything below the item: send Depth: infinity or no Depth",
            );
        }
    };
    if destination.tree != Some(TreeRoot::Files) {
        return response::text(
            StatusCode::BAD_GATEWAY,
            "the destination must be a path under /files/ on this server",
        );
    }
    let source = &routed.path;
    let target = destination.path.as_slice();
    if source.is_empty() || target.is_empty() {
        return response::text(
            StatusCode::FORBIDDEN,
            "the root folder cannot be copied, moved or replaced: name a file or folder inside it",
        );
    }
    let (source_key, target_key) = (path_key(source), path_key(target));
    if source_key == target_key {
        return response::text(
            StatusCode::FORBIDDEN,
            "the source and the destination are the same: choose another destination",
        );
    }
    let names: Vec<&str> = source.iter().map(String::as_str).collect();
    let node = match store.resolve(account.files_root, &names).await {
        Ok(Some(node)) => node,
        Ok(None) => {
            return response::text(
                StatusCode::NOT_FOUND,
                "there is no file or folder at this path",
            );
        }
        Err(e) => return refused(e, verb),
    };
    let Some(expected) = Location::of(&node) else {
        return response::text(StatusCode::FORBIDDEN, "the root folder cannot be moved");
    };
    // Below a file there is no folder, which Placement::find answers with 409.
    if node.is_dir() && target_key.starts_with(&format!("{source_key}/")) {
        return response::text(
            StatusCode::FORBIDDEN,
            "a folder cannot be copied or moved into itself: choose a destination outside it",
        );
    }
    let tokens = routed.conditions.lock_tokens();
    let placement = match Placement::find(store, account, target, overwrite).await {
        Ok(placement) => placement,
        Err(resp) => return *resp,
    };
    // If-Match and If-None-Match are about the source; an If list may be about the
    // source (untagged or tagged with its URL), the destination, or any other item.
    match ctx.check_conditions(Some(&node)).await {
        Ok(()) => {}
        Err(FilesError::ConditionFailed) => {
            return response::text(
                StatusCode::PRECONDITION_FAILED,
                "a precondition failed: the item changed (If-Match, If-None-Match) or the If \
                 header's lock tokens and ETags do not match; fetch it again, then retry",
            );
        }
        Err(e) => return e.into_response(),
    }
    if verb == Relocation::Move
        && locks
            .blocking(&source_key, Some(principal), true, &tokens)
            .await
            .is_some()
    {
        return locked("the source");
    }
    if let Err(resp) = placement.check_locks(locks, principal, &tokens).await {
        return *resp;
    }
    let target = placement.target(overwrite);
    let result = match verb {
        Relocation::Copy => {
            store
                .copy_tree(account.id, node.id, &expected, &target, depth)
                .await
        }
        Relocation::Move => {
            store
                .move_node(account.id, node.id, &expected, &target)
                .await
        }
    };
    match result {
        Ok(placed) => {
            if verb == Relocation::Move {
                // Locks belong to paths; the moved item left this one.
                forget_locks(locks, &source_key).await;
            }
            placement.finish(locks, &placed).await
        }
        Err(e) => refused(e, verb),
    }
}

/// The destination of a COPY, MOVE or restore, as found before storage acts.
pub(crate) struct Placement<'a> {
    parent: Node,
    name: &'a str,
    /// The destination's path key, for its locks.
    key: String,
    origin: String,
}

impl<'a> Placement<'a> {
    /// Resolves the destination's folder (409 when missing) and refuses an existing
    /// name under `Overwrite: F` (412) before any work; storage checks both again.
    pub(crate) async fn find(
        store: &Store,
        account: &Account,
        target: &'a [String],
        overwrite: Overwrite,
    ) -> Result<Placement<'a>, Box<Response<Body>>> {
        let (name, parent_path) = target
            .split_last()
            .ok_or_else(|| Box::new(refused(StorageError::NotFound, Relocation::Move)))?;
        let parent_names: Vec<&str> = parent_path.iter().map(String::as_str).collect();
        let parent = match store.resolve(account.files_root, &parent_names).await {
            Ok(Some(parent)) if parent.is_dir() => parent,
            Ok(_) => {
                return Err(Box::new(refused(
                    StorageError::Conflict("the destination folder does not exist"),
                    Relocation::Move,
                )));
            }
            Err(e) => return Err(Box::new(refused(e, Relocation::Move))),
        };
        if overwrite == Overwrite::Refuse {
            match store.child(parent.id, name).await {
                Ok(Some(_)) => {
                    return Err(Box::new(refused(
                        StorageError::PreconditionFailed,
                        Relocation::Move,
                    )));
                }
                Ok(None) => {}
                Err(e) => return Err(Box::new(refused(e, Relocation::Move))),
            }
        }
        Ok(Placement {
            parent,
            name,
            key: path_key(target),
            origin: path_key(target),
        })
    }

    /// 423 unless the request holds every lock on the destination and below it.
    pub(crate) async fn check_locks(
        &self,
        locks: &DbLocks,
        principal: &str,
        tokens: &[String],
    ) -> Result<(), Box<Response<Body>>> {
        if locks
            .blocking(&self.key, Some(principal), true, tokens)
            .await
            .is_some()
        {
            return Err(Box::new(locked("the destination")));
        }
        Ok(())
    }

    pub(crate) fn target(&self, overwrite: Overwrite) -> Target<'_> {
        Target {
            parent: self.parent.id,
            name: self.name,
            overwrite,
            origin: &self.origin,
        }
    }

    /// 201 for a new name, 204 when a node was replaced (its locks go with it).
    pub(crate) async fn finish(&self, locks: &DbLocks, placed: &Placed) -> Response<Body> {
        let status = match &placed.replaced {
            Some(_) => {
                forget_locks(locks, &self.key).await;
                StatusCode::NO_CONTENT
            }
            None => StatusCode::CREATED,
        };
        let mut resp = Response::new(response::empty());
        *resp.status_mut() = status;
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        resp
    }
}

/// `Overwrite`, as the router read it.
pub(crate) fn overwrite(routed: &Routed) -> Overwrite {
    if routed.overwrite {
        Overwrite::Replace
    } else {
        Overwrite::Refuse
    }
}

/// Removes the locks at and below `path`; the change they guarded is committed, so a
/// failure only leaves a lock that expires on its own.
async fn forget_locks(locks: &DbLocks, key: &str) {
    if locks.release_below(key).await.is_err() {
        tracing::warn!("could not remove the locks of a moved or replaced item; they expire");
    }
}

fn locked(what: &str) -> Response<Body> {
    response::text(
        StatusCode::LOCKED,
        format!(
            "{what} is locked by another client: send its lock token in an If header, \
             or wait until the lock expires"
        ),
    )
}

/// What a refused COPY, MOVE or restore tells the client: the store's status, with
/// words for the outcomes a relocation gives its own meaning.
pub(crate) fn refused(err: StorageError, verb: Relocation) -> Response<Body> {
    let verb = match verb {
        Relocation::Copy => "copy",
        Relocation::Move => "move",
    };
    let message = match &err {
        StorageError::NotFound => format!(
            "nothing to {verb}: the item was moved or deleted meanwhile; list the folder again \
             and retry"
        ),
        StorageError::PreconditionFailed => "the destination exists and Overwrite is F: choose \
             another name or send Overwrite: T"
            .to_owned(),
        StorageError::Conflict(reason) => format!(
            "{verb} refused: {reason}; check that the destination folder exists (create it with \
             MKCOL) and retry"
        ),
        _ => return err.into_response(),
    };
    response::text(err.status(), message)
}
