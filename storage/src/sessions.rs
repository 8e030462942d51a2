//! Portal sessions: browsers signed in to `/account/`, kept in the database so any node
//! serves any session.
//!
//! Only a hash of the session id is stored; the caller makes the id (256 random bits)
//! and hashes it. A session ends when it has been idle too long, when it reaches its
//! absolute lifetime, when its owner signs it out or ends it from another session, and
//! when the account password changes (every session but the one that changed it).

use sqlx::FromRow;

use crate::Store;
use crate::audit::{AuditEvent, AuditSource, record_by};
use crate::db::{WriteTx, now_ms};
use crate::error::Result;
use crate::ids::AccountId;

/// How far a session got in signing in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    /// The password was right; the second factor is still to come.
    SecondFactor,
    /// Signed in.
    SignedIn,
}

impl SessionStage {
    fn code(self) -> i64 {
        match self {
            SessionStage::SecondFactor => 1,
            SessionStage::SignedIn => 2,
        }
    }
}

/// How long sessions last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// A session unused this long has ended, in ms.
    pub idle_ms: i64,
    /// A session this old has ended, however busy, in ms.
    pub lifetime_ms: i64,
}

/// A portal session as stored (never its id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalSession {
    /// Database id: what the owner's session list names it by.
    pub id: i64,
    /// Owner.
    pub account: AccountId,
    /// How far sign-in got.
    pub stage: SessionStage,
    /// When it was created, ms since the epoch.
    pub created_ms: i64,
    /// When it was last used.
    pub last_seen_ms: i64,
    /// The address it was created from.
    pub addr: String,
    /// The browser's user agent.
    pub agent: String,
    /// The token every form of this session must carry.
    pub csrf_token: String,
}

/// The fields of a new session.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Hash of the session id (the id itself is never stored).
    pub id_hash: String,
    /// Owner.
    pub account: AccountId,
    /// How far sign-in got.
    pub stage: SessionStage,
    /// Client address.
    pub addr: String,
    /// User agent.
    pub agent: String,
    /// CSRF token bound to the session.
    pub csrf_token: String,
}

#[derive(FromRow)]
struct SessionRow {
    id: i64,
    account_id: i64,
    stage: i64,
    created_ms: i64,
    last_seen_ms: i64,
    addr: String,
    agent: String,
    csrf_token: String,
}

impl From<SessionRow> for PortalSession {
    fn from(r: SessionRow) -> Self {
        PortalSession {
            id: r.id,
            account: AccountId(r.account_id),
            stage: if r.stage == 2 {
                SessionStage::SignedIn
            } else {
                SessionStage::SecondFactor
            },
            created_ms: r.created_ms,
            last_seen_ms: r.last_seen_ms,
            addr: r.addr,
            agent: r.agent,
            csrf_token: r.csrf_token,
        }
    }
}

/// `SELECT <every session column> FROM portal_sessions <rest>`.
macro_rules! select_sessions {
    ($rest:literal) => {
        concat!(
            "SELECT id, account_id, stage, created_ms, last_seen_ms, addr, agent, csrf_token ",
            "FROM portal_sessions ",
            $rest
        )
    };
}

impl Store {
    /// Stores a new session, and drops the account's sessions that have ended, so the
    /// table does not grow with abandoned browsers.
    pub async fn create_session(
        &self,
        new: NewSession,
        limits: SessionLimits,
    ) -> Result<PortalSession> {
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        drop_ended(&mut tx, new.account, limits, now).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO portal_sessions (id_hash, account_id, stage, created_ms, last_seen_ms, \
             addr, agent, csrf_token) VALUES ($1, $2, $3, $4, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&new.id_hash)
        .bind(new.account.0)
        .bind(new.stage.code())
        .bind(now)
        .bind(&new.addr)
        .bind(&new.agent)
        .bind(&new.csrf_token)
        .fetch_one(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(PortalSession {
            id,
            account: new.account,
            stage: new.stage,
            created_ms: now,
            last_seen_ms: now,
            addr: new.addr,
            agent: new.agent,
            csrf_token: new.csrf_token,
        })
    }

    /// The live session with this id hash: `None` if there is none, or if it has been
    /// idle too long or reached its lifetime at `now` (then it is deleted too).
    pub async fn session(
        &self,
        id_hash: &str,
        limits: SessionLimits,
        now: i64,
    ) -> Result<Option<PortalSession>> {
        let row: Option<SessionRow> = sqlx::query_as(select_sessions!("WHERE id_hash = $1"))
            .bind(id_hash)
            .fetch_optional(&self.db.pool)
            .await?;
        let Some(session) = row.map(PortalSession::from) else {
            return Ok(None);
        };
        if ended(&session, limits, now) {
            self.end_session(session.account, session.id).await?;
            return Ok(None);
        }
        Ok(Some(session))
    }

    /// Records that the session was used at `now`.
    pub async fn touch_session(&self, id: i64, now: i64) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "UPDATE portal_sessions SET last_seen_ms = $1 WHERE id = $2 AND last_seen_ms < $1",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    /// The account's live sessions, newest first.
    pub async fn sessions(
        &self,
        account: AccountId,
        limits: SessionLimits,
    ) -> Result<Vec<PortalSession>> {
        let rows: Vec<SessionRow> = sqlx::query_as(select_sessions!(
            "WHERE account_id = $1 ORDER BY created_ms DESC, id DESC"
        ))
        .bind(account.0)
        .fetch_all(&self.db.pool)
        .await?;
        let now = now_ms();
        Ok(rows
            .into_iter()
            .map(PortalSession::from)
            .filter(|s| !ended(s, limits, now))
            .collect())
    }

    /// Ends one session of the account; false if it had none with this id.
    pub async fn end_session(&self, account: AccountId, id: i64) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let done = sqlx::query("DELETE FROM portal_sessions WHERE id = $1 AND account_id = $2")
            .bind(id)
            .bind(account.0)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends every session of the account but `keep` (every one when `None`), audited
    /// for a client at `source`; returns how many ended.
    pub async fn end_sessions(
        &self,
        account: AccountId,
        keep: Option<i64>,
        source: &AuditSource,
    ) -> Result<u64> {
        let mut tx = self.db.begin_write().await?;
        let ended = end_all_but(&mut tx, account, keep).await?;
        if ended > 0 {
            let detail = format!("{ended} other sessions ended");
            record_by(&mut tx, account, AuditEvent::SessionsEnded, &detail, source).await?;
        }
        tx.commit().await?;
        Ok(ended)
    }
}

/// Whether a session has ended at `now`.
fn ended(session: &PortalSession, limits: SessionLimits, now: i64) -> bool {
    now - session.last_seen_ms >= limits.idle_ms || now - session.created_ms >= limits.lifetime_ms
}

/// Deletes every session of the account but `keep`; inside a transaction that changes
/// the password, so both happen or neither.
pub(crate) async fn end_all_but(
    tx: &mut WriteTx,
    account: AccountId,
    keep: Option<i64>,
) -> Result<u64> {
    let done = sqlx::query("DELETE FROM portal_sessions WHERE account_id = $1 AND id <> $2")
        .bind(account.0)
        .bind(keep.unwrap_or(-1))
        .execute(&mut *tx.tx)
        .await?;
    Ok(done.rows_affected())
}

/// Deletes the account's sessions that have ended at `now`.
async fn drop_ended(
    tx: &mut WriteTx,
    account: AccountId,
    limits: SessionLimits,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "DELETE FROM portal_sessions WHERE account_id = $1 \
         AND (last_seen_ms <= $2 OR created_ms <= $3)",
    )
    .bind(account.0)
    .bind(now - limits.idle_ms)
    .bind(now - limits.lifetime_ms)
    .execute(&mut *tx.tx)
    .await?;
    Ok(())
}
