//! WebDAV files at `/files/` and the trash at `/trash/` (RFC 4918, RFC 4331).
//!
//! Owns the mapping from WebDAV onto the storage crate: a filesystem for dav-server
//! ([`fs`]), streaming size-limited uploads ([`file`]), locks in the database
//! ([`locks`]), the checks dav-server does not make ([`precheck`]), restoring from the
//! trash ([`trash`]) and the words users read when a request is refused ([`respond`]).
//! Does not own authentication (the caller passes a [`Principal`]) nor calendars.

mod errors;
mod file;
mod fs;
mod locks;
mod meta;
mod precheck;
mod propfind;
mod respond;
mod trash;

use bytes::Bytes;
use dav_server::{DavConfig, DavHandler, DavMethod, DavMethodSet};
use davgate_storage::{Store, TreeRoot};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;

use self::fs::AccountFs;
use self::locks::DbLocks;
use self::respond::Confirm;
use crate::auth::Principal;
use crate::proto::Depth;
use crate::response::{self, Body};

/// Bytes read from a blob per chunk of a GET response.
const READ_CHUNK: usize = 1024 * 1024;

/// The file service.
#[derive(Clone)]
pub struct Files {
    store: Store,
    /// Per-file upload limit for accounts without one of their own.
    upload_limit: u64,
}

impl Files {
    /// A file service over `store`.
    pub fn new(store: Store, upload_limit: u64) -> Self {
        Files {
            store,
            upload_limit,
        }
    }

    /// Serves one request of `principal` on one of its trees.
    pub async fn handle<B>(
        &self,
        principal: &Principal,
        tree: TreeRoot,
        req: Request<B>,
    ) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let (parts, body) = req.into_parts();
        let prepared = match precheck::prepare(&parts, tree, &principal.account, self.upload_limit)
        {
            Ok(prepared) => prepared,
            Err(resp) => return *resp,
        };
        let needs_xml = matches!(parts.method.as_str(), "PROPFIND" | "PROPPATCH" | "LOCK");
        let (body, win32_mtime) = if needs_xml {
            match precheck::read_xml(body).await {
                Ok((bytes, mtime)) => (RequestBody::Xml(bytes), mtime),
                Err(resp) => return *resp,
            }
        } else {
            (RequestBody::Stream(body), None)
        };

        if parts.method.as_str() == "PROPFIND" {
            let RequestBody::Xml(xml) = &body else {
                unreachable!("needs_xml covers PROPFIND, so its body was read above")
            };
            let segments = crate::route::decode_path(parts.uri.path()).unwrap_or_default();
            let target = propfind::Target {
                store: &self.store,
                account: &principal.account,
                tree,
                segments: segments.get(1..).unwrap_or_default(),
            };
            // precheck refused an invalid Depth and infinity. A missing Depth means
            // infinity in RFC 4918; clients that omit it want a listing, so it is read as 1.
            let depth = precheck::depth(&parts).ok().flatten().unwrap_or(Depth::One);
            return propfind::propfind(target, depth, xml).await;
        }

        let account = principal.account.clone();
        let username = account.username.clone();
        let fs = AccountFs::new(self.store.clone(), account.clone(), tree, prepared.facts);
        let prefix = match tree {
            TreeRoot::Files => "/files",
            TreeRoot::Trash => "/trash",
        };

        if tree == TreeRoot::Trash && parts.method.as_str() == "MOVE" {
            let destination = prepared
                .destination
                .as_ref()
                .expect("MOVE has a destination");
            return trash::restore(&fs, &parts, destination, &username).await;
        }

        let handler: DavHandler = DavConfig::new()
            .filesystem(Box::new(fs.clone()))
            .locksystem(Box::new(DbLocks::new(
                self.store.clone(),
                account.id,
                "/files",
            )))
            .strip_prefix(prefix)
            .principal(username)
            .methods(methods(tree))
            .read_buf_size(READ_CHUNK)
            .build_handler();
        let confirm = Confirm {
            oc_mtime: prepared.oc_mtime,
            options: parts.method == Method::OPTIONS,
        };
        let is_proppatch = parts.method.as_str() == "PROPPATCH";
        let target = crate::route::decode_path(parts.uri.path()).unwrap_or_default();
        let dav_response = match body {
            RequestBody::Stream(stream) => handler.handle(Request::from_parts(parts, stream)).await,
            RequestBody::Xml(bytes) => {
                handler
                    .handle(Request::from_parts(parts, Full::new(bytes)))
                    .await
            }
        };
        if is_proppatch
            && dav_response.status() == StatusCode::MULTI_STATUS
            && let Some(ms) = win32_mtime
        {
            // Windows Explorer sets modification times this way; dav-server only
            // pretends to, so apply it once the PROPPATCH passed its checks.
            fs.set_mtime_at(target.get(1..).unwrap_or_default(), ms)
                .await;
        }
        respond::finish(dav_response, &fs, &confirm)
    }
}

/// A request body as dav-server gets it: streamed, or the XML read and checked here.
enum RequestBody<B> {
    Stream(B),
    Xml(Bytes),
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
