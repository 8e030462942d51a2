//! Serving `/metrics`: on the main listener to a scraper presenting `metrics_token`, and
//! on a listener of its own (`metrics_listen`) that serves nothing else but `/healthz`.
//!
//! The separate listener speaks plain HTTP/1.1 with a few connections at most: it is
//! meant for loopback or a private network that only the scraper reaches.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use super::Metrics;
use crate::response::{self, Body};
use crate::secret::Secret;

/// Where the metrics are served.
pub const PATH: &str = "/metrics";

/// Scrapes served at once on the separate listener; more wait for the kernel's backlog.
const SCRAPE_CONNECTIONS: usize = 8;
/// How long a connection to the separate listener may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// The metrics and who may read them.
#[derive(Clone)]
pub struct Endpoint {
    metrics: Metrics,
    /// SHA-256 of the token a scrape must present, if one is required.
    token: Option<Arc<[u8; 32]>>,
}

impl Endpoint {
    /// Serves `metrics`, to holders of `token` if given.
    pub fn new(metrics: Metrics, token: Option<&Secret<String>>) -> Self {
        Endpoint {
            metrics,
            token: token.map(|t| Arc::new(Sha256::digest(t.expose().as_bytes()).into())),
        }
    }

    /// Whether a request is a scrape: a GET or HEAD of [`PATH`].
    pub fn is_scrape(method: &Method, path: &str) -> bool {
        path == PATH && (method == Method::GET || method == Method::HEAD)
    }

    /// The answer to a scrape: the metrics, or 401 without the right token.
    pub fn scrape(&self, headers: &HeaderMap) -> Response<Body> {
        if let Some(token) = &self.token
            && !presents(headers, token)
        {
            let mut refused = response::text(
                StatusCode::UNAUTHORIZED,
                "the metrics need the token set as metrics_token in the server's \
                 configuration: send it as `Authorization: Bearer TOKEN`",
            );
            refused.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"davgate metrics\""),
            );
            return refused;
        }
        let mut resp = Response::new(response::full(self.metrics.encode()));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(prometheus_client::encoding::prometheus_text::CONTENT_TYPE),
        );
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    }

    /// Answers a request on the separate listener.
    fn answer<B>(&self, req: &Request<B>) -> Response<Body> {
        let path = req.uri().path();
        if Self::is_scrape(req.method(), path) {
            return self.scrape(req.headers());
        }
        if path == "/healthz" {
            return response::text(StatusCode::OK, "ok");
        }
        response::text(
            StatusCode::NOT_FOUND,
            "this listener serves only /metrics and /healthz",
        )
    }
}

/// Whether the request carries `Authorization: Bearer` with the token. The digests are
/// compared in constant time, so neither the token nor its length leaks through timing.
fn presents(headers: &HeaderMap, token: &[u8; 32]) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
    else {
        return false;
    };
    let given: [u8; 32] = Sha256::digest(given.as_bytes()).into();
    given.ct_eq(token).into()
}

/// Serves `/metrics` and `/healthz` on `listener` until `stopped` changes.
pub async fn serve(listener: TcpListener, endpoint: Endpoint, mut stopped: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(SCRAPE_CONNECTIONS));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => return,
            },
            _ = stopped.changed() => return,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics listener: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stopped.changed() => return,
        };
        let endpoint = endpoint.clone();
        let builder = builder.clone();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let resp = endpoint.answer(&req);
                async move { Ok::<_, Infallible>(resp) }
            });
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let served = tokio::select! {
                served = conn.as_mut() => served,
                _ = stopped.changed() => {
                    conn.as_mut().graceful_shutdown();
                    tokio::time::timeout(HEAD_TIMEOUT, conn).await.unwrap_or(Ok(()))
                }
            };
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "metrics connection ended with an error");
            }
            drop(slot);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(authorization).unwrap(),
        );
        headers
    }

    #[test]
    fn only_the_right_bearer_token_reads_the_metrics() {
        let token = Secret::new("0123456789abcdef0123".to_owned());
        let endpoint = Endpoint::new(Metrics::new(), Some(&token));
        let status = |h: &HeaderMap| endpoint.scrape(h).status();
        assert_eq!(status(&with("Bearer 0123456789abcdef0123")), StatusCode::OK);
        assert_eq!(status(&with("bearer 0123456789abcdef0123")), StatusCode::OK);
        for wrong in [
            "Bearer 0123456789abcdef012",
            "Bearer ",
            "Basic 0123456789abcdef0123",
            "0123456789abcdef0123",
        ] {
            assert_eq!(status(&with(wrong)), StatusCode::UNAUTHORIZED, "{wrong}");
        }
        assert_eq!(status(&HeaderMap::new()), StatusCode::UNAUTHORIZED);
        let open = Endpoint::new(Metrics::new(), None);
        assert_eq!(open.scrape(&HeaderMap::new()).status(), StatusCode::OK);
    }
}
