//! Calendars and contacts: CalDAV (RFC 4791), CardDAV (RFC 6352), WebDAV sync
//! (RFC 6578), extended MKCOL (RFC 5689), discovery (RFC 6764, RFC 5397) and principal
//! searches (RFC 3744 §9.4–9.5) at `/dav/`.
//!
//! Owns the URL map ([`target`]), what a handler is given ([`ctx`]), access to own and
//! shared collections ([`access`]), the clients the server bends for ([`quirks`]) and
//! one handler file per method family: [`propfind`], [`object`] (GET, PUT, DELETE of
//! calendar objects and vCards), [`collection`] (MKCALENDAR, MKCOL, PROPPATCH, DELETE)
//! and [`report`]. [`ical`] and [`vcard`] hold the pure data semantics; the protocol
//! XML they read and write is [`crate::proto`]'s. Does not own authentication or scopes
//! (the server checks both before a request gets here).

pub mod access;
pub mod collection;
pub mod components;
pub mod ctx;
pub mod error;
pub mod ical;
pub mod object;
pub mod propfind;
pub mod props;
pub mod quirks;
pub mod report;
pub mod sync_token;
pub mod target;
pub mod vcard;

use std::time::Duration;

use bytes::Bytes;
use davgate_storage::{AccountId, NewCollection, Store};
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body::Body as HttpBody;
use http_body_util::BodyExt;

pub use self::ctx::{Ctx, DavSettings};
use self::error::{DavError, DavResult};
use self::target::Target;
use crate::auth::Principal;
use crate::error::HttpError;
use crate::response::{self, Body};
use crate::route::{Routed, Verb};

/// Largest request body for PROPFIND, PROPPATCH, MKCALENDAR and REPORT: a multiget of a
/// few thousand hrefs fits; more is not a real client. The file tree takes 64 KiB
/// (`files::precheck`); the README states both.
const MAX_XML_BODY: usize = 1 << 20;

/// The CalDAV/CardDAV service.
#[derive(Clone)]
pub struct Dav {
    store: Store,
    settings: DavSettings,
    /// Accounts whose default collections exist, so the check is not repeated per request.
    ensured: moka::sync::Cache<AccountId, ()>,
}

impl Dav {
    /// The service over `store`.
    pub fn new(store: Store, settings: DavSettings) -> Self {
        Dav {
            store,
            settings,
            ensured: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(3600))
                .build(),
        }
    }

    /// Serves one request under `/dav/` (or a discovery PROPFIND on `/`).
    pub async fn handle<B>(
        &self,
        principal: &Principal,
        routed: &Routed,
        req: Request<B>,
    ) -> Response<Body>
    where
        B: HttpBody<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        match self.serve(principal, routed, req).await {
            Ok(resp) => resp,
            Err(e) => e.into_response(),
        }
    }

    async fn serve<B>(
        &self,
        principal: &Principal,
        routed: &Routed,
        req: Request<B>,
    ) -> DavResult<Response<Body>>
    where
        B: HttpBody<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let (parts, body) = req.into_parts();
        let target = Target::parse(&routed.path).ok_or_else(|| {
            DavError::not_found(
                "nothing lives at this path: start from /dav/ or /.well-known/caldav",
            )
        })?;
        if let Some(user) = target.user()
            && !user.eq_ignore_ascii_case(&principal.account.username)
        {
            return Err(DavError::forbidden(format!(
                "this belongs to {user:?}; you are signed in as {:?}. Collections shared with you \
                 appear in your own home",
                principal.account.username
            )));
        }
        self.ensure_defaults(principal.account.id).await?;
        let ctx = Ctx {
            store: &self.store,
            settings: &self.settings,
            principal,
            target,
            headers: &parts.headers,
            depth: &routed.depth,
        };
        match routed.verb {
            Verb::Options => Ok(options()),
            Verb::PropFind => propfind::propfind(&ctx, &read_body(body, MAX_XML_BODY).await?).await,
            Verb::Report => report::report(&ctx, &read_body(body, MAX_XML_BODY).await?).await,
            Verb::PropPatch => collection::proppatch(&ctx, &read_body(body, MAX_XML_BODY).await?).await,
            Verb::MkCalendar => collection::mkcalendar(&ctx, &read_body(body, MAX_XML_BODY).await?).await,
            Verb::MkCol => collection::mkcol(&ctx, &read_body(body, MAX_XML_BODY).await?).await,
            Verb::Get | Verb::Head => object::get(&ctx, routed.verb == Verb::Head).await,
            Verb::Put => {
                let limit = usize::try_from(self.settings.max_resource_size).unwrap_or(usize::MAX);
                object::put(&ctx, read_body(body, limit).await.map_err(|e| object::too_large(e, &ctx))?).await
            }
            Verb::Delete => match ctx.target {
                Target::Object(..) => object::delete(&ctx).await,
                _ => collection::delete(&ctx).await,
            },
            Verb::Move | Verb::Copy => Err(DavError::Status(
                StatusCode::NOT_IMPLEMENTED,
                "moving or copying calendar objects is not supported: PUT the object into the other \
                 collection and DELETE the original"
                    .into(),
            )),
            Verb::Post | Verb::Patch | Verb::Lock | Verb::Unlock | Verb::Other => {
                Err(DavError::Status(
                    StatusCode::METHOD_NOT_ALLOWED,
                    format!(
                        "{} is not supported on calendars and address books",
                        parts.method
                    ),
                ))
            }
        }
    }

    /// Creates the account's default calendar (events, tasks and journals: jtx Board keeps
    /// its notes in the only calendar it finds) and address book on its first CalDAV or
    /// CardDAV request. Migration 0006 gave older default calendars the same components.
    async fn ensure_defaults(&self, account: AccountId) -> DavResult<()> {
        if self.ensured.contains_key(&account) {
            return Ok(());
        }
        let calendar = NewCollection {
            slug: "default".into(),
            displayname: Some("Calendar".into()),
            components: components::ALL,
            ..NewCollection::default()
        };
        let book = NewCollection {
            slug: "default".into(),
            displayname: Some("Contacts".into()),
            components: components::VCARD,
            ..NewCollection::default()
        };
        self.store
            .ensure_default_collections(account, calendar, book)
            .await?;
        self.ensured.insert(account, ());
        Ok(())
    }
}

/// What CalDAV and CardDAV clients look for in OPTIONS.
pub fn options() -> Response<Body> {
    let mut resp = Response::new(response::empty());
    let headers = resp.headers_mut();
    headers.insert(
        "dav",
        HeaderValue::from_static("1, 2, 3, calendar-access, addressbook, extended-mkcol"),
    );
    headers.insert(
        header::ALLOW,
        HeaderValue::from_static(
            "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, REPORT, MKCOL, MKCALENDAR",
        ),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    resp
}

/// Reads a request body, refusing more than `limit` bytes.
async fn read_body<B>(body: B, limit: usize) -> DavResult<Bytes>
where
    B: HttpBody<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(DavError::Status(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than the {limit} bytes accepted here"),
        )),
        Err(_) => Err(DavError::Status(
            StatusCode::BAD_REQUEST,
            "the request body ended early".into(),
        )),
    }
}
