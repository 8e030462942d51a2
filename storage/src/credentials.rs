//! App passwords, the second factor and backup codes: rows and their atomic changes.
//!
//! Every change that must end sign-ins bumps the account's credential generation in the
//! same transaction as the change and its audit entry, so caches on every node drop the
//! affected credentials on their next request. Secrets are never stored: app passwords
//! and backup codes as argon2id hashes, the TOTP secret sealed by the caller.

use sqlx::FromRow;

use crate::Store;
use crate::audit::{AuditEvent, AuditSource, record, record_by};
use crate::db::{WriteTx, now_ms};
use crate::error::{Result, StorageError};
use crate::ids::AccountId;

/// An app password as stored (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPassword {
    /// Database id.
    pub id: i64,
    /// Owner.
    pub account: AccountId,
    /// The short public id that is part of the password itself.
    pub public_id: String,
    /// What the user called it ("rclone on the VPS").
    pub name: String,
    /// Bit set of scopes (the auth layer gives the bits their meaning).
    pub scopes: i64,
    /// Refuses every change.
    pub read_only: bool,
    /// argon2id PHC string of the secret part.
    pub secret_hash: String,
    /// When it was created.
    pub created_ms: i64,
    /// When it stops working, if ever.
    pub expires_ms: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked_ms: Option<i64>,
    /// Last use: time, client address, user agent (recorded in batches).
    pub last_used: Option<LastUse>,
}

/// When and from where a credential was last used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastUse {
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// Client address.
    pub addr: String,
    /// User agent, as sent.
    pub agent: String,
}

/// The fields of a new app password.
#[derive(Debug, Clone)]
pub struct NewAppPassword {
    /// Public id (unique).
    pub public_id: String,
    /// Display name.
    pub name: String,
    /// Scope bits.
    pub scopes: i64,
    /// Read-only.
    pub read_only: bool,
    /// argon2id hash of the secret.
    pub secret_hash: String,
    /// Expiry, if any.
    pub expires_ms: Option<i64>,
}

#[derive(FromRow)]
struct AppPasswordRow {
    id: i64,
    account_id: i64,
    public_id: String,
    name: String,
    scopes: i64,
    read_only: i64,
    secret_hash: String,
    created_ms: i64,
    expires_ms: Option<i64>,
    revoked_ms: Option<i64>,
    last_used_ms: Option<i64>,
    last_used_addr: Option<String>,
    last_used_agent: Option<String>,
}

impl From<AppPasswordRow> for AppPassword {
    fn from(r: AppPasswordRow) -> Self {
        AppPassword {
            id: r.id,
            account: AccountId(r.account_id),
            public_id: r.public_id,
            name: r.name,
            scopes: r.scopes,
            read_only: r.read_only != 0,
            secret_hash: r.secret_hash,
            created_ms: r.created_ms,
            expires_ms: r.expires_ms,
            revoked_ms: r.revoked_ms,
            last_used: r.last_used_ms.map(|at_ms| LastUse {
                at_ms,
                addr: r.last_used_addr.unwrap_or_default(),
                agent: r.last_used_agent.unwrap_or_default(),
            }),
        }
    }
}

/// `SELECT <every app password column> FROM app_passwords <rest>`.
macro_rules! select_app_passwords {
    ($rest:literal) => {
        concat!(
            "SELECT id, account_id, public_id, name, scopes, read_only, secret_hash, created_ms, ",
            "expires_ms, revoked_ms, last_used_ms, last_used_addr, last_used_agent FROM app_passwords ",
            $rest
        )
    };
}

/// One batched last-use record.
#[derive(Debug, Clone)]
pub struct UseRecord {
    /// App password id.
    pub id: i64,
    /// The use.
    pub last: LastUse,
}

impl Store {
    /// Stores a new app password and audits it.
    pub async fn create_app_password(
        &self,
        account: AccountId,
        new: NewAppPassword,
    ) -> Result<AppPassword> {
        self.create_app_password_by(account, new, &AuditSource::cli())
            .await
    }

    /// [`Store::create_app_password`] for a client at `source`.
    pub async fn create_app_password_by(
        &self,
        account: AccountId,
        new: NewAppPassword,
        source: &AuditSource,
    ) -> Result<AppPassword> {
        let mut tx = self.db.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO app_passwords (account_id, public_id, name, scopes, read_only, secret_hash, \
             created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(account.0)
        .bind(&new.public_id)
        .bind(&new.name)
        .bind(new.scopes)
        .bind(i64::from(new.read_only))
        .bind(&new.secret_hash)
        .bind(now_ms())
        .bind(new.expires_ms)
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(|e| StorageError::from_unique(e, "that public id is taken"))?;
        let detail = format!("{} ({})", new.public_id, new.name);
        record_by(
            &mut tx,
            account,
            AuditEvent::AppPasswordCreated,
            &detail,
            source,
        )
        .await?;
        let created = fetch(&mut tx, id).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// The app password with this public id.
    pub async fn app_password(&self, public_id: &str) -> Result<Option<AppPassword>> {
        let row: Option<AppPasswordRow> =
            sqlx::query_as(select_app_passwords!("WHERE public_id = $1"))
                .bind(public_id)
                .fetch_optional(&self.db.pool)
                .await?;
        Ok(row.map(AppPassword::from))
    }

    /// Every app password of an account, revoked ones included, oldest first.
    pub async fn app_passwords(&self, account: AccountId) -> Result<Vec<AppPassword>> {
        let rows: Vec<AppPasswordRow> = sqlx::query_as(select_app_passwords!(
            "WHERE account_id = $1 ORDER BY created_ms, id"
        ))
        .bind(account.0)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows.into_iter().map(AppPassword::from).collect())
    }

    /// Revokes one app password; `NotFound` unless it is the account's and still live.
    pub async fn revoke_app_password(
        &self,
        account: AccountId,
        public_id: &str,
    ) -> Result<AppPassword> {
        self.revoke_app_password_by(account, public_id, &AuditSource::cli())
            .await
    }

    /// [`Store::revoke_app_password`] for a client at `source`.
    pub async fn revoke_app_password_by(
        &self,
        account: AccountId,
        public_id: &str,
        source: &AuditSource,
    ) -> Result<AppPassword> {
        let mut tx = self.db.begin_write().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "UPDATE app_passwords SET revoked_ms = $1 \
             WHERE account_id = $2 AND public_id = $3 AND revoked_ms IS NULL RETURNING id",
        )
        .bind(now_ms())
        .bind(account.0)
        .bind(public_id)
        .fetch_optional(&mut *tx.tx)
        .await?;
        let id = id.ok_or(StorageError::NotFound)?;
        bump_generation(&mut tx, account).await?;
        let revoked = fetch(&mut tx, id).await?;
        let detail = format!("{} ({})", revoked.public_id, revoked.name);
        record_by(
            &mut tx,
            account,
            AuditEvent::AppPasswordRevoked,
            &detail,
            source,
        )
        .await?;
        tx.commit().await?;
        Ok(revoked)
    }

    /// Revokes every live app password of the account; returns how many.
    pub async fn revoke_all_app_passwords(&self, account: AccountId) -> Result<u64> {
        self.revoke_all_app_passwords_by(account, &AuditSource::cli())
            .await
    }

    /// [`Store::revoke_all_app_passwords`] for a client at `source`.
    pub async fn revoke_all_app_passwords_by(
        &self,
        account: AccountId,
        source: &AuditSource,
    ) -> Result<u64> {
        let mut tx = self.db.begin_write().await?;
        let done = sqlx::query(
            "UPDATE app_passwords SET revoked_ms = $1 WHERE account_id = $2 AND revoked_ms IS NULL",
        )
        .bind(now_ms())
        .bind(account.0)
        .execute(&mut *tx.tx)
        .await?;
        bump_generation(&mut tx, account).await?;
        let detail = format!("{} revoked", done.rows_affected());
        record_by(
            &mut tx,
            account,
            AuditEvent::AppPasswordsRevokedAll,
            &detail,
            source,
        )
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Writes a batch of last-use records in one transaction.
    pub async fn record_uses(&self, uses: &[UseRecord]) -> Result<()> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin_write().await?;
        for u in uses {
            sqlx::query(
                "UPDATE app_passwords SET last_used_ms = $1, last_used_addr = $2, last_used_agent = $3 \
                 WHERE id = $4 AND (last_used_ms IS NULL OR last_used_ms < $1)",
            )
            .bind(u.last.at_ms)
            .bind(&u.last.addr)
            .bind(&u.last.agent)
            .bind(u.id)
            .execute(&mut *tx.tx)
            .await?;
        }
        tx.commit().await
    }

    /// Remembers that `credential` was used from `addr`; true (and audited) the first time.
    pub async fn note_address(
        &self,
        account: AccountId,
        credential: &str,
        addr: &str,
    ) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let inserted: Option<String> = sqlx::query_scalar(
            "INSERT INTO credential_addresses (account_id, credential, addr, first_seen_ms) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING addr",
        )
        .bind(account.0)
        .bind(credential)
        .bind(addr)
        .bind(now_ms())
        .fetch_optional(&mut *tx.tx)
        .await?;
        let new = inserted.is_some();
        if new {
            record(
                &mut tx,
                account,
                AuditEvent::NewAddress,
                &format!("{credential} first used from {addr}"),
                Some(addr),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(new)
    }

    /// Starts enrolment: stores the sealed secret, second factor not yet on.
    pub async fn set_totp_pending(&self, account: AccountId, sealed: &[u8]) -> Result<()> {
        self.set_totp_pending_by(account, sealed, &AuditSource::cli())
            .await
    }

    /// [`Store::set_totp_pending`] for a client at `source`.
    pub async fn set_totp_pending_by(
        &self,
        account: AccountId,
        sealed: &[u8],
        source: &AuditSource,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let done = sqlx::query(
            "UPDATE accounts SET totp_state = 1, totp_secret = $1, totp_last_step = 0 \
             WHERE id = $2 AND totp_state <> 2",
        )
        .bind(sealed)
        .bind(account.0)
        .execute(&mut *tx.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::Conflict(
                "two-factor authentication is already on",
            ));
        }
        record_by(&mut tx, account, AuditEvent::TwoFactorEnrolling, "", source).await?;
        tx.commit().await
    }

    /// Turns the second factor on after a confirmed code at `step`, replacing the backup
    /// codes; every cached sign-in of the account ends.
    pub async fn enable_totp(
        &self,
        account: AccountId,
        step: i64,
        backup_code_hashes: &[String],
    ) -> Result<()> {
        self.enable_totp_by(account, step, backup_code_hashes, &AuditSource::cli())
            .await
    }

    /// [`Store::enable_totp`] for a client at `source`.
    pub async fn enable_totp_by(
        &self,
        account: AccountId,
        step: i64,
        backup_code_hashes: &[String],
        source: &AuditSource,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let done = sqlx::query(
            "UPDATE accounts SET totp_state = 2, totp_last_step = $1 WHERE id = $2 AND totp_state = 1",
        )
        .bind(step)
        .bind(account.0)
        .execute(&mut *tx.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::Conflict(
                "no two-factor enrolment is waiting for confirmation",
            ));
        }
        store_backup_codes(&mut tx, account, backup_code_hashes).await?;
        bump_generation(&mut tx, account).await?;
        record_by(&mut tx, account, AuditEvent::TwoFactorEnabled, "", source).await?;
        tx.commit().await
    }

    /// Replaces the backup codes of an account whose second factor is on.
    pub async fn replace_backup_codes(
        &self,
        account: AccountId,
        backup_code_hashes: &[String],
        source: &AuditSource,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let on: Option<i64> =
            sqlx::query_scalar("SELECT id FROM accounts WHERE id = $1 AND totp_state = 2")
                .bind(account.0)
                .fetch_optional(&mut *tx.tx)
                .await?;
        if on.is_none() {
            return Err(StorageError::Conflict(
                "two-factor authentication is not on",
            ));
        }
        store_backup_codes(&mut tx, account, backup_code_hashes).await?;
        record_by(
            &mut tx,
            account,
            AuditEvent::BackupCodesRegenerated,
            "",
            source,
        )
        .await?;
        tx.commit().await
    }

    /// Turns the second factor off and forgets secret and backup codes.
    pub async fn disable_totp(&self, account: AccountId) -> Result<()> {
        self.disable_totp_by(account, AuditEvent::TwoFactorDisabled, &AuditSource::cli())
            .await
    }

    /// Turns the second factor off, audited as `event` (disabled by the owner, or reset
    /// by the operator) for a client at `source`.
    pub async fn disable_totp_by(
        &self,
        account: AccountId,
        event: AuditEvent,
        source: &AuditSource,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query("UPDATE accounts SET totp_state = 0, totp_secret = NULL, totp_last_step = 0 WHERE id = $1")
            .bind(account.0)
            .execute(&mut *tx.tx)
            .await?;
        sqlx::query("DELETE FROM backup_codes WHERE account_id = $1")
            .bind(account.0)
            .execute(&mut *tx.tx)
            .await?;
        bump_generation(&mut tx, account).await?;
        record_by(&mut tx, account, event, "", source).await?;
        tx.commit().await
    }

    /// Accepts the code of time step `step` unless that step or a later one was already
    /// used: one atomic update, so a code works once even under concurrent use.
    pub async fn accept_totp_step(&self, account: AccountId, step: i64) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let done = sqlx::query(
            "UPDATE accounts SET totp_last_step = $1 WHERE id = $2 AND totp_state = 2 AND totp_last_step < $1",
        )
        .bind(step)
        .bind(account.0)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// The account's unused backup codes: (id, argon2id hash).
    pub async fn unused_backup_codes(&self, account: AccountId) -> Result<Vec<(i64, String)>> {
        let rows = sqlx::query_as(
            "SELECT id, code_hash FROM backup_codes WHERE account_id = $1 AND used_ms IS NULL",
        )
        .bind(account.0)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows)
    }

    /// Marks a backup code used; false if it was used meanwhile.
    pub async fn use_backup_code(&self, account: AccountId, id: i64) -> Result<bool> {
        self.use_backup_code_by(account, id, &AuditSource::cli())
            .await
    }

    /// [`Store::use_backup_code`] for a client at `source`.
    pub async fn use_backup_code_by(
        &self,
        account: AccountId,
        id: i64,
        source: &AuditSource,
    ) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let done = sqlx::query("UPDATE backup_codes SET used_ms = $1 WHERE id = $2 AND account_id = $3 AND used_ms IS NULL")
            .bind(now_ms())
            .bind(id)
            .bind(account.0)
            .execute(&mut *tx.tx)
            .await?;
        if done.rows_affected() == 1 {
            record_by(&mut tx, account, AuditEvent::BackupCodeUsed, "", source).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}

async fn fetch(tx: &mut WriteTx, id: i64) -> Result<AppPassword> {
    let row: AppPasswordRow = sqlx::query_as(select_app_passwords!("WHERE id = $1"))
        .bind(id)
        .fetch_one(&mut *tx.tx)
        .await?;
    Ok(row.into())
}

/// Replaces the account's backup codes by these hashes.
async fn store_backup_codes(tx: &mut WriteTx, account: AccountId, hashes: &[String]) -> Result<()> {
    sqlx::query("DELETE FROM backup_codes WHERE account_id = $1")
        .bind(account.0)
        .execute(&mut *tx.tx)
        .await?;
    for hash in hashes {
        sqlx::query("INSERT INTO backup_codes (account_id, code_hash) VALUES ($1, $2)")
            .bind(account.0)
            .bind(hash)
            .execute(&mut *tx.tx)
            .await?;
    }
    Ok(())
}

/// Ends every cached sign-in of the account.
pub(crate) async fn bump_generation(tx: &mut WriteTx, account: AccountId) -> Result<()> {
    sqlx::query(
        "UPDATE accounts SET credential_generation = credential_generation + 1 WHERE id = $1",
    )
    .bind(account.0)
    .execute(&mut *tx.tx)
    .await?;
    Ok(())
}
