//! The request path, top to bottom: route → authenticate → dispatch → log.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body as HttpBody;
use http_body_util::BodyExt;

use super::access_log::{AccessLog, CountedBody, LoggedBody};
use crate::auth::Authenticator;
use crate::files::{self, Files};
use crate::response::{self, Body};
use crate::route::Route;

/// Everything a request may need, shared by all connections.
#[derive(Clone)]
pub struct App {
    pub(crate) auth: Authenticator,
    pub(crate) files: Files,
}

impl App {
    /// Answers one request.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Body>
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
                "nothing is served at this path: files are under /files/, the trash under /trash/",
            ),
            Route::BadPath(e) => {
                response::text(StatusCode::BAD_REQUEST, format!("invalid path: {e}"))
            }
            Route::Options(tree) => files::options(tree),
            Route::Files(tree) => match self.auth.authenticate(req.headers()).await {
                Err(e) => e.into_response(),
                Ok(principal) => {
                    account = Some(principal.account.username.clone());
                    self.files.handle(&principal, tree, req).await
                }
            },
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
}
