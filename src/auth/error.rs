//! Why a request is not authenticated, and what it is answered (the 401 for an account
//! with a second factor says to use an app password); `crate::error` turns it into HTTP.

use std::time::Duration;

use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::password::HashError;
use super::throttle::Limit;
use crate::error::HttpError;

/// Why a request is not authenticated.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    /// No Basic credentials were sent.
    #[error("authentication required")]
    Missing,
    /// The credentials could not be read.
    #[error("malformed credentials: {0}")]
    Malformed(&'static str),
    /// Wrong user name or password, a revoked or expired app password, or a disabled account.
    #[error("invalid credentials")]
    Invalid,
    /// The account password is right, but the account has a second factor.
    #[error("two-factor authentication is on")]
    TwoFactorOn,
    /// The account password is right, but the server takes only app passwords.
    #[error("app passwords are required")]
    AppPasswordRequired,
    /// Too many failures from this address, or against this account from many addresses;
    /// the wait still to go.
    #[error("too many failed sign-ins")]
    Throttled(Limit, Duration),
    /// Every hashing slot is busy.
    #[error("too many sign-ins at once")]
    Busy,
    /// The database or the hashing task failed.
    #[error("authentication backend failure")]
    Backend,
}

const APP_PASSWORD_HINT: &str = "create an app password for this client (davgate app-password create USER --name NAME) and sign in with it";

impl AuthError {
    fn answer(&self) -> (StatusCode, String) {
        match self {
            AuthError::Missing => (
                StatusCode::UNAUTHORIZED,
                "authentication required: sign in with your user name and an app password".to_owned(),
            ),
            AuthError::Malformed(why) => (
                StatusCode::UNAUTHORIZED,
                format!("authentication failed: {why}; send HTTP Basic credentials as user:password"),
            ),
            AuthError::Invalid => (
                StatusCode::UNAUTHORIZED,
                "authentication failed: wrong user name or password, or the app password was revoked or expired"
                    .to_owned(),
            ),
            AuthError::TwoFactorOn => (
                StatusCode::UNAUTHORIZED,
                format!(
                    "two-factor authentication is on for this account, so its password cannot sign in \
                     sync clients: {APP_PASSWORD_HINT}"
                ),
            ),
            AuthError::AppPasswordRequired => (
                StatusCode::UNAUTHORIZED,
                format!("this server accepts only app passwords from sync clients: {APP_PASSWORD_HINT}"),
            ),
            AuthError::Throttled(Limit::Address, wait) => (
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many failed sign-ins from this address: wait {} seconds, then check the password",
                    retry_secs(*wait)
                ),
            ),
            AuthError::Throttled(Limit::Account, wait) => (
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many failed sign-ins: this account is receiving many failed sign-ins from \
                     many addresses, so its password cannot sign in from a new address for now; \
                     wait {} seconds, then retry. App passwords and devices that signed in \
                     before are not affected",
                    retry_secs(*wait)
                ),
            ),
            AuthError::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is busy checking other sign-ins; retry in a few seconds".to_owned(),
            ),
            AuthError::Backend => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "authentication is unavailable because of a server error; retry later".to_owned(),
            ),
        }
    }
}

impl HttpError for AuthError {
    fn status(&self) -> StatusCode {
        self.answer().0
    }

    fn message(&self) -> String {
        self.answer().1
    }

    fn add_headers(&self, headers: &mut HeaderMap) {
        match self {
            AuthError::Busy => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            AuthError::Throttled(_, wait) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_secs(*wait)));
            }
            AuthError::Backend => {}
            _ => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"davgate\", charset=\"UTF-8\""),
                );
            }
        }
    }
}

/// Whole seconds, rounded up; at least 1, since a 429 that says "retry now" invites a spin.
fn retry_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
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
        tracing::error!(error = %e, "credential lookup failed");
        AuthError::Backend
    }
}
