//! dav-server's filesystem over the storage crate, for one account and one request.
//!
//! A fresh [`AccountFs`] is built per request: it carries the account, which of its two
//! trees (files or trash) the request addresses, and facts about the request that the
//! filesystem calls alone cannot know (the DELETE target, `X-OC-Mtime`, the upload
//! limit). Deleting in the files tree moves to the trash, except for client noise
//! ([`TrashSkip`]); deleting in the trash purges.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use dav_server::davpath::DavPath;
use dav_server::fs::{
    DavDirEntry, DavFile, DavFileSystem, DavMetaData, DavProp, FsError, FsFuture, FsResult,
    FsStream, OpenOptions, ReadDirMeta,
};
use davgate_storage::{
    Account, CreateMode, DeadProp, Location, Node, PropChange, Store, Streamed, TreeRoot,
};
use futures_util::{FutureExt, StreamExt};
use http::StatusCode;

use super::errors::{FilesError, Refusals, fs_error};
use super::file::{QuotaRoom, ReadFile, UploadFile, UploadHost, UploadPlan};

/// Uploads announced at most this large hash MD5 as they stream (a few milliseconds);
/// larger ones leave it to the store's MD5 thread, which waits until no upload streams.
const STREAMED_MD5_MAX: u64 = 16 << 20;
use super::meta::{NodeEntry, NodeMeta};
use super::mount::path_key;
use super::trash_skip::TrashSkip;
use crate::sendfile::FileRanges;

/// What the request says that the filesystem calls do not.
#[derive(Debug, Default)]
pub(crate) struct RequestFacts {
    /// Modification time requested by `X-OC-Mtime`.
    pub(crate) mtime_ms: Option<i64>,
    /// `Content-Type` of an upload.
    pub(crate) content_type: Option<String>,
    /// Largest upload allowed for this account.
    pub(crate) upload_limit: u64,
    /// The connection's sendfile queue, when a GET may send straight from blob files.
    pub(crate) file_ranges: Option<FileRanges>,
}

/// One account's tree as dav-server sees it during one request.
#[derive(Clone)]
pub(crate) struct AccountFs {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    account: Account,
    tree: TreeRoot,
    facts: RequestFacts,
    /// Files a DELETE purges instead of trashing.
    trash_skip: TrashSkip,
    /// Nodes resolved during this request, by path key; cleared by every change.
    resolved: Mutex<HashMap<String, Option<Node>>>,
    refusals: Refusals,
}

impl AccountFs {
    pub(crate) fn new(
        store: Store,
        account: Account,
        tree: TreeRoot,
        facts: RequestFacts,
        trash_skip: TrashSkip,
    ) -> Self {
        AccountFs {
            inner: Arc::new(Inner {
                store,
                account,
                tree,
                facts,
                trash_skip,
                resolved: Mutex::new(HashMap::new()),
                refusals: Refusals::default(),
            }),
        }
    }

    /// What the user should be told about a refused request, if anything.
    pub(crate) fn take_refusal(&self) -> Option<FilesError> {
        self.inner.refusals.take()
    }

    /// The request's refusal slot, for the lock system to share.
    pub(crate) fn refusals(&self) -> Refusals {
        self.inner.refusals.clone()
    }

    pub(crate) fn refuse(&self, refusal: FilesError) {
        self.inner.refusals.set(refusal);
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn account(&self) -> &Account {
        &self.inner.account
    }

    /// Turns a storage error into dav-server's, remembering what to tell the user.
    pub(crate) fn fail(&self, err: davgate_storage::StorageError) -> FsError {
        let (fs, refusal) = fs_error(err);
        if let Some(r) = refusal {
            self.refuse(r);
        }
        fs
    }

    fn root(&self) -> davgate_storage::NodeId {
        self.inner.tree.of(&self.inner.account)
    }

    fn meta(&self, node: &Node) -> NodeMeta {
        NodeMeta::new(node, self.inner.account.used_bytes)
    }

    /// The node at `path`, or `NotFound`.
    pub(crate) async fn node(&self, path: &DavPath) -> FsResult<Node> {
        self.node_at(&segments(path)?).await
    }

    /// The node at `segments` below the tree's root, or `NotFound`.
    pub(crate) async fn node_at(&self, segments: &[String]) -> FsResult<Node> {
        self.resolve(segments).await?.ok_or(FsError::NotFound)
    }

    /// The folder that would contain `path`, and the name `path` has in it.
    pub(crate) async fn parent_and_name(&self, path: &DavPath) -> FsResult<(Node, String)> {
        let mut segments = segments(path)?;
        let name = segments.pop().ok_or(FsError::Forbidden)?;
        let parent = self.resolve(&segments).await?.ok_or(FsError::NotFound)?;
        if !parent.is_dir() {
            return Err(FsError::NotFound);
        }
        Ok((parent, name))
    }

    /// The node at `segments` below the tree's root: one query, remembered for the
    /// rest of the request (dav-server asks for the same path several times).
    async fn resolve(&self, segments: &[String]) -> FsResult<Option<Node>> {
        let key = path_key(segments);
        if let Some(node) = self.inner.resolved.lock().expect("cache lock").get(&key) {
            return Ok(node.clone());
        }
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        let node = self
            .inner
            .store
            .resolve(self.root(), &segs)
            .await
            .map_err(|e| self.fail(e))?;
        self.inner
            .resolved
            .lock()
            .expect("cache lock")
            .insert(key, node.clone());
        Ok(node)
    }

    /// Forgets what this request resolved: the tree just changed.
    pub(crate) fn changed(&self) {
        self.inner.resolved.lock().expect("cache lock").clear();
    }

    /// Trashes (or, in the trash, purges) the node at `path` if it is still where this
    /// request found it: a DELETE that lost a race with a MOVE gets 404, not 204.
    /// A file that is client noise ([`TrashSkip`]) is purged straight away; folders
    /// always go to the trash, whatever they hold.
    async fn remove(&self, path: &DavPath) -> FsResult<()> {
        let node = self.node(path).await?;
        let Some(expected) = Location::of(&node) else {
            return Err(FsError::Forbidden);
        };
        let store = &self.inner.store;
        let account = self.inner.account.id;
        let segments = segments(path)?;
        let result = match self.inner.tree {
            TreeRoot::Files if !node.is_dir() && self.inner.trash_skip.matches(&segments) => {
                store.purge_at(account, node.id, &expected).await
            }
            TreeRoot::Files => {
                let origin = path_key(&segments);
                let trash_root = self.inner.account.trash_root;
                store
                    .trash_at(account, trash_root, node.id, &expected, &origin)
                    .await
                    .map(drop)
            }
            TreeRoot::Trash => store.purge_at(account, node.id, &expected).await,
        };
        self.changed();
        result.map_err(|e| self.fail(e))
    }

    async fn open_for_upload(
        &self,
        path: &DavPath,
        options: &OpenOptions,
    ) -> FsResult<Box<dyn DavFile>> {
        let (parent, name) = self.parent_and_name(path).await?;
        let existing = self
            .inner
            .store
            .child(parent.id, &name)
            .await
            .map_err(|e| self.fail(e))?;
        if existing.as_ref().is_some_and(Node::is_dir) {
            return Err(FsError::Forbidden);
        }
        if options.create_new && existing.is_some() {
            return Err(FsError::Exists);
        }
        if !options.create && existing.is_none() {
            return Err(FsError::NotFound);
        }
        if !options.truncate {
            // LOCK on an unmapped URL: RFC 4918 §7.3 creates an empty resource.
            if existing.is_none() {
                let store = &self.inner.store;
                store
                    .create_empty_file(self.inner.account.id, parent.id, &name)
                    .await
                    .map_err(|e| self.fail(e))?;
                self.changed();
            }
            return Ok(Box::new(ReadFile::empty()));
        }
        let mode = if options.create_new {
            CreateMode::CreateNew
        } else if !options.create {
            CreateMode::ReplaceExisting
        } else {
            CreateMode::CreateOrReplace
        };
        let plan = UploadPlan {
            parent: parent.id,
            name,
            mode,
            limit: self.inner.facts.upload_limit,
            quota: self.inner.account.quota_bytes.map(|quota| QuotaRoom {
                quota,
                used: self.inner.account.used_bytes,
                replaced: existing.as_ref().map_or(0, |n| n.size),
            }),
            expected: options.size,
            mtime_ms: self.inner.facts.mtime_ms,
            content_type: self.inner.facts.content_type.clone(),
            checksum: options.checksum.clone(),
        };
        if let Err(refusal) = plan.check_announced() {
            return Err(self.fail(refusal));
        }
        // An MD5 the client sent must be checked before the commit, and a small file's
        // costs nothing while streaming (so a PROPFIND right after the PUT has it);
        // otherwise MD5 is computed after the commit (see davgate_storage::blob::digest).
        let md5_claimed = options
            .checksum
            .as_ref()
            .is_some_and(|claim| claim.trim().to_ascii_uppercase().starts_with("MD5:"));
        let small = options.size.is_some_and(|size| size <= STREAMED_MD5_MAX);
        let streamed = if md5_claimed || small {
            Streamed::Sha1AndMd5
        } else {
            Streamed::Sha1
        };
        let writer = self
            .inner
            .store
            .upload(streamed)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(Box::new(UploadFile::new(
            Box::new(self.clone()),
            plan,
            writer,
        )))
    }

    async fn props(&self, path: &DavPath) -> FsResult<Vec<DeadProp>> {
        let node = self.node(path).await?;
        self.inner
            .store
            .dead_props(node.id)
            .await
            .map_err(|e| self.fail(e))
    }
}

impl UploadHost for AccountFs {
    fn store(&self) -> &Store {
        AccountFs::store(self)
    }

    fn account(&self) -> &Account {
        AccountFs::account(self)
    }

    fn refuse(&self, refusal: FilesError) {
        AccountFs::refuse(self, refusal);
    }

    fn fail(&self, err: davgate_storage::StorageError) -> FsError {
        AccountFs::fail(self, err)
    }

    fn changed(&self) {
        AccountFs::changed(self);
    }
}

impl DavFileSystem for AccountFs {
    fn open<'a>(
        &'a self,
        path: &'a DavPath,
        options: OpenOptions,
    ) -> FsFuture<'a, Box<dyn DavFile>> {
        async move {
            if options.write {
                return self.open_for_upload(path, &options).await;
            }
            let node = self.node(path).await?;
            let Some(key) = node.blob.as_ref().filter(|_| !node.is_dir()) else {
                return Err(FsError::Forbidden);
            };
            let reader = self
                .inner
                .store
                .blobs()
                .open(key)
                .await
                .map_err(|e| self.fail(e))?;
            let ranges = self.inner.facts.file_ranges.clone();
            Ok(Box::new(ReadFile::new(reader, self.meta(&node), ranges)) as Box<dyn DavFile>)
        }
        .boxed()
    }

    fn read_dir<'a>(
        &'a self,
        path: &'a DavPath,
        _meta: ReadDirMeta,
    ) -> FsFuture<'a, FsStream<Box<dyn DavDirEntry>>> {
        async move {
            let segments = segments(path)?;
            let node = self.resolve(&segments).await?.ok_or(FsError::NotFound)?;
            if !node.is_dir() {
                return Err(FsError::Forbidden);
            }
            let store = &self.inner.store;
            let children = store.children(node.id).await.map_err(|e| self.fail(e))?;
            let entries: Vec<FsResult<Box<dyn DavDirEntry>>> = children
                .iter()
                .map(|child| {
                    Ok(Box::new(NodeEntry {
                        name: child.name.clone(),
                        meta: self.meta(child),
                    }) as Box<dyn DavDirEntry>)
                })
                .collect();
            Ok(futures_util::stream::iter(entries).boxed())
        }
        .boxed()
    }

    fn metadata<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, Box<dyn DavMetaData>> {
        async move {
            let node = self.node(path).await?;
            Ok(Box::new(self.meta(&node)) as Box<dyn DavMetaData>)
        }
        .boxed()
    }

    fn create_dir<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            let (parent, name) = self.parent_and_name(path).await?;
            let store = &self.inner.store;
            let result = store
                .create_dir(self.inner.account.id, parent.id, &name)
                .await;
            self.changed();
            result.map(drop).map_err(|e| self.fail(e))
        }
        .boxed()
    }

    fn remove_dir<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        self.remove(path).boxed()
    }

    fn remove_file<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        self.remove(path).boxed()
    }

    // No rename or copy: COPY and MOVE never reach dav-server ([`super::copymove`] answers
    // them in one storage transaction each), so the defaults (NotImplemented) stand.

    fn set_modified<'a>(&'a self, path: &'a DavPath, tm: SystemTime) -> FsFuture<'a, ()> {
        async move {
            let node = self.node(path).await?;
            let ms = tm
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            let result = self
                .inner
                .store
                .set_mtime(self.inner.account.id, node.id, ms)
                .await;
            self.changed();
            result.map_err(|e| self.fail(e))
        }
        .boxed()
    }

    fn have_props<'a>(
        &'a self,
        _path: &'a DavPath,
    ) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        Box::pin(std::future::ready(true))
    }

    fn patch_props<'a>(
        &'a self,
        path: &'a DavPath,
        patch: Vec<(bool, DavProp)>,
    ) -> FsFuture<'a, Vec<(StatusCode, DavProp)>> {
        async move {
            let node = self.node(path).await?;
            let changes: Vec<PropChange> = patch
                .iter()
                .map(|(set, prop)| {
                    let namespace = prop.namespace.clone().unwrap_or_default();
                    match set {
                        true => PropChange::Set(DeadProp {
                            namespace,
                            name: prop.name.clone(),
                            prefix: prop.prefix.clone(),
                            xml: prop.xml.clone().unwrap_or_default(),
                        }),
                        false => PropChange::Remove {
                            namespace,
                            name: prop.name.clone(),
                        },
                    }
                })
                .collect();
            let store = &self.inner.store;
            store
                .patch_dead_props(self.inner.account.id, node.id, &changes)
                .await
                .map_err(|e| self.fail(e))?;
            Ok(patch
                .into_iter()
                .map(|(_, p)| (StatusCode::OK, DavProp { xml: None, ..p }))
                .collect())
        }
        .boxed()
    }

    fn get_props<'a>(&'a self, path: &'a DavPath, do_content: bool) -> FsFuture<'a, Vec<DavProp>> {
        async move {
            let props = self.props(path).await?;
            Ok(props
                .into_iter()
                .map(|p| DavProp {
                    name: p.name,
                    prefix: p.prefix,
                    namespace: Some(p.namespace).filter(|ns| !ns.is_empty()),
                    xml: do_content.then_some(p.xml),
                })
                .collect())
        }
        .boxed()
    }

    fn get_prop<'a>(&'a self, path: &'a DavPath, prop: DavProp) -> FsFuture<'a, Vec<u8>> {
        async move {
            let namespace = prop.namespace.unwrap_or_default();
            self.props(path)
                .await?
                .into_iter()
                .find(|p| p.name == prop.name && p.namespace == namespace)
                .map(|p| p.xml)
                .ok_or(FsError::NotFound)
        }
        .boxed()
    }

    fn get_quota(&self) -> FsFuture<'_, (u64, Option<u64>)> {
        let account = &self.inner.account;
        let quota = (account.used_bytes, account.quota_bytes);
        async move { Ok(quota) }.boxed()
    }
}

/// The decoded segments of a path below the tree's root.
pub(crate) fn segments(path: &DavPath) -> FsResult<Vec<String>> {
    path.as_bytes()
        .split(|b| *b == b'/')
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8(s.to_vec()).map_err(|_| FsError::NotFound))
        .collect()
}
