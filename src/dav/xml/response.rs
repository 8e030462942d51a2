//! Multistatus (RFC 4918 §13) and error bodies (§16), written with fixed prefixes.

use std::fmt::Write;

use http::StatusCode;

use super::names::{PREFIXES, PropName, prefix};
use crate::response::escape_into;

/// A multistatus being written.
pub struct Multistatus {
    out: String,
}

impl Default for Multistatus {
    fn default() -> Self {
        Self::new()
    }
}

impl Multistatus {
    /// Starts a multistatus with every known prefix declared.
    pub fn new() -> Self {
        let mut out = String::with_capacity(4096);
        out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus");
        for (p, uri) in PREFIXES {
            let _ = write!(out, " xmlns:{p}=\"{uri}\"");
        }
        out.push('>');
        Multistatus { out }
    }

    /// A response with properties: `found` (already written elements) under 200 and the
    /// names in `missing` under 404, each group only if non-empty.
    pub fn propstat(
        &mut self,
        href: &str,
        found: &str,
        missing: &[PropName],
        extra: &[(StatusCode, &str)],
    ) {
        self.begin(href);
        if !found.is_empty() {
            self.group(found, StatusCode::OK);
        }
        if !missing.is_empty() {
            let mut names = String::new();
            for name in missing {
                empty_element(&mut names, name);
            }
            self.group(&names, StatusCode::NOT_FOUND);
        }
        for (status, props) in extra {
            self.group(props, *status);
        }
        self.out.push_str("</D:response>");
    }

    /// A response that is only a status (a deleted member in a sync, a missing href).
    pub fn status(&mut self, href: &str, status: StatusCode) {
        self.begin(href);
        let _ = write!(
            self.out,
            "<D:status>{}</D:status></D:response>",
            status_line(status)
        );
    }

    /// The `DAV:sync-token` that closes a sync-collection answer.
    pub fn sync_token(&mut self, token: &str) {
        self.out.push_str("<D:sync-token>");
        escape_into(&mut self.out, token);
        self.out.push_str("</D:sync-token>");
    }

    /// The finished document.
    pub fn finish(mut self) -> String {
        self.out.push_str("</D:multistatus>\n");
        self.out
    }

    fn begin(&mut self, href: &str) {
        self.out.push_str("<D:response><D:href>");
        escape_into(&mut self.out, href);
        self.out.push_str("</D:href>");
    }

    fn group(&mut self, props: &str, status: StatusCode) {
        let _ = write!(
            self.out,
            "<D:propstat><D:prop>{props}</D:prop><D:status>{}</D:status></D:propstat>",
            status_line(status)
        );
    }
}

fn status_line(status: StatusCode) -> String {
    format!(
        "HTTP/1.1 {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
}

/// An empty element for a property name, declaring its namespace where it has no prefix.
pub fn empty_element(out: &mut String, name: &PropName) {
    match prefix(&name.ns) {
        Some(p) => {
            let _ = write!(out, "<{p}:");
            escape_into(out, &name.name);
            out.push_str("/>");
        }
        None if name.ns.is_empty() => {
            out.push('<');
            escape_into(out, &name.name);
            out.push_str(" xmlns=\"\"/>");
        }
        None => {
            out.push_str("<x:");
            escape_into(out, &name.name);
            out.push_str(" xmlns:x=\"");
            escape_into(out, &name.ns);
            out.push_str("\"/>");
        }
    }
}

/// An element with text content, for a property with a declared prefix.
pub fn text_element(out: &mut String, qualified: &str, text: &str) {
    let _ = write!(out, "<{qualified}>");
    escape_into(out, text);
    let _ = write!(out, "</{qualified}>");
}

/// An error body naming the precondition that failed (RFC 4918 §16), with a hint for
/// the user in `DAV:responsedescription`.
pub fn error_body(ns: &str, condition: &str, hint: &str, inner: &str) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:error");
    for (p, uri) in PREFIXES {
        let _ = write!(out, " xmlns:{p}=\"{uri}\"");
    }
    out.push('>');
    match prefix(ns) {
        Some(p) if inner.is_empty() => {
            let _ = write!(out, "<{p}:{condition}/>");
        }
        Some(p) => {
            let _ = write!(out, "<{p}:{condition}>{inner}</{p}:{condition}>");
        }
        None => {
            let _ = write!(out, "<x:{condition} xmlns:x=\"");
            escape_into(&mut out, ns);
            out.push_str("\"/>");
        }
    }
    out.push_str("<D:responsedescription>");
    escape_into(&mut out, hint);
    out.push_str("</D:responsedescription></D:error>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_hrefs_and_groups_statuses() {
        let mut ms = Multistatus::new();
        ms.propstat(
            "/dav/a&b<c>/",
            "<D:displayname>x</D:displayname>",
            &[PropName::new("urn:odd", "p\"q")],
            &[],
        );
        ms.status("/dav/gone.ics", StatusCode::NOT_FOUND);
        ms.sync_token("http://davgate.org/sync/7");
        let xml = ms.finish();
        assert!(xml.contains("<D:href>/dav/a&amp;b&lt;c&gt;/</D:href>"));
        assert!(xml.contains("<x:p&quot;q xmlns:x=\"urn:odd\"/>"));
        assert!(xml.contains("<D:status>HTTP/1.1 404 Not Found</D:status></D:response>"));
        assert!(
            xml.ends_with(
                "<D:sync-token>http://davgate.org/sync/7</D:sync-token></D:multistatus>\n"
            )
        );
        assert!(
            crate::dav::xml::tree::parse(xml.as_bytes()).is_ok(),
            "the output parses: {xml}"
        );
    }

    #[test]
    fn error_bodies_name_the_condition_and_escape_the_hint() {
        let body = error_body(
            "urn:ietf:params:xml:ns:caldav",
            "no-uid-conflict",
            "UID <x> is taken",
            "<D:href>/a.ics</D:href>",
        );
        assert!(body.contains("<C:no-uid-conflict><D:href>/a.ics</D:href></C:no-uid-conflict>"));
        assert!(body.contains("UID &lt;x&gt; is taken"));
        assert!(crate::dav::xml::tree::parse(body.as_bytes()).is_ok());
    }
}
