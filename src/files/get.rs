//! GET and HEAD (RFC 9110 §9.3.1-2): a file's bytes, whole or in ranges, and a plain
//! HTML index of a folder.
//!
//! A file's ETag and Last-Modified come from its node; `If-None-Match` and
//! `If-Modified-Since` answer 304, `If-Match` and `If-Unmodified-Since` 412, and
//! `If-Range` decides whether `Range` counts (RFC 9110 §13). Ranges are resolved by
//! [`super::ranges`]; several become a `multipart/byteranges` body with a random
//! boundary and CRLF framing (RFC 9110 §14.6, RFC 2046), so no file content can end a
//! part early. The bytes come from [`ReadFile`]: on a plain HTTP/1 connection they are
//! sendfile placeholders and never pass through this process.

use std::collections::VecDeque;
use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use davgate_storage::{ChildDigests, Node};
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};

use super::errors::FilesError;
use super::file::ReadFile;
use super::mount;
use super::ranges::{ByteRange, RangePlan, plan};
use super::request::{Ctx, date_header};
use crate::proto::escape::escaped;
use crate::proto::href::encode_path;
use crate::response::{self, Body};
use crate::sendfile::FileRanges;

/// Files from this size on hold background hashing back while they are sent; below it a
/// download is over before the hashing would notice.
const HOLD_HASHING_FROM: u64 = 8 * 1024 * 1024;

/// What a GET or HEAD asks beyond the routed request.
pub(crate) struct Fetch<'a> {
    /// HEAD: the headers of a GET, no body.
    pub(crate) head: bool,
    /// The URL path ended in `/` (a folder asked for without it is redirected).
    pub(crate) slash: bool,
    pub(crate) headers: &'a HeaderMap,
    /// The connection's sendfile queue, when it can send straight from blob files.
    pub(crate) file_ranges: Option<FileRanges>,
}

/// Answers a GET or HEAD of the request path.
pub(crate) async fn get(ctx: &Ctx<'_>, fetch: Fetch<'_>) -> Result<Response<Body>, FilesError> {
    let node = ctx.node().await?.ok_or(FilesError::NotFound)?;
    ctx.check_if_header(Some(&node)).await?;
    if node.is_dir() {
        return folder(ctx, &node, &fetch).await;
    }
    let etag = format!("\"{}\"", node.etag);
    let modified = time(node.mtime_ms);
    let mut resp = Response::new(response::empty());
    let headers = resp.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(modified)) {
        headers.insert(header::LAST_MODIFIED, value);
    }
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let content_type = content_type(&node.name);
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    match freshness(ctx, fetch.headers, &node) {
        Freshness::Send => {}
        Freshness::NotModified => {
            *resp.status_mut() = StatusCode::NOT_MODIFIED;
            return Ok(resp);
        }
        Freshness::Failed => return Err(FilesError::ConditionFailed),
    }

    let len = node.size;
    let ranges = match fetch.headers.get(header::RANGE) {
        Some(value) if if_range_holds(fetch.headers, &etag, modified) => {
            match plan(value.as_bytes(), len) {
                RangePlan::Ranges(ranges) => ranges,
                RangePlan::Unsatisfiable => return Err(FilesError::RangeNotSatisfiable { len }),
                RangePlan::AsSent | RangePlan::Whole => Vec::new(),
            }
        }
        _ => Vec::new(),
    };
    let mut pieces = VecDeque::new();
    let headers = resp.headers_mut();
    match ranges.as_slice() {
        [] => {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            pieces.push_back(Piece::Range {
                start: 0,
                count: len,
            });
        }
        [one] => {
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            let headers = resp.headers_mut();
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(count(one)));
            if let Ok(value) = HeaderValue::from_str(&content_range(one, len)) {
                headers.insert(header::CONTENT_RANGE, value);
            }
            pieces.push_back(Piece::Range {
                start: one.first,
                count: count(one),
            });
        }
        many => {
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            let boundary = format!("{:032x}", rand::random::<u128>());
            let value = format!("multipart/byteranges; boundary={boundary}");
            if let Ok(value) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            pieces = multipart(many, len, &boundary, content_type);
        }
    }
    if fetch.head {
        return Ok(resp);
    }
    let Some(key) = node.blob.as_ref() else {
        return Err(FilesError::NotFound);
    };
    let reader = ctx.store.blobs().open_sized(key, node.size).await?;
    let file = ReadFile::new(reader, fetch.file_ranges);
    // Background hashing waits while a large body streams: it goes with the stream.
    let transfer = (len >= HOLD_HASHING_FROM).then(|| ctx.store.download_streaming());
    let state = (file, pieces, transfer);
    let stream = futures_util::stream::unfold(state, |(mut file, mut pieces, transfer)| async {
        let piece = pieces.pop_front()?;
        let chunk = match piece {
            Piece::Bytes(bytes) => Ok(bytes),
            Piece::Range { start, count } => {
                if file.position() != start {
                    file.seek(start);
                }
                let want = usize::try_from(count).unwrap_or(usize::MAX);
                match file.read(want).await {
                    Ok(data) if data.is_empty() => {
                        Err(std::io::Error::other("the file ended before its length"))
                    }
                    Ok(data) => {
                        let left = count - data.len() as u64;
                        if left > 0 {
                            pieces.push_front(Piece::Range {
                                start: start + data.len() as u64,
                                count: left,
                            });
                        }
                        Ok(data)
                    }
                    Err(e) => Err(e),
                }
            }
        };
        if chunk.is_err() {
            // The response is cut short; nothing more is sent.
            pieces.clear();
        }
        Some((chunk.map(Frame::data), (file, pieces, transfer)))
    });
    *resp.body_mut() = StreamBody::new(stream).boxed_unsync();
    Ok(resp)
}

/// One piece of a response body: fixed bytes, or a span of the file.
enum Piece {
    Bytes(Bytes),
    Range { start: u64, count: u64 },
}

/// The pieces of a `multipart/byteranges` body: each part's header, then its bytes.
fn multipart(
    ranges: &[ByteRange],
    len: u64,
    boundary: &str,
    content_type: &str,
) -> VecDeque<Piece> {
    let mut pieces = VecDeque::new();
    for (i, range) in ranges.iter().enumerate() {
        let lead = if i == 0 { "" } else { "\r\n" };
        let head = format!(
            "{lead}--{boundary}\r\nContent-Range: {}\r\nContent-Type: {content_type}\r\n\r\n",
            content_range(range, len)
        );
        pieces.push_back(Piece::Bytes(Bytes::from(head)));
        pieces.push_back(Piece::Range {
            start: range.first,
            count: count(range),
        });
    }
    pieces.push_back(Piece::Bytes(Bytes::from(format!("\r\n--{boundary}--\r\n"))));
    pieces
}

fn count(range: &ByteRange) -> u64 {
    range.last - range.first + 1
}

fn content_range(range: &ByteRange, len: u64) -> String {
    format!("bytes {}-{}/{len}", range.first, range.last)
}

/// What the conditional headers say about sending the file.
enum Freshness {
    Send,
    NotModified,
    Failed,
}

/// RFC 9110 §13.2.2's order: If-Match, else If-Unmodified-Since; then If-None-Match,
/// else If-Modified-Since. Dates compare in whole seconds, as HTTP dates carry them.
fn freshness(ctx: &Ctx<'_>, headers: &HeaderMap, node: &Node) -> Freshness {
    let conditions = &ctx.routed.conditions;
    let modified = node.mtime_ms.max(0) / 1000;
    let mut only_if_match = conditions.clone();
    only_if_match.if_none_match = None;
    if conditions.if_match.is_some() {
        if !only_if_match.http_hold(&node.etag) {
            return Freshness::Failed;
        }
    } else if let Some(since) = ctx.unmodified_since
        && modified > since
    {
        return Freshness::Failed;
    }
    if conditions.if_none_match.is_some() {
        let mut only_none_match = conditions.clone();
        only_none_match.if_match = None;
        if !only_none_match.http_hold(&node.etag) {
            return Freshness::NotModified;
        }
    } else if let Some(since) = date_header(headers, header::IF_MODIFIED_SINCE)
        && modified <= since
    {
        return Freshness::NotModified;
    }
    Freshness::Send
}

/// Whether `If-Range` (absent, an entity tag, or a date) lets `Range` count.
fn if_range_holds(headers: &HeaderMap, etag: &str, modified: SystemTime) -> bool {
    let Some(value) = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) else {
        return headers.get(header::IF_RANGE).is_none();
    };
    let value = value.trim();
    if value.starts_with('"') || value.starts_with("W/") {
        return value == etag;
    }
    let seconds = |t: SystemTime| t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).ok();
    httpdate::parse_http_date(value).is_ok_and(|date| seconds(date) == seconds(modified))
}

/// A folder: 302 to its URL with the slash, else a plain index of what it holds (dot
/// files left out), for a person who opens it in a browser.
async fn folder(
    ctx: &Ctx<'_>,
    node: &Node,
    fetch: &Fetch<'_>,
) -> Result<Response<Body>, FilesError> {
    let href = mount::href(ctx.routed.mount, ctx.tree, &ctx.routed.path, true);
    if !fetch.slash {
        let mut resp = Response::new(response::empty());
        *resp.status_mut() = StatusCode::FOUND;
        if let Ok(value) = HeaderValue::from_str(&encode_path(&href)) {
            resp.headers_mut().insert(header::LOCATION, value);
        }
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        return Ok(resp);
    }
    let mut resp = Response::new(response::empty());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if fetch.head {
        return Ok(resp);
    }
    let mut children = ctx
        .store
        .children_listing(node.id, ChildDigests::Skip)
        .await?;
    children.retain(|c| !c.name.starts_with('.'));
    children.sort_by(|a, b| a.name.cmp(&b.name));
    let title = escaped(&href);
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of {title}</title></head>\
         <body><h1>Index of {title}</h1><ul>"
    );
    for child in &children {
        let mut child_href = href.clone();
        child_href.push_str(&child.name);
        let mut name = child.name.clone();
        if child.is_dir() {
            child_href.push('/');
            name.push('/');
        }
        let _ = write!(
            html,
            "<li><a href=\"{}\">{}</a></li>",
            escaped(&encode_path(&child_href)),
            escaped(&name)
        );
    }
    html.push_str("</ul></body></html>\n");
    *resp.body_mut() = response::full(html);
    Ok(resp)
}

/// The media type by the name's extension, as file servers answer it.
fn content_type(name: &str) -> &'static str {
    name.rsplit_once('.')
        .and_then(|(_, ext)| mime_guess::from_ext(ext).first_raw())
        .unwrap_or("application/octet-stream")
}

fn time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_parts_are_framed_with_crlf_and_the_boundary() {
        let ranges = [
            ByteRange { first: 0, last: 1 },
            ByteRange { first: 5, last: 9 },
        ];
        let pieces = multipart(&ranges, 10, "B", "text/plain");
        let text: Vec<String> = pieces
            .iter()
            .map(|p| match p {
                Piece::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                Piece::Range { start, count } => format!("[{start}+{count}]"),
            })
            .collect();
        assert_eq!(
            text.concat(),
            "--B\r\nContent-Range: bytes 0-1/10\r\nContent-Type: text/plain\r\n\r\n[0+2]\
             \r\n--B\r\nContent-Range: bytes 5-9/10\r\nContent-Type: text/plain\r\n\r\n[5+5]\
             \r\n--B--\r\n"
        );
    }

    #[test]
    fn if_range_takes_the_entity_tag_or_the_second() {
        let at = UNIX_EPOCH + Duration::from_millis(1_706_090_400_500);
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::IF_RANGE, HeaderValue::from_str(v).unwrap());
            if_range_holds(&h, "\"e1\"", at)
        };
        assert!(if_range_holds(&HeaderMap::new(), "\"e1\"", at));
        assert!(with("\"e1\""));
        assert!(!with("\"e2\""));
        assert!(with("Wed, 24 Jan 2024 10:00:00 GMT"));
        assert!(!with("Wed, 24 Jan 2024 10:00:01 GMT"));
        assert!(!with("garbage"));
    }

    #[test]
    fn media_types_follow_the_extension() {
        assert_eq!(content_type("a.txt"), "text/plain");
        assert_eq!(content_type("noext"), "application/octet-stream");
        assert_eq!(content_type("x.unknownext"), "application/octet-stream");
    }
}
