//! The request path, top to bottom: route → authenticate → authorize → dispatch → log.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::Body as HttpBody;
use http_body_util::BodyExt;

use super::access_log::{AccessLog, CountedBody, LoggedBody};
use crate::auth::Authenticator;
use crate::auth::scope::{MethodClass, Scope};
use crate::auth::usage::ClientInfo;
use crate::config::ClientAddress;
use crate::dav::{self, Dav};
use crate::files::{self, Files};
use crate::response::{self, Body};
use crate::route::{DavArea, Route};

/// Everything a request may need, shared by all connections.
#[derive(Clone)]
pub struct App {
    pub(crate) auth: Authenticator,
    pub(crate) files: Files,
    pub(crate) dav: Dav,
    pub(crate) client_address: ClientAddress,
}

impl App {
    /// Answers one request from `peer`.
    pub async fn handle<B>(&self, req: Request<B>, peer: SocketAddr) -> Response<Body>
    where
        B: HttpBody<Data = Bytes> + Unpin + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let started = Instant::now();
        let bytes_in = Arc::new(AtomicU64::new(0));
        let (parts, body) = req.into_parts();
        let method = parts.method.clone();
        let path = parts.uri.path().to_owned();
        let route = Route::from_request(&parts);
        let req = Request::from_parts(parts, CountedBody::new(body, bytes_in.clone()));

        let mut account = None;
        let response = match route {
            Route::Health => response::text(StatusCode::OK, "ok"),
            Route::NotFound => response::text(
                StatusCode::NOT_FOUND,
                "nothing is served at this path: files are under /files/, the trash under /trash/, \
                 calendars and contacts under /dav/",
            ),
            Route::BadPath(e) => {
                response::text(StatusCode::BAD_REQUEST, format!("invalid path: {e}"))
            }
            Route::Options(tree) => files::options(tree),
            Route::DavOptions => dav::options(),
            Route::WellKnown => {
                // RFC 6764 §5: the context path is /dav/; clients then PROPFIND it for
                // current-user-principal.
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
            Route::Dav(area) => {
                let client = self.client(req.headers(), peer);
                match self.auth.authenticate(req.headers(), &client).await {
                    Err(e) => e.into_response(),
                    Ok(principal) => {
                        account = Some(principal.account.username.clone());
                        let class = MethodClass::of(&method);
                        let allowed = match area {
                            DavArea::Calendars => principal.access.permit(Scope::Calendars, class),
                            DavArea::Contacts => principal.access.permit(Scope::Contacts, class),
                            // Discovery serves either kind of client; a refusal names calendars.
                            DavArea::Discovery => principal
                                .access
                                .permit(Scope::Calendars, class)
                                .or_else(|e| {
                                    principal
                                        .access
                                        .permit(Scope::Contacts, class)
                                        .map_err(|_| e)
                                }),
                        };
                        match allowed {
                            Err(denied) => denied.into_response(),
                            Ok(()) => self.dav.handle(&principal, req).await,
                        }
                    }
                }
            }
            Route::Files(tree) => {
                let client = self.client(req.headers(), peer);
                match self.auth.authenticate(req.headers(), &client).await {
                    Err(e) => e.into_response(),
                    Ok(principal) => {
                        account = Some(principal.account.username.clone());
                        match principal
                            .access
                            .permit(Scope::Files, MethodClass::of(&method))
                        {
                            Err(denied) => denied.into_response(),
                            Ok(()) => self.files.handle(&principal, tree, req).await,
                        }
                    }
                }
            }
        };

        let log = AccessLog {
            method,
            path,
            account,
            status: response.status(),
            started,
            bytes_in,
            bytes_out: 0,
        };
        let (parts, body) = response.into_parts();
        Response::from_parts(parts, LoggedBody::new(body, log).boxed_unsync())
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
