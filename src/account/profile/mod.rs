//! Apple device profiles: a `.mobileconfig` that sets up Calendar and Contacts on a Mac,
//! iPhone or iPad against this server, carrying a freshly issued app password scoped to
//! calendars and contacts and named after the device, signed with the server's TLS
//! certificate when there is one.
//!
//! [`issue`] is the whole job, for the portal's devices page and `davgate profile`:
//! create the app password (through `auth::app_password::create`, the path of the
//! portal's form and `davgate app-password create`, so it is audited, listed and revoked
//! like any other), write the plist ([`mobileconfig`] over
//! [`plist`]), sign it ([`sign`]). The caller brings the public address and the
//! certificate; how a request is authenticated and answered is not owned here.

pub mod mobileconfig;
pub mod plist;
pub mod sign;

use std::sync::Arc;
use std::time::SystemTime;

use davgate_storage::{Account, AuditSource, Store};
use http::StatusCode;
use rustls::sign::CertifiedKey;

use self::mobileconfig::{ProfileContent, ProfileUuids};
use self::sign::SignError;
use crate::auth::app_password::{self, CreateError, MAX_NAME};
use crate::auth::scope::Scopes;
use crate::dav::target::principal_path;
use crate::error::HttpError;
use crate::proto::href::encode_path;
use crate::public_url::PublicUrl;

/// What a profile is served as, signed or not: Apple's installers know it by this type.
pub const CONTENT_TYPE: &str = "application/x-apple-aspen-config";

/// The certificate and key the running server presents now (a reload swaps them), as
/// the portal signs profiles with it; `server::tls` implements it.
pub trait ServerCertificate: Send + Sync {
    /// The certificate chain and key served now.
    fn current(&self) -> Arc<CertifiedKey>;
}

/// What to build a profile for.
pub struct ProfileRequest<'a> {
    /// The address devices connect to.
    pub url: &'a PublicUrl,
    /// The device name the person typed; it names the app password too.
    pub device: &'a str,
    /// The server's certificate and key, when it serves TLS itself.
    pub signing_key: Option<&'a CertifiedKey>,
    /// Who asks, for the audit entry of the new app password.
    pub source: &'a AuditSource,
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
    #[error("give the device a name of 1 to {MAX_NAME} characters")]
    DeviceName,
    /// Creating the app password failed.
    #[error("{0}")]
    Create(CreateError),
}

impl From<CreateError> for ProfileError {
    fn from(e: CreateError) -> Self {
        match e {
            CreateError::Name => ProfileError::DeviceName,
            e => ProfileError::Create(e),
        }
    }
}

impl HttpError for ProfileError {
    fn status(&self) -> StatusCode {
        match self {
            ProfileError::DeviceName | ProfileError::Create(CreateError::Name) => {
                StatusCode::BAD_REQUEST
            }
            // The scopes are fixed here; a refusal of them is our bug.
            ProfileError::Create(CreateError::NoScope | CreateError::Task) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ProfileError::Create(CreateError::Collision) => StatusCode::SERVICE_UNAVAILABLE,
            ProfileError::Create(CreateError::Storage(e)) => e.status(),
        }
    }

    fn message(&self) -> String {
        match self {
            ProfileError::Create(CreateError::Storage(e)) => e.message(),
            ProfileError::Create(CreateError::NoScope | CreateError::Task) => {
                "the profile could not be made; try again".into()
            }
            e => e.to_string(),
        }
    }

    fn log_detail(&self) -> Option<String> {
        match self {
            ProfileError::Create(CreateError::Storage(e)) => e.log_detail(),
            ProfileError::Create(e @ (CreateError::NoScope | CreateError::Task)) => {
                Some(e.to_string())
            }
            _ => None,
        }
    }
}

/// Creates an app password for `device` (calendars and contacts) and builds the profile
/// that carries it, signed when `request` brings a certificate.
pub async fn issue(
    store: &Store,
    account: &Account,
    request: ProfileRequest<'_>,
) -> Result<IssuedProfile, ProfileError> {
    let spec = app_password::Request {
        name: request.device.to_owned(),
        scopes: Scopes::GROUPWARE,
        read_only: false,
        expires_in: None,
    };
    let (password, _stored) = app_password::create(store, account.id, spec, request.source).await?;
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
