//! Request bodies that fail while being read: malformed framing or a client gone.
//!
//! dav-server answers any error reading a body with 502, which would blame a gateway
//! for what the client did. A streamed body is watched here instead: its first error is
//! recorded as a [`FilesError::BodyFailed`] saying which of the two it was, so the
//! client (if still there) reads a 400 that tells it to send again, and the access log
//! tells a client abort from a malformed request.

use std::error::Error as StdError;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::errors::{BodyFailure, FilesError, Refusals};

/// What went wrong, judged by the first I/O error in `err`'s source chain: hyper
/// reports a body cut off as `UnexpectedEof` and broken framing as invalid input/data.
pub(crate) fn classify(err: &(dyn StdError + 'static)) -> BodyFailure {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return match io.kind() {
                io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe => BodyFailure::ClientGone,
                _ => BodyFailure::Malformed,
            };
        }
        if let Some(hyper) = e.downcast_ref::<hyper::Error>()
            && (hyper.is_incomplete_message() || hyper.is_canceled())
        {
            return BodyFailure::ClientGone;
        }
        cause = e.source();
    }
    BodyFailure::Malformed
}

pin_project! {
    /// A request body that records why it failed, for [`super::respond`] to answer.
    pub(crate) struct WatchedBody<B> {
        #[pin]
        inner: B,
        refusals: Refusals,
    }
}

impl<B> WatchedBody<B> {
    pub(crate) fn new(inner: B, refusals: Refusals) -> Self {
        WatchedBody { inner, refusals }
    }
}

impl<B> HttpBody for WatchedBody<B>
where
    B: HttpBody<Data = Bytes>,
    B::Error: StdError + Send + Sync + 'static,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(Some(Err(e))) = &polled {
            let failure = classify(e);
            if failure == BodyFailure::ClientGone {
                tracing::info!("the client closed the connection before the request body ended");
            }
            this.refusals.set(FilesError::BodyFailed(failure));
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

    #[test]
    fn eof_and_resets_are_a_client_gone_and_the_rest_malformed() {
        for kind in [
            io::ErrorKind::UnexpectedEof,
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::BrokenPipe,
        ] {
            let err = io::Error::new(kind, "x");
            assert_eq!(classify(&err), BodyFailure::ClientGone, "{kind:?}");
        }
        let bad = io::Error::new(io::ErrorKind::InvalidInput, "Invalid chunk size line");
        assert_eq!(classify(&bad), BodyFailure::Malformed);
        #[derive(Debug)]
        struct Outer(io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("outer")
            }
        }
        impl StdError for Outer {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        // hyper's error carries the decoder's I/O error as its source.
        let chained = Outer(io::Error::new(io::ErrorKind::UnexpectedEof, "eof"));
        assert_eq!(classify(&chained), BodyFailure::ClientGone);
    }
}
