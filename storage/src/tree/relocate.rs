//! COPY and MOVE as single transactions: look up, check, trash what is overwritten, act.
//!
//! A WebDAV client sees one request; so does the database. The source is checked to be
//! still where the request found it ([`Location`]), the destination name is checked
//! against `Overwrite`, an overwritten node goes to the trash, and the move (one row
//! update) or the copy (every row of the subtree, its dead properties and its quota
//! charge) happens, all or nothing. Blobs are immutable and shared, so a copy writes
//! no bytes. Two requests racing for one node have one winner; the loser gets
//! `NotFound` or `PreconditionFailed` and changes nothing.

use std::collections::HashMap;

use crate::Store;
use crate::accounts::{AccountId, charge};
use crate::blob::BlobKey;
use crate::db::{WriteTx, now_ms};
use crate::error::{Result, StorageError};
use crate::ids::NodeId;
use crate::model::node::{Location, Node, NodeKind, NodeRow, node_columns};
use crate::names::{name_key, validate_name};
use crate::tree::trash::trash_in;
use crate::tree::write::{fetch_child, fetch_node, insert_node, is_within, require_dir};

/// What to do when the destination name is taken (the WebDAV `Overwrite` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Fail with `PreconditionFailed` (`Overwrite: F`).
    Refuse,
    /// Move the existing node to the trash first (`Overwrite: T`, the default).
    Replace,
}

/// How much of a folder a copy takes (the WebDAV `Depth` header of a COPY).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyDepth {
    /// The node alone: a folder is copied empty.
    Node,
    /// The node and everything below it.
    Subtree,
}

/// Where a copy or move goes.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The folder to place it in.
    pub parent: NodeId,
    /// The name to give it there.
    pub name: &'a str,
    /// What to do when the name is taken.
    pub overwrite: Overwrite,
    /// The path of the destination, recorded on an overwritten node in the trash.
    pub origin: &'a str,
}

/// The outcome of a copy or move.
#[derive(Debug, Clone)]
pub struct Placed {
    /// The node at the destination (the moved node, or the top of the copy).
    pub node: Node,
    /// The node that had the destination name, now in the trash.
    pub replaced: Option<Node>,
}

impl Store {
    /// Moves `node`, if it is still at `expected`, to `target`: one row update, plus
    /// trashing the node it replaces. A restore from the trash is a move too.
    pub async fn move_node(
        &self,
        account: AccountId,
        node: NodeId,
        expected: &Location<'_>,
        target: &Target<'_>,
    ) -> Result<Placed> {
        validate_name(target.name)?;
        let mut tx = self.db.begin_write().await?;
        let moving = fetch_node(&mut tx, node).await?;
        if moving.account != account || !expected.holds(&moving) {
            return Err(StorageError::NotFound);
        }
        require_destination_folder(&mut tx, account, target.parent).await?;
        if moving.is_dir() {
            // Two folder moves, A into B and B into A, would each see no cycle under
            // PostgreSQL's read committed and together cut both off the tree: folder
            // moves of one account take turns on its row (SQLite already serialises).
            sqlx::query("UPDATE accounts SET used_bytes = used_bytes WHERE id = $1")
                .bind(account.0)
                .execute(&mut *tx.tx)
                .await?;
            if is_within(&mut tx, target.parent, node).await? {
                return Err(StorageError::Invalid(
                    "a folder cannot be moved into itself".to_owned(),
                ));
            }
        }
        let replaced = match fetch_child(&mut tx, target.parent, target.name).await? {
            // The same node under another spelling of its name (NFC): a rename.
            Some(existing) if existing.id == node => None,
            Some(existing) => Some(make_room(&mut tx, account, &existing, target).await?),
            None => None,
        };
        // The update repeats the expected place: on PostgreSQL a concurrent move may
        // have committed since the read above, and then this one must change nothing.
        let done = sqlx::query(
            "UPDATE nodes SET parent_id = $1, name = $2, name_key = $3, trashed_ms = NULL, \
             trash_origin = NULL WHERE id = $4 AND parent_id = $5 AND name_key = $6",
        )
        .bind(target.parent.0)
        .bind(target.name)
        .bind(name_key(target.name))
        .bind(node.0)
        .bind(expected.parent.0)
        .bind(name_key(expected.name))
        .execute(&mut *tx.tx)
        .await
        .map_err(|e| StorageError::from_unique(e, "the destination name was taken meanwhile"))?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        let node = fetch_node(&mut tx, node).await?;
        tx.commit().await?;
        Ok(Placed { node, replaced })
    }

    /// Copies `source`, if it is still at `expected`, to `target`: every row of the
    /// subtree (or the node alone), with dead properties, sharing the blobs and
    /// charging their sizes to the quota, in one transaction.
    pub async fn copy_tree(
        &self,
        account: AccountId,
        source: NodeId,
        expected: &Location<'_>,
        target: &Target<'_>,
        depth: CopyDepth,
    ) -> Result<Placed> {
        validate_name(target.name)?;
        let mut tx = self.db.begin_write().await?;
        let src = fetch_node(&mut tx, source).await?;
        if src.account != account || !expected.holds(&src) {
            return Err(StorageError::NotFound);
        }
        require_destination_folder(&mut tx, account, target.parent).await?;
        if src.is_dir() && is_within(&mut tx, target.parent, source).await? {
            return Err(StorageError::Invalid(
                "a folder cannot be copied into itself".to_owned(),
            ));
        }
        let rows = match (src.kind, depth) {
            (NodeKind::Dir, CopyDepth::Subtree) => subtree(&mut tx, source).await?,
            _ => vec![src],
        };
        let replaced = match fetch_child(&mut tx, target.parent, target.name).await? {
            Some(existing) if existing.id == source => {
                return Err(StorageError::Invalid(
                    "a resource cannot be copied onto itself".to_owned(),
                ));
            }
            Some(existing) => Some(make_room(&mut tx, account, &existing, target).await?),
            None => None,
        };
        let bytes: i64 = rows
            .iter()
            .filter(|n| n.kind == NodeKind::File)
            .map(|n| n.size as i64)
            .sum();
        charge(&mut tx, account, bytes).await?;

        let mut copies: HashMap<NodeId, NodeId> = HashMap::with_capacity(rows.len());
        for (index, row) in rows.iter().enumerate() {
            let (parent, name) = if index == 0 {
                (target.parent, target.name)
            } else {
                // Rows come parents first, so every parent has its copy already.
                let original_parent = row.parent.ok_or(StorageError::NotFound)?;
                let parent = *copies.get(&original_parent).ok_or(StorageError::NotFound)?;
                (parent, row.name.as_str())
            };
            let blob: Option<(&BlobKey, i64)> = match row.kind {
                NodeKind::File => Some((
                    row.blob.as_ref().ok_or(StorageError::NotFound)?,
                    row.size as i64,
                )),
                NodeKind::Dir => None,
            };
            let id = insert_node(
                &mut tx,
                account,
                parent,
                name,
                row.kind,
                blob,
                row.mtime_ms,
                now_ms(),
                row.content_type.as_deref(),
            )
            .await?;
            sqlx::query(
                "INSERT INTO dead_props (node_id, namespace, name, prefix, xml) \
                 SELECT $1, namespace, name, prefix, xml FROM dead_props WHERE node_id = $2",
            )
            .bind(id.0)
            .bind(row.id.0)
            .execute(&mut *tx.tx)
            .await?;
            copies.insert(row.id, id);
        }
        let top = copies.get(&source).copied().ok_or(StorageError::NotFound)?;
        let node = fetch_node(&mut tx, top).await?;
        tx.commit().await?;
        Ok(Placed { node, replaced })
    }
}

/// Fails with `Conflict` unless `parent` is a folder of `account`: the destination's
/// parent must exist (RFC 4918 §9.8.5, 409).
async fn require_destination_folder(
    tx: &mut WriteTx,
    account: AccountId,
    parent: NodeId,
) -> Result<()> {
    match require_dir(tx, account, parent).await {
        Err(StorageError::NotFound) => Err(StorageError::Conflict(
            "the destination folder does not exist",
        )),
        other => other,
    }
}

/// Frees the destination name as `target.overwrite` allows: trashes `existing`.
async fn make_room(
    tx: &mut WriteTx,
    account: AccountId,
    existing: &Node,
    target: &Target<'_>,
) -> Result<Node> {
    if target.overwrite == Overwrite::Refuse {
        return Err(StorageError::PreconditionFailed);
    }
    let trash_root: Option<i64> =
        sqlx::query_scalar("SELECT trash_root FROM accounts WHERE id = $1")
            .bind(account.0)
            .fetch_optional(&mut *tx.tx)
            .await?
            .flatten();
    let trash_root = trash_root.map(NodeId).ok_or(StorageError::NotFound)?;
    trash_in(tx, trash_root, existing, target.origin).await
}

/// `top` and every node below it, parents before their children.
async fn subtree(tx: &mut WriteTx, top: NodeId) -> Result<Vec<Node>> {
    let rows: Vec<NodeRow> = sqlx::query_as(concat!(
        "WITH RECURSIVE sub (id, depth) AS ( \
             SELECT id, 0 FROM nodes WHERE id = $1 \
             UNION ALL SELECT n.id, sub.depth + 1 FROM nodes n JOIN sub ON n.parent_id = sub.id) \
         SELECT ",
        node_columns!(),
        " FROM sub JOIN nodes n ON n.id = sub.id LEFT JOIN blobs b ON b.key = n.blob_key \
         ORDER BY sub.depth, n.id"
    ))
    .bind(top.0)
    .fetch_all(&mut *tx.tx)
    .await?;
    Ok(rows.into_iter().map(Node::from).collect())
}
