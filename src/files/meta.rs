//! How a stored node looks to dav-server: metadata and directory entries.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dav_server::fs::{DavDirEntry, DavMetaData, FsFuture, FsResult};
use davgate_storage::Node;
use futures_util::FutureExt;

/// A node's metadata as of this request.
#[derive(Debug, Clone)]
pub(crate) struct NodeMeta {
    is_dir: bool,
    len: u64,
    mtime_ms: i64,
    created_ms: i64,
    etag: String,
}

impl NodeMeta {
    /// `account_used` is reported as a folder's length: dav-server answers RFC 4331's
    /// `quota-used-bytes` on a folder with the folder's length, and the account's usage
    /// is what `rclone about` and Finder expect there, whichever folder they mounted.
    pub(crate) fn new(node: &Node, account_used: u64) -> Self {
        NodeMeta {
            is_dir: node.is_dir(),
            len: if node.is_dir() {
                account_used
            } else {
                node.size
            },
            mtime_ms: node.mtime_ms,
            created_ms: node.created_ms,
            etag: node.etag.clone(),
        }
    }
}

fn system_time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

impl DavMetaData for NodeMeta {
    fn len(&self) -> u64 {
        self.len
    }

    fn modified(&self) -> FsResult<SystemTime> {
        Ok(system_time(self.mtime_ms))
    }

    fn created(&self) -> FsResult<SystemTime> {
        Ok(system_time(self.created_ms))
    }

    fn is_dir(&self) -> bool {
        self.is_dir
    }

    fn etag(&self) -> Option<String> {
        Some(self.etag.clone())
    }
}

/// One child in a folder listing.
pub(crate) struct NodeEntry {
    pub(crate) name: String,
    pub(crate) meta: NodeMeta,
}

impl DavDirEntry for NodeEntry {
    fn name(&self) -> Vec<u8> {
        self.name.as_bytes().to_vec()
    }

    fn metadata(&self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        let meta: Box<dyn DavMetaData> = Box::new(self.meta.clone());
        async move { Ok(meta) }.boxed()
    }

    fn is_dir(&self) -> FsFuture<'_, bool> {
        let dir = self.meta.is_dir;
        async move { Ok(dir) }.boxed()
    }
}
