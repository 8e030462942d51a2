//! The file tree: folders and files as rows linked by parent, plus each account's trash.
//!
//! Every account has two roots, its files and its trash; a trashed item is the same row
//! re-parented under the trash root, so deleting, restoring and moving are all one row
//! update whatever the size of the subtree. Reads live here, changes in [`write`],
//! [`relocate`] (COPY and MOVE, each one transaction) and [`trash`].

mod relocate;
mod trash;
mod write;

use sqlx::FromRow;

pub use relocate::{CopyDepth, Overwrite, Placed, Target};
pub(crate) use write::require_node;
pub use write::{CreateMode, NewContent};

use crate::Store;
use crate::accounts::{Account, AccountId};
use crate::blob::{BlobKey, Digests};
use crate::db::Backend;
use crate::error::{Result, StorageError};
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
            digests: r.sha1.map(|sha1| Digests { md5: r.md5, sha1 }),
        }
    }
}

/// Every node column (and the blob's digests), in `NodeRow` order.
macro_rules! node_columns {
    () => {
        "n.id, n.account_id, n.parent_id, n.name, n.kind, n.size, n.etag, n.mtime_ms, n.created_ms, \
         n.content_type, n.blob_key, n.trashed_ms, n.trash_origin, b.md5, b.sha1"
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
pub(crate) use {node_columns, select_nodes};

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

    /// The children of a folder, sorted by name.
    ///
    /// sqlx hands every SQLite row across a channel to its worker thread; a folder of
    /// 10,000 entries would cost 10,000 thread hops. The children come back as one
    /// row holding a JSON array instead, on both databases.
    pub async fn children(&self, parent: NodeId) -> Result<Vec<Node>> {
        let sql = match self.db.backend {
            Backend::Sqlite => concat!(
                "SELECT COALESCE(json_group_array(json_array(",
                node_columns!(),
                ")), '[]') FROM nodes n LEFT JOIN blobs b ON b.key = n.blob_key WHERE n.parent_id = $1"
            ),
            Backend::Postgres => concat!(
                "SELECT COALESCE(json_agg(json_build_array(",
                node_columns!(),
                "))::text, '[]') FROM nodes n LEFT JOIN blobs b ON b.key = n.blob_key WHERE n.parent_id = $1"
            ),
        };
        let json: String = sqlx::query_scalar(sql)
            .bind(parent.0)
            .fetch_one(&self.db.pool)
            .await?;
        let rows: Vec<NodeTuple> = serde_json::from_str(&json).map_err(|e| {
            StorageError::Invalid(format!("the database returned an unreadable listing: {e}"))
        })?;
        let mut nodes: Vec<Node> = rows
            .into_iter()
            .map(|t| Node::from(NodeRow::from(t)))
            .collect();
        // Sorted here: an ordered aggregate makes SQLite build and spill a sort tree.
        nodes.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(nodes)
    }

    /// Walks `segments` (compared in NFC) down from `root` in one query; `None` when
    /// any step is missing.
    pub async fn resolve(&self, root: NodeId, segments: &[&str]) -> Result<Option<Node>> {
        if segments.len() > MAX_DEPTH {
            return Ok(None);
        }
        if segments.is_empty() {
            return self.node(root).await;
        }
        let keys: Vec<String> = segments.iter().map(|s| name_key(s)).collect();
        let keys = serde_json::to_string(&keys).expect("strings serialise");
        // Paths of unusual length are not worth their memory.
        let version = self
            .db
            .changes
            .version()
            .filter(|_| keys.len() <= MAX_KEPT_PATH);
        let sql = match self.db.backend {
            Backend::Sqlite => concat!(
                "WITH RECURSIVE seg (depth, name) AS (SELECT CAST(key AS INTEGER), value FROM json_each($2)), \
                 walk (id, depth) AS (SELECT $1, 0 UNION ALL SELECT c.id, walk.depth + 1 FROM walk \
                 JOIN seg ON seg.depth = walk.depth JOIN nodes c ON c.parent_id = walk.id AND c.name_key = seg.name) ",
                "SELECT ",
                node_columns!(),
                " FROM nodes n LEFT JOIN blobs b ON b.key = n.blob_key \
                 WHERE n.id = (SELECT id FROM walk WHERE depth = $3)"
            ),
            Backend::Postgres => concat!(
                "WITH RECURSIVE seg (depth, name) AS (SELECT (t.ord - 1)::bigint, t.value \
                 FROM json_array_elements_text($2::json) WITH ORDINALITY AS t (value, ord)), \
                 walk (id, depth) AS (SELECT $1::bigint, 0::bigint UNION ALL SELECT c.id, walk.depth + 1 FROM walk \
                 JOIN seg ON seg.depth = walk.depth JOIN nodes c ON c.parent_id = walk.id AND c.name_key = seg.name) ",
                "SELECT ",
                node_columns!(),
                " FROM nodes n LEFT JOIN blobs b ON b.key = n.blob_key \
                 WHERE n.id = (SELECT id FROM walk WHERE depth = $3)"
            ),
        };
        let key = (root, keys);
        self.snapshots
            .paths
            .kept_or_read(version, &key, || async {
                let row: Option<NodeRow> = sqlx::query_as(sql)
                    .bind(root.0)
                    .bind(key.1.as_str())
                    .bind(segments.len() as i64)
                    .fetch_optional(&self.db.pool)
                    .await?;
                Ok(row.map(Node::from))
            })
            .await
    }
}

/// Longest path walk (as JSON of its segments' keys) whose result is kept.
const MAX_KEPT_PATH: usize = 1024;

/// A node row as JSON array elements, in `node_columns!` order.
type NodeTuple = (
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
