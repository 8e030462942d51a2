//! The file tree: folders and files as rows linked by parent, plus each account's trash.
//!
//! Every account has two roots, its files and its trash; a trashed item is the same row
//! re-parented under the trash root, so deleting, restoring and moving are all one row
//! update whatever the size of the subtree. Reads live here, changes in [`write`] and
//! [`trash`].

mod trash;
mod write;

use sqlx::FromRow;

pub(crate) use write::require_node;
pub use write::{CreateMode, NewContent};

use crate::Store;
use crate::accounts::{Account, AccountId};
use crate::blob::{BlobKey, Digests};
use crate::error::Result;
use crate::names::name_key;

/// A node's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub i64);

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

/// Which of an account's two trees a path starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeRoot {
    /// The live files.
    Files,
    /// Deleted items waiting for restore or purge.
    Trash,
}

impl TreeRoot {
    /// The root node of this tree in the account.
    pub fn of(self, account: &Account) -> NodeId {
        match self {
            TreeRoot::Files => account.files_root,
            TreeRoot::Trash => account.trash_root,
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
            blob: r.blob_key.as_deref().and_then(BlobKey::parse),
            trashed_ms: r.trashed_ms,
            trash_origin: r.trash_origin,
            digests: r.md5.zip(r.sha1).map(|(md5, sha1)| Digests { md5, sha1 }),
        }
    }
}

/// `SELECT <every node column> FROM nodes <rest>`, as one static string.
macro_rules! select_nodes {
    ($rest:literal) => {
        concat!(
            "SELECT n.id, n.account_id, n.parent_id, n.name, n.kind, n.size, n.etag, n.mtime_ms, ",
            "n.created_ms, n.content_type, n.blob_key, n.trashed_ms, n.trash_origin, b.md5, b.sha1 ",
            "FROM nodes n LEFT JOIN blobs b ON b.key = n.blob_key ",
            $rest
        )
    };
}
pub(crate) use select_nodes;

/// Longest path accepted, in segments: deep enough for any real tree, shallow enough
/// that resolving it stays cheap.
pub const MAX_DEPTH: usize = 256;

impl Store {
    /// The node with this id.
    pub async fn node(&self, id: NodeId) -> Result<Option<Node>> {
        let row: Option<NodeRow> = sqlx::query_as(select_nodes!("WHERE n.id = $1"))
            .bind(id.0)
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(row.map(Node::from))
    }

    /// The child of `parent` called `name` (compared in NFC).
    pub async fn child(&self, parent: NodeId, name: &str) -> Result<Option<Node>> {
        let row: Option<NodeRow> =
            sqlx::query_as(select_nodes!("WHERE n.parent_id = $1 AND n.name_key = $2"))
                .bind(parent.0)
                .bind(name_key(name))
                .fetch_optional(&self.db.pool)
                .await?;
        Ok(row.map(Node::from))
    }

    /// The children of a folder, by name.
    pub async fn children(&self, parent: NodeId) -> Result<Vec<Node>> {
        let rows: Vec<NodeRow> =
            sqlx::query_as(select_nodes!("WHERE n.parent_id = $1 ORDER BY n.name_key"))
                .bind(parent.0)
                .fetch_all(&self.db.pool)
                .await?;
        Ok(rows.into_iter().map(Node::from).collect())
    }

    /// Walks `segments` down from `root`; `None` when any step is missing.
    pub async fn resolve(&self, root: NodeId, segments: &[&str]) -> Result<Option<Node>> {
        if segments.len() > MAX_DEPTH {
            return Ok(None);
        }
        let Some(mut node) = self.node(root).await? else {
            return Ok(None);
        };
        for segment in segments {
            if !node.is_dir() {
                return Ok(None);
            }
            match self.child(node.id, segment).await? {
                Some(child) => node = child,
                None => return Ok(None),
            }
        }
        Ok(Some(node))
    }
}
