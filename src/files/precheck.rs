//! What is checked and learned from a file request before its verb's module runs: the
//! rules that hold for every verb (the trash is read-only, no Depth infinity on
//! PROPFIND, no partial PUT, nothing copied into the trash), the facts an upload or a
//! download needs, and reading an XML body, bounded.

use bytes::Bytes;
use davgate_storage::{Account, TreeRoot};
use http::header;
use http::request::Parts;
use http_body_util::BodyExt;

use super::body::classify;
use super::errors::FilesError;
use crate::proto::Depth;
use crate::route::{Routed, Verb};
use crate::sendfile::FileRanges;

/// Largest XML request body read under /files/ and /trash/. File clients' PROPFIND,
/// PROPPATCH and LOCK bodies are a few KiB. /dav/ takes 1 MiB
/// (`crate::dav`) for multigets; the README states both.
pub(crate) const MAX_XML_BODY: usize = 64 * 1024;

/// A request that passed the checks, with what was learned from it.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    /// Largest upload allowed for this account.
    pub(crate) upload_limit: u64,
    /// Modification time requested by `X-OC-Mtime` (rclone, ownCloud clients).
    pub(crate) mtime_ms: Option<i64>,
    /// `Content-Type` of an upload.
    pub(crate) content_type: Option<String>,
    /// The connection's sendfile queue, when a GET may send straight from blob files.
    pub(crate) file_ranges: Option<FileRanges>,
}

/// Checks what the router left to the file room and learns the request facts.
pub(crate) fn prepare(
    parts: &Parts,
    routed: &Routed,
    tree: TreeRoot,
    account: &Account,
    default_limit: u64,
) -> Result<Prepared, FilesError> {
    let verb = routed.verb;
    if tree == TreeRoot::Trash && !trash_allows(verb) {
        return Err(FilesError::TrashReadOnly);
    }
    if verb == Verb::PropFind {
        match &routed.depth {
            Err(invalid) => return Err(FilesError::InvalidDepth(invalid.clone())),
            Ok(Some(Depth::Infinity)) => return Err(FilesError::InfiniteDepth),
            Ok(_) => {}
        }
    }
    if verb == Verb::Put && parts.headers.contains_key(header::CONTENT_RANGE) {
        return Err(FilesError::PartialPut);
    }
    let mut facts = Prepared {
        upload_limit: account.upload_limit_bytes.unwrap_or(default_limit),
        file_ranges: (verb == Verb::Get)
            .then(|| parts.extensions.get::<FileRanges>().cloned())
            .flatten(),
        ..Prepared::default()
    };
    if verb == Verb::Put {
        facts.mtime_ms = header_text(parts, "x-oc-mtime").and_then(parse_oc_mtime);
        facts.content_type = header_text(parts, "content-type").map(str::to_owned);
    }
    if let Some(dest) = &routed.destination
        && tree == TreeRoot::Files
        && dest.tree == Some(TreeRoot::Trash)
    {
        return Err(FilesError::IntoTrash);
    }
    Ok(facts)
}

/// The methods the trash answers.
fn trash_allows(verb: Verb) -> bool {
    matches!(
        verb,
        Verb::Options | Verb::Get | Verb::Head | Verb::PropFind | Verb::Delete | Verb::Move
    )
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

/// Reads an XML request body, bounded: the verb's parser in [`crate::proto`] reads it
/// once, and a body that is not well-formed XML is refused there with the reason.
pub(crate) async fn read_xml<B>(body: B) -> Result<Bytes, FilesError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let limited = http_body_util::Limited::new(body, MAX_XML_BODY);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(FilesError::XmlTooLarge {
            limit: MAX_XML_BODY,
        }),
        Err(e) => Err(FilesError::BodyFailed(classify(&*e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oc_mtime_accepts_seconds_with_fractions() {
        assert_eq!(parse_oc_mtime("1700000000"), Some(1_700_000_000_000));
        assert_eq!(parse_oc_mtime("1700000000.5"), Some(1_700_000_000_500));
        assert_eq!(parse_oc_mtime("yesterday"), None);
        assert_eq!(parse_oc_mtime("-5"), None);
    }
}
