//! The audit log: security-relevant events per account, newest first.

use std::fmt;
use std::str::FromStr;

use sqlx::FromRow;

use crate::Store;
use crate::db::{WriteTx, now_ms};
use crate::error::Result;
use crate::ids::AccountId;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditEvent {
    /// An app password was created.
    AppPasswordCreated,
    /// One app password was revoked.
    AppPasswordRevoked,
    /// Every app password of the account was revoked.
    AppPasswordsRevokedAll,
    /// The account password was changed.
    PasswordChanged,
    /// Two-factor authentication was turned on.
    TwoFactorEnabled,
    /// Two-factor authentication was turned off.
    TwoFactorDisabled,
    /// A backup code was used.
    BackupCodeUsed,
    /// A credential was used from an address it had not been used from before.
    NewAddress,
    /// Sign-ins kept failing from one address until they were throttled.
    RepeatedFailures,
}

const NAMES: [(AuditEvent, &str); 9] = [
    (AuditEvent::AppPasswordCreated, "app-password-created"),
    (AuditEvent::AppPasswordRevoked, "app-password-revoked"),
    (
        AuditEvent::AppPasswordsRevokedAll,
        "app-passwords-revoked-all",
    ),
    (AuditEvent::PasswordChanged, "password-changed"),
    (AuditEvent::TwoFactorEnabled, "2fa-enabled"),
    (AuditEvent::TwoFactorDisabled, "2fa-disabled"),
    (AuditEvent::BackupCodeUsed, "backup-code-used"),
    (AuditEvent::NewAddress, "new-address"),
    (AuditEvent::RepeatedFailures, "repeated-failures"),
];

impl fmt::Display for AuditEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = NAMES
            .iter()
            .find(|(e, _)| e == self)
            .map_or("unknown", |(_, n)| n);
        f.write_str(name)
    }
}

impl FromStr for AuditEvent {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        NAMES
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(e, _)| *e)
            .ok_or_else(|| format!("unknown audit event {s:?}"))
    }
}

/// One logged event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// What (`None` for an event this version does not know).
    pub event: Option<AuditEvent>,
    /// The event's name as stored.
    pub event_name: String,
    /// Details: which credential, which name.
    pub detail: String,
    /// The client address involved, if any.
    pub addr: Option<String>,
}

#[derive(FromRow)]
struct AuditRow {
    at_ms: i64,
    event: String,
    detail: String,
    addr: Option<String>,
}

impl Store {
    /// Records an event on its own.
    pub async fn audit(
        &self,
        account: AccountId,
        event: AuditEvent,
        detail: &str,
        addr: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        record(&mut tx, account, event, detail, addr).await?;
        tx.commit().await
    }

    /// The account's newest `limit` events, newest first.
    pub async fn audit_log(&self, account: AccountId, limit: u32) -> Result<Vec<AuditEntry>> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT at_ms, event, detail, addr FROM audit_log WHERE account_id = $1 \
             ORDER BY at_ms DESC, id DESC LIMIT $2",
        )
        .bind(account.0)
        .bind(i64::from(limit))
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| AuditEntry {
                at_ms: r.at_ms,
                event: r.event.parse().ok(),
                event_name: r.event,
                detail: r.detail,
                addr: r.addr,
            })
            .collect())
    }
}

/// Records an event inside a transaction that makes the change it describes.
pub(crate) async fn record(
    tx: &mut WriteTx,
    account: AccountId,
    event: AuditEvent,
    detail: &str,
    addr: Option<&str>,
) -> Result<()> {
    sqlx::query("INSERT INTO audit_log (account_id, at_ms, event, detail, addr) VALUES ($1, $2, $3, $4, $5)")
        .bind(account.0)
        .bind(now_ms())
        .bind(event.to_string())
        .bind(detail)
        .bind(addr)
        .execute(&mut *tx.tx)
        .await?;
    Ok(())
}
