//! Response bodies (whole, empty, or made piece by piece as they are sent) and the
//! plain-text answers users read when something is refused.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};

use crate::memory::LargeBody;

/// Every response body davgate sends: full, empty, made piece by piece, or streamed from
/// a blob.
pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// A body made piece by piece of at least this much asks for its memory to be given
/// back once sent ([`crate::memory`]).
const LARGE_ANSWER: u64 = 1 << 20;

/// A body made piece by piece as the connection takes it: `pieces` makes the next piece
/// only when the previous one was sent, so a listing of 50,000 entries is never whole in
/// memory. Making a piece cannot fail — whatever can fail (reading the rows) is done
/// before the status is chosen, so a 207 never ends in half a document. A body that is
/// one piece goes out whole, with a Content-Length, as a short answer always did.
pub fn pieces<I>(pieces: I) -> Body
where
    I: Iterator<Item = Bytes> + Send + 'static,
{
    let mut pieces = pieces.peekable();
    let first = pieces.next().unwrap_or_default();
    if pieces.peek().is_none() {
        return full(first);
    }
    let mut sent = LargeBody::at_least(LARGE_ANSWER);
    sent.passed(first.len());
    let counted = Counted {
        sent,
        pieces: std::iter::once(first).chain(pieces),
    };
    let frames = futures_util::stream::iter(
        counted.map(|piece| Ok::<_, std::io::Error>(Frame::data(piece))),
    );
    StreamBody::new(frames).boxed_unsync()
}

/// The pieces of a body and how many bytes they came to so far: sent or abandoned, a
/// large body's memory (and its rows') is free, and its count asks for a trim.
struct Counted<I> {
    pieces: I,
    sent: LargeBody,
}

impl<I: Iterator<Item = Bytes>> Iterator for Counted<I> {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        let piece = self.pieces.next()?;
        self.sent.passed(piece.len());
        Some(piece)
    }
}

/// A body holding `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// An empty body.
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// A plain-text answer: the status plus a sentence that says what to do next.
pub fn text(status: StatusCode, message: impl Into<String>) -> Response<Body> {
    let mut message = message.into();
    if !message.ends_with('\n') {
        message.push('\n');
    }
    let mut response = Response::new(full(message));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// A 207 Multi-Status response with an XML body already written.
pub fn multistatus(body: Vec<u8>) -> Response<Body> {
    multistatus_body(full(body))
}

/// A 207 Multi-Status response whose XML body is written in pieces: each piece is
/// freed once sent, and no buffer of the whole document is ever grown (and copied)
/// to hold it.
pub fn multistatus_pieces(pieces: Vec<String>) -> Response<Body> {
    multistatus_body(self::pieces(pieces.into_iter().map(Bytes::from)))
}

/// A 207 Multi-Status response with this XML body.
pub fn multistatus_body(body: Body) -> Response<Body> {
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::MULTI_STATUS;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(body: Body) -> (Option<u64>, Vec<u8>) {
        let exact = http_body::Body::size_hint(&body).exact();
        let bytes = body.collect().await.unwrap().to_bytes();
        (exact, bytes.to_vec())
    }

    #[tokio::test]
    async fn one_piece_goes_out_whole_with_its_length() {
        let (len, bytes) = collect(pieces(std::iter::once(Bytes::from("abc")))).await;
        assert_eq!((len, bytes.as_slice()), (Some(3), &b"abc"[..]));
        let (len, bytes) = collect(pieces(std::iter::empty())).await;
        assert_eq!((len, bytes.len()), (Some(0), 0));
    }

    #[tokio::test]
    async fn several_pieces_are_made_as_they_are_taken() {
        let made = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = made.clone();
        let body = pieces((0..5).map(move |i| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Bytes::from(format!("<{i}>"))
        }));
        // The first piece and a look at the second decide the body's shape; the rest wait.
        assert_eq!(made.load(std::sync::atomic::Ordering::Relaxed), 2);
        let (len, bytes) = collect(body).await;
        assert_eq!(len, None);
        assert_eq!(bytes, b"<0><1><2><3><4>");
        assert_eq!(made.load(std::sync::atomic::Ordering::Relaxed), 5);
    }
}
