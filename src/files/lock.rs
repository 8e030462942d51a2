//! LOCK and UNLOCK (RFC 4918 §9.10, §9.11) over the locks in the database.
//!
//! Write locks only, exclusive or shared, on one item (`Depth: 0`) or a subtree
//! (`Depth: infinity`, the default). A LOCK with no body refreshes the one lock named in
//! its `If` header. Locking a URL nothing is mapped to creates an empty file there
//! (§7.3; Finder and Office save that way). The time granted comes from
//! [`super::lock_timeout`], capped by the operator; the conflict rules live in
//! [`super::locks`].

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

use super::errors::FilesError;
use super::lockdiscovery::lock_body;
use super::mount;
use super::request::Ctx;
use crate::proto::request::{LockScope, parse_lockinfo};
use crate::proto::{Depth, Limits};
use crate::response::{self, Body};

/// Answers a LOCK: a refresh when the body is empty, a new lock otherwise.
pub(crate) async fn lock(
    ctx: &Ctx<'_>,
    depth: Option<Depth>,
    body: &Bytes,
) -> Result<Response<Body>, FilesError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return refresh(ctx).await;
    }
    let deep = match depth {
        None | Some(Depth::Infinity) => true,
        Some(Depth::Zero) => false,
        Some(Depth::One) => return Err(FilesError::LockDepth),
    };
    let node = ctx.node().await?;
    ctx.check_conditions(node.as_ref()).await?;
    let info = parse_lockinfo(body, &Limits::DEFAULT).map_err(FilesError::Xml)?;

    // An unmapped URL gets an empty file, which needs its folder.
    let parent = match (&node, ctx.routed.path.split_last()) {
        (None, Some((name, parent_path))) => match ctx.node_at(parent_path).await? {
            Some(parent) if parent.is_dir() => Some((parent, name)),
            _ => return Err(FilesError::NoParent),
        },
        _ => None,
    };

    let key = ctx.key();
    let owner = info.owner.map(|o| o.into_string().into_bytes());
    let shared = info.scope == LockScope::Shared;
    let granted = match ctx
        .locks
        .take(&key, Some(ctx.principal), owner, shared, deep)
        .await?
    {
        Ok(lock) => lock,
        Err(clash) => {
            return Err(FilesError::LockConflict {
                roots: vec![mount::href_of_key(ctx.routed.mount, ctx.tree, &clash.path)],
            });
        }
    };
    let status = match parent {
        Some((parent, name)) => {
            if let Err(e) = ctx
                .store
                .create_empty_file(ctx.account.id, parent.id, name)
                .await
            {
                // Nothing was created: the lock must not outlive the request.
                if let Err(undo) = ctx.locks.release(&key, &granted.token).await {
                    tracing::warn!(error = %undo, "a lock stays until it expires");
                }
                return Err(e.into());
            }
            StatusCode::CREATED
        }
        None => StatusCode::OK,
    };
    let mut resp = lock_response(ctx, &granted);
    *resp.status_mut() = status;
    if let Ok(value) = HeaderValue::from_str(&format!("<{}>", granted.token)) {
        resp.headers_mut().insert("lock-token", value);
    }
    Ok(resp)
}

/// Extends the one lock the `If` header names (RFC 4918 §9.10.2).
async fn refresh(ctx: &Ctx<'_>) -> Result<Response<Body>, FilesError> {
    let tokens = ctx.routed.conditions.lock_tokens();
    let [token] = tokens.as_slice() else {
        return Err(FilesError::RefreshNeedsOneToken);
    };
    let key = ctx.key();
    if ctx
        .locks
        .blocking(&key, Some(ctx.principal), false, &tokens)
        .await
        .is_some()
    {
        return Err(FilesError::NoSuchLock(StatusCode::PRECONDITION_FAILED));
    }
    match ctx.locks.renew(&key, token).await? {
        Some(lock) => Ok(lock_response(ctx, &lock)),
        None => Err(FilesError::NoSuchLock(StatusCode::PRECONDITION_FAILED)),
    }
}

/// Answers an UNLOCK of the lock named by `Lock-Token`.
pub(crate) async fn unlock(
    ctx: &Ctx<'_>,
    headers: &HeaderMap,
) -> Result<Response<Body>, FilesError> {
    let token = lock_token(headers).ok_or(FilesError::UnlockNeedsToken)?;
    if !ctx.locks.release(&ctx.key(), token).await? {
        return Err(FilesError::NoSuchLock(StatusCode::CONFLICT));
    }
    let mut resp = Response::new(response::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}

/// 200 with the lockdiscovery of `lock` and the time this request granted.
fn lock_response(ctx: &Ctx<'_>, lock: &davgate_storage::LockRecord) -> Response<Body> {
    let body = lock_body(
        (ctx.routed.mount, ctx.tree),
        lock,
        ctx.locks.granted().as_secs(),
    );
    let mut resp = Response::new(response::full(body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    resp
}

/// The token of `Lock-Token: <token>`.
fn lock_token(headers: &HeaderMap) -> Option<&str> {
    // RFC 4918 §10.5 wants the angle brackets; some clients leave them out.
    let value = headers.get("lock-token")?.to_str().ok()?.trim();
    let token = value.trim_matches(|c| c == '<' || c == '>').trim();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_token_header_is_a_coded_url() {
        let token = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("lock-token", HeaderValue::from_str(v).unwrap());
            lock_token(&h).map(str::to_owned)
        };
        assert_eq!(token("<urn:uuid:1>").as_deref(), Some("urn:uuid:1"));
        assert_eq!(token(" <urn:uuid:1> ").as_deref(), Some("urn:uuid:1"));
        assert_eq!(token("urn:uuid:1").as_deref(), Some("urn:uuid:1"));
        assert_eq!(token("<>"), None);
        assert_eq!(token(""), None);
        assert_eq!(lock_token(&HeaderMap::new()), None);
    }
}
