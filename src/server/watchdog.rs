//! The deadlines of one connection: its first request must arrive within
//! `header_timeout` of accept, and with no request in progress it is closed after
//! `idle_timeout`.
//!
//! hyper's own `header_read_timeout` cannot do the first: behind the auto (HTTP/1 or
//! HTTP/2) builder it starts only once the first bytes arrive, and it never covers the TLS
//! handshake or HTTP/2. So each connection counts its requests here: the service marks a
//! request started ([`Activity::request_started`]) and the response body, when done or
//! dropped, marks it finished; [`Activity::expired`] resolves when a deadline passes.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Body as HttpBody, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Which deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// No complete request arrived within the header timeout of accept.
    NoFirstRequest,
    /// No request was in progress for the idle timeout.
    Idle,
}

/// One connection's requests, shared by its service and its watchdog.
#[derive(Clone)]
pub struct Activity {
    inner: Arc<Inner>,
}

struct Inner {
    accepted: Instant,
    header_timeout: Duration,
    idle_timeout: Duration,
    requests: Mutex<Requests>,
    changed: Notify,
}

struct Requests {
    started: u64,
    in_progress: usize,
    idle_since: Instant,
}

/// A request in progress; dropping it marks the request finished.
pub struct InProgress {
    inner: Arc<Inner>,
}

impl Activity {
    /// A connection accepted at `accepted`.
    pub fn new(accepted: Instant, header_timeout: Duration, idle_timeout: Duration) -> Self {
        Activity {
            inner: Arc::new(Inner {
                accepted,
                header_timeout,
                idle_timeout,
                requests: Mutex::new(Requests {
                    started: 0,
                    in_progress: 0,
                    idle_since: accepted,
                }),
                changed: Notify::new(),
            }),
        }
    }

    /// When the TLS handshake must be done by: the first request's deadline.
    pub fn first_request_deadline(&self) -> Instant {
        self.inner.accepted + self.inner.header_timeout
    }

    /// Marks a request whose head has arrived; it is in progress until the returned
    /// guard is dropped.
    pub fn request_started(&self) -> InProgress {
        let mut requests = self.inner.requests.lock().expect("activity lock");
        requests.started += 1;
        requests.in_progress += 1;
        drop(requests);
        self.inner.changed.notify_waiters();
        InProgress {
            inner: self.inner.clone(),
        }
    }

    /// Whether a request is in progress.
    pub fn in_progress(&self) -> bool {
        self.inner
            .requests
            .lock()
            .expect("activity lock")
            .in_progress
            > 0
    }

    /// Resolves when the connection should be closed; never while a request is in
    /// progress.
    pub async fn expired(&self) -> Expiry {
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let deadline = {
                let requests = self.inner.requests.lock().expect("activity lock");
                if requests.in_progress > 0 {
                    None
                } else if requests.started == 0 {
                    Some((self.first_request_deadline(), Expiry::NoFirstRequest))
                } else {
                    Some((requests.idle_since + self.inner.idle_timeout, Expiry::Idle))
                }
            };
            match deadline {
                None => changed.await,
                Some((at, expiry)) => tokio::select! {
                    _ = changed => {}
                    _ = tokio::time::sleep_until(at) => return expiry,
                },
            }
        }
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        let mut requests = self.inner.requests.lock().expect("activity lock");
        requests.in_progress -= 1;
        if requests.in_progress == 0 {
            requests.idle_since = Instant::now();
        }
        drop(requests);
        self.inner.changed.notify_waiters();
    }
}

pin_project! {
    /// A response body that keeps its request in progress until it is done or dropped,
    /// so a long download is never taken for an idle connection.
    pub struct TrackedBody<B> {
        #[pin]
        inner: B,
        in_progress: Option<InProgress>,
    }
}

impl<B> TrackedBody<B> {
    /// Wraps `inner`, holding `in_progress` until its end.
    pub fn new(inner: B, in_progress: InProgress) -> Self {
        TrackedBody {
            inner,
            in_progress: Some(in_progress),
        }
    }
}

impl<B: HttpBody> HttpBody for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            this.in_progress.take();
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

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: Duration = Duration::from_millis(200);
    const IDLE: Duration = Duration::from_millis(300);

    #[tokio::test]
    async fn no_request_expires_at_the_header_timeout() {
        let activity = Activity::new(Instant::now(), HEADER, IDLE);
        let started = Instant::now();
        assert_eq!(activity.expired().await, Expiry::NoFirstRequest);
        assert!(started.elapsed() >= HEADER);
    }

    #[tokio::test]
    async fn a_request_in_progress_never_expires_and_idleness_counts_from_its_end() {
        let activity = Activity::new(Instant::now(), HEADER, IDLE);
        let request = activity.request_started();
        let watch = tokio::spawn({
            let activity = activity.clone();
            async move { activity.expired().await }
        });
        tokio::time::sleep(IDLE * 2).await;
        assert!(!watch.is_finished());
        let ended = Instant::now();
        drop(request);
        assert_eq!(watch.await.unwrap(), Expiry::Idle);
        assert!(ended.elapsed() >= IDLE);
    }
}
