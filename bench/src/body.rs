//! Request bodies: empty, small in-memory, and a big body generated on the fly.
//!
//! The big body repeats slices of one fixed pseudo-random buffer, so a 1 GiB upload costs
//! [`PATTERN_LEN`] bytes of memory and no copying (each frame is a reference-counted slice).
//! Whether hyper sends it with Content-Length or chunked depends only on [`Body::size_hint`]:
//! an exact hint gives a length, an open one gives `Transfer-Encoding: chunked`, the way
//! `rclone rcat` streams.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// Length of the shared pseudo-random buffer; a multiple of [`FRAME_LEN`].
const PATTERN_LEN: usize = 4 << 20;
/// Bytes per body frame (one chunk on the wire for chunked uploads).
const FRAME_LEN: usize = 256 << 10;

/// The body of one request.
#[derive(Debug)]
pub enum ReqBody {
    /// No body at all.
    Empty,
    /// A small body held in memory; `None` once sent.
    Bytes(Option<Bytes>),
    /// `len` bytes cut from the pattern as they are sent.
    Generated(Generated),
}

/// State of a generated body.
#[derive(Debug)]
pub struct Generated {
    remaining: u64,
    offset: usize,
    announce_length: bool,
}

impl ReqBody {
    /// A body of `len` pattern bytes; `announce_length` false makes hyper send it chunked.
    pub fn generated(len: u64, announce_length: bool) -> Self {
        ReqBody::Generated(Generated {
            remaining: len,
            offset: 0,
            announce_length,
        })
    }

    /// A small in-memory body.
    pub fn bytes(bytes: Bytes) -> Self {
        ReqBody::Bytes(Some(bytes))
    }
}

/// `len` bytes of the pattern for a small file; payloads longer than the pattern repeat it.
pub fn payload(len: usize) -> Bytes {
    let pattern = pattern();
    if len <= pattern.len() {
        return pattern.slice(..len);
    }
    let mut buf = Vec::with_capacity(len);
    while buf.len() < len {
        let take = (len - buf.len()).min(pattern.len());
        buf.extend_from_slice(&pattern[..take]);
    }
    Bytes::from(buf)
}

/// The shared buffer, built once from a fixed seed so every run sends the same bytes.
fn pattern() -> &'static Bytes {
    static PATTERN: OnceLock<Bytes> = OnceLock::new();
    PATTERN.get_or_init(|| {
        // xorshift64*: fast, deterministic and incompressible enough that no server or
        // filesystem can shortcut the writes.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut buf = Vec::with_capacity(PATTERN_LEN);
        while buf.len() < PATTERN_LEN {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            buf.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        Bytes::from(buf)
    })
}

impl Body for ReqBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let frame = match self.get_mut() {
            ReqBody::Empty => None,
            ReqBody::Bytes(bytes) => bytes.take(),
            ReqBody::Generated(generated) => generated.next_frame(),
        };
        Poll::Ready(frame.map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ReqBody::Empty => true,
            ReqBody::Bytes(bytes) => bytes.is_none(),
            ReqBody::Generated(generated) => generated.remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReqBody::Empty => SizeHint::with_exact(0),
            ReqBody::Bytes(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            ReqBody::Generated(generated) if generated.announce_length => {
                SizeHint::with_exact(generated.remaining)
            }
            ReqBody::Generated(_) => SizeHint::default(),
        }
    }
}

impl Generated {
    fn next_frame(&mut self) -> Option<Bytes> {
        if self.remaining == 0 {
            return None;
        }
        let len = self.remaining.min(FRAME_LEN as u64) as usize;
        // PATTERN_LEN is a multiple of FRAME_LEN and `offset` only moves in FRAME_LEN steps,
        // so `offset + len` never passes the end of the pattern.
        let frame = pattern().slice(self.offset..self.offset + len);
        self.offset = (self.offset + FRAME_LEN) % PATTERN_LEN;
        self.remaining -= len as u64;
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(mut generated: Generated) -> (u64, usize) {
        let (mut total, mut frames) = (0u64, 0usize);
        while let Some(frame) = generated.next_frame() {
            assert!(frame.len() <= FRAME_LEN);
            total += frame.len() as u64;
            frames += 1;
        }
        (total, frames)
    }

    #[test]
    fn generated_body_has_the_exact_length() {
        for len in [0u64, 1, FRAME_LEN as u64, PATTERN_LEN as u64 * 3 + 17] {
            let ReqBody::Generated(generated) = ReqBody::generated(len, true) else {
                unreachable!()
            };
            assert_eq!(drain(generated).0, len);
        }
    }

    #[test]
    fn only_an_announced_length_is_exact() {
        assert_eq!(ReqBody::generated(10, true).size_hint().exact(), Some(10));
        assert_eq!(ReqBody::generated(10, false).size_hint().exact(), None);
    }

    #[test]
    fn payload_repeats_the_pattern() {
        let long = payload(PATTERN_LEN + 5);
        assert_eq!(long.len(), PATTERN_LEN + 5);
        assert_eq!(&long[PATTERN_LEN..], &pattern()[..5]);
        assert_eq!(payload(4096), pattern().slice(..4096));
    }
}
