//! Why a portal request was refused; `crate::error::HttpError` gives each its status
//! and the sentence a person reads, and [`super::views::error_page`] shows it.

use davgate_storage::StorageError;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::auth::AuthError;
use crate::auth::app_password::CreateError;
use crate::auth::two_factor::TwoFactorError;
use crate::error::HttpError;

/// Why a form was refused as forged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forbidden {
    /// A POST without `Origin`.
    NoOrigin,
    /// A POST from another site.
    CrossOrigin,
    /// A form without its CSRF token.
    NoToken,
    /// A form with another session's token.
    WrongToken,
}

/// Why a portal request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PortalError {
    /// The form did not come from this session's page.
    #[error("forbidden: {0:?}")]
    Forbidden(Forbidden),
    /// The page needs a signed-in session.
    #[error("not signed in")]
    SignInFirst,
    /// A form field is missing or wrong.
    #[error("bad form: {0}")]
    BadForm(String),
    /// A password or code typed to confirm an action is wrong.
    #[error("confirmation failed: {0}")]
    Confirmation(String),
    /// No such page.
    #[error("not found")]
    NotFound,
    /// The page does not take this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Signing in failed or was throttled.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Too many portal requests waited for their turn too long.
    #[error("portal busy")]
    Busy,
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<TwoFactorError> for PortalError {
    fn from(e: TwoFactorError) -> Self {
        match e {
            TwoFactorError::Storage(e) => PortalError::Storage(e),
            e => PortalError::Confirmation(e.to_string()),
        }
    }
}

impl From<CreateError> for PortalError {
    fn from(e: CreateError) -> Self {
        match e {
            CreateError::Storage(e) => PortalError::Storage(e),
            e => PortalError::BadForm(e.to_string()),
        }
    }
}

impl HttpError for PortalError {
    fn status(&self) -> StatusCode {
        match self {
            PortalError::Forbidden(_) | PortalError::SignInFirst => StatusCode::FORBIDDEN,
            PortalError::BadForm(_) => StatusCode::BAD_REQUEST,
            PortalError::Confirmation(_) => StatusCode::UNAUTHORIZED,
            PortalError::NotFound => StatusCode::NOT_FOUND,
            PortalError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            PortalError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            PortalError::Auth(e) => e.status(),
            PortalError::Storage(e) => e.status(),
        }
    }

    fn message(&self) -> String {
        match self {
            PortalError::Forbidden(Forbidden::NoOrigin | Forbidden::CrossOrigin) => {
                "this form was not sent from this server's own page, so nothing was changed; \
                 open the page at /account/ and send it from there"
                    .into()
            }
            PortalError::Forbidden(Forbidden::NoToken | Forbidden::WrongToken) => {
                "this form belongs to another or an ended session, so nothing was changed; \
                 reload the page and send it again"
                    .into()
            }
            PortalError::SignInFirst => {
                "your session has ended or you are not signed in; sign in at /account/".into()
            }
            PortalError::BadForm(why) | PortalError::Confirmation(why) => why.clone(),
            PortalError::NotFound => "there is no such page; start at /account/".into(),
            PortalError::MethodNotAllowed => {
                "this page does not take that method; start at /account/".into()
            }
            PortalError::Auth(AuthError::Invalid) => {
                "wrong account name or password (app passwords do not open the portal: use \
                 the account password)"
                    .into()
            }
            PortalError::Busy => {
                "the account pages are busy right now (sync clients are not); reload in a few \
                 seconds"
                    .into()
            }
            PortalError::Auth(e) => e.message(),
            PortalError::Storage(e) => e.message(),
        }
    }

    fn add_headers(&self, headers: &mut HeaderMap) {
        // Only Retry-After: a WWW-Authenticate would make the browser ask for Basic
        // credentials, which never open the portal.
        match self {
            PortalError::Auth(e @ (AuthError::Throttled(..) | AuthError::Busy)) => {
                e.add_headers(headers);
            }
            PortalError::Busy => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
    }

    fn log_detail(&self) -> Option<String> {
        match self {
            PortalError::Storage(e) => e.log_detail(),
            PortalError::Auth(AuthError::Backend) => Some("authentication backend".into()),
            _ => None,
        }
    }
}
