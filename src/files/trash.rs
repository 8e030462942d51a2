//! Restoring from the trash: MOVE `/trash/ITEM` to a path under `/files/`.
//!
//! dav-server cannot move between two trees, so this one method is ours: the same
//! checks as a MOVE (Overwrite, locks at the destination), then one row update.

use dav_server::davpath::DavPath;
use dav_server::ls::DavLockSystem;
use davgate_storage::{StorageError, Store, TreeRoot};
use http::{HeaderValue, Response, StatusCode, header};

use super::fs::{AccountFs, path_key};
use super::locks::DbLocks;
use crate::error::HttpError;
use crate::response::{self, Body};
use crate::route::{self, Destination, Routed};

/// Restores the trashed item at the request path to `destination`.
pub(crate) async fn restore(
    fs: &AccountFs,
    routed: &Routed,
    destination: &Destination,
    principal: &str,
) -> Response<Body> {
    if destination.tree != Some(TreeRoot::Files) {
        return response::text(
            StatusCode::FORBIDDEN,
            "restore an item by moving it to a path under /files/, e.g. Destination: /files/NAME",
        );
    }
    let node = match fs.node_at(&routed.path).await {
        Ok(node) if node.parent.is_some() => node,
        Ok(_) => return response::text(StatusCode::FORBIDDEN, "the trash itself cannot be moved"),
        Err(_) => {
            return response::text(StatusCode::NOT_FOUND, "there is no such item in the trash");
        }
    };
    let store: &Store = fs.store();
    let account = fs.account();
    let target = &destination.path;
    let Some((name, parent_path)) = target.split_last() else {
        // The router refuses a Destination naming the tree itself.
        return response::text(StatusCode::BAD_REQUEST, "the Destination names no item");
    };
    let parent = match store
        .resolve(
            account.files_root,
            &parent_path.iter().map(String::as_str).collect::<Vec<_>>(),
        )
        .await
    {
        Ok(Some(parent)) if parent.is_dir() => parent,
        Ok(_) => {
            return response::text(
                StatusCode::CONFLICT,
                "the destination folder does not exist: create it first with MKCOL",
            );
        }
        Err(e) => return e.into_response(),
    };

    // Only checked here, never taken, so the grant does not matter.
    let locks = DbLocks::new(
        store.clone(),
        account.id,
        "/files",
        super::lock_timeout::DEFAULT_MAX,
    );
    let encoded = format!(
        "/files/{}",
        target
            .iter()
            .map(|s| route::encode_segment(s))
            .collect::<Vec<_>>()
            .join("/")
    );
    if let Ok(mut dest_path) = DavPath::new(&encoded)
        && dest_path.set_prefix("/files").is_ok()
        && locks
            .check(
                &dest_path,
                Some(principal),
                false,
                true,
                &routed.conditions.lock_tokens(),
            )
            .await
            .is_err()
    {
        return response::text(
            StatusCode::LOCKED,
            "the destination is locked by another client: send its lock token in an If header",
        );
    }

    let existing = match store.child(parent.id, name).await {
        Ok(existing) => existing,
        Err(e) => return e.into_response(),
    };
    let overwrite = routed.overwrite;
    if let Some(existing) = &existing {
        if !overwrite {
            return response::text(
                StatusCode::PRECONDITION_FAILED,
                "the destination exists and Overwrite is F: choose another name or allow overwriting",
            );
        }
        let origin = path_key(target);
        if let Err(e) = store
            .trash(account.id, account.trash_root, existing.id, &origin)
            .await
        {
            return e.into_response();
        }
    }
    match store.rename(account.id, node.id, parent.id, name).await {
        Ok(()) => {
            let status = if existing.is_some() {
                StatusCode::NO_CONTENT
            } else {
                StatusCode::CREATED
            };
            let mut resp = Response::new(response::empty());
            *resp.status_mut() = status;
            resp.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
            resp
        }
        Err(StorageError::Conflict(_)) => response::text(
            StatusCode::CONFLICT,
            "the destination name was taken meanwhile; retry",
        ),
        Err(e) => e.into_response(),
    }
}
