//! Collections shared with other accounts, read-only or read-write.

use crate::Store;
use crate::error::{Result, StorageError};
use crate::groupware::collections::{Collection, CollectionId, CollectionKind};
use crate::ids::AccountId;

/// A collection shared with an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// The shared collection.
    pub collection: Collection,
    /// Its owner's user name.
    pub owner: String,
    /// Whether the grantee may only read.
    pub read_only: bool,
}

impl Store {
    /// Shares a collection with `grantee` (or changes the share's mode).
    pub async fn share(
        &self,
        collection: CollectionId,
        grantee: AccountId,
        read_only: bool,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let owner: Option<i64> =
            sqlx::query_scalar("SELECT account_id FROM collections WHERE id = $1")
                .bind(collection.0)
                .fetch_optional(&mut *tx.tx)
                .await?;
        match owner {
            None => return Err(StorageError::NotFound),
            Some(owner) if owner == grantee.0 => {
                return Err(StorageError::Invalid(
                    "a collection cannot be shared with its owner".into(),
                ));
            }
            Some(_) => {}
        }
        sqlx::query(
            "INSERT INTO collection_shares (collection_id, grantee, read_only) VALUES ($1, $2, $3) \
             ON CONFLICT (collection_id, grantee) DO UPDATE SET read_only = excluded.read_only",
        )
        .bind(collection.0)
        .bind(grantee.0)
        .bind(i64::from(read_only))
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    /// Ends a share; `NotFound` if there was none.
    pub async fn unshare(&self, collection: CollectionId, grantee: AccountId) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let done =
            sqlx::query("DELETE FROM collection_shares WHERE collection_id = $1 AND grantee = $2")
                .bind(collection.0)
                .bind(grantee.0)
                .execute(&mut *tx.tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        tx.commit().await
    }

    /// Collections of a kind shared with `grantee`.
    pub async fn shared_with(
        &self,
        grantee: AccountId,
        kind: CollectionKind,
    ) -> Result<Vec<Share>> {
        let shares: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT s.collection_id, a.username, s.read_only FROM collection_shares s \
             JOIN collections c ON c.id = s.collection_id JOIN accounts a ON a.id = c.account_id \
             WHERE s.grantee = $1 ORDER BY a.username, c.slug",
        )
        .bind(grantee.0)
        .fetch_all(&self.db.pool)
        .await?;
        let mut out = Vec::new();
        for (id, owner, read_only) in shares {
            if let Some(collection) = self.collection_by_id(CollectionId(id)).await?
                && collection.kind == kind
            {
                out.push(Share {
                    collection,
                    owner,
                    read_only: read_only != 0,
                });
            }
        }
        Ok(out)
    }

    /// User names of the accounts `account` shares a collection with, either way (it
    /// shared one with them, or they with it), enabled ones only, sorted, at most
    /// `limit`: the people a principal search may show it.
    pub async fn share_partners(&self, account: AccountId, limit: u32) -> Result<Vec<String>> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT a.username FROM accounts a WHERE a.disabled = 0 AND a.id <> $1 AND ( \
               a.id IN (SELECT s.grantee FROM collection_shares s \
                        JOIN collections c ON c.id = s.collection_id WHERE c.account_id = $1) \
               OR a.id IN (SELECT c.account_id FROM collection_shares s \
                           JOIN collections c ON c.id = s.collection_id WHERE s.grantee = $1)) \
             ORDER BY a.username LIMIT $2",
        )
        .bind(account.0)
        .bind(i64::from(limit))
        .fetch_all(&self.db.pool)
        .await?;
        Ok(names)
    }
}
