//! Failed sign-in scores shared between nodes on PostgreSQL (`auth_failures`), so that
//! a guessing flood spread over several nodes is throttled as if it hit one, and the
//! addresses each account signed in from (`auth_known_addresses`), which stay exempt
//! from the account-wide wait on every node.
//!
//! The throttle itself lives in the server (`auth::throttle`) and keeps its scores in
//! memory; on PostgreSQL each check reserves a place here before it hashes and a failure
//! becomes a score (`auth_checks`), and the node reads the scores back before it decides
//! on an uncached sign-in. A score decays by half every half-life, computed in the
//! upsert so that concurrent nodes never lose a failure. On SQLite (one node) every call
//! is a no-op returning `None`.

use std::net::IpAddr;

use crate::Store;
use crate::db::Backend;
use crate::error::Result;

/// Scores idle this long are deleted (the throttle forgets them after an hour too).
const IDLE_MS: i64 = 3_600_000;

/// The throttle's rules, as the shared statements apply them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRules {
    /// Failures of one address against one account before it must wait.
    pub per_account: f64,
    /// Failures of one address, all accounts together, before it must wait.
    pub per_address: f64,
    /// Failures against one account from all addresses before new addresses wait.
    pub account_wide: f64,
    /// How fast failures are forgotten, in ms.
    pub half_life_ms: f64,
    /// How fast a pending check left behind (its node died) is forgotten, in ms.
    pub pending_half_life_ms: f64,
    /// The longest wait, in seconds.
    pub max_delay_secs: f64,
}

impl ScoreRules {
    /// What is left at `now_ms` of a place reserved at `since_ms`.
    pub(crate) fn place(&self, since_ms: i64, now_ms: i64) -> f64 {
        let elapsed = (now_ms - since_ms).max(0) as f64;
        0.5f64.powf(elapsed / self.pending_half_life_ms.max(1.0))
    }
}

/// One shared score: failures (decayed to `last_ms`) and the time of the last one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SharedScore {
    /// The decayed failure count at `last_ms`.
    pub value: f64,
    /// When the last failure was counted, ms since the epoch.
    pub last_ms: i64,
}

/// The three scores one sign-in attempt is judged by, as all nodes counted them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SharedScores {
    /// This address against this account name.
    pub pair: Option<SharedScore>,
    /// This address against all accounts.
    pub address: Option<SharedScore>,
    /// This account name from all addresses.
    pub account: Option<SharedScore>,
}

/// The (scope, subject) keys of one attempt, in `SharedScores` order.
pub(crate) fn subjects(addr: IpAddr, user: &str) -> [(i16, String); 3] {
    let addr = addr.to_string();
    [
        (0, format!("{addr}\n{user}")),
        (1, addr),
        (2, user.to_owned()),
    ]
}

pub(crate) fn scores(rows: Vec<(i16, f64, i64)>) -> SharedScores {
    let mut scores = SharedScores::default();
    for (scope, value, last_ms) in rows {
        let score = Some(SharedScore { value, last_ms });
        match scope {
            0 => scores.pair = score,
            1 => scores.address = score,
            _ => scores.account = score,
        }
    }
    scores
}

impl Store {
    /// Whether failure scores are shared with other nodes (PostgreSQL).
    pub fn shares_failure_scores(&self) -> bool {
        self.db.backend == Backend::Postgres
    }

    /// The shared scores of `addr` signing in as `user`; `None` on SQLite.
    pub async fn shared_failure_scores(
        &self,
        addr: IpAddr,
        user: &str,
    ) -> Result<Option<SharedScores>> {
        if !self.shares_failure_scores() {
            return Ok(None);
        }
        let [pair, address, account] = subjects(addr, user);
        let rows: Vec<(i16, f64, i64)> = sqlx::query_as(
            "SELECT scope, score, last_ms FROM auth_failures \
             WHERE (scope, subject) IN ((0, $1), (1, $2), (2, $3))",
        )
        .bind(pair.1)
        .bind(address.1)
        .bind(account.1)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(Some(scores(rows)))
    }

    /// Counts one failure of `addr` as `user` that reserved no place (a wrong second
    /// factor: no hash ran) in all three shared scores, and returns them; `None` on
    /// SQLite.
    pub async fn record_shared_failure(
        &self,
        addr: IpAddr,
        user: &str,
        now_ms: i64,
        rules: &ScoreRules,
    ) -> Result<Option<SharedScores>> {
        if !self.shares_failure_scores() {
            return Ok(None);
        }
        Ok(Some(
            self.count_failure(addr, user, now_ms, 0.0, rules).await?,
        ))
    }

    /// Bounded table: now and then, drops the scores nobody failed against, and no
    /// check was pending on, for an hour.
    pub(crate) async fn drop_idle_scores(&self, now_ms: i64) -> Result<()> {
        if rand::random::<u8>() < 4 {
            sqlx::query("DELETE FROM auth_failures WHERE last_ms < $1 AND pending_ms < $1")
                .bind(now_ms - IDLE_MS)
                .execute(&self.db.pool)
                .await?;
        }
        Ok(())
    }

    /// Clears the shared score of `addr` against `user` after a successful sign-in. The
    /// row stays: it holds the places of checks still running.
    pub async fn forget_shared_pair(&self, addr: IpAddr, user: &str) -> Result<()> {
        if !self.shares_failure_scores() {
            return Ok(());
        }
        let [pair, _, _] = subjects(addr, user);
        sqlx::query("UPDATE auth_failures SET score = 0 WHERE scope = 0 AND subject = $1")
            .bind(pair.1)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// Records that `user` signed in from `addr`; addresses not seen for `ttl_ms` are
    /// dropped now and then.
    pub async fn remember_shared_address(
        &self,
        addr: IpAddr,
        user: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<()> {
        if !self.shares_failure_scores() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO auth_known_addresses (username, address, last_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (username, address) DO UPDATE SET last_ms = EXCLUDED.last_ms",
        )
        .bind(user)
        .bind(addr.to_string())
        .bind(now_ms)
        .execute(&self.db.pool)
        .await?;
        if rand::random::<u8>() < 4 {
            sqlx::query("DELETE FROM auth_known_addresses WHERE last_ms < $1")
                .bind(now_ms - ttl_ms)
                .execute(&self.db.pool)
                .await?;
        }
        Ok(())
    }

    /// Whether `user` signed in from `addr` on any node since `since_ms`.
    pub async fn known_shared_address(
        &self,
        addr: IpAddr,
        user: &str,
        since_ms: i64,
    ) -> Result<bool> {
        if !self.shares_failure_scores() {
            return Ok(false);
        }
        let known: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM auth_known_addresses \
             WHERE username = $1 AND address = $2 AND last_ms >= $3",
        )
        .bind(user)
        .bind(addr.to_string())
        .bind(since_ms)
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(known.is_some())
    }
}
