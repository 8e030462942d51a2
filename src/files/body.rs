//! Request bodies that fail while being read: malformed framing or a client gone.
//!
//! A 502 would blame a gateway for what the client did. A body's first error is judged
//! here instead and becomes a [`super::errors::FilesError::BodyFailed`] saying which of
//! the two it was, so the client (if still there) reads a 400 that tells it to send
//! again, and the access log tells a client abort from a malformed request.

use std::error::Error as StdError;
use std::io;

use super::errors::BodyFailure;

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
