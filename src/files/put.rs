//! PUT (RFC 9110 §9.3.4): a whole file streamed into a new blob, committed in one
//! transaction at the end.
//!
//! Limits are enforced while streaming, never by buffering: a length announced over
//! the per-file limit or the quota is refused (413, 507) before a byte of the body is
//! read — hyper sends `100 Continue` only when the body is first read, so a client that
//! waits for it sends nothing — and a body without a length is counted as it arrives
//! and stopped the moment it passes either. Any refusal drops the blob writer, which
//! deletes what was staged; nothing half-written is ever visible.

use bytes::Bytes;
use davgate_storage::blob::Md5Pace;
use davgate_storage::{
    CreateMode, FOLDER_AT_NAME, FileWritten, NameWas, NewContent, Node, StorageError, Uploaded,
};
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body_util::BodyExt;

use super::body::classify;
use super::errors::{BodyFailure, FilesError, Occupant};
use super::file::{FiguresFrom, QuotaRoom, UploadPlan};
use super::request::Ctx;
use crate::memory::{HeapTopsKept, LargeBody};
use crate::response::{self, Body};
use crate::route::EtagList;

/// An upload of this size or more asks for a trim once done ([`crate::memory`]): the
/// connection's read buffers, which its chunks are cut from, come from the heap, and the
/// first hand-offs are below the size glibc maps apart. Eight 1 GiB uploads at once left
/// 89–153 MiB resident without it.
const LARGE_UPLOAD: u64 = 4 << 20;

/// What the request says about the upload beyond its body.
pub(crate) struct Upload<'a> {
    /// The largest file this account may upload.
    pub(crate) limit: u64,
    /// `X-OC-Mtime`, when sent and understood.
    pub(crate) mtime_ms: Option<i64>,
    pub(crate) content_type: Option<String>,
    pub(crate) headers: &'a HeaderMap,
}

/// Answers a PUT of the request path with `body`.
pub(crate) async fn put<B>(
    ctx: &Ctx<'_>,
    upload: Upload<'_>,
    body: B,
) -> Result<Response<Body>, FilesError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let Some(name) = ctx.routed.path.last() else {
        return Err(FilesError::Taken(Occupant::Folder));
    };
    // A conditional request needs what is at its path now. Any other only needs the
    // folder, kept across uploads, so a sync job's uploads into one folder read nothing
    // before their commit: the commit finds what holds the name, and says whether it
    // created or replaced.
    let (folder, at_name) = if ctx.is_conditional() {
        let Some((folder, existing)) = ctx.parent_and_child().await? else {
            return Err(FilesError::NoParent);
        };
        ctx.check_conditions(existing.as_ref()).await?;
        (folder.id, AtName::of(existing.as_ref()))
    } else {
        let Some(folder) = ctx.upload_folder().await? else {
            return Err(FilesError::NoParent);
        };
        (folder.id, AtName::NotLooked)
    };
    ctx.check_locks(false).await?;
    if at_name == AtName::Folder {
        return Err(FilesError::Taken(Occupant::Folder));
    }
    let conditions = &ctx.routed.conditions;
    let mode = if conditions.if_none_match == Some(EtagList::Any) {
        CreateMode::CreateNew
    } else if conditions.if_match == Some(EtagList::Any) {
        CreateMode::ReplaceExisting
    } else {
        CreateMode::CreateOrReplace
    };
    let expected = announced_length(upload.headers);
    let checksum = upload
        .headers
        .get("oc-checksum")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let account = ctx.account;
    let mut plan = UploadPlan {
        parent: folder,
        name: name.clone(),
        mode,
        name_was: match at_name {
            AtName::File { .. } | AtName::Folder => NameWas::Taken,
            AtName::Nothing | AtName::NotLooked => NameWas::Free,
        },
        limit: upload.limit,
        quota: account.quota_bytes.map(|quota| QuotaRoom {
            quota,
            used: account.used_bytes,
            replaced: match at_name {
                AtName::File { size } => size,
                AtName::Nothing | AtName::Folder | AtName::NotLooked => 0,
            },
            figures_from: FiguresFrom::Kept,
        }),
        expected,
        mtime_ms: upload.mtime_ms,
        content_type: upload.content_type,
        checksum,
    };
    if let Some(len) = plan.expected {
        check_length(ctx, &mut plan, len).await?;
    }

    // Both digests are computed as the body streams (davgate_storage::blob::digest),
    // so a checksum the client sent is verified before the commit. MD5 is slower than a
    // fast upload and is otherwise completed after the commit: a claimed one is waited for.
    let md5_claimed = plan.checksum.as_deref().is_some_and(|claim| {
        let algorithm = claim.trim().split_once(':').map(|(algorithm, _)| algorithm);
        algorithm.is_some_and(|algorithm| algorithm.eq_ignore_ascii_case("MD5"))
    });
    let md5_pace = if md5_claimed {
        Md5Pace::Wait
    } else {
        Md5Pace::RideAlong
    };
    // Declared before the writer, so dropped after it: the upload's buffers are free by
    // the time it asks for a trim.
    let mut received = LargeBody::at_least(LARGE_UPLOAD);
    let mut writer = ctx.store.upload_paced(md5_pace).await?;
    // Let go of when the body ends, or on a refusal before the writer is dropped: the
    // frees that follow (the last batch, the MD5 lag) are what trims the heaps again.
    let mut heap_tops_kept = None;
    let mut body = std::pin::pin!(body);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            let failure = classify(&e);
            if failure == BodyFailure::ClientGone {
                tracing::info!("the client closed the connection before the request body ended");
            }
            FilesError::BodyFailed(failure)
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        // Dropping the writer on any refusal deletes what was staged so far.
        check_length(ctx, &mut plan, writer.written() + data.len() as u64).await?;
        if expected.is_some_and(|len| writer.written() + data.len() as u64 > len) {
            return Err(FilesError::LongBody {
                expected: expected.unwrap_or_default(),
            });
        }
        received.passed(data.len());
        if heap_tops_kept.is_none() && received.is_large() {
            heap_tops_kept = Some(HeapTopsKept::hold());
        }
        writer.write(data).await?;
    }
    drop(heap_tops_kept);
    if let Some(expected) = expected
        && writer.written() != expected
    {
        let received = writer.written();
        return Err(FilesError::ShortBody { expected, received });
    }
    let blob = writer.finish().await?;
    if let Some(claim) = &plan.checksum
        && blob.digests().and_then(|d| d.verify(claim)) == Some(false)
    {
        // Dropping the staged blob deletes it: nothing of a corrupted upload stays.
        return Err(FilesError::ChecksumMismatch {
            claim: claim.clone(),
        });
    }
    let content = NewContent {
        blob,
        mtime_ms: plan.mtime_ms,
        content_type: plan.content_type.clone(),
    };
    let Uploaded { node, written } = ctx
        .store
        .commit_upload(
            account.id,
            plan.parent,
            &plan.name,
            content,
            plan.mode,
            plan.name_was,
        )
        .await
        .map_err(|e| match e {
            StorageError::Conflict(why) if why == FOLDER_AT_NAME => {
                FilesError::Taken(Occupant::Folder)
            }
            e => e.into(),
        })?;

    let mut resp = Response::new(response::empty());
    match written {
        FileWritten::Replaced => *resp.status_mut() = StatusCode::NO_CONTENT,
        FileWritten::Created => {
            *resp.status_mut() = StatusCode::CREATED;
            resp.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        }
    }
    let headers = resp.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", node.etag)) {
        headers.insert(header::ETAG, etag);
    }
    let modified =
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(node.mtime_ms.max(0) as u64);
    if let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(modified)) {
        headers.insert(header::LAST_MODIFIED, value);
    }
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if upload.mtime_ms.is_some() {
        // rclone checks for this before trusting that the mtime was kept.
        headers.insert("x-oc-mtime", HeaderValue::from_static("accepted"));
    }
    Ok(resp)
}

/// What holds an upload's name, as far as the request knows before its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AtName {
    Nothing,
    File {
        size: u64,
    },
    Folder,
    /// Not looked up: the commit finds out.
    NotLooked,
}

impl AtName {
    /// What holds the name, `node` being what was found there.
    fn of(node: Option<&Node>) -> Self {
        match node {
            None => AtName::Nothing,
            Some(node) if node.is_dir() => AtName::Folder,
            Some(node) => AtName::File { size: node.size },
        }
    }
}

/// [`UploadPlan::check`], refusing over the quota only on figures the database holds
/// now: the request's account row may miss the last second's uploads, and the size of
/// the file replaced may not have been looked up (see [`put`]).
async fn check_length(ctx: &Ctx<'_>, plan: &mut UploadPlan, len: u64) -> Result<(), FilesError> {
    match plan.check(len) {
        Err(StorageError::QuotaExceeded(_)) if plan.figures_may_lag() => {
            let used = ctx.store.used_bytes(ctx.account.id).await?;
            let replaced = match ctx.parent_and_child().await? {
                Some((_, Some(file))) if !file.is_dir() => file.size,
                _ => 0,
            };
            plan.figures_read_again(used.ok_or(StorageError::NotFound)?, replaced);
            Ok(plan.check(len)?)
        }
        checked => Ok(checked?),
    }
}

/// The length the client announced: `Content-Length`, or `X-Expected-Entity-Length`
/// (macOS Finder streams chunked and says the length there).
fn announced_length(headers: &HeaderMap) -> Option<u64> {
    let number = |name: header::HeaderName| -> Option<u64> {
        headers.get(name)?.to_str().ok()?.trim().parse().ok()
    };
    number(header::CONTENT_LENGTH)
        .or_else(|| number(header::HeaderName::from_static("x-expected-entity-length")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_announced_length_comes_from_either_header() {
        let mut h = HeaderMap::new();
        assert_eq!(announced_length(&h), None);
        h.insert("x-expected-entity-length", HeaderValue::from_static("7"));
        assert_eq!(announced_length(&h), Some(7));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("5"));
        assert_eq!(announced_length(&h), Some(5));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("x"));
        assert_eq!(announced_length(&h), Some(7));
    }
}
