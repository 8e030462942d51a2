//! One log line per request: method, path, account, status, bytes in and out, duration,
//! database statements; and, when metrics are on, the same facts counted in them.
//!
//! The line is written when the response body is done (or dropped by a disconnect), so
//! the duration and byte counts cover the whole transfer. A request whose client went
//! away before its body ended is logged with status 499 (nginx's "client closed
//! request"), never as a server or gateway failure. Credentials never appear: the
//! account is the authenticated name, never the header.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use http::{Method, StatusCode};
use http_body::{Body as HttpBody, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::metrics::{Finished, MethodLabel, Metrics, RequestLabels, RouteLabel};
use crate::route::Verb;

/// A request's id: in its log line and in the answer's `X-Request-Id`, so a person
/// who reports a failure can point at the line that tells what happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId(u64);

impl RequestId {
    /// A fresh random id.
    pub fn new() -> Self {
        RequestId(rand::random())
    }

    /// As the header value.
    pub fn header_value(self) -> http::HeaderValue {
        http::HeaderValue::from_str(&self.to_string()).expect("hex digits are a valid header")
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// What the log line says about one request.
pub struct AccessLog {
    pub(crate) id: RequestId,
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) account: Option<String>,
    pub(crate) status: StatusCode,
    pub(crate) started: Instant,
    pub(crate) bytes_in: Arc<AtomicU64>,
    pub(crate) bytes_out: u64,
    /// Statements the handler sent to the database (those of a response body streamed
    /// after it returned are not counted; no GET body sends any).
    pub(crate) queries: davgate_storage::QueryCount,
    /// Where the request is counted too, with its route and method.
    pub(crate) metrics: Option<(Metrics, RouteLabel, Verb)>,
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        let bytes_in = self.bytes_in.load(Ordering::Relaxed);
        let duration = self.started.elapsed();
        if let Some((metrics, route, verb)) = &self.metrics {
            metrics.request_finished(&Finished {
                labels: RequestLabels {
                    route: *route,
                    method: MethodLabel(*verb),
                    status: self.status.as_u16(),
                },
                duration,
                bytes_in,
                bytes_out: self.bytes_out,
            });
        }
        tracing::info!(
            target: "davgate::access",
            id = %self.id,
            method = %self.method,
            path = %self.path,
            account = %self.account.as_deref().unwrap_or("-"),
            status = self.status.as_u16(),
            bytes_in,
            bytes_out = self.bytes_out,
            queries = self.queries.get(),
            ms = duration.as_millis() as u64,
        );
    }
}

/// Unread request bytes discarded after an early answer, at most: enough for a client
/// that keeps sending after a 413, 507 or 401 to finish and read the answer, as nginx's
/// lingering close allows, without letting it pin the connection.
const LINGER_BYTES: u64 = 64 << 20;
const LINGER_TIME: Duration = Duration::from_secs(10);

/// A request body that counts the bytes read from it and, when the handler answers
/// without reading it all, drains the rest (bounded) so the client sees the answer
/// instead of a connection reset.
pub struct CountedBody<B: HttpBody + Unpin + Send + 'static> {
    inner: Option<B>,
    count: Arc<AtomicU64>,
}

impl<B: HttpBody + Unpin + Send + 'static> CountedBody<B> {
    /// Wraps `inner`, adding to `count`.
    pub fn new(inner: B, count: Arc<AtomicU64>) -> Self {
        CountedBody {
            inner: Some(inner),
            count,
        }
    }
}

impl<B: HttpBody<Data = Bytes> + Unpin + Send + 'static> HttpBody for CountedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.count.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint)
    }
}

impl<B: HttpBody + Unpin + Send + 'static> Drop for CountedBody<B> {
    fn drop(&mut self) {
        let Some(mut inner) = self.inner.take() else {
            return;
        };
        if inner.is_end_stream() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let drain = async {
                let mut drained = 0u64;
                while drained < LINGER_BYTES {
                    match std::future::poll_fn(|cx| Pin::new(&mut inner).poll_frame(cx)).await {
                        Some(Ok(frame)) => {
                            drained += frame.data_ref().map_or(0, |d| d.remaining() as u64)
                        }
                        _ => break,
                    }
                }
            };
            let _ = tokio::time::timeout(LINGER_TIME, drain).await;
        });
    }
}

pin_project! {
    /// A response body that writes the access log line when it is done.
    pub struct LoggedBody<B> {
        #[pin]
        inner: B,
        log: AccessLog,
    }
}

impl<B> LoggedBody<B> {
    /// Wraps `inner`; `log` is written when the body is dropped.
    pub fn new(inner: B, log: AccessLog) -> Self {
        LoggedBody { inner, log }
    }
}

impl<B: HttpBody<Data = Bytes>> HttpBody for LoggedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.log.bytes_out += data.len() as u64;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
