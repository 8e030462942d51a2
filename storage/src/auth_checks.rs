//! Sign-in checks in flight on any node, and the account-wide turn, shared on
//! PostgreSQL (`auth_failures.pending`, `auth_failures.last_ms`), so that the throttle's
//! single-node rules hold for the whole cluster.
//!
//! A check that is about to hash reserves a place first: one conditional upsert adds one
//! to the `pending` score of its (address, account) and address rows, and only if the
//! failures plus the checks already pending, on every node, stay under the threshold
//! (or, past it, the wait is over and nothing is pending: one check takes its turn).
//! The check ends with [`Store::end_shared_check`]: a failure moves its place from
//! `pending` to `score` in the same statement, a success gives it back. Pending places
//! decay like scores, with a half-life of their own (five minutes, set by the server), so
//! a node that dies mid-check leaves nothing behind for good; the decayed amount of a
//! place is what is given back, so nothing drifts.
//!
//! While an account is over its account-wide threshold, a new address's password check
//! takes its turn by moving the account row's `last_ms` to now, in one conditional
//! UPDATE that succeeds only when the wait is over: of any number of nodes asking at
//! once, one gets it and the wait starts over for the others.
//!
//! On SQLite (one node) every call is a no-op returning `None`.

use std::net::IpAddr;

use crate::Store;
use crate::auth_failures::{ScoreRules, SharedScore, SharedScores, scores, subjects};
use crate::error::Result;

/// Whether a shared reservation let a check run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// It runs; end it with [`Store::end_shared_check`] and the time it was reserved.
    Placed,
    /// Failures or checks pending on the nodes fill the address's places: nothing was
    /// reserved.
    Full,
}

/// How a shared check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckEnd {
    /// The credentials were wrong: the place becomes a failure in all three scores.
    Failed,
    /// Anything else: the place is given back.
    Passed,
}

/// Who got the account-wide turn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AccountTurn {
    /// This caller: the wait starts over (the account's score is as returned).
    Taken(SharedScore),
    /// Another node took it, or the wait is not over: the account's score is as returned.
    Waiting(SharedScore),
    /// No node has scored the account (this node's own score stands alone).
    Unscored,
}

/// The decayed failure score of row `f` at `$now`, or its pending places. PostgreSQL
/// refuses a `power` that underflows, so the half-lives are capped at 1000 (a factor of
/// 1e-301, nothing left either way).
macro_rules! decayed {
    (score, $now:literal, $half_life:literal) => {
        decayed!("f.score", "f.last_ms", $now, $half_life)
    };
    (pending, $now:literal, $half_life:literal) => {
        decayed!("f.pending", "f.pending_ms", $now, $half_life)
    };
    ($value:literal, $since:literal, $now:literal, $half_life:literal) => {
        concat!(
            "(",
            $value,
            " * power(0.5, LEAST(GREATEST(",
            $now,
            " - ",
            $since,
            ", 0)::float8 / ",
            $half_life,
            ", 1000)))"
        )
    };
}

/// Whether row `f`'s wait is over at `$now` (or it is below `$threshold`), as the
/// throttle's `remaining` computes it: 2^(score - threshold) seconds after the last
/// failure, at most `$max`. The exponent is capped where the ceiling is reached anyway,
/// so a huge score cannot overflow.
macro_rules! wait_over {
    ($now:literal, $half_life:literal, $max:literal, $threshold:literal) => {
        concat!(
            "(",
            decayed!(score, $now, $half_life),
            " + 0.5 < ",
            $threshold,
            " OR LEAST(power(2, LEAST(GREATEST(",
            decayed!(score, $now, $half_life),
            " - ",
            $threshold,
            ", 0), 64)), ",
            $max,
            ") * 1000 <= ",
            $now,
            " - f.last_ms)"
        )
    };
}

impl Store {
    /// Reserves a place for a check of `addr` as `user` that is about to hash, if the
    /// shared per-address scores leave one; `None` on SQLite.
    pub async fn reserve_shared_check(
        &self,
        addr: IpAddr,
        user: &str,
        now_ms: i64,
        rules: &ScoreRules,
    ) -> Result<Option<Reservation>> {
        if !self.shares_failure_scores() {
            return Ok(None);
        }
        let [pair, address, _] = subjects(addr, user);
        // Each row admits the check as the throttle's `begin` does on one node: the wait
        // (if any) is over, and either nothing is pending or failures and pending
        // checks together stay under the threshold.
        let placed: Vec<i16> = sqlx::query_scalar(concat!(
            "INSERT INTO auth_failures AS f (scope, subject, score, last_ms, pending, pending_ms) \
             VALUES (0, $1, 0, $3, 1, $3), (1, $2, 0, $3, 1, $3) \
             ON CONFLICT (scope, subject) DO UPDATE SET \
               pending = ",
            decayed!(pending, "$3", "$5"),
            " + 1, pending_ms = GREATEST(f.pending_ms, $3) \
             WHERE ",
            wait_over!(
                "$3",
                "$4",
                "$6",
                "(CASE f.scope WHEN 0 THEN $7 ELSE $8 END)"
            ),
            " AND (",
            decayed!(pending, "$3", "$5"),
            " < 0.5 OR ",
            decayed!(score, "$3", "$4"),
            " + ",
            decayed!(pending, "$3", "$5"),
            " + 0.5 < (CASE f.scope WHEN 0 THEN $7 ELSE $8 END)) \
             RETURNING scope"
        ))
        .bind(&pair.1)
        .bind(&address.1)
        .bind(now_ms)
        .bind(rules.half_life_ms.max(1.0))
        .bind(rules.pending_half_life_ms.max(1.0))
        .bind(rules.max_delay_secs)
        .bind(rules.per_account)
        .bind(rules.per_address)
        .fetch_all(&self.db.pool)
        .await?;
        if placed.len() == 2 {
            return Ok(Some(Reservation::Placed));
        }
        // One row admitted it and the other did not: give its place back at once.
        if let [scope] = placed[..] {
            let (pair, address) = match scope {
                0 => (Some(pair.1), None),
                _ => (None, Some(address.1)),
            };
            self.give_back(pair, address, now_ms, 1.0, rules).await?;
        }
        Ok(Some(Reservation::Full))
    }

    /// Ends a check reserved at `reserved_ms` (see [`Self::reserve_shared_check`]); after
    /// a failure, returns the three scores as all nodes counted them. `None` on SQLite.
    pub async fn end_shared_check(
        &self,
        addr: IpAddr,
        user: &str,
        reserved_ms: i64,
        end: CheckEnd,
        now_ms: i64,
        rules: &ScoreRules,
    ) -> Result<Option<SharedScores>> {
        if !self.shares_failure_scores() {
            return Ok(None);
        }
        let place = rules.place(reserved_ms, now_ms);
        match end {
            CheckEnd::Failed => {
                let scores = self.count_failure(addr, user, now_ms, place, rules).await?;
                Ok(Some(scores))
            }
            CheckEnd::Passed => {
                let [pair, address, _] = subjects(addr, user);
                self.give_back(Some(pair.1), Some(address.1), now_ms, place, rules)
                    .await?;
                Ok(Some(SharedScores::default()))
            }
        }
    }

    /// Counts one failure of `addr` as `user` in all three shared scores (each decayed to
    /// `now_ms` first), moving `place` out of the pending checks of the first two, and
    /// returns the scores. PostgreSQL only.
    pub(crate) async fn count_failure(
        &self,
        addr: IpAddr,
        user: &str,
        now_ms: i64,
        place: f64,
        rules: &ScoreRules,
    ) -> Result<SharedScores> {
        let [pair, address, account] = subjects(addr, user);
        let rows: Vec<(i16, f64, i64)> = sqlx::query_as(concat!(
            "INSERT INTO auth_failures AS f (scope, subject, score, last_ms) \
             VALUES (0, $1, 1, $4), (1, $2, 1, $4), (2, $3, 1, $4) \
             ON CONFLICT (scope, subject) DO UPDATE SET \
               score = ",
            decayed!(score, "$4", "$5"),
            " + 1, last_ms = GREATEST(f.last_ms, $4), \
               pending = GREATEST(",
            decayed!(pending, "$4", "$6"),
            " - CASE WHEN f.scope < 2 THEN $7 ELSE 0 END, 0), \
               pending_ms = GREATEST(f.pending_ms, $4) \
             RETURNING scope, score, last_ms"
        ))
        .bind(pair.1)
        .bind(address.1)
        .bind(account.1)
        .bind(now_ms)
        .bind(rules.half_life_ms.max(1.0))
        .bind(rules.pending_half_life_ms.max(1.0))
        .bind(place)
        .fetch_all(&self.db.pool)
        .await?;
        self.drop_idle_scores(now_ms).await?;
        Ok(scores(rows))
    }

    /// Gives `place` back to the pending checks of the (address, account) row `pair`
    /// and the address row `address` (`None`: that row keeps it).
    async fn give_back(
        &self,
        pair: Option<String>,
        address: Option<String>,
        now_ms: i64,
        place: f64,
        rules: &ScoreRules,
    ) -> Result<()> {
        sqlx::query(concat!(
            "UPDATE auth_failures AS f SET pending = GREATEST(",
            decayed!(pending, "$3", "$4"),
            " - $5, 0), pending_ms = GREATEST(f.pending_ms, $3) \
             WHERE (f.scope = 0 AND f.subject = $1) OR (f.scope = 1 AND f.subject = $2)"
        ))
        .bind(pair)
        .bind(address)
        .bind(now_ms)
        .bind(rules.pending_half_life_ms.max(1.0))
        .bind(place)
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// Takes the account-wide turn of `user` for a new address's password check, if
    /// the wait is over on the shared score; `None` on SQLite.
    pub async fn take_account_turn(
        &self,
        user: &str,
        now_ms: i64,
        rules: &ScoreRules,
    ) -> Result<Option<AccountTurn>> {
        if !self.shares_failure_scores() {
            return Ok(None);
        }
        // Under concurrent takers the row lock serialises them, and each re-checks the
        // condition on the row the one before left: the wait has just started over.
        let taken: Option<(f64, i64)> = sqlx::query_as(concat!(
            "UPDATE auth_failures AS f SET score = ",
            decayed!(score, "$2", "$3"),
            ", last_ms = $2 WHERE f.scope = 2 AND f.subject = $1 AND ",
            wait_over!("$2", "$3", "$4", "$5"),
            " RETURNING score, last_ms"
        ))
        .bind(user)
        .bind(now_ms)
        .bind(rules.half_life_ms.max(1.0))
        .bind(rules.max_delay_secs)
        .bind(rules.account_wide)
        .fetch_optional(&self.db.pool)
        .await?;
        if let Some((value, last_ms)) = taken {
            return Ok(Some(AccountTurn::Taken(SharedScore { value, last_ms })));
        }
        // A statement of its own sees the turn another node committed.
        let score: Option<(f64, i64)> = sqlx::query_as(
            "SELECT score, last_ms FROM auth_failures WHERE scope = 2 AND subject = $1",
        )
        .bind(user)
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(Some(match score {
            Some((value, last_ms)) => AccountTurn::Waiting(SharedScore { value, last_ms }),
            None => AccountTurn::Unscored,
        }))
    }
}
