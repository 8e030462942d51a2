//! What is checked and learned from a request before dav-server sees it.
//!
//! dav-server answers with bare statuses; everything a user should be told in words,
//! and every rule of ours it does not know (Depth infinity, partial PUT, the trash being
//! read-only, a body that is not XML), is decided here.

use bytes::Bytes;
use davgate_storage::{Account, TreeRoot};
use http::request::Parts;
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::BodyExt;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

use super::fs::RequestFacts;
use crate::proto::{Depth, InvalidDepth};
use crate::response::{self, Body};
use crate::route::{self, PathError};
use crate::server::FileRanges;

/// Largest XML request body read; dav-server refuses more than this too.
pub(crate) const MAX_XML_BODY: usize = 64 * 1024;

/// The Microsoft namespace of the Win32 properties Windows Explorer sets.
const MS_NAMESPACE: &str = "urn:schemas-microsoft-com:";

/// A request that passed the checks, with what was learned from it.
pub(crate) struct Prepared {
    pub(crate) facts: RequestFacts,
    /// The client sent `X-OC-Mtime` and it was understood (rclone, ownCloud clients).
    pub(crate) oc_mtime: bool,
    /// The destination of a COPY or MOVE, decoded.
    pub(crate) destination: Option<Destination>,
}

/// Where a COPY or MOVE goes.
#[derive(Debug, Clone)]
pub(crate) struct Destination {
    pub(crate) tree: Option<TreeRoot>,
    pub(crate) segments: Vec<String>,
}

/// Checks headers and learns the request facts.
pub(crate) fn prepare(
    parts: &Parts,
    tree: TreeRoot,
    account: &Account,
    default_limit: u64,
) -> Result<Prepared, Box<http::Response<Body>>> {
    let method = &parts.method;
    if tree == TreeRoot::Trash && !trash_allows(method) {
        let mut resp = response::text(
            StatusCode::METHOD_NOT_ALLOWED,
            "the trash is read-only: list it with PROPFIND, restore an item with MOVE to a path \
             under /files/, or purge it with DELETE",
        );
        resp.headers_mut().insert(
            header::ALLOW,
            HeaderValue::from_static("OPTIONS, GET, HEAD, PROPFIND, DELETE, MOVE"),
        );
        return Err(Box::new(resp));
    }
    if method.as_str() == "PROPFIND" {
        match depth(parts) {
            Err(invalid) => {
                return Err(Box::new(response::text(
                    StatusCode::BAD_REQUEST,
                    invalid.to_string(),
                )));
            }
            Ok(Some(Depth::Infinity)) => {
                return Err(Box::new(response::dav_error(
                    StatusCode::FORBIDDEN,
                    "propfind-finite-depth",
                    "PROPFIND with Depth: infinity is not supported; list one level at a time with Depth: 1",
                )));
            }
            Ok(_) => {}
        }
    }
    if *method == Method::PUT && parts.headers.contains_key(header::CONTENT_RANGE) {
        return Err(Box::new(response::text(
            StatusCode::BAD_REQUEST,
            "partial uploads (PUT with Content-Range) are not supported: send the whole file",
        )));
    }
    let request_segments =
        route::decode_path(parts.uri.path()).map_err(|e| bad_path(e, "request path"))?;
    let mut facts = RequestFacts {
        upload_limit: account.upload_limit_bytes.unwrap_or(default_limit),
        file_ranges: (*method == Method::GET)
            .then(|| parts.extensions.get::<FileRanges>().cloned())
            .flatten(),
        ..RequestFacts::default()
    };
    let mut oc_mtime = false;
    if *method == Method::PUT {
        if let Some(ms) = header_text(parts, "x-oc-mtime").and_then(parse_oc_mtime) {
            facts.mtime_ms = Some(ms);
            oc_mtime = true;
        }
        facts.content_type = header_text(parts, "content-type").map(str::to_owned);
    }
    if *method == Method::DELETE {
        facts.delete_root = Some(super::fs::path_key(&request_segments[1..]));
    }
    let mut destination = None;
    if method.as_str() == "COPY" || method.as_str() == "MOVE" {
        let dest = parse_destination(parts)?;
        if let (Some(dest_tree), true) = (dest.tree, dest.segments.len() > 1) {
            if dest_tree == tree {
                facts.delete_root = Some(super::fs::path_key(&dest.segments[1..]));
            } else if tree == TreeRoot::Files {
                return Err(Box::new(response::text(
                    StatusCode::FORBIDDEN,
                    "files cannot be copied or moved into the trash: use DELETE to move them there",
                )));
            }
        }
        destination = Some(dest);
    }
    Ok(Prepared {
        facts,
        oc_mtime,
        destination,
    })
}

/// The methods the trash answers.
fn trash_allows(method: &Method) -> bool {
    matches!(
        method.as_str(),
        "OPTIONS" | "GET" | "HEAD" | "PROPFIND" | "DELETE" | "MOVE"
    )
}

fn bad_path(e: PathError, what: &str) -> Box<http::Response<Body>> {
    Box::new(response::text(
        StatusCode::BAD_REQUEST,
        format!("invalid {what}: {e}"),
    ))
}

/// The Depth header, read by the protocol layer's one parser.
pub(crate) fn depth(parts: &Parts) -> Result<Option<Depth>, InvalidDepth> {
    Depth::parse(parts.headers.get("depth").map(HeaderValue::as_bytes))
}

fn header_text<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name)?.to_str().ok()
}

/// `X-OC-Mtime` carries Unix seconds, sometimes with a fraction.
fn parse_oc_mtime(value: &str) -> Option<i64> {
    let seconds: f64 = value.trim().parse().ok()?;
    (0.0..1e13)
        .contains(&seconds)
        .then_some((seconds * 1000.0) as i64)
}

fn parse_destination(parts: &Parts) -> Result<Destination, Box<http::Response<Body>>> {
    let missing = || {
        Box::new(response::text(
            StatusCode::BAD_REQUEST,
            "COPY and MOVE need a Destination header with the target URL",
        ))
    };
    let value = header_text(parts, "destination").ok_or_else(missing)?;
    let uri: http::Uri = value.parse().map_err(|_| {
        Box::new(response::text(
            StatusCode::BAD_REQUEST,
            "the Destination header is not a valid URL",
        ))
    })?;
    let segments = route::decode_path(uri.path()).map_err(|e| bad_path(e, "Destination path"))?;
    let tree = match segments.first().map(String::as_str) {
        Some("files") => Some(TreeRoot::Files),
        Some("trash") => Some(TreeRoot::Trash),
        _ => None,
    };
    Ok(Destination { tree, segments })
}

/// Reads an XML request body, bounded, and checks that it is well-formed.
/// Returns the bytes and, for PROPPATCH, a `Win32LastModifiedTime` to apply.
pub(crate) async fn read_xml<B>(body: B) -> Result<(Bytes, Option<i64>), Box<http::Response<Body>>>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let limited = http_body_util::Limited::new(body, MAX_XML_BODY);
    let bytes = match limited.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(Box::new(response::text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "XML request bodies are limited to {} KiB",
                    MAX_XML_BODY / 1024
                ),
            )));
        }
        Err(_) => {
            return Err(Box::new(response::text(
                StatusCode::BAD_REQUEST,
                "the request body ended early",
            )));
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok((bytes, None));
    }
    let win32_mtime = check_xml(&bytes).map_err(|reason| {
        Box::new(response::text(
            StatusCode::BAD_REQUEST,
            format!("the request body is not well-formed XML: {reason}"),
        ))
    })?;
    Ok((bytes, win32_mtime))
}

/// Walks the whole document; returns the `Win32LastModifiedTime` it sets, if any.
fn check_xml(bytes: &[u8]) -> Result<Option<i64>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("it is not UTF-8 ({e})"))?;
    let mut reader = quick_xml::NsReader::from_str(text);
    let mut depth = 0usize;
    let mut roots = 0usize;
    let mut in_win32_mtime = false;
    let mut win32_mtime = None;
    loop {
        let position = reader.buffer_position();
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("{e} (near byte {position})"))?;
        match event {
            Event::Start(e) => {
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
                if depth > 64 {
                    return Err("elements are nested more than 64 deep".into());
                }
                in_win32_mtime = is_ms(&ns) && e.local_name().as_ref() == "Win32LastModifiedTime";
            }
            Event::Empty(_) if depth == 0 => roots += 1,
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                in_win32_mtime = false;
            }
            Event::Text(t) if in_win32_mtime => {
                let value = t.into_inner();
                win32_mtime = httpdate::parse_http_date(value.trim())
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_millis() as i64);
            }
            Event::Text(t) if depth == 0 && !t.xml10_content().trim().is_empty() => {
                return Err("text outside the root element".into());
            }
            Event::GeneralRef(r) => {
                let name = r.into_inner();
                let known = matches!(&*name, "lt" | "gt" | "amp" | "quot" | "apos")
                    || name.starts_with('#');
                if !known {
                    return Err(format!("the entity &{name}; is not defined"));
                }
            }
            Event::DocType(_) => return Err("document type declarations are not accepted".into()),
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 {
        return Err("the document ends before its elements are closed".into());
    }
    if roots != 1 {
        return Err("a document needs exactly one root element".into());
    }
    Ok(win32_mtime)
}

fn is_ms(ns: &ResolveResult) -> bool {
    matches!(ns, ResolveResult::Bound(n) if n.as_ref() == MS_NAMESPACE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_xml_passes_and_yields_win32_mtime() {
        let body = br#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop><Z:Win32LastModifiedTime>Wed, 24 Jan 2024 10:00:00 GMT</Z:Win32LastModifiedTime></D:prop></D:set></D:propertyupdate>"#;
        assert_eq!(check_xml(body), Ok(Some(1_706_090_400_000)));
        assert_eq!(
            check_xml(br#"<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>"#),
            Ok(None)
        );
    }

    #[test]
    fn malformed_xml_is_refused_with_a_reason() {
        for bad in [
            &b"<a><b></a>"[..],
            b"<a>",
            b"not xml",
            b"<a/><b/>",
            b"<a>&undefined;</a>",
            b"\xff\xfe<a/>",
        ] {
            assert!(
                check_xml(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(check_xml(deep.as_bytes()).unwrap_err().contains("nested"));
    }

    #[test]
    fn oc_mtime_accepts_seconds_with_fractions() {
        assert_eq!(parse_oc_mtime("1700000000"), Some(1_700_000_000_000));
        assert_eq!(parse_oc_mtime("1700000000.5"), Some(1_700_000_000_500));
        assert_eq!(parse_oc_mtime("yesterday"), None);
        assert_eq!(parse_oc_mtime("-5"), None);
    }
}
