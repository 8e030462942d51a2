//! A node of the file tree as read: [`Node`], where a request found it ([`Location`]), its kind, the row it is read from and the
//! column list every node query selects. The tree's reads (`tree`), its writes
//! (`tree::write`) and the store's row cache all build on it.

use sqlx::FromRow;

use crate::blob::{BlobKey, Digests};
use crate::ids::{AccountId, NodeId};
use crate::names::name_key;

/// Folder or file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A folder (also each root).
    Dir,
    /// A file with content in a blob.
    File,
}

impl NodeKind {
    fn from_db(kind: i64) -> Self {
        if kind == 2 {
            NodeKind::File
        } else {
            NodeKind::Dir
        }
    }

    pub(crate) fn to_db(self) -> i64 {
        match self {
            NodeKind::Dir => 1,
            NodeKind::File => 2,
        }
    }
}

/// One file or folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Database id.
    pub id: NodeId,
    /// Owning account.
    pub account: AccountId,
    /// Containing folder; `None` for a root.
    pub parent: Option<NodeId>,
    /// The name as the client sent it.
    pub name: String,
    /// Folder or file.
    pub kind: NodeKind,
    /// Content length in bytes (0 for folders).
    pub size: u64,
    /// Strong entity tag, new with every content change.
    pub etag: String,
    /// Modification time, ms since the epoch (client-settable).
    pub mtime_ms: i64,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
    /// Content type given at upload, if any.
    pub content_type: Option<String>,
    /// The content's blob (files only).
    pub blob: Option<BlobKey>,
    /// When the node was moved to the trash (set on a trashed item's top node only).
    pub trashed_ms: Option<i64>,
    /// The path it was deleted from (set with `trashed_ms`).
    pub trash_origin: Option<String>,
    /// Digests of the content (files uploaded since digests were kept).
    pub digests: Option<Digests>,
}

impl Node {
    /// True for folders.
    pub fn is_dir(&self) -> bool {
        self.kind == NodeKind::Dir
    }
}

#[derive(FromRow)]
pub(crate) struct NodeRow {
    id: i64,
    account_id: i64,
    parent_id: Option<i64>,
    name: String,
    kind: i64,
    size: i64,
    etag: String,
    mtime_ms: i64,
    created_ms: i64,
    content_type: Option<String>,
    blob_key: Option<String>,
    trashed_ms: Option<i64>,
    trash_origin: Option<String>,
    md5: Option<String>,
    sha1: Option<String>,
}

impl From<NodeRow> for Node {
    fn from(r: NodeRow) -> Self {
        Node {
            id: NodeId(r.id),
            account: AccountId(r.account_id),
            parent: r.parent_id.map(NodeId),
            name: r.name,
            kind: NodeKind::from_db(r.kind),
            size: r.size.max(0) as u64,
            etag: r.etag,
            mtime_ms: r.mtime_ms,
            created_ms: r.created_ms,
            content_type: r.content_type,
            blob: r.blob_key.and_then(BlobKey::parse_owned),
            trashed_ms: r.trashed_ms,
            trash_origin: r.trash_origin,
            digests: r.sha1.map(|sha1| Digests { md5: r.md5, sha1 }),
        }
    }
}

/// Every node column but the blob's digests, in `NodeRow` order; a listing that shows no
/// checksum selects the digests as NULL and needs no lookup in `blobs`.
macro_rules! node_columns_without_digests {
    () => {
        "n.id, n.account_id, n.parent_id, n.name, n.kind, n.size, n.etag, n.mtime_ms, n.created_ms, \
         n.content_type, n.blob_key, n.trashed_ms, n.trash_origin"
    };
}

/// Every node column and the blob's digests, in `NodeRow` order.
macro_rules! node_columns {
    () => {
        concat!(
            $crate::tree::node_columns_without_digests!(),
            ", b.md5, b.sha1"
        )
    };
}

/// `SELECT <every node column> FROM nodes n LEFT JOIN blobs b … <rest>`, as one static string.
macro_rules! select_nodes {
    ($rest:literal) => {
        concat!(
            "SELECT ",
            $crate::tree::node_columns!(),
            " FROM nodes n LEFT JOIN blobs b ON b.key = n.blob_key ",
            $rest
        )
    };
}
pub(crate) use {node_columns, node_columns_without_digests, select_nodes};

/// Longest path accepted, in segments: deep enough for any real tree, shallow enough
/// that resolving it stays cheap.
pub const MAX_DEPTH: usize = 256;

/// A node row as JSON array elements, in `node_columns!` order.
pub(crate) type NodeTuple = (
    i64,
    i64,
    Option<i64>,
    String,
    i64,
    i64,
    String,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl From<NodeTuple> for NodeRow {
    fn from(t: NodeTuple) -> Self {
        NodeRow {
            id: t.0,
            account_id: t.1,
            parent_id: t.2,
            name: t.3,
            kind: t.4,
            size: t.5,
            etag: t.6,
            mtime_ms: t.7,
            created_ms: t.8,
            content_type: t.9,
            blob_key: t.10,
            trashed_ms: t.11,
            trash_origin: t.12,
            md5: t.13,
            sha1: t.14,
        }
    }
}

/// Where a request found a node: its folder and its name. A change that acts on what
/// the request found checks this in its transaction, so a node moved or deleted
/// meanwhile is `NotFound` rather than silently acted on at its new place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location<'a> {
    /// The containing folder.
    pub parent: NodeId,
    /// The name in it (compared in NFC).
    pub name: &'a str,
}

impl<'a> Location<'a> {
    /// Where `node` is now; `None` for a root.
    pub fn of(node: &'a Node) -> Option<Self> {
        Some(Location {
            parent: node.parent?,
            name: &node.name,
        })
    }

    /// True when `node` is still here.
    pub(crate) fn holds(&self, node: &Node) -> bool {
        node.parent == Some(self.parent) && name_key(&node.name) == name_key(self.name)
    }
}
