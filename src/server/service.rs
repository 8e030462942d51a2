//! The request path, top to bottom: route → authenticate → authorize → dispatch → log.

use std::net::{IpAddr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use bytes::Bytes;
use davgate_storage::{QueryCount, Store};
use futures_util::FutureExt;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::Body as HttpBody;
use http_body_util::BodyExt;

use super::access_log::{AccessLog, CountedBody, LoggedBody, RequestId};
use crate::account::Portal;
use crate::auth::usage::ClientInfo;
use crate::auth::{Authenticator, Principal};
use crate::config::ClientAddress;
use crate::dav::{self, Dav};
use crate::error::HttpError;
use crate::files::{self, Files};
use crate::metrics::endpoint::Endpoint;
use crate::metrics::{Metrics, RouteLabel};
use crate::response::{self, Body};
use crate::route::{FilesHost, Need, Route, Routed};

/// Everything a request may need, shared by all connections.
#[derive(Clone)]
pub struct App {
    pub(crate) auth: Authenticator,
    pub(crate) files: Files,
    pub(crate) dav: Dav,
    pub(crate) portal: Portal,
    pub(crate) client_address: ClientAddress,
    pub(crate) store: Store,
    /// The host serving the files tree at `/`, if any.
    pub(crate) files_host: Option<FilesHost>,
    /// Recorded only when `/metrics` is served somewhere.
    pub(crate) metrics: Option<Metrics>,
    /// `/metrics` on this listener, when `metrics_token` is set.
    pub(crate) metrics_endpoint: Option<Endpoint>,
}

impl App {
    /// Answers one request from `peer`.
    pub async fn handle<B>(&self, req: Request<B>, peer: SocketAddr) -> Response<Body>
    where
        B: HttpBody<Data = Bytes> + Unpin + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let started = Instant::now();
        let id = RequestId::new();
        let bytes_in = Arc::new(AtomicU64::new(0));
        let (parts, body) = req.into_parts();
        let method = parts.method.clone();
        let path = parts.uri.path().to_owned();
        let routed = Route::from_request(&parts, self.files_host.as_ref());
        let req = Request::from_parts(parts, CountedBody::new(body, bytes_in.clone()));

        // /metrics is no route of its own: it exists only where metrics_token is set.
        let scrape = self
            .metrics_endpoint
            .as_ref()
            .filter(|_| routed.route == Route::NotFound && Endpoint::is_scrape(&method, &path));
        let route_label = match scrape {
            Some(_) => RouteLabel::Health,
            None => RouteLabel::of(&routed.route),
        };
        let upload = self
            .metrics
            .as_ref()
            .and_then(|m| m.upload_started(routed.verb));
        let queries = QueryCount::new();
        let (response, account) = match scrape {
            Some(endpoint) => (endpoint.scrape(req.headers()), None),
            None => {
                let handled =
                    unless_panicked(self.dispatch(&routed, req, peer), id, &method, &path);
                queries.scope(handled).await
            }
        };
        drop(upload);

        let log = AccessLog {
            id,
            method,
            path,
            account,
            status: response.status(),
            started,
            bytes_in,
            bytes_out: 0,
            queries,
            metrics: self.metrics.clone().map(|m| (m, route_label, routed.verb)),
        };
        let (mut parts, body) = response.into_parts();
        parts.headers.insert("x-request-id", id.header_value());
        Response::from_parts(parts, LoggedBody::new(body, log).boxed_unsync())
    }

    /// Routes a request to its room, signing in first where the route needs it;
    /// returns the answer and the account that signed in, for the access log.
    async fn dispatch<B>(
        &self,
        routed: &Routed,
        req: Request<B>,
        peer: SocketAddr,
    ) -> (Response<Body>, Option<String>)
    where
        B: HttpBody<Data = Bytes> + Unpin + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let needs = match routed.route {
            Route::Files(_) => Need::Files,
            Route::Dav(area) => area.needs(),
            Route::ServerRoot => Need::Any,
            Route::Ready => return (self.ready().await, None),
            // The portal signs in with its own cookie sessions, never Basic credentials.
            Route::Account => {
                let client = self.client(req.headers(), peer);
                return self.portal.handle(routed, req, client).await;
            }
            _ => return (unauthenticated(routed), None),
        };
        let principal = match self.sign_in(routed, needs, &req, peer).await {
            Ok(principal) => principal,
            Err(refused) => return (refused, None),
        };
        let response = match (routed.route, routed.bad_header) {
            (_, Some(e)) => response::text(StatusCode::BAD_REQUEST, e.to_string()),
            (Route::Files(tree), None) => self.files.handle(&principal, tree, routed, req).await,
            (Route::ServerRoot, None) if !principal.access.scopes.sees_groupware() => {
                self.files.server_root(routed, req).await
            }
            _ => self.dav.handle(&principal, routed, req).await,
        };
        (response, Some(principal.account.username))
    }

    /// Readiness: 200 when the database and the blob store answer, else 503 (the
    /// detail goes to the log only).
    async fn ready(&self) -> Response<Body> {
        match self.store.ready().await {
            Ok(()) => response::text(StatusCode::OK, "ready"),
            Err(e) => {
                tracing::warn!(error = %e, "not ready");
                response::text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not ready: the database or the blob store does not answer; the log says which",
                )
            }
        }
    }

    /// Authenticates the request and checks that the credential may do what it asks:
    /// the one gate in front of every protected route.
    async fn sign_in<B>(
        &self,
        routed: &Routed,
        needs: Need,
        req: &Request<B>,
        peer: SocketAddr,
    ) -> Result<Principal, Response<Body>> {
        let client = self.client(req.headers(), peer);
        let principal = self
            .auth
            .authenticate(req.headers(), &client)
            .await
            .map_err(|e| e.into_response())?;
        principal
            .access
            .permit(needs, routed.verb)
            .map_err(|denied| denied.into_response())?;
        Ok(principal)
    }

    /// The client's address and user agent, as far as they can be trusted.
    fn client(&self, headers: &HeaderMap, peer: SocketAddr) -> ClientInfo {
        let addr = match &self.client_address {
            ClientAddress::Peer => peer.ip(),
            // The right-most entry is the one the trusted proxy added itself.
            ClientAddress::Header(name) => headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse::<IpAddr>().ok())
                .unwrap_or(peer.ip()),
        };
        let agent = headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        ClientInfo::new(addr, agent)
    }
}

/// Runs a handler; a panic in it becomes a logged 500, so the
/// client gets an answer and the access log a line instead of a dropped connection.
async fn unless_panicked<F>(
    handler: F,
    id: RequestId,
    method: &http::Method,
    path: &str,
) -> (Response<Body>, Option<String>)
where
    F: Future<Output = (Response<Body>, Option<String>)>,
{
    AssertUnwindSafe(handler)
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(%id, %method, %path, panic = %what, "request handler panicked");
            let failed = response::text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the server failed on this request and logged why; retry later, and tell the \
                 administrator if it happens again",
            );
            (failed, None)
        })
}

/// The answer to a route that needs no credential (and to a refused request line).
fn unauthenticated(routed: &Routed) -> Response<Body> {
    match routed.route {
        Route::Health => response::text(StatusCode::OK, "ok"),
        Route::BadPath(e) => response::text(StatusCode::BAD_REQUEST, format!("invalid path: {e}")),
        Route::Options(tree) => files::options(tree),
        Route::DavOptions => dav::options(),
        Route::RootOptions => files::root_options(),
        Route::WellKnown => well_known(),
        // Files, Dav, Ready and Account are answered by `dispatch` and never come here.
        Route::NotFound
        | Route::Files(_)
        | Route::Dav(_)
        | Route::ServerRoot
        | Route::Ready
        | Route::Account => response::text(
            StatusCode::NOT_FOUND,
            "nothing is served at this path: files are under /files/, the trash under \
                 /trash/, calendars and contacts under /dav/, your account at /account/",
        ),
    }
}

/// RFC 6764 §5: the context path is /dav/; clients then PROPFIND it for
/// current-user-principal.
fn well_known() -> Response<Body> {
    let mut resp = response::text(
        StatusCode::MOVED_PERMANENTLY,
        "calendars and contacts are at /dav/",
    );
    resp.headers_mut().insert(
        http::header::LOCATION,
        http::HeaderValue::from_static("/dav/"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_is_answered_500() {
        let (resp, account) = unless_panicked(
            async { panic!("index out of bounds") },
            RequestId::new(),
            &http::Method::PUT,
            "/files/x",
        )
        .await;
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(account.is_none());
        let (resp, account) = unless_panicked(
            async { (response::text(StatusCode::OK, "ok"), Some("alice".into())) },
            RequestId::new(),
            &http::Method::GET,
            "/files/x",
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(account.as_deref(), Some("alice"));
    }
}
