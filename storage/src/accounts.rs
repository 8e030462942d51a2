//! Accounts: who may sign in, their password hash, credential generation and quota.
//!
//! The credential generation is bumped by every change that must end cached sign-ins
//! (a new password, disabling the account); servers compare it on every request, so a
//! change made by any process takes effect on the next request everywhere. Rows read by
//! id are kept until the next commit (see `db::changes`), so that comparison costs a
//! query only after something was written.

// Kept under this path too: `tree::write` names the id here.
pub use crate::ids::AccountId;

use crate::Store;
use crate::blob::BlobKey;
use crate::db::{WriteTx, now_ms};
use crate::error::{QuotaOverrun, Result, StorageError};
pub use crate::model::account::{Account, TotpState};
use crate::model::account::{AccountRow, select_accounts};
use crate::names::name_key;

/// Refuses user names that Basic auth or a URL could not carry unambiguously.
pub fn validate_username(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@+".contains(&b))
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        return Ok(());
    }
    Err(StorageError::Invalid(format!(
        "user name {name:?} is not valid: use 1 to 64 letters, digits, '.', '_', '-', '+' or \
         '@' (an e-mail address works), starting with a letter or digit"
    )))
}

impl Store {
    /// Creates an account with empty files and trash folders.
    pub async fn create_account(&self, username: &str, password_hash: &str) -> Result<Account> {
        validate_username(username)?;
        if self.account_by_name(username).await?.is_some() {
            return Err(StorageError::Conflict(
                "an account with this name (in any case) already exists",
            ));
        }
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO accounts (username, password_hash, created_ms) VALUES ($1, $2, $3) \
             RETURNING id",
        )
        .bind(username)
        .bind(password_hash)
        .bind(now)
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(|e| StorageError::from_unique(e, "an account with that name exists"))?;
        let files = insert_root(&mut tx, id, "files", now).await?;
        let trash = insert_root(&mut tx, id, "trash", now).await?;
        sqlx::query("UPDATE accounts SET files_root = $1, trash_root = $2 WHERE id = $3")
            .bind(files)
            .bind(trash)
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        self.account(AccountId(id))
            .await?
            .ok_or(StorageError::NotFound)
    }

    /// The account with this id, if it exists: as the database holds it after the last
    /// commit this process or the CLI made.
    pub async fn account(&self, id: AccountId) -> Result<Option<Account>> {
        let version = self.db.changes.version();
        self.snapshots
            .accounts
            .kept_or_read(version, &id, || async move {
                let row: Option<AccountRow> = sqlx::query_as(select_accounts!("WHERE id = $1"))
                    .bind(id.0)
                    .fetch_optional(&self.db.pool)
                    .await?;
                Ok(row.map(Account::from))
            })
            .await
    }

    /// The account with this id, as [`Self::account`] reads it, but kept across the
    /// commits of uploads (see `db::changes`): its settings and credentials are as
    /// current, while its `used_bytes` may miss what uploads changed in the last second.
    /// For the account read on every request; what shows or enforces usage asks
    /// [`Self::used_bytes`].
    pub async fn account_settings(&self, id: AccountId) -> Result<Option<Account>> {
        let version = self.db.changes.version_beyond_content();
        self.snapshots
            .account_settings
            .kept_or_read(version, &id, || self.account(id))
            .await
    }

    /// The bytes the account stores now, read from the database; `None` when there is
    /// no such account.
    pub async fn used_bytes(&self, id: AccountId) -> Result<Option<u64>> {
        let used: Option<i64> = sqlx::query_scalar("SELECT used_bytes FROM accounts WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(used.map(|used| used.max(0) as u64))
    }

    /// The account with this user name, if it exists.
    /// Names are compared without case (they are ASCII, so `lower` is exact on both
    /// databases).
    pub async fn account_by_name(&self, username: &str) -> Result<Option<Account>> {
        let row: Option<AccountRow> =
            sqlx::query_as(select_accounts!("WHERE lower(username) = lower($1)"))
                .bind(username)
                .fetch_optional(&self.db.pool)
                .await?;
        Ok(row.map(Account::from))
    }

    /// Every account, by name.
    pub async fn accounts(&self) -> Result<Vec<Account>> {
        let rows: Vec<AccountRow> = sqlx::query_as(select_accounts!("ORDER BY username"))
            .fetch_all(&self.db.pool)
            .await?;
        Ok(rows.into_iter().map(Account::from).collect())
    }

    /// Replaces the password hash and ends every cached sign-in and every portal
    /// session of the account.
    pub async fn set_password_hash(&self, id: AccountId, password_hash: &str) -> Result<()> {
        self.change_password(id, password_hash, None, &crate::AuditSource::cli())
            .await
    }

    /// Replaces the password hash, ends every cached sign-in and every portal session
    /// but `keep` (the one that changed it), for a client at `source`.
    pub async fn change_password(
        &self,
        id: AccountId,
        password_hash: &str,
        keep: Option<i64>,
        source: &crate::AuditSource,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let done = sqlx::query(
            "UPDATE accounts SET password_hash = $1, \
             credential_generation = credential_generation + 1 WHERE id = $2",
        )
        .bind(password_hash)
        .bind(id.0)
        .execute(&mut *tx.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        let ended = crate::sessions::end_all_but(&mut tx, id, keep).await?;
        let detail = match ended {
            0 => String::new(),
            n => format!("{n} portal sessions ended"),
        };
        crate::audit::record_by(
            &mut tx,
            id,
            crate::audit::AuditEvent::PasswordChanged,
            &detail,
            source,
        )
        .await?;
        tx.commit().await
    }

    /// Disables or enables sign-in; either way cached sign-ins end.
    pub async fn set_disabled(&self, id: AccountId, disabled: bool) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let done = sqlx::query(
            "UPDATE accounts SET disabled = $1, credential_generation = credential_generation + 1 \
             WHERE id = $2",
        )
        .bind(i64::from(disabled))
        .bind(id.0)
        .execute(&mut *tx.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        tx.commit().await
    }

    /// Sets the quota; `None` removes it.
    pub async fn set_quota(&self, id: AccountId, quota: Option<u64>) -> Result<()> {
        self.update_limit(
            "UPDATE accounts SET quota_bytes = $1 WHERE id = $2",
            id,
            quota,
        )
        .await
    }

    /// Sets the per-file upload limit; `None` falls back to the server default.
    pub async fn set_upload_limit(&self, id: AccountId, limit: Option<u64>) -> Result<()> {
        self.update_limit(
            "UPDATE accounts SET upload_limit_bytes = $1 WHERE id = $2",
            id,
            limit,
        )
        .await
    }

    /// Deletes the account with all its files, trash, properties and locks.
    pub async fn delete_account(&self, id: AccountId) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let keys: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT blob_key FROM nodes WHERE account_id = $1 AND blob_key IS NOT NULL",
        )
        .bind(id.0)
        .fetch_all(&mut *tx.tx)
        .await?;
        let deleted = sqlx::query("DELETE FROM accounts WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx.tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        let keys: Vec<BlobKey> = keys.iter().filter_map(|k| BlobKey::parse(k)).collect();
        let freed = release_blobs(&mut tx, &keys).await?;
        tx.commit().await?;
        self.delete_blobs(&freed).await;
        Ok(())
    }

    async fn update_limit(
        &self,
        sql: &'static str,
        id: AccountId,
        bytes: Option<u64>,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let bytes = bytes.map(|b| i64::try_from(b).unwrap_or(i64::MAX));
        let done = sqlx::query(sql)
            .bind(bytes)
            .bind(id.0)
            .execute(&mut *tx.tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        tx.commit().await
    }

    /// Deletes blob bytes after the commit that released them. A failure only leaves
    /// garbage for the collector, so it is logged, not returned.
    pub(crate) async fn delete_blobs(&self, keys: &[BlobKey]) {
        for key in keys {
            if let Err(e) = self.blobs.delete(key).await {
                tracing::warn!(blob = key.as_str(), error = %e, "could not delete a released blob; garbage collection will retry");
            }
        }
    }
}

async fn insert_root(tx: &mut WriteTx, account: i64, name: &str, now: i64) -> Result<i64> {
    let id = sqlx::query_scalar(
        "INSERT INTO nodes (account_id, parent_id, name, name_key, kind, etag, mtime_ms, created_ms) \
         VALUES ($1, NULL, $2, $3, 1, $4, $5, $5) RETURNING id",
    )
    .bind(account)
    .bind(name)
    .bind(name_key(name))
    .bind(BlobKey::random().as_str())
    .bind(now)
    .fetch_one(&mut *tx.tx)
    .await?;
    Ok(id)
}

/// An `UPDATE` that charges `$1` bytes to account `$2` if its quota has room for them (a
/// release, `$1 <= 0`, always has), and if `$rest`'s further conditions hold: the one
/// quota check of every statement that charges.
macro_rules! charge_if_room {
    ($rest:literal) => {
        concat!(
            "UPDATE accounts SET used_bytes = used_bytes + $1 WHERE id = $2 \
             AND ($1 <= 0 OR quota_bytes IS NULL OR used_bytes + $1 <= quota_bytes)",
            $rest
        )
    };
}
pub(crate) use charge_if_room;

/// Adds `delta` bytes to the account's usage, refusing to pass its quota.
/// Shrinking always succeeds.
pub(crate) async fn charge(tx: &mut WriteTx, account: AccountId, delta: i64) -> Result<()> {
    if delta == 0 {
        return Ok(());
    }
    let done = sqlx::query(charge_if_room!(""))
        .bind(delta)
        .bind(account.0)
        .execute(&mut *tx.tx)
        .await?;
    if done.rows_affected() == 1 {
        return Ok(());
    }
    let row: Option<(i64, Option<i64>)> =
        sqlx::query_as("SELECT used_bytes, quota_bytes FROM accounts WHERE id = $1")
            .bind(account.0)
            .fetch_optional(&mut *tx.tx)
            .await?;
    match row {
        Some((used, Some(quota))) => Err(StorageError::QuotaExceeded(QuotaOverrun {
            quota: quota.max(0) as u64,
            used: used.max(0) as u64,
            needed: delta as u64,
        })),
        _ => Err(StorageError::NotFound),
    }
}

/// A `DELETE` of blob `$key`'s row in `$table` (`blob_data`, then `blobs`) unless a node
/// still points at the blob, returning `$returning`: how every release decides.
macro_rules! release_if_unreferenced {
    ($table:literal, $key:literal, $returning:literal) => {
        concat!(
            "DELETE FROM ",
            $table,
            " WHERE key = ",
            $key,
            " AND NOT EXISTS (SELECT 1 FROM nodes WHERE blob_key = ",
            $key,
            ") RETURNING ",
            $returning
        )
    };
    // Inside one PostgreSQL statement, whose steps all see the rows as they were before
    // it: node `$node`, which step `$after` pointed at another blob, no longer counts,
    // and nothing is deleted unless that step did so.
    ($table:literal, $key:literal, $returning:literal, after $after:literal moved $node:literal) => {
        concat!(
            "DELETE FROM ",
            $table,
            " WHERE key = ",
            $key,
            " AND EXISTS (SELECT 1 FROM ",
            $after,
            ") AND NOT EXISTS (SELECT 1 FROM nodes WHERE blob_key = ",
            $key,
            " AND id <> ",
            $node,
            ") RETURNING ",
            $returning
        )
    };
}
pub(crate) use release_if_unreferenced;

/// Whether a released blob leaves bytes in the blob store to delete once the commit is
/// durable: its row went, and its bytes were not in the database (those went with it).
pub(crate) fn leaves_stored_bytes(row_deleted: bool, bytes_deleted: bool) -> bool {
    row_deleted && !bytes_deleted
}

/// Drops the `blobs` rows of keys no node references any more and returns those whose
/// bytes are in the blob store, so they can be deleted once the transaction commits.
/// The bytes of an inline blob go with its rows here.
pub(crate) async fn release_blobs(tx: &mut WriteTx, keys: &[BlobKey]) -> Result<Vec<BlobKey>> {
    let mut freed = Vec::new();
    for key in keys {
        let inline: Option<String> =
            sqlx::query_scalar(release_if_unreferenced!("blob_data", "$1", "key"))
                .bind(key.as_str())
                .fetch_optional(&mut *tx.tx)
                .await?;
        let gone: Option<String> =
            sqlx::query_scalar(release_if_unreferenced!("blobs", "$1", "key"))
                .bind(key.as_str())
                .fetch_optional(&mut *tx.tx)
                .await?;
        if leaves_stored_bytes(gone.is_some(), inline.is_some()) {
            freed.push(key.clone());
        }
    }
    Ok(freed)
}
