//! The file tree: folders and files as rows linked by parent, plus each account's trash.
//!
//! Every account has two roots, its files and its trash; a trashed item is the same row
//! re-parented under the trash root, so deleting, restoring and moving are all one row
//! update whatever the size of the subtree. Reads live here, changes in [`write`],
//! [`relocate`] (COPY and MOVE, each one transaction) and [`trash`].

mod relocate;
mod trash;
pub(crate) mod write;

pub use relocate::{CopyDepth, Overwrite, Placed, Target};
pub(crate) use write::require_node;
pub use write::{CreateMode, FOLDER_AT_NAME, FileWritten, NameWas, NewContent, Uploaded};

// Kept under this path too: `tree::write` names the id here, as it does the node types.
pub use crate::ids::NodeId;
pub use crate::model::node::{Location, MAX_DEPTH, Node, NodeKind};
pub(crate) use crate::model::node::{
    NodeRow, NodeTuple, node_columns, node_columns_without_digests, select_nodes,
};

use sqlx::{FromRow, Row};

use crate::Store;
use crate::accounts::Account;
use crate::db::{Backend, Version};
use crate::error::{Result, StorageError};
use crate::names::name_key;

/// Whether a folder listing reads its children's content digests (`oc:checksums`), which
/// live in `blobs` and cost a lookup there per child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildDigests {
    /// Each child's digests, for `oc:checksums`.
    Read,
    /// No digests: every child's `digests` is `None`.
    Skip,
}

/// Which of an account's two trees a path starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeRoot {
    /// The live files.
    Files,
    /// Deleted items waiting for restore or purge.
    Trash,
}

/// The `walk (id, depth)` table of a path lookup: the nodes from `$1` (depth 0) down
/// the name keys of the JSON array `$2`, one per depth, as far as they exist.
///
/// On SQLite the join order is fixed (`CROSS JOIN`): without table statistics the
/// planner read `nodes` by parent alone and matched the name afterwards, so each step
/// scanned every child of the folder (10 ms for a folder of 20,000 files, against 19 µs
/// by parent and name). `seg` is materialized so that the JSON is parsed once, not at
/// every step.
macro_rules! walk_down {
    (Sqlite) => {
        "WITH RECURSIVE seg (depth, name) AS MATERIALIZED (SELECT CAST(key AS INTEGER), value FROM json_each($2)), \
         walk (id, depth) AS (SELECT $1, 0 UNION ALL SELECT c.id, walk.depth + 1 FROM walk \
         CROSS JOIN seg ON seg.depth = walk.depth CROSS JOIN nodes c ON c.parent_id = walk.id AND c.name_key = seg.name) "
    };
    (Postgres) => {
        "WITH RECURSIVE seg (depth, name) AS (SELECT (t.ord - 1)::bigint, t.value \
         FROM json_array_elements_text($2::json) WITH ORDINALITY AS t (value, ord)), \
         walk (id, depth) AS (SELECT $1::bigint, 0::bigint UNION ALL SELECT c.id, walk.depth + 1 FROM walk \
         JOIN seg ON seg.depth = walk.depth JOIN nodes c ON c.parent_id = walk.id AND c.name_key = seg.name) "
    };
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

    /// The children of a folder, sorted by name, with their content digests.
    pub async fn children(&self, parent: NodeId) -> Result<Vec<Node>> {
        self.children_listing(parent, ChildDigests::Read).await
    }

    /// The children of a folder, sorted by name; their digests only when asked for.
    ///
    /// sqlx hands every SQLite row across a channel to its worker thread; a folder of
    /// 10,000 entries would cost 10,000 thread hops, so SQLite returns one row holding a
    /// JSON array instead. PostgreSQL sends plain rows: there the JSON aggregate was the
    /// slow part, 188 ms of a 200 ms PROPFIND of 10,000 entries, against a few ms of rows.
    pub async fn children_listing(
        &self,
        parent: NodeId,
        digests: ChildDigests,
    ) -> Result<Vec<Node>> {
        let mut nodes: Vec<Node> = match self.db.backend {
            Backend::Sqlite => {
                let sql = match digests {
                    ChildDigests::Read => concat!(
                        "SELECT COALESCE(json_group_array(json_array(",
                        node_columns!(),
                        ")), '[]') FROM nodes n LEFT JOIN blobs b ON b.key = n.blob_key \
                         WHERE n.parent_id = $1"
                    ),
                    ChildDigests::Skip => concat!(
                        "SELECT COALESCE(json_group_array(json_array(",
                        node_columns_without_digests!(),
                        ", NULL, NULL)), '[]') FROM nodes n WHERE n.parent_id = $1"
                    ),
                };
                self.children_as_json(sql, parent).await?
            }
            Backend::Postgres => {
                let sql = match digests {
                    ChildDigests::Read => select_nodes!("WHERE n.parent_id = $1"),
                    ChildDigests::Skip => concat!(
                        "SELECT ",
                        node_columns_without_digests!(),
                        ", NULL::text AS md5, NULL::text AS sha1 FROM nodes n WHERE n.parent_id = $1"
                    ),
                };
                self.children_as_rows(sql, parent).await?
            }
        };
        // Sorted here: an ordered aggregate makes SQLite build and spill a sort tree.
        nodes.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(nodes)
    }

    async fn children_as_json(&self, sql: &'static str, parent: NodeId) -> Result<Vec<Node>> {
        let json: String = sqlx::query_scalar(sql)
            .bind(parent.0)
            .fetch_one(&self.db.pool)
            .await?;
        let rows: Vec<NodeTuple> = serde_json::from_str(&json).map_err(|e| {
            StorageError::Invalid(format!("the database returned an unreadable listing: {e}"))
        })?;
        Ok(rows
            .into_iter()
            .map(|t| Node::from(NodeRow::from(t)))
            .collect())
    }

    async fn children_as_rows(&self, sql: &'static str, parent: NodeId) -> Result<Vec<Node>> {
        let rows: Vec<NodeRow> = sqlx::query_as(sql)
            .bind(parent.0)
            .fetch_all(&self.db.pool)
            .await?;
        Ok(rows.into_iter().map(Node::from).collect())
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
        let keys = walk_keys(segments);
        let version = kept_walk_version(self.db.changes.version(), &keys);
        let sql = match self.db.backend {
            Backend::Sqlite => concat!(
                walk_down!(Sqlite),
                "SELECT ",
                node_columns!(),
                " FROM nodes n LEFT JOIN blobs b ON b.key = n.blob_key \
                 WHERE n.id = (SELECT id FROM walk WHERE depth = $3)"
            ),
            Backend::Postgres => concat!(
                walk_down!(Postgres),
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

    /// The folder whose child `segments` name, and that child: both from one walk down
    /// from `root`, as an upload needs them. `None` when the folder is missing (or is a
    /// file); an empty `segments` names no child and gives `None` too.
    pub async fn resolve_parent_and_child(
        &self,
        root: NodeId,
        segments: &[&str],
    ) -> Result<Option<(Node, Option<Node>)>> {
        if segments.is_empty() || segments.len() > MAX_DEPTH {
            return Ok(None);
        }
        let keys = walk_keys(segments);
        let sql = match self.db.backend {
            Backend::Sqlite => concat!(
                walk_down!(Sqlite),
                "SELECT walk.depth AS depth, ",
                node_columns!(),
                " FROM walk JOIN nodes n ON n.id = walk.id LEFT JOIN blobs b ON b.key = n.blob_key \
                 WHERE walk.depth >= $3 - 1"
            ),
            Backend::Postgres => concat!(
                walk_down!(Postgres),
                "SELECT walk.depth AS depth, ",
                node_columns!(),
                " FROM walk JOIN nodes n ON n.id = walk.id LEFT JOIN blobs b ON b.key = n.blob_key \
                 WHERE walk.depth >= $3 - 1"
            ),
        };
        let depth = segments.len() as i64;
        let rows = sqlx::query(sql)
            .bind(root.0)
            .bind(keys.as_str())
            .bind(depth)
            .fetch_all(&self.db.pool)
            .await?;
        let (mut parent, mut child) = (None, None);
        for row in &rows {
            let node = Node::from(NodeRow::from_row(row)?);
            if row.try_get::<i64, _>("depth")? == depth {
                child = Some(node);
            } else {
                parent = Some(node);
            }
        }
        Ok(parent.filter(Node::is_dir).map(|parent| (parent, child)))
    }

    /// The folder at `segments`, for uploads into it: `None` when there is no folder
    /// there. Kept across commits of file content (see `db::changes`), which neither
    /// make, move nor delete a folder, so a sync job's stream of uploads into one folder
    /// walks down to it once.
    pub async fn upload_folder(&self, root: NodeId, segments: &[&str]) -> Result<Option<Node>> {
        if segments.len() > MAX_DEPTH {
            return Ok(None);
        }
        let keys = walk_keys(segments);
        let version = kept_walk_version(self.db.changes.version_beyond_content(), &keys);
        let key = (root, keys);
        self.snapshots
            .upload_folders
            .kept_or_read(version, &key, || async {
                let found = self.resolve(root, segments).await?;
                Ok(found.filter(Node::is_dir))
            })
            .await
    }
}

/// Longest path walk (as JSON of its segments' keys) whose result is kept.
const MAX_KEPT_PATH: usize = 1024;

/// The segments' NFC keys as JSON: what a walk down binds, and what kept walks are keyed
/// by.
fn walk_keys(segments: &[&str]) -> String {
    let keys: Vec<String> = segments.iter().map(|s| name_key(s)).collect();
    serde_json::to_string(&keys).expect("strings serialise")
}

/// `version` to keep a walk of `keys` under, unless the path is of unusual length and
/// not worth its memory.
fn kept_walk_version(version: Option<Version>, keys: &str) -> Option<Version> {
    version.filter(|_| keys.len() <= MAX_KEPT_PATH)
}

#[cfg(test)]
mod tests {
    use crate::store::Store;

    /// Each step of the walk finds its child by parent and name together, whatever the
    /// statistics: never by scanning the folder.
    #[tokio::test]
    async fn a_path_walk_looks_children_up_by_parent_and_name() {
        let dir = tempfile::tempdir().unwrap();
        let (store, account) = Store::for_tests(dir.path()).await;
        // A query plan's rows are (id, parent, unused, detail).
        let plan: Vec<String> = sqlx::query_as::<_, (i64, i64, i64, String)>(concat!(
            "EXPLAIN QUERY PLAN ",
            walk_down!(Sqlite),
            "SELECT id FROM walk"
        ))
        .bind(account.files_root.0)
        .bind(r#"["a","b"]"#)
        .fetch_all(&store.db.pool)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, _, _, detail)| detail)
        .collect();
        assert!(
            plan.iter()
                .any(|step| step.contains("nodes_by_parent (parent_id=? AND name_key=?)")),
            "{plan:#?}"
        );
    }
}
