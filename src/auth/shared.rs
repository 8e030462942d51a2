//! The throttle across nodes: the single-node rules of [`throttle`](super::throttle),
//! held for the whole cluster through the database (PostgreSQL; on SQLite, one node,
//! every shared call is a no-op and the in-memory throttle decides alone).
//!
//! - **Scores.** Before an uncached sign-in is judged, the node takes in the shared
//!   failure scores; every failure is counted there too.
//! - **Checks in flight.** A check that may run here (this node's running checks
//!   counted, [`InFlight`](super::in_flight::InFlight)) also reserves a place in the
//!   shared scores before it hashes, granted only while failures plus the checks pending
//!   on every node stay under the per-address limits. A failure turns its place into a
//!   failure, anything else gives it back. So parallel guesses spread over the nodes hash
//!   no more than on one node: the places are taken in one conditional upsert per check,
//!   serialised by the row locks. A place held elsewhere means "wait for a running check
//!   to finish", as on one node, but no node hears another's finish: such a check asks
//!   again after a short pause. A cancelled check gives its place back; a node that dies
//!   mid-check leaves its places behind, and they fade (halving every five minutes, slow
//!   enough that the places of checks queued for a hash still count whole).
//! - **The account-wide turn.** While an account is throttled, a new address's password
//!   check takes its turn on the shared score (a conditional UPDATE that succeeds only
//!   when the wait is over), so N nodes give one guess per wait, not N.
//! - **Known addresses.** A sign-in (Basic or the portal's) writes its address to the
//!   database, at most once per address every sixteenth of `known_address_ttl` (this
//!   node's memory de-duplicates); the account-wide limit reads it there before it
//!   refuses. A cached sign-in from an address already known costs no round trip.

use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use davgate_storage::{
    AccountTurn, CheckEnd, Reservation, ScoreRules, SharedScores, Store, now_ms,
};

use super::basic::BasicCredentials;
use super::in_flight::RunningCheck;
use super::stats::Decision;
use super::throttle::{Begin, Limit};
use super::usage::ClientInfo;
use super::{AuthError, Authenticator};

/// How long a check waits for running ones before the server answers busy.
const QUEUE_LIMIT: Duration = Duration::from_secs(30);

/// How long a check waits before it asks again for a place held on another node (a
/// check finishing here wakes it sooner).
const SHARED_PAUSE: Duration = Duration::from_millis(250);

/// A check allowed to run: counted here, and (PostgreSQL) holding its place in the
/// shared scores.
pub(super) struct Slot {
    /// Counted here until the slot is dropped.
    _running: RunningCheck,
    place: Option<SharedPlace>,
}

/// A place reserved in the shared scores at `reserved_ms`. Ended with
/// [`SharedPlace::end`]; a check cancelled before (its client went away) gives the place
/// back from a task of its own, so only a node that dies leaves places behind.
struct SharedPlace {
    store: Store,
    addr: IpAddr,
    user: String,
    reserved_ms: i64,
    rules: ScoreRules,
    ended: bool,
}

impl SharedPlace {
    async fn end(&mut self, end: CheckEnd) -> davgate_storage::Result<Option<SharedScores>> {
        self.ended = true;
        let (addr, user, now) = (self.addr, &self.user, now_ms());
        self.store
            .end_shared_check(addr, user, self.reserved_ms, end, now, &self.rules)
            .await
    }
}

impl Drop for SharedPlace {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let mut place = SharedPlace {
            store: self.store.clone(),
            addr: self.addr,
            user: std::mem::take(&mut self.user),
            ended: true,
            ..*self
        };
        tokio::spawn(async move {
            if let Err(e) = place.end(CheckEnd::Passed).await {
                tracing::warn!(error = %e, "could not give back a cancelled check's place");
            }
        });
    }
}

impl Authenticator {
    /// Runs `check` for `creds` from `client` when the throttle lets it, and counts a
    /// wrong credential as a failure here and in the shared scores. Basic and portal
    /// password sign-ins both go through here.
    pub(super) async fn throttled_check<T>(
        &self,
        creds: &BasicCredentials,
        client: &ClientInfo,
        check: impl Future<Output = Result<T, AuthError>>,
    ) -> Result<T, AuthError> {
        let mut slot = self.throttle_slot(client, &creds.user).await?;
        let result = check.await;
        let failed = matches!(
            &result,
            Err(AuthError::Invalid | AuthError::TwoFactorOn | AuthError::AppPasswordRequired)
        );
        let crossed = failed.then(|| self.throttle.failed(client.addr, &creds.user, now_ms()));
        // The shared place ends before the local count, so a check this frees here finds
        // it given back (or counted) when it asks.
        let end = if failed {
            CheckEnd::Failed
        } else {
            CheckEnd::Passed
        };
        self.end_shared_check(&mut slot, client, &creds.user, end)
            .await;
        drop(slot);
        if let Some(crossed) = crossed {
            self.audit_crossed(crossed, creds, client).await;
        }
        result
    }

    /// Waits for the throttle to let one check of `user` from `client` run, or refuses:
    /// each pass either runs the check, refuses it, or waits for a running check (here or
    /// on another node) to finish. The hash pool bounds how long a running check takes.
    async fn throttle_slot(&self, client: &ClientInfo, user: &str) -> Result<Slot, AuthError> {
        let deadline = tokio::time::Instant::now() + QUEUE_LIMIT;
        while tokio::time::Instant::now() < deadline {
            let finished = self.throttle.check_finished();
            tokio::pin!(finished);
            finished.as_mut().enable();
            let now = now_ms();
            let running = match self.throttle.begin(client.addr, user, now) {
                Begin::Go(running) => running,
                Begin::Wait(wait) => {
                    self.stats.decided(Decision::Wait);
                    return Err(self.held(Limit::Address, wait).await);
                }
                Begin::Busy => {
                    self.stats.decided(Decision::Busy);
                    let _ = tokio::time::timeout(Duration::from_secs(1), finished).await;
                    continue;
                }
            };
            let rules = self.throttle.score_rules();
            match self
                .store
                .reserve_shared_check(client.addr, user, now, &rules)
                .await?
            {
                None => {}
                Some(Reservation::Placed) => {}
                Some(Reservation::Full) => {
                    drop(running);
                    // Full by failures: the scores say how long to wait. Full by checks
                    // running elsewhere: ask again once some may have finished.
                    self.absorb_shared_failures(client, user).await?;
                    if let Some(wait) = self.throttle.wait(client.addr, user, now_ms()) {
                        self.stats.decided(Decision::Wait);
                        return Err(self.held(Limit::Address, wait).await);
                    }
                    self.stats.decided(Decision::Busy);
                    let _ = tokio::time::timeout(SHARED_PAUSE, finished).await;
                    continue;
                }
            }
            self.stats.decided(Decision::Go);
            let place = self.store.shares_failure_scores().then(|| SharedPlace {
                store: self.store.clone(),
                addr: client.addr,
                user: user.to_owned(),
                reserved_ms: now,
                rules,
                ended: false,
            });
            return Ok(Slot {
                _running: running,
                place,
            });
        }
        Err(AuthError::Busy)
    }

    /// Ends a check's shared place; a failure's scores, as all nodes counted them, are
    /// taken in. A database failure leaves the place to fade, and this node's own count,
    /// which still throttles.
    async fn end_shared_check(
        &self,
        slot: &mut Slot,
        client: &ClientInfo,
        user: &str,
        end: CheckEnd,
    ) {
        let Some(place) = &mut slot.place else {
            return;
        };
        match place.end(end).await {
            Ok(Some(shared)) if end == CheckEnd::Failed => {
                self.throttle.absorb(client.addr, user, &shared, now_ms())
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not end a sign-in check's shared place"),
        }
    }

    /// The account-wide wait for a check subject to it, claiming the turn when the wait
    /// is over: on the shared score when there is one, so one node of all takes it.
    pub(super) async fn account_turn(
        &self,
        user: &str,
        now: i64,
    ) -> Result<Option<Duration>, AuthError> {
        // A wait this node already knows of costs no round trip.
        if let Some(wait) = self.throttle.account_wait(user, now) {
            return Ok(Some(wait));
        }
        let rules = self.throttle.score_rules();
        match self.store.take_account_turn(user, now, &rules).await? {
            None | Some(AccountTurn::Unscored) => Ok(self.throttle.account_turn(user, now)),
            Some(AccountTurn::Taken(shared)) => {
                // Others on this node now wait without asking the database.
                self.throttle.adopt_account_turn(user, shared, now);
                Ok(None)
            }
            Some(AccountTurn::Waiting(shared)) => {
                self.throttle.adopt_account_turn(user, shared, now);
                // The database found the wait not over at `now`; a rounding difference
                // must not turn that into a turn.
                let wait = self.throttle.account_wait(user, now);
                Ok(Some(wait.unwrap_or(Duration::from_secs(1))))
            }
        }
    }

    /// Takes in the failure scores other nodes counted (a no-op on SQLite).
    pub(super) async fn absorb_shared_failures(
        &self,
        client: &ClientInfo,
        user: &str,
    ) -> Result<(), AuthError> {
        if let Some(shared) = self.store.shared_failure_scores(client.addr, user).await? {
            self.throttle.absorb(client.addr, user, &shared, now_ms());
        }
        Ok(())
    }

    /// Counts a failure that ran no check (a wrong second factor) in the scores all nodes
    /// share, and takes in their sum. A database failure leaves this node's own count.
    pub(super) async fn share_failure(&self, client: &ClientInfo, user: &str) {
        let now = now_ms();
        let rules = self.throttle.score_rules();
        match self
            .store
            .record_shared_failure(client.addr, user, now, &rules)
            .await
        {
            Ok(Some(shared)) => self.throttle.absorb(client.addr, user, &shared, now),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not share a failed sign-in's score"),
        }
    }

    /// Whether `user` signed in from this address lately, on this node or (PostgreSQL)
    /// any other; asked only while the account-wide score is over its threshold.
    pub(super) async fn known_address(
        &self,
        client: &ClientInfo,
        user: &str,
    ) -> Result<bool, AuthError> {
        if self.throttle.known(client.addr, user) {
            return Ok(true);
        }
        let ttl = self.throttle.known_address_ttl().as_millis() as i64;
        let since = now_ms().saturating_sub(ttl);
        let known = self
            .store
            .known_shared_address(client.addr, user, since)
            .await?;
        if known {
            self.throttle.remember(client.addr, user);
        }
        Ok(known)
    }

    /// Makes this address known to `user` here and on every node. The database is
    /// written only when this node has not written it lately, so signing in again costs
    /// no round trip.
    pub(super) async fn share_known_address(&self, client: &ClientInfo, user: &str) {
        let now = now_ms();
        self.throttle.remember(client.addr, user);
        if !self.store.shares_failure_scores() || !self.throttle.share_due(client.addr, user, now) {
            return;
        }
        let ttl = self.throttle.known_address_ttl().as_millis() as i64;
        match self
            .store
            .remember_shared_address(client.addr, user, now, ttl)
            .await
        {
            Ok(()) => self.throttle.shared_known(client.addr, user, now),
            Err(e) => tracing::warn!(error = %e, "could not share a known address"),
        }
    }

    /// A successful sign-in clears the address's shared failures against the account, as
    /// it clears this node's: the owner is not locked out by guesses made elsewhere.
    pub(super) async fn forget_shared_pair(&self, client: &ClientInfo, user: &str) {
        if let Err(e) = self.store.forget_shared_pair(client.addr, user).await {
            tracing::warn!(error = %e, "could not clear a shared failure score");
        }
    }
}
