//! Who is asking: HTTP Basic credentials turned into a [`Principal`].
//!
//! Owns credential parsing ([`basic`]), argon2id verification on a bounded pool
//! ([`password`]) and the cache of successful checks ([`cache`]). Does not own what a
//! principal may do with a resource: that is each room's business.
//!
//! A request costs one HMAC and one account read when its credentials are cached; the
//! account read is what makes a password change or a disabled account take effect on
//! the very next request, whichever process made the change.

pub mod basic;
pub mod cache;
pub mod password;

use std::time::Duration;

use davgate_storage::{Account, Store};
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

use self::basic::BasicCredentials;
use self::cache::{CachedCheck, CredentialCache};
use self::password::{HashError, Hasher};
use crate::response::{self, Body};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The account, as read for this request.
    pub account: Account,
    /// Which credential signed in.
    pub credential: Credential,
}

/// The kind of credential that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// The account's own password.
    AccountPassword,
}

/// Why a request is not authenticated.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    /// No Basic credentials were sent.
    #[error("authentication required")]
    Missing,
    /// The credentials could not be read.
    #[error("malformed credentials: {0}")]
    Malformed(&'static str),
    /// Wrong user name or password, or a disabled account.
    #[error("invalid credentials")]
    Invalid,
    /// Every hashing slot is busy.
    #[error("too many sign-ins at once")]
    Busy,
    /// The database or the hashing task failed.
    #[error("authentication backend failure")]
    Backend,
}

impl AuthError {
    /// The one place an authentication failure becomes a response.
    pub fn into_response(self) -> Response<Body> {
        let (status, message) = match &self {
            AuthError::Missing => (
                StatusCode::UNAUTHORIZED,
                "authentication required: sign in with your user name and password".to_owned(),
            ),
            AuthError::Malformed(why) => (
                StatusCode::UNAUTHORIZED,
                format!(
                    "authentication failed: {why}; send HTTP Basic credentials as user:password"
                ),
            ),
            AuthError::Invalid => (
                StatusCode::UNAUTHORIZED,
                "authentication failed: wrong user name or password".to_owned(),
            ),
            AuthError::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is busy checking other sign-ins; retry in a few seconds".to_owned(),
            ),
            AuthError::Backend => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "authentication is unavailable because of a server error; retry later".to_owned(),
            ),
        };
        let mut response = response::text(status, message);
        let headers = response.headers_mut();
        match self {
            AuthError::Busy => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            AuthError::Backend => {}
            _ => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"davgate\", charset=\"UTF-8\""),
                );
            }
        }
        response
    }
}

impl From<HashError> for AuthError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => AuthError::Busy,
            HashError::BadHash | HashError::Task => {
                tracing::error!(error = %e, "password verification failed");
                AuthError::Backend
            }
        }
    }
}

impl From<davgate_storage::StorageError> for AuthError {
    fn from(e: davgate_storage::StorageError) -> Self {
        tracing::error!(error = %e, "account lookup failed");
        AuthError::Backend
    }
}

/// Settings of the authenticator.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// How long a successful check stays cached.
    pub cache_ttl: Duration,
    /// How many checks the cache holds.
    pub cache_capacity: u64,
    /// How long a sign-in may wait for a hashing slot before 503.
    pub hash_wait: Duration,
}

/// Turns credentials into principals.
#[derive(Clone)]
pub struct Authenticator {
    store: Store,
    cache: CredentialCache,
    hasher: Hasher,
}

impl Authenticator {
    /// An authenticator over `store`, with the cache keyed by `server_key`.
    pub fn new(store: Store, server_key: [u8; 32], settings: &AuthSettings) -> Self {
        Authenticator {
            store,
            cache: CredentialCache::new(server_key, settings.cache_ttl, settings.cache_capacity),
            hasher: Hasher::per_core(settings.hash_wait),
        }
    }

    /// Authenticates a request from its headers.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, AuthError> {
        let creds = basic::parse(headers)?;
        let key = self.cache.key(&creds);
        // A stale entry is dropped and the credentials checked once more: the account
        // password may still be valid after an unrelated credential change.
        for _ in 0..2 {
            let check = self.cache.check_with(key, self.check(&creds)).await?;
            let account = self.store.account(check.account).await?;
            match account {
                Some(account)
                    if !account.disabled && account.credential_generation == check.generation =>
                {
                    return Ok(Principal {
                        account,
                        credential: check.credential,
                    });
                }
                _ => self.cache.forget(&key).await,
            }
        }
        Err(AuthError::Invalid)
    }

    async fn check(&self, creds: &BasicCredentials) -> Result<CachedCheck, AuthError> {
        let Some(account) = self.store.account_by_name(&creds.user).await? else {
            self.hasher.verify_decoy(creds.password.clone()).await?;
            return Err(AuthError::Invalid);
        };
        if account.disabled {
            return Err(AuthError::Invalid);
        }
        let ok = self
            .hasher
            .verify(creds.password.clone(), account.password_hash.clone())
            .await?;
        if !ok {
            return Err(AuthError::Invalid);
        }
        Ok(CachedCheck {
            account: account.id,
            generation: account.credential_generation,
            credential: Credential::AccountPassword,
        })
    }
}
