//! Who is asking: HTTP Basic credentials turned into a [`Principal`].
//!
//! Owns credential parsing ([`basic`]), the app password format ([`app_password`]),
//! argon2id verification on a bounded pool ([`password`]), the cache of successful checks
//! ([`cache`]), throttling of failures ([`throttle`]), holding throttled answers
//! ([`hold`]), batched last-use records ([`usage`]), scopes ([`scope`]) and the second
//! factor ([`totp`], [`two_factor`], sealed with [`seal`]), and the portal's typed sign-ins
//! ([`interactive`]). Does not own what a request does once allowed.
//!
//! A request with cached credentials costs one HMAC and one account lookup; the account
//! carries its credential generation, so a revocation, a new password or a second
//! factor turned on by any process ends the credential on the very next request. (The
//! store keeps the row until the next commit by any process, so the lookup is a query
//! only after a write; on PostgreSQL, which other nodes write, it is a query every time.)
//!
//! A cache miss meets the throttle before it costs a hash: the per-address scores for
//! every credential, the account-wide score only for the account password (or an unknown
//! name) from an address the account has not signed in from. An app password of the
//! account is told apart by its public id, one database read and no hash, so during a
//! flood spread over many addresses the owner's app passwords and known devices keep
//! working; only account-password sign-ins from new addresses wait.

pub mod app_password;
pub mod basic;
pub mod cache;
pub mod error;
pub mod hold;
pub mod in_flight;
pub mod interactive;
pub mod password;
pub mod principal;
pub mod scope;
pub mod seal;
pub mod shared;
pub mod stats;
pub mod throttle;
pub mod totp;
pub mod two_factor;
pub mod usage;

use std::time::Duration;

use davgate_storage::{Account, AuditEvent, Store, TotpState, now_ms};
use http::HeaderMap;

pub use self::error::AuthError;
pub use self::principal::{Credential, Principal};

use self::basic::BasicCredentials;
use self::cache::{CachedCheck, CredentialCache};
use self::hold::Holds;
use self::password::Hasher;
use self::scope::{Access, Scopes};
use self::stats::{AuthStats, Decision};
use self::throttle::{Crossed, Limit, Throttle, ThrottleSettings};
use self::usage::{ClientInfo, Seen, UsageTracker};
/// Settings of the authenticator.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// How long a successful check stays cached.
    pub cache_ttl: Duration,
    /// How many checks the cache holds; 0 disables the cache (benchmarks of cold checks).
    pub cache_capacity: u64,
    /// How long a sign-in may wait for a hashing slot before 503.
    pub hash_wait: Duration,
    /// Concurrent hashes; `None` means one per core.
    pub hash_slots: Option<usize>,
    /// Refuse account passwords from sync clients, second factor or not.
    pub require_app_passwords: bool,
    /// Failure throttling.
    pub throttle: ThrottleSettings,
}

/// Turns credentials into principals.
#[derive(Clone)]
pub struct Authenticator {
    store: Store,
    cache: CredentialCache,
    hasher: Hasher,
    throttle: std::sync::Arc<Throttle>,
    holds: Holds,
    usage: UsageTracker,
    require_app_passwords: bool,
    stats: std::sync::Arc<AuthStats>,
}

impl Authenticator {
    /// An authenticator over `store`, with the cache keyed by `server_key`.
    pub fn new(store: Store, server_key: [u8; 32], settings: &AuthSettings) -> Self {
        let hasher = match settings.hash_slots {
            Some(slots) => Hasher::new(slots, settings.hash_wait),
            None => Hasher::per_core(settings.hash_wait),
        };
        Authenticator {
            cache: CredentialCache::new(server_key, settings.cache_ttl, settings.cache_capacity),
            hasher,
            throttle: std::sync::Arc::new(Throttle::new(settings.throttle.clone())),
            holds: Holds::new(settings.throttle.max_held, settings.throttle.hold),
            usage: UsageTracker::new(store.clone()),
            require_app_passwords: settings.require_app_passwords,
            stats: std::sync::Arc::default(),
            store,
        }
    }

    /// What sign-ins met: cache lookups and throttle decisions.
    pub fn stats(&self) -> &AuthStats {
        &self.stats
    }

    /// The password hashing pool.
    pub fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    /// The batched record of credential use.
    pub fn usage(&self) -> &UsageTracker {
        &self.usage
    }

    /// Authenticates a request from its headers and client.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        client: &ClientInfo,
    ) -> Result<Principal, AuthError> {
        let creds = basic::parse(headers)?;
        let key = self.cache.key(&creds);
        let cached = self.cache.cached(&key).await;
        self.stats.cache_lookup(cached.is_some());
        // Everything but a cached app password meets the throttle, cached or not: a
        // cache that answered the right account password while refusing wrong ones would
        // be a guessing oracle. An app password's secret is random, so a hit on one tells
        // a guesser nothing, and the owner's devices keep working from any address.
        let app_password_hit = cached
            .as_ref()
            .is_some_and(|c| matches!(c.credential, Credential::AppPassword { .. }));
        if cached.is_none() {
            // Only a check that hashes reads the shared scores: cached sign-ins cost no
            // round trip, and every guess is uncached.
            self.absorb_shared_failures(client, &creds.user).await?;
        }
        if !app_password_hit && let Some((limit, wait)) = self.throttled(&creds, client).await? {
            self.stats.decided(Decision::Wait);
            return Err(self.held(limit, wait).await);
        }
        let cached = cached.is_some();
        // A stale entry is dropped and the credentials checked once more: the account
        // password may still be valid after an unrelated credential change.
        for _ in 0..2 {
            let check = self
                .cache
                .check_with(key, self.counted_check(&creds, client))
                .await?;
            // Kept across uploads: a sync job's stream of them would otherwise cost a
            // read of the account each. Its usage may lag; what needs it reads it.
            let account = self.store.account_settings(check.account).await?;
            match account {
                Some(account) if still_valid(&account, &check) => {
                    if !cached {
                        self.throttle.signed_in(client.addr, &creds.user);
                        self.forget_shared_pair(client, &creds.user).await;
                        self.share_known_address(client, &creds.user).await;
                    }
                    let principal = Principal {
                        account,
                        access: check.access,
                        credential: check.credential,
                    };
                    // A cache hit from an address new to the credential (a device that
                    // moved) makes it known too, so it keeps working if its cache entry
                    // runs out during a flood; known ones cost nothing more here.
                    if self.usage.record(&principal, client) == Seen::NewAddress {
                        self.share_known_address(client, &creds.user).await;
                    }
                    return Ok(principal);
                }
                _ => self.cache.forget(&key).await,
            }
        }
        Err(AuthError::Invalid)
    }

    /// Whether an uncached check must wait, and by which score. The account-wide score
    /// is asked only when it is over its threshold, so the database read that tells an
    /// app password apart is spent only during a flood.
    async fn throttled(
        &self,
        creds: &BasicCredentials,
        client: &ClientInfo,
    ) -> Result<Option<(Limit, Duration)>, AuthError> {
        let now = now_ms();
        if let Some(wait) = self.throttle.wait(client.addr, &creds.user, now) {
            return Ok(Some((Limit::Address, wait)));
        }
        if !self.throttle.account_throttled(&creds.user, now)
            || self.known_address(client, &creds.user).await?
            || self.is_own_app_password(creds).await?
        {
            return Ok(None);
        }
        Ok(self
            .account_turn(&creds.user, now)
            .await?
            .map(|wait| (Limit::Account, wait)))
    }

    /// Whether the password has the app password shape and its public id names an app
    /// password of this account (revoked or not: such a check costs no hash anyway).
    async fn is_own_app_password(&self, creds: &BasicCredentials) -> Result<bool, AuthError> {
        let Some((public_id, _)) = app_password::parse(creds.password.expose()) else {
            return Ok(false);
        };
        let Some(app) = self.store.app_password(&public_id).await? else {
            return Ok(false);
        };
        let owner = self.store.account_by_name(&creds.user).await?;
        Ok(owner.is_some_and(|account| account.id == app.account))
    }

    /// A throttled answer, held for (part of) the wait so a flood cannot spin on it.
    async fn held(&self, limit: Limit, wait: Duration) -> AuthError {
        let held = self.holds.hold(wait).await;
        AuthError::Throttled(limit, wait.saturating_sub(held))
    }

    /// Checks the credentials (once for all waiters of a coalesced check) when the
    /// throttle lets it run.
    async fn counted_check(
        &self,
        creds: &BasicCredentials,
        client: &ClientInfo,
    ) -> Result<CachedCheck, AuthError> {
        self.throttled_check(creds, client, self.check(creds)).await
    }

    /// Audits each threshold a failure crossed.
    async fn audit_crossed(&self, crossed: Crossed, creds: &BasicCredentials, client: &ClientInfo) {
        if !crossed.address && !crossed.account {
            return;
        }
        // Unknown names have no audit log.
        let Ok(Some(account)) = self.store.account_by_name(&creds.user).await else {
            return;
        };
        let addr = client.addr.to_string();
        if crossed.address {
            let detail = format!("sign-ins from {addr} throttled after repeated failures");
            self.audit_failures(&account, &detail, Some(&addr)).await;
        }
        if crossed.account {
            tracing::warn!(
                account = %account.username,
                "sign-ins throttled after repeated failures from many addresses"
            );
            let detail = "sign-ins to this account throttled after repeated failures from many \
                          addresses; app passwords and addresses that signed in before are not \
                          affected";
            // The address is only the one whose failure crossed the threshold: leave it out.
            self.audit_failures(&account, detail, None).await;
        }
    }

    async fn audit_failures(&self, account: &Account, detail: &str, addr: Option<&str>) {
        if let Err(e) = self
            .store
            .audit(account.id, AuditEvent::RepeatedFailures, detail, addr)
            .await
        {
            tracing::warn!(error = %e, "could not audit repeated failures");
        }
    }

    async fn check(&self, creds: &BasicCredentials) -> Result<CachedCheck, AuthError> {
        let Some(account) = self.store.account_by_name(&creds.user).await? else {
            self.hasher.verify_decoy(creds.password.clone()).await?;
            return Err(AuthError::Invalid);
        };
        if account.disabled {
            return Err(AuthError::Invalid);
        }
        if let Some((public_id, secret)) = app_password::parse(creds.password.expose())
            && let Some(app) = self.store.app_password(&public_id).await?
            && app.account == account.id
        {
            if app.revoked_ms.is_some() || app.expires_ms.is_some_and(|t| t <= now_ms()) {
                return Err(AuthError::Invalid);
            }
            let ok = self
                .hasher
                .verify(crate::secret::Secret::new(secret), app.secret_hash.clone())
                .await?;
            if !ok {
                return Err(AuthError::Invalid);
            }
            return Ok(CachedCheck {
                account: account.id,
                generation: account.credential_generation,
                credential: Credential::AppPassword {
                    id: app.id,
                    public_id: app.public_id,
                },
                access: Access {
                    scopes: Scopes::from_bits(app.scopes),
                    read_only: app.read_only,
                },
                expires_ms: app.expires_ms,
            });
        }
        let ok = self
            .hasher
            .verify(creds.password.clone(), account.password_hash.clone())
            .await?;
        if !ok {
            return Err(AuthError::Invalid);
        }
        if matches!(account.totp, TotpState::On { .. }) {
            return Err(AuthError::TwoFactorOn);
        }
        if self.require_app_passwords {
            return Err(AuthError::AppPasswordRequired);
        }
        Ok(CachedCheck {
            account: account.id,
            generation: account.credential_generation,
            credential: Credential::AccountPassword,
            access: Access::FULL,
            expires_ms: None,
        })
    }
}

/// A cached check holds while the account is enabled, nothing that ends sign-ins has
/// happened since (the generation), and an app password has not expired.
fn still_valid(account: &Account, check: &CachedCheck) -> bool {
    !account.disabled
        && account.credential_generation == check.generation
        && check.expires_ms.is_none_or(|t| t > now_ms())
}
