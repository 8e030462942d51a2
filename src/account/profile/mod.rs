//! Apple device profiles: a `.mobileconfig` that sets up Calendar and Contacts on a Mac,
//! iPhone or iPad against this server, carrying a freshly issued app password scoped to
//! calendars and contacts and named after the device, signed with the server's TLS
//! certificate when there is one.
//!
//! [`issue`] is the whole job, for the portal's devices page and `davgate profile`:
//! issue the app password (the same path as `davgate app-password create`, so it is
//! listed and revoked like any other), write the plist ([`mobileconfig`] over
//! [`plist`]), sign it ([`sign`]). The caller brings the public address and the
//! certificate; how a request is authenticated and answered is not owned here.

pub mod mobileconfig;
pub mod plist;
pub mod sign;

use std::time::SystemTime;

use davgate_storage::{Account, StorageError, Store};
use http::StatusCode;
use rustls::sign::CertifiedKey;

use self::mobileconfig::{ProfileContent, ProfileUuids};
use self::sign::SignError;
use crate::auth::issue::{AppPasswordSpec, IssueError, MAX_NAME_CHARS, issue as issue_password};
use crate::auth::scope::Scopes;
use crate::dav::target::principal_path;
use crate::error::HttpError;
use crate::proto::href::encode_path;
use crate::public_url::PublicUrl;

/// What a profile is served as, signed or not: Apple's installers know it by this type.
pub const CONTENT_TYPE: &str = "application/x-apple-aspen-config";

/// What to build a profile for.
pub struct ProfileRequest<'a> {
    /// The address devices connect to.
    pub url: &'a PublicUrl,
    /// The device name the person typed; it names the app password too.
    pub device: &'a str,
    /// The server's certificate and key, when it serves TLS itself.
    pub signing_key: Option<&'a CertifiedKey>,
}

/// A profile ready to download, and what the person needs to know about it. Its
/// `Debug` leaves the bytes out: they hold the password.
pub struct IssuedProfile {
    /// The file: DER CMS when signed, the XML plist otherwise.
    pub bytes: Vec<u8>,
    /// Whether it is signed, and why not.
    pub signing: Signing,
    /// The public id of the app password inside, for `app-password revoke`.
    pub app_password_id: String,
    /// The name it is listed under (the device name, trimmed).
    pub app_password_name: String,
}

/// Whether a profile is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signing {
    /// CMS SignedData with the server's certificate: Apple shows it as verified.
    Signed,
    /// A plain plist: Apple shows it as unverified, and the person should be told.
    Unsigned(Unsigned),
}

/// Why a profile is not signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsigned {
    /// The server has no TLS certificate of its own (plain HTTP, or TLS at a proxy).
    NoCertificate,
    /// The certificate or key cannot sign it.
    CannotSign(SignError),
}

impl std::fmt::Debug for IssuedProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedProfile")
            .field("bytes", &format_args!("{} bytes", self.bytes.len()))
            .field("signing", &self.signing)
            .field("app_password_id", &self.app_password_id)
            .field("app_password_name", &self.app_password_name)
            .finish()
    }
}

impl IssuedProfile {
    /// A file name for the download: `davgate-<device>.mobileconfig`, the device name
    /// reduced to characters every file system and `Content-Disposition` accept.
    pub fn file_name(&self) -> String {
        let mut stem: String = self
            .app_password_name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        stem = stem.trim_matches('-').to_owned();
        if stem.is_empty() {
            "davgate.mobileconfig".into()
        } else {
            format!("davgate-{stem}.mobileconfig")
        }
    }
}

/// Why no profile was made.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The device name is empty or too long.
    #[error("give the device a name of 1 to {MAX_NAME_CHARS} characters")]
    DeviceName,
    /// Issuing the app password failed.
    #[error("{0}")]
    Issue(IssueError),
}

impl From<IssueError> for ProfileError {
    fn from(e: IssueError) -> Self {
        match e {
            IssueError::BadName => ProfileError::DeviceName,
            e => ProfileError::Issue(e),
        }
    }
}

impl HttpError for ProfileError {
    fn status(&self) -> StatusCode {
        match self {
            ProfileError::DeviceName => StatusCode::BAD_REQUEST,
            ProfileError::Issue(IssueError::IdCollision) => StatusCode::SERVICE_UNAVAILABLE,
            ProfileError::Issue(IssueError::Storage(e)) => e.status(),
            ProfileError::Issue(IssueError::BadName) => StatusCode::BAD_REQUEST,
        }
    }

    fn message(&self) -> String {
        match self {
            ProfileError::Issue(IssueError::Storage(e)) => e.message(),
            e => e.to_string(),
        }
    }

    fn log_detail(&self) -> Option<String> {
        match self {
            ProfileError::Issue(IssueError::Storage(e)) => e.log_detail(),
            _ => None,
        }
    }
}

/// Issues an app password for `device` (calendars and contacts) and builds the profile
/// that carries it, signed when `request` brings a certificate.
pub async fn issue(
    store: &Store,
    account: &Account,
    request: ProfileRequest<'_>,
) -> Result<IssuedProfile, ProfileError> {
    let spec = AppPasswordSpec {
        name: request.device.to_owned(),
        scopes: Scopes::GROUPWARE,
        read_only: false,
        expires_ms: None,
    };
    let password = issue_password(store, account.id, spec).await?;
    let device = request.device.trim();
    let plist = mobileconfig::render(&ProfileContent {
        url: request.url,
        user: &account.username,
        password: &password.display,
        device,
        // Encoded as every href the server writes: a user name may hold a space or `&`.
        principal_path: &encode_path(&principal_path(&account.username)),
        uuids: ProfileUuids::random(),
    })
    .into_bytes();
    let (bytes, signing) = match request.signing_key {
        None => (plist, Signing::Unsigned(Unsigned::NoCertificate)),
        Some(key) => match sign::sign(&plist, key, SystemTime::now()) {
            Ok(signed) => (signed, Signing::Signed),
            Err(e) => {
                tracing::warn!(error = %e, "device profile handed out unsigned");
                (plist, Signing::Unsigned(Unsigned::CannotSign(e)))
            }
        },
    };
    Ok(IssuedProfile {
        bytes,
        signing,
        app_password_id: password.public_id,
        app_password_name: device.to_owned(),
    })
}

/// A storage failure while issuing, for callers that only have a store error.
impl From<StorageError> for ProfileError {
    fn from(e: StorageError) -> Self {
        ProfileError::Issue(IssueError::Storage(e))
    }
}
