//! WebDAV files at `/files/` and the trash at `/trash/` (RFC 4918, RFC 4331, RFC 9110).
//!
//! Owns the mapping from WebDAV onto the storage crate, one verb per module: PROPFIND
//! ([`propfind`]), PROPPATCH ([`proppatch`]), MKCOL ([`mkcol`]), GET and HEAD
//! ([`get`], ranges by [`ranges`], bytes by [`file`] with sendfile), PUT ([`put`],
//! streamed and size-limited), DELETE ([`delete`], to the trash except the client noise
//! [`trash_skip`] names), COPY and MOVE ([`copymove`], one storage transaction each),
//! restoring from the trash ([`trash`]), LOCK and UNLOCK ([`lock`] over [`locks`] in the
//! database, timeouts by [`lock_timeout`], `D:lockdiscovery` by [`lockdiscovery`]) and
//! OPTIONS. Around them: what every verb shares ([`request::Ctx`]: the routed request,
//! the `If`/`If-Match`/`If-None-Match` and lock checks), the rules checked first
//! ([`precheck`]), where the trees are mounted ([`mount`], the one place that writes an
//! href or strips a tree's prefix) and the one error type ([`errors::FilesError`]).
//! Does not own authentication (the caller passes a [`Principal`]), parsing of the
//! path and headers ([`crate::route`]) nor XML ([`crate::proto`]).
//!
//! Why the file methods are ours rather than dav-server's (which served half of them
//! until issue 11): splitting them cost more than the library saved. Bodies were parsed
//! twice (our check, then its parser), the path decoded twice, its errors carried no
//! words so refusals travelled back through a side channel and status rewrites, and its
//! behaviour lost data or answered wrongly where it mattered to us (a folder copied file
//! by file, a MOVE that did not check its source, `Timeout` read so that RFC 4918's own
//! example locked forever, panics on malformed `If` headers, a fixed multipart boundary).
//! Over our storage each verb is a short function from the routed request to
//! `Result<Response, FilesError>`, errors become HTTP in one place, and the request is
//! decoded once.

mod body;
mod copymove;
mod delete;
mod errors;
mod file;
mod get;
mod lock;
pub(crate) mod lock_timeout;
mod lockdiscovery;
mod locks;
mod mkcol;
mod mount;
mod precheck;
mod propfind;
mod proppatch;
mod put;
mod ranges;
mod request;
mod root;
mod trash;
pub mod trash_skip;

use std::time::Duration;

use bytes::Bytes;
use davgate_storage::{Store, TreeRoot};
use http::{HeaderValue, Request, Response, header};

use self::errors::FilesError;
use self::locks::DbLocks;
use self::trash_skip::TrashSkip;
use crate::auth::Principal;
use crate::error::HttpError;
use crate::proto::Depth;
use crate::response::{self, Body};
use crate::route::{Routed, Verb};

/// The file service.
#[derive(Clone)]
pub struct Files {
    store: Store,
    /// Per-file upload limit for accounts without one of their own.
    upload_limit: u64,
    /// The longest a lock is granted, and what it gets when the client does not say.
    lock_max_timeout: Duration,
    /// Files a DELETE purges instead of moving to the trash.
    trash_skip: TrashSkip,
}

impl Files {
    /// A file service over `store`, granting locks [`lock_timeout::DEFAULT_MAX`] and
    /// purging the [`trash_skip::DEFAULT_PATTERNS`] on DELETE.
    pub fn new(store: Store, upload_limit: u64) -> Self {
        Files {
            store,
            upload_limit,
            lock_max_timeout: lock_timeout::DEFAULT_MAX,
            trash_skip: TrashSkip::defaults(),
        }
    }

    /// The same service granting locks at most `max` (the `lock_max_timeout` setting).
    pub fn with_lock_max_timeout(self, max: Duration) -> Self {
        Files {
            lock_max_timeout: max,
            ..self
        }
    }

    /// The same service purging files that match `skip` on DELETE instead of trashing
    /// them (the `trash_skip` setting).
    pub fn with_trash_skip(self, skip: TrashSkip) -> Self {
        Files {
            trash_skip: skip,
            ..self
        }
    }

    /// Serves one request of `principal` on one of its trees.
    pub async fn handle<B>(
        &self,
        principal: &Principal,
        tree: TreeRoot,
        routed: &Routed,
        req: Request<B>,
    ) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let (parts, body) = req.into_parts();
        self.answer(principal, tree, routed, parts, body)
            .await
            .unwrap_or_else(HttpError::into_response)
    }

    /// Picks the verb's module: the one place a file request meets its handler.
    async fn answer<B>(
        &self,
        principal: &Principal,
        tree: TreeRoot,
        routed: &Routed,
        parts: http::request::Parts,
        body: B,
    ) -> Result<Response<Body>, FilesError>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let account = &principal.account;
        let prepared = precheck::prepare(&parts, routed, tree, account, self.upload_limit)?;
        if routed.verb == Verb::PropFind {
            let xml = precheck::read_xml(body).await?;
            let target = propfind::Target {
                store: &self.store,
                account,
                tree,
                mount: routed.mount,
                segments: &routed.path,
            };
            // precheck refused an invalid Depth and infinity. A missing Depth means
            // infinity in RFC 4918; clients that omit it want a listing, so it is read as 1.
            let depth = routed.depth.clone().ok().flatten().unwrap_or(Depth::One);
            return Ok(propfind::propfind(target, depth, &xml).await);
        }
        let locks = DbLocks::new(
            self.store.clone(),
            account.id,
            lock_timeout::granted(&parts.headers, self.lock_max_timeout),
        );
        let ctx = request::Ctx {
            store: &self.store,
            account,
            tree,
            routed,
            locks: &locks,
            principal: &account.username,
            unmodified_since: request::date_header(&parts.headers, header::IF_UNMODIFIED_SINCE),
        };
        let depth = || routed.depth.clone().map_err(FilesError::InvalidDepth);
        match routed.verb {
            Verb::Get | Verb::Head => {
                let fetch = get::Fetch {
                    head: routed.verb == Verb::Head,
                    slash: parts.uri.path().ends_with('/'),
                    headers: &parts.headers,
                    file_ranges: prepared.file_ranges,
                };
                get::get(&ctx, fetch).await
            }
            Verb::Put => {
                let upload = put::Upload {
                    limit: prepared.upload_limit,
                    mtime_ms: prepared.mtime_ms,
                    content_type: prepared.content_type,
                    headers: &parts.headers,
                };
                put::put(&ctx, upload, body).await
            }
            Verb::MkCol => mkcol::mkcol(&ctx, body).await,
            Verb::Delete => delete::delete(&ctx, depth()?, &self.trash_skip).await,
            Verb::PropPatch => {
                let xml = precheck::read_xml(body).await?;
                proppatch::proppatch(&ctx, &xml).await
            }
            Verb::Lock => {
                let xml = precheck::read_xml(body).await?;
                lock::lock(&ctx, depth()?, &xml).await
            }
            Verb::Unlock => lock::unlock(&ctx, &parts.headers).await,
            Verb::Copy | Verb::Move => {
                let Some(destination) = &routed.destination else {
                    // The router refuses COPY and MOVE without one before auth passes.
                    return Err(FilesError::Status(http::StatusCode::BAD_REQUEST));
                };
                Ok(match tree {
                    TreeRoot::Trash => trash::restore(&ctx, destination).await,
                    TreeRoot::Files => {
                        let request = copymove::Request {
                            ctx: &ctx,
                            depth: depth()?,
                        };
                        copymove::copy_or_move(request, destination).await
                    }
                })
            }
            _ => Err(FilesError::MethodNotAllowed(tree)),
        }
    }
}

impl Files {
    /// A PROPFIND of the server root `/` by a credential that sees only files.
    pub async fn server_root<B>(&self, routed: &Routed, req: Request<B>) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let body = req.into_body();
        let depth = match routed.depth.clone() {
            Err(invalid) => return FilesError::InvalidDepth(invalid).into_response(),
            Ok(Some(Depth::Infinity)) => return FilesError::InfiniteDepth.into_response(),
            Ok(depth) => depth.unwrap_or(Depth::One),
        };
        let xml = match precheck::read_xml(body).await {
            Ok(xml) => xml,
            Err(refused) => return refused.into_response(),
        };
        root::propfind(depth, &xml).unwrap_or_else(|e| FilesError::Xml(e).into_response())
    }
}

/// The answer to an unauthenticated `OPTIONS /`: Windows' redirector asks the server
/// root before the folder it maps and needs a DAV server there.
pub fn root_options() -> Response<Body> {
    let mut resp = Response::new(response::empty());
    let headers = resp.headers_mut();
    headers.insert(
        "dav",
        HeaderValue::from_static("1, 2, 3, calendar-access, addressbook"),
    );
    headers.insert("ms-author-via", HeaderValue::from_static("DAV"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    headers.insert(header::ALLOW, HeaderValue::from_static("OPTIONS, PROPFIND"));
    resp
}

/// The answer to an unauthenticated OPTIONS: what the tree supports.
pub fn options(tree: TreeRoot) -> Response<Body> {
    let mut resp = Response::new(response::empty());
    let headers = resp.headers_mut();
    headers.insert("dav", HeaderValue::from_static("1, 2"));
    headers.insert("ms-author-via", HeaderValue::from_static("DAV"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    headers.insert(
        header::ALLOW,
        HeaderValue::from_static(errors::allowed(tree)),
    );
    resp
}
