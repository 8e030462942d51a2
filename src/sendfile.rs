//! Zero-copy file bodies on plain HTTP/1 connections: a GET's chunks go from the page
//! cache to the socket with sendfile(2) instead of through a buffer of ours.
//!
//! hyper writes a response body by handing its chunks to the connection's
//! `poll_write_vectored`. A chunk that should come from a file is a *placeholder*: a
//! slice of a static, never-written buffer, as long as the file range, and registered on
//! the connection's [`FileRanges`] with the file and offset. [`SendfileStream`] knows
//! placeholder slices by their address and sends the registered range instead; every
//! other byte (headers, small bodies, XML) goes out as written. Each placeholder starts
//! at its own tag inside the buffer, so the stream always knows which range a slice
//! stands for, and one it cannot match fails the connection instead of sending anything.
//!
//! TLS and HTTP/2 connections never get a [`FileRanges`]: rustls and h2 copy every body
//! byte into their own frames, so a placeholder would reach the client as zeros.
//!
//! It sits below both [`crate::server`], which wraps plain connections in a
//! [`SendfileStream`], and [`crate::files`], which registers ranges: neither imports the
//! other for it.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// The longest range one placeholder stands for. Each range costs a pass through the
/// body stream and a sendfile call at least, so a range is as long as a loopback socket's
/// largest send buffer (4 MiB by Linux's default `tcp_wmem`).
pub const MAX_RANGE: usize = 4 << 20;
/// Distinct placeholder start offsets. A chunk hyper polled but never wrote (the
/// connection broke first) leaves its range behind; the next placeholder is matched by
/// its tag, so such leftovers are skipped, never sent.
const TAGS: usize = 1 << 20;
/// Ranges a connection may have registered and not yet sent: hyper buffers a few chunks
/// at most, so anything older was abandoned.
const MAX_PENDING: usize = 64;

/// Backing memory of every placeholder. It is never read or written: it only gives
/// placeholder slices addresses no other buffer can have. Zero-initialised statics live
/// in .bss, so it costs address space, not memory.
static PLACEHOLDER: [u8; MAX_RANGE + TAGS] = [0; MAX_RANGE + TAGS];

/// A file range waiting for its placeholder to reach the socket.
struct Range {
    file: Arc<File>,
    offset: u64,
    len: usize,
    tag: usize,
}

#[derive(Default)]
struct Pending {
    ranges: VecDeque<Range>,
    next_tag: usize,
}

/// One connection's file ranges, shared by its stream and (as a request extension) the
/// handlers of its requests.
#[derive(Clone, Default)]
pub struct FileRanges(Arc<Mutex<Pending>>);

impl std::fmt::Debug for FileRanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileRanges").finish_non_exhaustive()
    }
}

impl FileRanges {
    /// A body chunk that the connection sends as `len` bytes of `file` from `offset`.
    /// `len` is at most [`MAX_RANGE`], and the file must not change while it is sent.
    pub fn chunk(&self, file: Arc<File>, offset: u64, len: usize) -> Bytes {
        assert!(len <= MAX_RANGE, "placeholder longer than MAX_RANGE");
        let mut pending = self.0.lock().expect("file ranges lock");
        let tag = pending.next_tag;
        pending.next_tag = (tag + 1) % TAGS;
        if pending.ranges.len() == MAX_PENDING {
            pending.ranges.pop_front();
        }
        pending.ranges.push_back(Range {
            file,
            offset,
            len,
            tag,
        });
        Bytes::from_static(&PLACEHOLDER[tag..tag + len])
    }

    /// The registered range whose placeholder starts at `tag`, dropping abandoned ones.
    fn take(&self, tag: usize, len: usize) -> Option<Range> {
        let mut pending = self.0.lock().expect("file ranges lock");
        while let Some(range) = pending.ranges.pop_front() {
            if range.tag == tag && range.len == len {
                return Some(range);
            }
        }
        None
    }
}

/// Where `slice` starts inside [`PLACEHOLDER`], if it is a placeholder.
fn placeholder_offset(slice: &[u8]) -> Option<usize> {
    let base = PLACEHOLDER.as_ptr() as usize;
    let at = (slice.as_ptr() as usize).wrapping_sub(base);
    (!slice.is_empty() && at < PLACEHOLDER.len()).then_some(at)
}

/// A plain TCP connection that sends placeholder slices from their files.
pub struct SendfileStream {
    tcp: TcpStream,
    ranges: FileRanges,
    /// The range being sent and how much of it went out.
    current: Option<(Range, usize)>,
}

impl SendfileStream {
    /// Wraps `tcp`; requests on it register their file ranges on `ranges`.
    pub fn new(tcp: TcpStream, ranges: FileRanges) -> Self {
        SendfileStream {
            tcp,
            ranges,
            current: None,
        }
    }

    fn poll_send_range(
        &mut self,
        cx: &mut Context<'_>,
        slice: &[u8],
        at: usize,
    ) -> Poll<io::Result<usize>> {
        if self.current.is_none() {
            let range = self
                .ranges
                .take(at, slice.len())
                .ok_or_else(|| unmatched(at))?;
            self.current = Some((range, 0));
        }
        let (range, sent) = self.current.as_ref().expect("set above");
        if at != range.tag + sent || slice.len() != range.len - sent {
            return Poll::Ready(Err(unmatched(at)));
        }
        let (file, mut offset) = (range.file.clone(), range.offset + *sent as u64);
        let n = loop {
            ready!(self.tcp.poll_write_ready(cx))?;
            let sent = self.tcp.try_io(Interest::WRITABLE, || {
                rustix::fs::sendfile(&self.tcp, &*file, Some(&mut offset), slice.len())
                    .map_err(io::Error::from)
            });
            match sent {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => break other?,
            }
        };
        if n == 0 {
            // Blobs are never truncated; a short file means the store is damaged.
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file ended before its recorded size",
            )));
        }
        let (range, sent) = self.current.as_mut().expect("set above");
        *sent += n;
        if *sent == range.len {
            self.current = None;
        }
        Poll::Ready(Ok(n))
    }
}

fn unmatched(at: usize) -> io::Error {
    tracing::error!(
        tag = at,
        "a file placeholder reached the socket without its range"
    );
    io::Error::other("file placeholder without a registered range")
}

impl AsyncRead for SendfileStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for SendfileStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let bufs = &bufs[bufs.iter().take_while(|b| b.is_empty()).count()..];
        let first = bufs
            .iter()
            .enumerate()
            .find_map(|(i, b)| placeholder_offset(b).map(|at| (i, at)));
        match first {
            // Everything before the first placeholder goes out as written...
            Some((0, at)) => self.poll_send_range(cx, &bufs[0], at),
            // ...then the placeholder, on the next call.
            Some((i, _)) => Pin::new(&mut self.tcp).poll_write_vectored(cx, &bufs[..i]),
            None => Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use bytes::Buf;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    fn file_with(content: &[u8]) -> Arc<File> {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(content).unwrap();
        Arc::new(file)
    }

    #[test]
    fn only_placeholder_slices_are_recognised() {
        let ranges = FileRanges::default();
        let chunk = ranges.chunk(file_with(b"abc"), 0, 3);
        assert!(placeholder_offset(&chunk).is_some());
        assert!(
            placeholder_offset(&chunk[..0]).is_none(),
            "empty slices are ordinary"
        );
        assert!(placeholder_offset(b"abc").is_none());
        assert!(placeholder_offset(&[0u8; 3]).is_none());
    }

    #[test]
    fn ranges_never_sent_are_skipped_by_tag() {
        let ranges = FileRanges::default();
        let file = file_with(&[7; 64]);
        let abandoned = ranges.chunk(file.clone(), 0, 10);
        let next = ranges.chunk(file, 10, 20);
        let taken = ranges
            .take(placeholder_offset(&next).unwrap(), next.len())
            .expect("matched by its tag");
        assert_eq!((taken.offset, taken.len), (10, 20));
        assert!(
            ranges
                .take(placeholder_offset(&abandoned).unwrap(), 10)
                .is_none(),
            "skipped ranges are gone"
        );
    }

    /// Writes `parts` the way hyper does: vectored, advancing by what each call took.
    async fn write_like_hyper(stream: &mut SendfileStream, mut parts: Vec<Bytes>) {
        while parts.iter().any(|p| !p.is_empty()) {
            let slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
            let mut n = stream.write_vectored(&slices).await.unwrap();
            assert!(n > 0);
            for part in &mut parts {
                let step = n.min(part.len());
                part.advance(step);
                n -= step;
            }
        }
    }

    #[tokio::test]
    async fn placeholders_reach_the_peer_as_file_bytes_in_order() {
        let content: Vec<u8> = (0..(MAX_RANGE as u32 + 2000))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let file = file_with(&content);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reader = tokio::spawn(async move {
            let mut peer = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut all = Vec::new();
            peer.read_to_end(&mut all).await.unwrap();
            all
        });
        let (tcp, _) = listener.accept().await.unwrap();
        let ranges = FileRanges::default();
        let mut stream = SendfileStream::new(tcp, ranges.clone());
        // Larger than a socket buffer, so sendfile writes it in several calls.
        let first = ranges.chunk(file.clone(), 5, MAX_RANGE);
        let second = ranges.chunk(file, 5 + MAX_RANGE as u64, 1000);
        let parts = vec![
            Bytes::from_static(b"head"),
            first,
            Bytes::from_static(b"mid"),
            second,
            Bytes::from_static(b"tail"),
        ];
        write_like_hyper(&mut stream, parts).await;
        stream.shutdown().await.unwrap();
        drop(stream);

        let mut expected = b"head".to_vec();
        expected.extend_from_slice(&content[5..5 + MAX_RANGE]);
        expected.extend_from_slice(b"mid");
        expected.extend_from_slice(&content[5 + MAX_RANGE..5 + MAX_RANGE + 1000]);
        expected.extend_from_slice(b"tail");
        let got = reader.await.unwrap();
        assert!(
            got == expected,
            "{} bytes, expected {}",
            got.len(),
            expected.len()
        );
    }

    #[tokio::test]
    async fn a_placeholder_without_its_range_fails_instead_of_sending() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _peer = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (tcp, _) = listener.accept().await.unwrap();
        let mut stream = SendfileStream::new(tcp, FileRanges::default());
        // A placeholder registered on another connection's queue.
        let stray = FileRanges::default().chunk(file_with(b"secret"), 0, 6);
        let err = stream.write(&stray).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Other);
    }
}
