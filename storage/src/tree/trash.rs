//! The trash: deleting re-parents a node under the account's trash root, restoring
//! moves it back ([`Store::rename`]), purging deletes the subtree and releases its bytes.

use crate::Store;
use crate::accounts::{charge, release_blobs};
use crate::blob::BlobKey;
use crate::db::{WriteTx, now_ms};
use crate::error::{Result, StorageError};
use crate::ids::{AccountId, NodeId};
use crate::model::node::{Location, Node};
use crate::names::name_key;
use crate::tree::write::fetch_node;

/// Attempts at a free trash name before giving up; names only collide when the same
/// name is deleted several times within one second.
const TRASH_NAME_ATTEMPTS: u32 = 64;

impl Store {
    /// Moves `node` with everything below it into the account's trash and returns the
    /// trashed item. `origin` is the path it was deleted from, shown when listing.
    pub async fn trash(
        &self,
        account: AccountId,
        trash_root: NodeId,
        node: NodeId,
        origin: &str,
    ) -> Result<Node> {
        let mut tx = self.db.begin_write().await?;
        let item = fetch_node(&mut tx, node).await?;
        if item.account != account || item.parent.is_none() {
            return Err(StorageError::NotFound);
        }
        let trashed = trash_in(&mut tx, trash_root, &item, origin).await?;
        tx.commit().await?;
        Ok(trashed)
    }

    /// Trashes `node` only if it is still at `expected`, where the request found it:
    /// a DELETE that lost a race with a MOVE or another DELETE gets `NotFound` and
    /// changes nothing.
    pub async fn trash_at(
        &self,
        account: AccountId,
        trash_root: NodeId,
        node: NodeId,
        expected: &Location<'_>,
        origin: &str,
    ) -> Result<Node> {
        let mut tx = self.db.begin_write().await?;
        let item = fetch_node(&mut tx, node).await?;
        if item.account != account || !expected.holds(&item) {
            return Err(StorageError::NotFound);
        }
        let trashed = trash_in(&mut tx, trash_root, &item, origin).await?;
        tx.commit().await?;
        Ok(trashed)
    }

    /// Deletes `node` and everything below it for good, releasing quota and bytes.
    pub async fn purge(&self, account: AccountId, node: NodeId) -> Result<()> {
        self.purge_if(account, node, Purge::Any).await
    }

    /// Purges `node` only if it is still at `expected` (a restore may have won the race).
    pub async fn purge_at(
        &self,
        account: AccountId,
        node: NodeId,
        expected: &Location<'_>,
    ) -> Result<()> {
        self.purge_if(account, node, Purge::At(expected)).await
    }

    /// Purges `node` if `condition` still holds in the transaction.
    async fn purge_if(&self, account: AccountId, node: NodeId, condition: Purge<'_>) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let item = fetch_node(&mut tx, node).await?;
        if item.account != account || item.parent.is_none() {
            return Err(StorageError::NotFound);
        }
        let holds = match condition {
            Purge::Any => true,
            Purge::At(expected) => expected.holds(&item),
            Purge::TrashedBefore(before) => item.trashed_ms.is_some_and(|t| t < before),
        };
        if !holds {
            return Err(StorageError::NotFound);
        }
        let files: Vec<(String, i64)> = sqlx::query_as(
            "WITH RECURSIVE sub (id) AS ( \
                 SELECT id FROM nodes WHERE id = $1 \
                 UNION ALL SELECT n.id FROM nodes n JOIN sub ON n.parent_id = sub.id) \
             SELECT blob_key, size FROM nodes \
             WHERE id IN (SELECT id FROM sub) AND blob_key IS NOT NULL",
        )
        .bind(node.0)
        .fetch_all(&mut *tx.tx)
        .await?;
        sqlx::query("DELETE FROM nodes WHERE id = $1")
            .bind(node.0)
            .execute(&mut *tx.tx)
            .await?;
        let bytes: i64 = files.iter().map(|(_, size)| size).sum();
        charge(&mut tx, account, -bytes).await?;
        let mut keys: Vec<BlobKey> = files
            .iter()
            .filter_map(|(k, _)| BlobKey::parse(k))
            .collect();
        keys.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        keys.dedup();
        let freed = release_blobs(&mut tx, &keys).await?;
        tx.commit().await?;
        self.delete_blobs(&freed).await;
        Ok(())
    }

    /// Purges every trashed item deleted before `before_ms`; returns how many.
    pub async fn purge_trash_before(&self, before_ms: i64) -> Result<usize> {
        let expired: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT id, account_id FROM nodes WHERE trashed_ms IS NOT NULL AND trashed_ms < $1",
        )
        .bind(before_ms)
        .fetch_all(&self.db.pool)
        .await?;
        let mut purged = 0;
        for (id, account) in expired {
            match self
                .purge_if(
                    AccountId(account),
                    NodeId(id),
                    Purge::TrashedBefore(before_ms),
                )
                .await
            {
                Ok(()) => purged += 1,
                // Restored or purged by someone else meanwhile.
                Err(StorageError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(purged)
    }
}

/// What must still be true of a node for a purge to go ahead.
#[derive(Clone, Copy)]
enum Purge<'a> {
    /// Nothing: the caller holds the node's id and wants it gone.
    Any,
    /// It is still where the request found it.
    At(&'a Location<'a>),
    /// It is still a trashed item deleted before this time (retention must not purge
    /// what was restored meanwhile).
    TrashedBefore(i64),
}

/// Re-parents `item`, as read in this transaction, under the trash root. The update
/// repeats the place it was read at, so on PostgreSQL, where a concurrent writer may
/// have moved it since, the loser changes nothing and gets `NotFound`.
pub(super) async fn trash_in(
    tx: &mut WriteTx,
    trash_root: NodeId,
    item: &Node,
    origin: &str,
) -> Result<Node> {
    let Some(parent) = item.parent else {
        return Err(StorageError::Invalid("a root cannot be deleted".to_owned()));
    };
    let now = now_ms();
    // Nextcloud's convention: the name, ".d", the deletion time in seconds.
    let stem = format!("{}.d{}", item.name, now / 1000);
    for attempt in 0..TRASH_NAME_ATTEMPTS {
        let name = match attempt {
            0 => stem.clone(),
            n => format!("{stem}-{n}"),
        };
        let taken: Option<i64> =
            sqlx::query_scalar("SELECT id FROM nodes WHERE parent_id = $1 AND name_key = $2")
                .bind(trash_root.0)
                .bind(name_key(&name))
                .fetch_optional(&mut *tx.tx)
                .await?;
        if taken.is_some() {
            continue;
        }
        let done = sqlx::query(
            "UPDATE nodes SET parent_id = $1, name = $2, name_key = $3, trashed_ms = $4, \
             trash_origin = $5 WHERE id = $6 AND parent_id = $7 AND name_key = $8",
        )
        .bind(trash_root.0)
        .bind(&name)
        .bind(name_key(&name))
        .bind(now)
        .bind(origin)
        .bind(item.id.0)
        .bind(parent.0)
        .bind(name_key(&item.name))
        .execute(&mut *tx.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        return fetch_node(tx, item.id).await;
    }
    Err(StorageError::Conflict(
        "the trash has too many items of that name",
    ))
}
