//! A `D:multistatus` streamed out in pieces, for listings of thousands of entries (a file
//! folder): the caller writes each response's property elements itself into a reused
//! buffer, this writes the document frame, the href and the propstats, and the caller
//! takes the text written so far ([`MultistatusStream::take`]) whenever it holds a
//! [`PIECE_LEN`], to send it while the next piece is written.
//!
//! Unlike [`super::Multistatus`], nothing is kept per response, and the root declares
//! the caller's prefixes (file listings use ownCloud's, Nextcloud's and Microsoft's
//! namespaces, not CalDAV's). Both write the response frame with the functions at the
//! end of this file, so the two rooms' multistatus bodies cannot drift apart.

use std::fmt::Write;

use super::super::escape::{Escape, escape};
use super::super::href::encode_path_into;
use super::super::status::Status;

/// How much text a streamed multistatus is sent in: large enough that a piece costs
/// little beyond its bytes, small enough that a listing holds next to nothing.
pub const PIECE_LEN: usize = 64 * 1024;

/// A piece's buffer: one entry may overshoot [`PIECE_LEN`] before the piece is taken.
const PIECE_CAPACITY: usize = PIECE_LEN + PIECE_LEN / 4;

/// A multistatus being streamed.
#[derive(Debug)]
pub struct MultistatusStream {
    out: String,
    /// Scratch for one href, reused for every response.
    href: String,
}

impl MultistatusStream {
    /// Starts the document, declaring `prefixes` (which must bind `D` to `DAV:`) on
    /// the root.
    pub fn new(prefixes: &[(&str, &str)]) -> Self {
        let mut out = String::with_capacity(PIECE_CAPACITY);
        out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus");
        for (prefix, uri) in prefixes {
            let _ = write!(out, " xmlns:{prefix}=\"");
            escape(uri, Escape::Attribute, &mut out);
            out.push('"');
        }
        out.push('>');
        Self {
            out,
            href: String::new(),
        }
    }

    /// Opens a `D:response` for a resource by its decoded path; a collection's path
    /// ends in `/`.
    pub fn open_response(&mut self, path: &str) {
        open_response(&mut self.out, &mut self.href, path);
    }

    /// A `D:propstat` holding `props` (already-written property elements) under
    /// `status`; nothing when `props` is empty.
    pub fn propstat(&mut self, status: Status, props: &str) {
        if props.is_empty() {
            return;
        }
        self.out.push_str("<D:propstat><D:prop>");
        self.out.push_str(props);
        self.out.push_str("</D:prop><D:status>");
        status.write_line(&mut self.out);
        self.out.push_str("</D:status></D:propstat>");
    }

    /// Closes the `D:response`.
    pub fn close_response(&mut self) {
        self.out.push_str("</D:response>");
    }

    /// Closes the document; what is written after this is not part of it.
    pub fn close(&mut self) {
        self.out.push_str("</D:multistatus>\n");
    }

    /// How much text was written since the last [`Self::take`].
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether nothing was written since the last [`Self::take`].
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// The text written since the last take, to be sent; writing goes on into a new
    /// buffer.
    pub fn take(&mut self) -> String {
        std::mem::replace(&mut self.out, String::with_capacity(PIECE_CAPACITY))
    }

    /// Closes the document and returns what was written since the last take.
    pub fn finish(mut self) -> String {
        self.close();
        self.out
    }
}

/// `<D:response><D:href>…</D:href>`: the decoded `path` percent-encoded once (in
/// `scratch`, reused across responses) and escaped.
pub(super) fn open_response(out: &mut String, scratch: &mut String, path: &str) {
    scratch.clear();
    encode_path_into(scratch, path);
    out.push_str("<D:response><D:href>");
    escape(scratch, Escape::Text, out);
    out.push_str("</D:href>");
}

/// `<D:propstat>` holding `props` (written property elements; none gives an empty
/// `D:prop`) under `status`.
pub(super) fn propstat(out: &mut String, status: Status, props: &str) {
    if props.is_empty() {
        out.push_str("<D:propstat><D:prop/>");
    } else {
        out.push_str("<D:propstat><D:prop>");
        out.push_str(props);
        out.push_str("</D:prop>");
    }
    out.push_str("<D:status>");
    status.write_line(out);
    out.push_str("</D:status></D:propstat>");
}

/// `<D:status>` of a response that has no propstat.
pub(super) fn status(out: &mut String, status: Status) {
    out.push_str("<D:status>");
    status.write_line(out);
    out.push_str("</D:status>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::reader::{Limits, parse_document};

    #[test]
    fn writes_a_well_formed_listing_with_encoded_hrefs() {
        let prefixes = [("D", "DAV:"), ("oc", "http://owncloud.org/ns")];
        let mut ms = MultistatusStream::new(&prefixes);
        ms.open_response("/files/a b+c&d/");
        ms.propstat(Status::OK, "<oc:fileid>7</oc:fileid>");
        ms.propstat(Status::NOT_FOUND, "");
        ms.propstat(Status::NOT_FOUND, "<D:getetag/>");
        ms.close_response();
        let xml = ms.finish();
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\" \
             xmlns:oc=\"http://owncloud.org/ns\"><D:response><D:href>/files/a%20b%2Bc%26d/</D:href>\
             <D:propstat><D:prop><oc:fileid>7</oc:fileid></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>\
             <D:propstat><D:prop><D:getetag/></D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>\
             </D:response></D:multistatus>\n"
        );
        parse_document(xml.as_bytes(), &Limits::DEFAULT).unwrap();
    }
}
