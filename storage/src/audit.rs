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
    /// Someone signed in to the account portal.
    PortalSignIn,
    /// A portal sign-in failed: wrong password, or wrong second factor.
    PortalSignInFailed,
    /// A portal session was signed out.
    PortalSignOut,
    /// Portal sessions were ended from another session or by a password change.
    SessionsEnded,
    /// Two-factor enrolment was started (not yet on).
    TwoFactorEnrolling,
    /// New backup codes replaced the old ones.
    BackupCodesRegenerated,
    /// The operator turned the second factor off for an owner who lost it.
    TwoFactorReset,
    /// An Apple device profile (with its own new app password) was downloaded.
    DeviceProfileDownloaded,
    /// A reminder was not delivered: it came due too long ago, or every try failed.
    ReminderSkipped,
    /// A reminder webhook was added, or a calendar routed, in the portal.
    ReminderChanged,
}

const NAMES: [(AuditEvent, &str); 19] = [
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
    (AuditEvent::PortalSignIn, "portal-sign-in"),
    (AuditEvent::PortalSignInFailed, "portal-sign-in-failed"),
    (AuditEvent::PortalSignOut, "portal-sign-out"),
    (AuditEvent::SessionsEnded, "portal-sessions-ended"),
    (AuditEvent::TwoFactorEnrolling, "2fa-enrolling"),
    (
        AuditEvent::BackupCodesRegenerated,
        "backup-codes-regenerated",
    ),
    (AuditEvent::TwoFactorReset, "2fa-reset"),
    (
        AuditEvent::DeviceProfileDownloaded,
        "device-profile-downloaded",
    ),
    (AuditEvent::ReminderSkipped, "reminder-skipped"),
    (AuditEvent::ReminderChanged, "reminders-changed"),
];

/// Who did an audited action: the client's address and user agent, when it came over
/// the network (the CLI has neither).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditSource {
    /// Client address.
    pub addr: Option<String>,
    /// User agent, as sent (shortened by the caller).
    pub agent: Option<String>,
}

impl AuditSource {
    /// An action from the command line on the server itself.
    pub fn cli() -> Self {
        AuditSource::default()
    }

    /// An action over the network from `addr` with `agent`.
    pub fn client(addr: impl Into<String>, agent: impl Into<String>) -> Self {
        AuditSource {
            addr: Some(addr.into()),
            agent: Some(agent.into()),
        }
    }
}

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
    /// The client's user agent, if known.
    pub agent: Option<String>,
}

#[derive(FromRow)]
struct AuditRow {
    at_ms: i64,
    event: String,
    detail: String,
    addr: Option<String>,
    agent: Option<String>,
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

    /// Records an event on its own, with the address and user agent behind it.
    pub async fn audit_by(
        &self,
        account: AccountId,
        event: AuditEvent,
        detail: &str,
        source: &AuditSource,
    ) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        record_by(&mut tx, account, event, detail, source).await?;
        tx.commit().await
    }

    /// The account's newest `limit` events, newest first.
    pub async fn audit_log(&self, account: AccountId, limit: u32) -> Result<Vec<AuditEntry>> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT at_ms, event, detail, addr, agent FROM audit_log WHERE account_id = $1 \
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
                agent: r.agent,
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
    let source = AuditSource {
        addr: addr.map(str::to_owned),
        agent: None,
    };
    record_by(tx, account, event, detail, &source).await
}

/// [`record`] with the user agent too.
pub(crate) async fn record_by(
    tx: &mut WriteTx,
    account: AccountId,
    event: AuditEvent,
    detail: &str,
    source: &AuditSource,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (account_id, at_ms, event, detail, addr, agent) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(account.0)
    .bind(now_ms())
    .bind(event.to_string())
    .bind(detail)
    .bind(source.addr.as_deref())
    .bind(source.agent.as_deref())
    .execute(&mut *tx.tx)
    .await?;
    Ok(())
}
