//! WebDAV files at `/files/` and the trash at `/trash/` (RFC 4918, RFC 4331).
//!
//! Owns the mapping from WebDAV onto the storage crate: a filesystem for dav-server
//! ([`fs`]), streaming size-limited uploads ([`file`]), locks in the database
//! ([`locks`]), the checks dav-server does not make ([`precheck`]), COPY and MOVE as
//! one transaction each ([`copymove`]), restoring from the trash ([`trash`]), the
//! client noise a DELETE purges instead of trashing ([`trash_skip`]), ranged reads that
//! cannot multiply a file ([`ranges`], [`multipart`]) and the words users
//! read when a request is refused ([`respond`]).
//! Does not own authentication (the caller passes a [`Principal`]) nor calendars.
//!
//! What is ours and what is dav-server's. We own the file methods, one verb per module
//! over the storage crate, because the half-and-half split cost more than dav-server
//! saved: bodies parsed twice, the path decoded twice, and refusals passed back through
//! a side channel because its errors carry no words. Ours: PROPFIND ([`propfind`]),
//! PROPPATCH ([`proppatch`]), LOCK and UNLOCK ([`lock`]), MKCOL ([`mkcol`]), DELETE
//! ([`delete`]), PUT ([`put`]), COPY and MOVE ([`copymove`], one storage transaction
//! each), the restore MOVE ([`trash`]), lock timeouts ([`lock_timeout`]) and OPTIONS
//! ([`options`]). Each verb takes the routed request ([`request::Ctx`]: decoded path,
//! typed conditions), makes the `If` and lock checks there, and returns
//! `Result<Response, FilesError>`. dav-server still serves GET and HEAD through one
//! handler per tree built at start, for its conditional and range handling; for those
//! the filesystem records why it refused ([`errors::Refusals`]) and [`respond`] answers
//! with that instead of the bare status. That is the last piece to take over.

mod body;
mod copymove;
mod delete;
mod errors;
mod file;
mod fs;
mod lock;
pub(crate) mod lock_timeout;
mod lockdiscovery;
mod locks;
mod meta;
mod mkcol;
mod mount;
mod multipart;
mod precheck;
mod propfind;
mod proppatch;
mod put;
mod ranges;
mod request;
mod respond;
mod root;
mod trash;
pub mod trash_skip;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dav_server::{DavConfig, DavHandler, DavMethod, DavMethodSet};
use davgate_storage::{Store, TreeRoot};
use http::{HeaderValue, Request, Response, header};
use http_body_util::Full;

use self::errors::FilesError;
use self::fs::AccountFs;
use self::locks::DbLocks;
use self::respond::Confirm;
use self::trash_skip::TrashSkip;
use crate::auth::Principal;
use crate::error::HttpError;
use crate::proto::Depth;
use crate::response::{self, Body};
use crate::route::{Routed, Verb};

/// Bytes read from a blob per chunk of a GET response.
const READ_CHUNK: usize = 1024 * 1024;

/// The file service.
#[derive(Clone)]
pub struct Files {
    store: Store,
    /// Per-file upload limit for accounts without one of their own.
    upload_limit: u64,
    /// The longest a lock is granted, and what it gets when the client does not say.
    lock_max_timeout: Duration,
    handlers: Arc<Handlers>,
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
            handlers: Arc::new(Handlers::new()),
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
        let prepared =
            match precheck::prepare(&parts, routed, tree, &principal.account, self.upload_limit) {
                Ok(prepared) => prepared,
                Err(refused) => return refused.into_response(),
            };
        let needs_xml = matches!(routed.verb, Verb::PropFind | Verb::PropPatch | Verb::Lock);
        let body = if needs_xml {
            match precheck::read_xml(body).await {
                Ok(bytes) => RequestBody::Xml(bytes),
                Err(refused) => return refused.into_response(),
            }
        } else {
            RequestBody::Stream(body)
        };

        if let (Verb::PropFind, RequestBody::Xml(xml)) = (routed.verb, &body) {
            let target = propfind::Target {
                store: &self.store,
                account: &principal.account,
                tree,
                segments: &routed.path,
            };
            // precheck refused an invalid Depth and infinity. A missing Depth means
            // infinity in RFC 4918; clients that omit it want a listing, so it is read as 1.
            let depth = precheck::depth(&parts).ok().flatten().unwrap_or(Depth::One);
            return propfind::propfind(target, depth, xml).await;
        }

        let account = principal.account.clone();
        let username = account.username.clone();
        let upload_limit = prepared.facts.upload_limit;
        let upload_mtime = prepared.facts.mtime_ms;
        let upload_type = prepared.facts.content_type.clone();
        let fs = AccountFs::new(
            self.store.clone(),
            account.clone(),
            tree,
            prepared.facts,
            self.trash_skip.clone(),
        );

        let locks = DbLocks::new(
            self.store.clone(),
            account.id,
            lock_timeout::granted(&parts.headers, self.lock_max_timeout),
        )
        .reporting_to(fs.refusals());
        let ctx = request::Ctx {
            store: &self.store,
            account: &account,
            tree,
            routed,
            locks: &locks,
            principal: &username,
        };
        let answer = match (routed.verb, body) {
            (Verb::PropPatch, RequestBody::Xml(xml)) => proppatch::proppatch(&ctx, &xml).await,
            (Verb::Lock, RequestBody::Xml(xml)) => match precheck::depth(&parts) {
                Ok(depth) => lock::lock(&ctx, depth, &xml).await,
                Err(invalid) => Err(FilesError::InvalidDepth(invalid)),
            },
            (Verb::Unlock, _) => lock::unlock(&ctx, &parts.headers).await,
            (Verb::MkCol, RequestBody::Stream(stream)) => mkcol::mkcol(&ctx, stream).await,
            (Verb::Delete, _) => match precheck::depth(&parts) {
                Ok(depth) => delete::delete(&ctx, depth, &self.trash_skip).await,
                Err(invalid) => Err(FilesError::InvalidDepth(invalid)),
            },
            (Verb::Put, RequestBody::Stream(stream)) => {
                let upload = put::Upload {
                    limit: upload_limit,
                    mtime_ms: upload_mtime,
                    content_type: upload_type,
                    headers: &parts.headers,
                };
                put::put(&ctx, upload, stream).await
            }
            (_, body) => {
                return self
                    .dav_server(&ctx, &fs, parts, body, prepared.oc_mtime)
                    .await;
            }
        };
        answer.unwrap_or_else(HttpError::into_response)
    }

    /// What dav-server still serves, and COPY and MOVE.
    async fn dav_server<B>(
        &self,
        ctx: &request::Ctx<'_>,
        fs: &AccountFs,
        mut parts: http::request::Parts,
        body: RequestBody<B>,
        oc_mtime: bool,
    ) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let (routed, tree, locks, username, account) =
            (ctx.routed, ctx.tree, ctx.locks, ctx.principal, ctx.account);
        if let Some(destination) = &routed.destination {
            // COPY and MOVE are ours: each is one storage transaction.
            return match tree {
                TreeRoot::Trash => trash::restore(fs, routed, destination, username, locks).await,
                TreeRoot::Files => {
                    let depth = match precheck::depth(&parts) {
                        Ok(depth) => depth,
                        Err(invalid) => return FilesError::InvalidDepth(invalid).into_response(),
                    };
                    let request = copymove::Request {
                        store: &self.store,
                        account,
                        routed,
                        depth,
                        depth_sent: parts.headers.contains_key("depth"),
                        locks,
                        principal: username,
                    };
                    copymove::copy_or_move(request, destination).await
                }
            };
        }

        if matches!(routed.verb, Verb::Get | Verb::Head)
            && parts.headers.contains_key(header::RANGE)
            && let Ok(node) = fs.node_at(&routed.path).await
            && !node.is_dir()
        {
            // The lookup is remembered for the request: dav-server's own costs nothing.
            ranges::normalise(&mut parts.headers, node.size);
        }

        let handler = match tree {
            TreeRoot::Files => &self.handlers.files,
            TreeRoot::Trash => &self.handlers.trash,
        };
        // What is this request's: the account's filesystem and locks, and who asks.
        let this_request = || {
            DavConfig::new()
                .filesystem(Box::new(fs.clone()))
                .locksystem(Box::new(locks.clone()))
                .principal(username.to_owned())
        };
        let confirm = Confirm { oc_mtime };
        let dav_response = match body {
            RequestBody::Stream(stream) => {
                // dav-server answers a body it cannot read with 502; this records why instead.
                let watched = body::WatchedBody::new(stream, fs.refusals());
                handler
                    .handle_with(this_request(), Request::from_parts(parts, watched))
                    .await
            }
            RequestBody::Xml(bytes) => {
                handler
                    .handle_with(this_request(), Request::from_parts(parts, Full::new(bytes)))
                    .await
            }
        };
        respond::finish(dav_response, fs, &confirm)
    }
}

impl Files {
    /// A PROPFIND of the server root `/` by a credential that sees only files.
    pub async fn server_root<B>(&self, req: Request<B>) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let (parts, body) = req.into_parts();
        let depth = match precheck::depth(&parts) {
            Err(invalid) => return FilesError::InvalidDepth(invalid).into_response(),
            Ok(Some(Depth::Infinity)) => return FilesError::InfiniteDepth.into_response(),
            Ok(depth) => depth.unwrap_or(Depth::One),
        };
        let xml = match precheck::read_xml(body).await {
            Ok(xml) => xml,
            Err(refused) => return refused.into_response(),
        };
        root::propfind(depth, &xml)
            .unwrap_or_else(|e| FilesError::MalformedXml(e.to_string()).into_response())
    }
}

/// A request body as dav-server gets it: streamed, or the XML read and checked here.
enum RequestBody<B> {
    Stream(B),
    Xml(Bytes),
}

/// dav-server's handlers, one per tree, built once: what is the same for every request
/// (prefix, methods, read size). Each request adds its account's filesystem and locks.
struct Handlers {
    files: DavHandler,
    trash: DavHandler,
}

impl Handlers {
    fn new() -> Self {
        let build = |tree: TreeRoot| {
            DavConfig::new()
                .strip_prefix(match tree {
                    TreeRoot::Files => "/files",
                    TreeRoot::Trash => "/trash",
                })
                .methods(methods(tree))
                .read_buf_size(READ_CHUNK)
                .build_handler()
        };
        Handlers {
            files: build(TreeRoot::Files),
            trash: build(TreeRoot::Trash),
        }
    }
}

/// The methods each tree accepts.
fn methods(tree: TreeRoot) -> DavMethodSet {
    match tree {
        TreeRoot::Files => {
            let mut set = DavMethodSet::all();
            // SabreDAV's partial-update PATCH: partial writes are refused like Content-Range.
            set.remove(DavMethod::Patch);
            set
        }
        TreeRoot::Trash => {
            let mut set = DavMethodSet::none();
            for m in [
                DavMethod::Options,
                DavMethod::Head,
                DavMethod::Get,
                DavMethod::PropFind,
                DavMethod::Delete,
            ] {
                set.add(m);
            }
            set
        }
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
    let allow = match tree {
        TreeRoot::Files => {
            "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK"
        }
        TreeRoot::Trash => "OPTIONS, GET, HEAD, PROPFIND, DELETE, MOVE",
    };
    headers.insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}
