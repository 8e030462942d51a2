//! WebDAV locks, kept in the database so every node and every restart sees them.
//!
//! Locks are keyed by path, as RFC 4918 defines them (a lock can cover an unmapped URL).
//! The rules for which locks conflict live with the protocol code; this module makes
//! "check for conflicts, then insert" one atomic step.

use crate::Store;
use crate::db::{Backend, now_ms};
use crate::error::Result;
use crate::ids::AccountId;
pub use crate::model::lock::LockRecord;
use crate::model::lock::LockRow;

/// The columns of a lock, in `LockRow` order.
macro_rules! lock_columns {
    () => {
        "token, path, principal, owner_xml, timeout_ms, shared, deep"
    };
}

impl Store {
    /// The account's locks that have not expired. Expired ones found on the way are
    /// deleted, so the table holds only locks that still mean something.
    ///
    /// Every write to the files asks for them, so on SQLite they are kept across
    /// uploads, which leave locks alone (see `db::changes`). PostgreSQL announces
    /// changes to accounts, nodes and blobs only (`0012_change_notices`): a lock another
    /// node took would go unseen, so there they are read every time.
    pub async fn locks(&self, account: AccountId) -> Result<Vec<LockRecord>> {
        let version = match self.db.backend {
            Backend::Sqlite => self.db.changes.version_beyond_content(),
            Backend::Postgres => None,
        };
        let sql = concat!(
            "SELECT ",
            lock_columns!(),
            " FROM locks WHERE account_id = $1 ORDER BY path"
        );
        let rows = self
            .snapshots
            .locks
            .kept_or_read(version, &account, || async {
                let rows: Vec<LockRow> = sqlx::query_as(sql)
                    .bind(account.0)
                    .fetch_all(&self.db.pool)
                    .await?;
                Ok(rows.into_iter().map(LockRecord::from).collect::<Vec<_>>())
            })
            .await?;
        let now = now_ms();
        let (live, expired): (Vec<LockRecord>, Vec<LockRecord>) =
            rows.into_iter().partition(|l| l.expires_ms > now);
        // Reads stay reads: the write happens only when there is something to purge.
        if !expired.is_empty() {
            self.purge_expired_locks(account, now).await?;
        }
        Ok(live)
    }

    /// Deletes the account's locks that expired at or before `now_ms`; returns how many.
    pub async fn purge_expired_locks(&self, account: AccountId, now_ms: i64) -> Result<u64> {
        let mut tx = self.db.begin_write().await?;
        let done = sqlx::query(
            "DELETE FROM locks WHERE account_id = $1 AND (timeout_ms IS NULL OR timeout_ms <= $2)",
        )
        .bind(account.0)
        .bind(now_ms)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Inserts `lock` unless `conflict` finds a clash among the current locks, which
    /// it returns instead. Check and insert are one transaction.
    pub async fn add_lock(
        &self,
        account: AccountId,
        lock: LockRecord,
        conflict: impl FnOnce(&[LockRecord]) -> Option<LockRecord> + Send,
    ) -> Result<Result<LockRecord, LockRecord>> {
        let mut tx = self.db.begin_write().await?;
        let now = now_ms();
        sqlx::query(
            "DELETE FROM locks WHERE account_id = $1 AND (timeout_ms IS NULL OR timeout_ms <= $2)",
        )
        .bind(account.0)
        .bind(now)
        .execute(&mut *tx.tx)
        .await?;
        let sql = concat!(
            "SELECT ",
            lock_columns!(),
            " FROM locks WHERE account_id = $1"
        );
        let rows: Vec<LockRow> = sqlx::query_as(sql)
            .bind(account.0)
            .fetch_all(&mut *tx.tx)
            .await?;
        let current: Vec<LockRecord> = rows.into_iter().map(LockRecord::from).collect();
        if let Some(clash) = conflict(&current) {
            return Ok(Err(clash));
        }
        sqlx::query(
            "INSERT INTO locks (token, account_id, path, principal, owner_xml, timeout_ms, shared, deep) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&lock.token)
        .bind(account.0)
        .bind(&lock.path)
        .bind(lock.principal.as_deref())
        .bind(lock.owner_xml.as_deref())
        .bind(lock.expires_ms)
        .bind(i64::from(lock.shared))
        .bind(i64::from(lock.deep))
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(Ok(lock))
    }

    /// Sets a lock's expiry; `None` when no live lock has that token.
    pub async fn refresh_lock(
        &self,
        account: AccountId,
        token: &str,
        expires_ms: i64,
    ) -> Result<Option<LockRecord>> {
        let mut tx = self.db.begin_write().await?;
        let sql = concat!(
            "UPDATE locks SET timeout_ms = $1 WHERE account_id = $2 AND token = $3 \
             AND timeout_ms > $4 RETURNING ",
            lock_columns!()
        );
        let row: Option<LockRow> = sqlx::query_as(sql)
            .bind(expires_ms)
            .bind(account.0)
            .bind(token)
            .bind(now_ms())
            .fetch_optional(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(row.map(LockRecord::from))
    }

    /// Removes the account's locks on `path` and below it (`/`: all of them); returns
    /// how many. `path` is a key as [`LockRecord::path`] holds it.
    pub async fn remove_locks_under(&self, account: AccountId, path: &str) -> Result<u64> {
        let tokens: Vec<String> = self
            .locks(account)
            .await?
            .into_iter()
            .filter(|l| at_or_below(&l.path, path))
            .map(|l| l.token)
            .collect();
        self.remove_locks(account, &tokens).await
    }

    /// Removes locks by token; returns how many existed.
    pub async fn remove_locks(&self, account: AccountId, tokens: &[String]) -> Result<u64> {
        if tokens.is_empty() {
            return Ok(0);
        }
        let mut tx = self.db.begin_write().await?;
        let mut removed = 0;
        for token in tokens {
            let done = sqlx::query("DELETE FROM locks WHERE account_id = $1 AND token = $2")
                .bind(account.0)
                .bind(token)
                .execute(&mut *tx.tx)
                .await?;
            removed += done.rows_affected();
        }
        tx.commit().await?;
        Ok(removed)
    }
}

/// True when `path` is `top` or lies below it.
fn at_or_below(path: &str, top: &str) -> bool {
    let top = top.trim_end_matches('/');
    path == top
        || top.is_empty()
        || path
            .strip_prefix(top)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_means_whole_segments() {
        assert!(at_or_below("/a", "/a"));
        assert!(at_or_below("/a/b", "/a"));
        assert!(at_or_below("/a/b", "/a/"));
        assert!(at_or_below("/anything", "/"));
        assert!(at_or_below("/", "/"));
        assert!(!at_or_below("/ab", "/a"));
        assert!(!at_or_below("/a", "/a/b"));
    }
}
