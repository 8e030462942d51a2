//! The portal's shared state and what one request carries through it: the settings,
//! the [`Portal`] itself (its handlers are `impl` blocks in the sibling modules, one per
//! page family), the request context and the signed-in session.

use std::sync::Arc;
use std::time::Duration;

use davgate_storage::{Account, AuditSource, PortalSession, SessionLimits, SessionStage, Store};

use super::profile::ServerCertificate;
use super::turns::Turns;
use crate::auth::Authenticator;
use crate::auth::two_factor::TwoFactor;
use crate::auth::usage::ClientInfo;
use crate::public_url::PublicUrl;

/// Settings of the portal.
#[derive(Debug, Clone)]
pub struct PortalSettings {
    /// The address people and devices are given (`public_url`), if configured.
    pub public_url: Option<PublicUrl>,
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// A session this old ends, however busy.
    pub session_lifetime: Duration,
    /// The server terminates TLS itself.
    pub tls: bool,
    /// A proxy in front is trusted: its `X-Forwarded-Proto` says whether the browser
    /// reached it over TLS.
    pub trusted_proxy: bool,
}

impl PortalSettings {
    pub(super) fn limits(&self) -> SessionLimits {
        SessionLimits {
            idle_ms: millis(self.session_idle),
            lifetime_ms: millis(self.session_lifetime),
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

/// The portal, shared by all connections.
#[derive(Clone)]
pub struct Portal {
    pub(super) store: Store,
    pub(super) auth: Authenticator,
    pub(super) two_factor: TwoFactor,
    pub(super) settings: Arc<PortalSettings>,
    /// The certificate device profiles are signed with; `None` when the server does
    /// not terminate TLS itself.
    pub(super) certificate: Option<Arc<dyn ServerCertificate>>,
    /// The turns its requests take, so sync clients keep a core.
    pub(super) turns: Turns,
    /// What webhooks may reach and how many an account may have.
    pub(super) reminders: Arc<crate::reminders::ReminderSettings>,
}

/// One request as the portal sees it: who is asking, from where, and how.
pub(crate) struct Ctx {
    /// Address and user agent.
    pub client: ClientInfo,
    /// Whether the browser reached us over TLS (directly or through the trusted proxy).
    pub secure: bool,
    /// `scheme://host[:port]` as the browser addressed us.
    pub origin: String,
    /// What client settings, profiles and QR codes name this server by.
    pub base_url: PublicUrl,
}

impl Ctx {
    pub(super) fn source(&self) -> AuditSource {
        AuditSource::client(self.client.addr.to_string(), self.client.agent.clone())
    }
}

/// A signed-in request: the session and its account.
pub(crate) struct SignedIn {
    pub session: Session,
    pub account: Account,
}

impl Portal {
    /// A portal over `store`, checking sign-ins with `auth`.
    pub fn new(
        store: Store,
        auth: Authenticator,
        two_factor: TwoFactor,
        settings: PortalSettings,
    ) -> Self {
        Portal {
            store,
            auth,
            two_factor,
            settings: Arc::new(settings),
            certificate: None,
            turns: Turns::half_the_cores(),
            reminders: Arc::default(),
        }
    }

    /// Checks webhooks the way the reminder worker sends them, within its limits.
    pub fn with_reminders(mut self, reminders: crate::reminders::ReminderSettings) -> Self {
        self.reminders = Arc::new(reminders);
        self
    }

    /// Signs device profiles with the certificate the server presents.
    pub fn with_certificate(mut self, certificate: Option<Arc<dyn ServerCertificate>>) -> Self {
        self.certificate = certificate;
        self
    }
}

/// A live session as read from the database.
pub(crate) struct Session {
    pub row: PortalSession,
}

impl Session {
    /// Whether the second factor is still to come.
    pub(crate) fn pending(&self) -> bool {
        self.row.stage == SessionStage::SecondFactor
    }

    /// The CSRF token its forms carry.
    pub(crate) fn csrf(&self) -> &str {
        &self.row.csrf_token
    }
}
