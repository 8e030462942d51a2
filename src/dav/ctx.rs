//! What every handler under `/dav/` is given: the request's [`Ctx`] (who asks, for what,
//! with which store and settings) and the service's [`DavSettings`]. A leaf: the
//! dispatcher in `dav` builds a `Ctx` and the handlers take it, so neither imports the other.

use davgate_storage::Store;
use http::{HeaderMap, header};

use super::ical;
use super::target::Target;
use crate::auth::Principal;
use crate::proto::{Depth, InvalidDepth};

/// Settings of the CalDAV/CardDAV service.
#[derive(Debug, Clone)]
pub struct DavSettings {
    /// Largest calendar object or vCard (`max-resource-size`).
    pub max_resource_size: u64,
    /// Caps on recurrence expansion in queries, expand and free-busy.
    pub limits: ical::ExpandLimits,
}

/// One request: who asks, for what.
pub struct Ctx<'a> {
    pub(super) store: &'a Store,
    pub(super) settings: &'a DavSettings,
    /// The signed-in principal.
    pub principal: &'a Principal,
    /// What the path names.
    pub target: Target,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The `Depth` header as the router parsed it; each handler picks its default.
    pub depth: &'a Result<Option<Depth>, InvalidDepth>,
}

impl Ctx<'_> {
    /// The store.
    pub fn store(&self) -> &Store {
        self.store
    }

    /// The service settings.
    pub fn settings(&self) -> &DavSettings {
        self.settings
    }

    /// The principal's user name.
    pub fn user(&self) -> &str {
        &self.principal.account.username
    }

    /// The client's `User-Agent`.
    pub fn user_agent(&self) -> &str {
        self.headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// A request header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}
