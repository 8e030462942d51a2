//! dav-server's multipart/byteranges bodies, reframed with a random boundary and CRLF.
//!
//! dav-server 0.11 delimits the parts of a multi-range GET with the fixed string
//! `BOUNDARY` and bare LF line ends: a file that contains `\n--BOUNDARY` cuts its own
//! parts short in any client that splits on the delimiter, and RFC 2046 framing wants
//! CRLF. The library offers no way to choose the boundary, so its body is reframed as it
//! streams: each part header arrives as one chunk of its own (`handle_gethead.rs` sends
//! it so) and is replaced; the part's bytes, whose count the header's `Content-Range`
//! gives, pass through untouched, so sendfile placeholders stay whole.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, header};
use http_body::{Body as HttpBody, Frame, SizeHint};

/// The Content-Type dav-server gives a multipart answer.
const DAV_SERVER_TYPE: &str = "multipart/byteranges; boundary=BOUNDARY";
/// How dav-server opens a part and ends the body.
const DAV_SERVER_OPEN: &[u8] = b"\n--BOUNDARY\n";
const DAV_SERVER_CLOSE: &[u8] = b"\n--BOUNDARY--\n";

/// Where the reframing is in dav-server's body.
enum Expect {
    /// A part header or the closing delimiter; `first` while nothing was sent.
    Delimiter { first: bool },
    /// This many more content bytes of the current part.
    Content(u64),
    /// The body ended or failed.
    Done,
}

/// A dav-server multipart body with a random boundary.
pub(crate) struct Reframed<B> {
    inner: B,
    boundary: String,
    expect: Expect,
}

/// If `headers` announce dav-server's multipart body, gives them a fresh boundary and
/// returns it for [`Reframed::new`].
pub(crate) fn take_over(headers: &mut HeaderMap) -> Option<String> {
    if headers.get(header::CONTENT_TYPE)? != DAV_SERVER_TYPE {
        return None;
    }
    let boundary = format!("{:032x}", rand::random::<u128>());
    let value = format!("multipart/byteranges; boundary={boundary}");
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(&value).ok()?);
    Some(boundary)
}

impl<B> Reframed<B> {
    pub(crate) fn new(inner: B, boundary: String) -> Self {
        Reframed {
            inner,
            boundary,
            expect: Expect::Delimiter { first: true },
        }
    }

    /// Our frame for one of dav-server's chunks.
    fn reframe(&mut self, chunk: Bytes) -> io::Result<Bytes> {
        match self.expect {
            Expect::Content(left) => {
                let len = chunk.len() as u64;
                if len > left {
                    return Err(broken("a part longer than its Content-Range"));
                }
                self.expect = match left - len {
                    0 => Expect::Delimiter { first: false },
                    rest => Expect::Content(rest),
                };
                Ok(chunk)
            }
            Expect::Delimiter { first } => {
                let lead = if first { "" } else { "\r\n" };
                if chunk.as_ref() == DAV_SERVER_CLOSE {
                    self.expect = Expect::Done;
                    return Ok(Bytes::from(format!("{lead}--{}--\r\n", self.boundary)));
                }
                let head = chunk
                    .strip_prefix(DAV_SERVER_OPEN)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .ok_or_else(|| broken("a part without its header"))?;
                let mut framed = format!("{lead}--{}\r\n", self.boundary);
                let mut count = None;
                for line in head.lines().filter(|l| !l.is_empty()) {
                    if let Some(range) = line.strip_prefix("Content-Range: bytes ") {
                        count = part_length(range);
                    }
                    framed.push_str(line);
                    framed.push_str("\r\n");
                }
                framed.push_str("\r\n");
                let count = count.ok_or_else(|| broken("a part header without Content-Range"))?;
                self.expect = Expect::Content(count);
                Ok(Bytes::from(framed))
            }
            Expect::Done => Err(broken("bytes after the closing delimiter")),
        }
    }
}

/// The byte count of `first-last/total`.
fn part_length(range: &str) -> Option<u64> {
    let (span, _total) = range.split_once('/')?;
    let (first, last) = span.split_once('-')?;
    let (first, last): (u64, u64) = (first.parse().ok()?, last.parse().ok()?);
    last.checked_sub(first)?.checked_add(1)
}

fn broken(what: &str) -> io::Error {
    tracing::error!(
        "multipart/byteranges from dav-server not as expected ({what}); response cut short"
    );
    io::Error::other(format!("unexpected multipart framing: {what}"))
}

impl<B> HttpBody for Reframed<B>
where
    B: HttpBody<Data = Bytes, Error = io::Error> + Unpin,
{
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        if matches!(this.expect, Expect::Done) {
            return Poll::Ready(None);
        }
        let polled = std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx));
        let frame = match polled {
            Some(Ok(frame)) => frame,
            other => {
                this.expect = Expect::Done;
                return Poll::Ready(other);
            }
        };
        let chunk = match frame.into_data() {
            Ok(chunk) if chunk.is_empty() => return Poll::Ready(Some(Ok(Frame::data(chunk)))),
            Ok(chunk) => chunk,
            // Trailers: dav-server sends none; pass them on.
            Err(frame) => return Poll::Ready(Some(Ok(frame))),
        };
        let reframed = this.reframe(chunk);
        if reframed.is_err() {
            this.expect = Expect::Done;
        }
        Poll::Ready(Some(reframed.map(Frame::data)))
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.expect, Expect::Done) || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        // Our delimiters are longer than dav-server's, so its hint does not hold here.
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::{BodyExt, StreamBody};

    use super::*;

    async fn reframe(chunks: Vec<&'static [u8]>) -> io::Result<Vec<u8>> {
        let frames = chunks
            .into_iter()
            .map(|c| Ok::<_, io::Error>(Frame::data(Bytes::from_static(c))));
        let body = StreamBody::new(futures_util::stream::iter(frames));
        let reframed = Reframed::new(body, "b0".into());
        Ok(reframed.collect().await?.to_bytes().to_vec())
    }

    #[tokio::test]
    async fn parts_get_the_new_boundary_and_crlf_and_content_is_untouched() {
        let got = reframe(vec![
            b"\n--BOUNDARY\nContent-Range: bytes 0-6/10\nContent-Type: text/plain\n\n",
            b"\n--B",
            b"OUN",
            b"\n--BOUNDARY\nContent-Range: bytes 8-9/10\nContent-Type: text/plain\n\n",
            b"xy",
            b"\n--BOUNDARY--\n",
        ])
        .await
        .unwrap();
        assert_eq!(
            String::from_utf8(got).unwrap(),
            "--b0\r\nContent-Range: bytes 0-6/10\r\nContent-Type: text/plain\r\n\r\n\
             \n--BOUN\r\n--b0\r\nContent-Range: bytes 8-9/10\r\nContent-Type: text/plain\r\n\r\n\
             xy\r\n--b0--\r\n"
        );
    }

    #[tokio::test]
    async fn unexpected_framing_fails_instead_of_guessing() {
        assert!(reframe(vec![b"hello"]).await.is_err());
        assert!(
            reframe(vec![
                b"\n--BOUNDARY\nContent-Range: bytes 0-1/10\n\n",
                b"toolong"
            ])
            .await
            .is_err()
        );
    }

    #[test]
    fn only_dav_servers_multipart_type_is_taken_over() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(take_over(&mut headers).is_none());
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(DAV_SERVER_TYPE),
        );
        let boundary = take_over(&mut headers).unwrap();
        assert_eq!(boundary.len(), 32);
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .ends_with(&boundary)
        );
    }
}
