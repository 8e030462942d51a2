//! One file request as every verb sees it — who asks, in which tree, at which path,
//! under which conditions — and the two checks every write makes before it acts: the
//! conditional headers (`If`, `If-Match`, `If-None-Match`; RFC 4918 §10.4, RFC 9110
//! §13.1) and the locks (RFC 4918 §7).

use std::time::UNIX_EPOCH;

use davgate_storage::{Account, Node, Store, TreeRoot};
use http::{HeaderMap, header};

use super::errors::FilesError;
use super::locks::DbLocks;
use super::mount::{self, path_key};
use crate::route::{IfState, Routed};

/// At most this many resources named by tagged `If` lists are looked up; a list about
/// any further one does not hold. Real clients tag one or two.
const MAX_TAGGED: usize = 8;

/// A file request, parsed by the router, with the account it acts for.
pub(crate) struct Ctx<'a> {
    pub(crate) store: &'a Store,
    pub(crate) account: &'a Account,
    pub(crate) tree: TreeRoot,
    pub(crate) routed: &'a Routed,
    pub(crate) locks: &'a DbLocks,
    /// Who asks, as locks record it.
    pub(crate) principal: &'a str,
    /// `If-Unmodified-Since`, in seconds since the epoch.
    pub(crate) unmodified_since: Option<i64>,
}

/// An HTTP-date header (`If-Modified-Since`, `If-Unmodified-Since`) in seconds since
/// the epoch; `None` when absent or not a date, which RFC 9110 §13.1.3-4 says to ignore.
pub(crate) fn date_header(headers: &HeaderMap, name: header::HeaderName) -> Option<i64> {
    let text = headers.get(name)?.to_str().ok()?;
    let at = httpdate::parse_http_date(text.trim()).ok()?;
    Some(at.duration_since(UNIX_EPOCH).ok()?.as_secs() as i64)
}

impl Ctx<'_> {
    /// The request path's key ("/a/b").
    pub(crate) fn key(&self) -> String {
        path_key(&self.routed.path)
    }

    /// The decoded href of the request path.
    pub(crate) fn href(&self, dir: bool) -> String {
        mount::href(self.routed.mount, self.tree, &self.routed.path, dir)
    }

    /// The node at `segments` in the request's tree, if any.
    pub(crate) async fn node_at(&self, segments: &[String]) -> Result<Option<Node>, FilesError> {
        let names: Vec<&str> = segments.iter().map(String::as_str).collect();
        Ok(self
            .store
            .resolve(self.tree.of(self.account), &names)
            .await?)
    }

    /// The folder the request path names a child of, and that child if it exists, in
    /// one walk; `None` when that folder does not exist.
    pub(crate) async fn parent_and_child(
        &self,
    ) -> Result<Option<(Node, Option<Node>)>, FilesError> {
        let names: Vec<&str> = self.routed.path.iter().map(String::as_str).collect();
        Ok(self
            .store
            .resolve_parent_and_child(self.tree.of(self.account), &names)
            .await?)
    }

    /// The folder an upload to the request path goes into, kept across uploads (see
    /// `Store::upload_folder`); `None` when there is no such folder.
    pub(crate) async fn upload_folder(&self) -> Result<Option<Node>, FilesError> {
        let Some((_, folder)) = self.routed.path.split_last() else {
            return Ok(None);
        };
        let names: Vec<&str> = folder.iter().map(String::as_str).collect();
        Ok(self
            .store
            .upload_folder(self.tree.of(self.account), &names)
            .await?)
    }

    /// The node at the request path, if any.
    pub(crate) async fn node(&self) -> Result<Option<Node>, FilesError> {
        self.node_at(&self.routed.path).await
    }

    /// Whether the request has a conditional header, which needs what is at its path.
    pub(crate) fn is_conditional(&self) -> bool {
        let conditions = &self.routed.conditions;
        !conditions.if_lists.is_empty()
            || conditions.if_match.is_some()
            || conditions.if_none_match.is_some()
            || self.unmodified_since.is_some()
    }

    /// 412 unless the conditional headers hold for the request's resource, `node`
    /// being what is there now (`None`: nothing).
    pub(crate) async fn check_conditions(&self, node: Option<&Node>) -> Result<(), FilesError> {
        if !self.is_conditional() {
            return Ok(());
        }
        let conditions = &self.routed.conditions;
        let etag = node.map(|n| n.etag.as_str());
        if !conditions.http_hold(etag.unwrap_or_default()) {
            return Err(FilesError::ConditionFailed);
        }
        // RFC 9110 §13.1.4: only without If-Match, and by whole seconds.
        if conditions.if_match.is_none()
            && let Some(since) = self.unmodified_since
            && node.is_none_or(|n| n.mtime_ms.max(0) / 1000 > since)
        {
            return Err(FilesError::ConditionFailed);
        }
        self.check_if_header(node).await
    }

    /// 412 unless the `If` header holds (RFC 4918 §10.4) for the request's resource,
    /// `node` being what is there now. A tagged list may name another resource of the
    /// tree; it is looked up.
    pub(crate) async fn check_if_header(&self, node: Option<&Node>) -> Result<(), FilesError> {
        let conditions = &self.routed.conditions;
        if conditions.if_lists.is_empty() {
            return Ok(());
        }
        let etag = node.map(|n| n.etag.as_str());
        let own_key = self.key();
        let own = Known {
            key: own_key.clone(),
            etag: etag.map(str::to_owned),
            lock_tokens: self.tokens_on(&own_key).await,
        };
        let mut others: Vec<Known> = Vec::new();
        for tag in conditions
            .if_lists
            .iter()
            .filter_map(|l| l.resource.as_deref())
        {
            let Some(key) = mount::tagged_key(self.routed.mount, self.tree, tag) else {
                continue;
            };
            if key == own_key || others.iter().any(|k| k.key == key) || others.len() >= MAX_TAGGED {
                continue;
            }
            others.push(self.known(key).await?);
        }
        let holds = conditions.if_holds(|resource| {
            let Some(tag) = resource else {
                return Some(own.state());
            };
            let key = mount::tagged_key(self.routed.mount, self.tree, tag)?;
            if key == own.key {
                return Some(own.state());
            }
            others.iter().find(|k| k.key == key).map(Known::state)
        });
        if holds {
            Ok(())
        } else {
            Err(FilesError::ConditionFailed)
        }
    }

    /// 423 unless the request holds every lock on its resource (and, when `deep`,
    /// every lock below it), submitting the tokens through the `If` header.
    pub(crate) async fn check_locks(&self, deep: bool) -> Result<(), FilesError> {
        self.check_locks_at(&self.key(), deep).await
    }

    /// The same for another path key of the tree (a destination, a parent).
    pub(crate) async fn check_locks_at(&self, key: &str, deep: bool) -> Result<(), FilesError> {
        if self.tree != TreeRoot::Files {
            // Only the files tree can be locked.
            return Ok(());
        }
        let tokens = self.routed.conditions.lock_tokens();
        match self
            .locks
            .blocking(key, Some(self.principal), deep, &tokens)
            .await
        {
            None => Ok(()),
            Some(lock) => Err(FilesError::Locked {
                roots: vec![mount::href_of_key(self.routed.mount, self.tree, &lock.path)],
            }),
        }
    }

    /// The tokens of the locks covering `key`.
    async fn tokens_on(&self, key: &str) -> Vec<String> {
        if self.tree != TreeRoot::Files {
            return Vec::new();
        }
        self.locks
            .covering(key)
            .await
            .into_iter()
            .map(|l| l.token)
            .collect()
    }

    async fn known(&self, key: String) -> Result<Known, FilesError> {
        let segments: Vec<String> = key
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let etag = self.node_at(&segments).await?.map(|n| n.etag);
        let lock_tokens = self.tokens_on(&key).await;
        Ok(Known {
            key,
            etag,
            lock_tokens,
        })
    }
}

/// What an `If` list may test of one resource.
struct Known {
    key: String,
    etag: Option<String>,
    lock_tokens: Vec<String>,
}

impl Known {
    fn state(&self) -> IfState<'_> {
        IfState {
            etag: self.etag.as_deref(),
            lock_tokens: &self.lock_tokens,
        }
    }
}
