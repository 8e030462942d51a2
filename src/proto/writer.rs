//! The low-level writer: fixed prefixes, the one escaping helper, nothing else.
//!
//! Known namespaces always use the prefixes the document root declares (`D:`, `C:`,
//! `CR:`, `CS:`, `ICAL:`). Any other namespace is declared on the element that uses it.
//! No default namespace is ever declared, which is what makes [`RawXml`] fragments
//! safe to splice in anywhere.

use std::borrow::Cow;

use super::escape::{Escape, escape, is_ncname};
use super::names::Namespace;
use super::raw::RawXml;

/// Our own namespace, for the human-readable hint in error bodies.
pub const DAVGATE_NAMESPACE: &str = "http://davgate.org/ns";

/// The namespaces every document root declares, in writing order.
const ROOT_NAMESPACES: [Namespace; 5] = [
    Namespace::Dav,
    Namespace::CalDav,
    Namespace::CardDav,
    Namespace::CalendarServer,
    Namespace::AppleIcal,
];

/// Streams XML into a string with fixed prefixes.
#[derive(Debug, Default, Clone)]
pub struct XmlWriter {
    out: String,
}

impl XmlWriter {
    /// An empty writer (for a fragment).
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer with the XML declaration and the root start tag written, declaring
    /// every fixed prefix.
    pub(crate) fn document(root: &Namespace, name: &str) -> Self {
        let mut w = Self::new();
        w.out
            .push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<");
        w.push_name(root, name);
        for ns in &ROOT_NAMESPACES {
            // The table only holds namespaces that have a prefix.
            let prefix = ns.prefix().unwrap_or("D");
            w.declare(prefix, ns.uri());
        }
        w.out.push('>');
        w
    }

    /// `<p:name>`.
    pub fn open(&mut self, ns: &Namespace, name: &str) {
        self.open_with(ns, name, &[]);
    }

    /// `<p:name a="v" …>`; attribute names are unprefixed.
    pub fn open_with(&mut self, ns: &Namespace, name: &str, attributes: &[(&str, &str)]) {
        self.start_tag(ns, name, attributes);
        self.out.push('>');
    }

    /// `</p:name>`.
    pub fn close(&mut self, ns: &Namespace, name: &str) {
        self.out.push_str("</");
        self.push_name(ns, name);
        self.out.push('>');
    }

    /// `<p:name/>`.
    pub fn empty(&mut self, ns: &Namespace, name: &str) {
        self.empty_with(ns, name, &[]);
    }

    /// `<p:name a="v" …/>`.
    pub fn empty_with(&mut self, ns: &Namespace, name: &str, attributes: &[(&str, &str)]) {
        self.start_tag(ns, name, attributes);
        self.out.push_str("/>");
    }

    /// Escaped text.
    pub fn text(&mut self, text: &str) {
        escape(text, Escape::Text, &mut self.out);
    }

    /// `<p:name>text</p:name>`, or `<p:name/>` for empty text.
    pub fn text_element(&mut self, ns: &Namespace, name: &str, text: &str) {
        if text.is_empty() {
            return self.empty(ns, name);
        }
        self.open(ns, name);
        self.text(text);
        self.close(ns, name);
    }

    /// A fragment produced by our reader (self-contained by construction).
    pub fn raw(&mut self, raw: &RawXml) {
        self.out.push_str(raw.as_str());
    }

    /// The buffer itself, for the multistatus frame (`super::response`), which writes
    /// its fixed `D:` markup directly.
    pub(crate) fn buffer(&mut self) -> &mut String {
        &mut self.out
    }

    /// The XML written so far.
    pub fn as_str(&self) -> &str {
        &self.out
    }

    /// The finished bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.out.into_bytes()
    }

    /// The finished text.
    pub fn into_string(self) -> String {
        self.out
    }

    fn start_tag(&mut self, ns: &Namespace, name: &str, attributes: &[(&str, &str)]) {
        self.out.push('<');
        self.push_name(ns, name);
        if let Some((prefix, uri)) = local_declaration(ns) {
            self.declare(prefix, uri);
        }
        for (key, value) in attributes {
            self.out.push(' ');
            self.out.push_str(&safe_name(key));
            self.out.push_str("=\"");
            escape(value, Escape::Attribute, &mut self.out);
            self.out.push('"');
        }
    }

    fn push_name(&mut self, ns: &Namespace, name: &str) {
        if let Some(prefix) = prefix_of(ns) {
            self.out.push_str(prefix);
            self.out.push(':');
        }
        self.out.push_str(&safe_name(name));
    }

    fn declare(&mut self, prefix: &str, uri: &str) {
        self.out.push_str(" xmlns:");
        self.out.push_str(prefix);
        self.out.push_str("=\"");
        escape(uri, Escape::Attribute, &mut self.out);
        self.out.push('"');
    }
}

/// `<p:local/>` for a name given by namespace URI, appended to `out`, for writers that
/// stream into one buffer with their own root prefixes (see
/// [`super::response::MultistatusStream`]): `p` is the prefix `prefixes` binds to `uri`;
/// any other namespace is declared on the element itself, and "no namespace" gets
/// `xmlns=""` (no default namespace is ever declared, so that is always right).
pub fn empty_element_in(out: &mut String, prefixes: &[(&str, &str)], uri: &str, local: &str) {
    let local = safe_name(local);
    out.push('<');
    if let Some((prefix, _)) = prefixes.iter().find(|(_, declared)| *declared == uri) {
        out.push_str(prefix);
        out.push(':');
        out.push_str(&local);
    } else if uri.is_empty() {
        out.push_str(&local);
        out.push_str(" xmlns=\"\"");
    } else {
        out.push_str("X:");
        out.push_str(&local);
        out.push_str(" xmlns:X=\"");
        escape(uri, Escape::Attribute, out);
        out.push('"');
    }
    out.push_str("/>");
}

/// The prefix an element of this namespace is written with (`None`: no namespace).
fn prefix_of(ns: &Namespace) -> Option<&'static str> {
    match ns {
        Namespace::Other(uri) if uri.is_empty() => None,
        Namespace::Other(uri) if uri == DAVGATE_NAMESPACE => Some("DG"),
        Namespace::Other(_) => Some("X"),
        known => known.prefix(),
    }
}

/// The declaration an element needs on itself: every namespace outside the fixed
/// five (ours included, since a dead property may use it in any document), each time
/// (a nested one simply shadows the outer binding until its end tag).
fn local_declaration(ns: &Namespace) -> Option<(&'static str, &str)> {
    match ns {
        Namespace::Other(uri) if !uri.is_empty() => {
            prefix_of(ns).map(|prefix| (prefix, uri.as_str()))
        }
        _ => None,
    }
}

/// Names come from our own code or from parsed (hence valid) requests; a dead
/// property name read back from storage is the one way a bad name could arrive, and
/// it must not be able to break the document, so invalid characters become `_`.
fn safe_name(name: &str) -> Cow<'_, str> {
    if is_ncname(name) {
        return Cow::Borrowed(name);
    }
    let mut fixed: String = name
        .chars()
        .map(|c| if is_ncname(&format!("a{c}")) { c } else { '_' })
        .collect();
    if !is_ncname(&fixed) {
        fixed.insert(0, '_');
    }
    Cow::Owned(fixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_namespaces_are_declared_where_used() {
        let mut w = XmlWriter::new();
        let foreign = Namespace::Other("urn:x:\"quoted\"".into());
        w.open(&foreign, "a");
        w.empty(&Namespace::Dav, "b");
        w.empty(&Namespace::Other(String::new()), "c");
        w.close(&foreign, "a");
        assert_eq!(
            w.as_str(),
            "<X:a xmlns:X=\"urn:x:&quot;quoted&quot;\"><D:b/><c/></X:a>"
        );
    }

    #[test]
    fn our_namespace_is_declared_where_used_too() {
        let mut w = XmlWriter::new();
        w.text_element(&Namespace::Other(DAVGATE_NAMESPACE.into()), "hint", "x");
        assert_eq!(
            w.as_str(),
            "<DG:hint xmlns:DG=\"http://davgate.org/ns\">x</DG:hint>"
        );
    }

    #[test]
    fn hostile_names_cannot_break_the_document() {
        let mut w = XmlWriter::new();
        w.empty_with(
            &Namespace::Other("urn:x".into()),
            "a\"><script>",
            &[("on\"x", "1")],
        );
        assert_eq!(w.as_str(), "<X:a___script_ xmlns:X=\"urn:x\" on_x=\"1\"/>");
        assert_eq!(safe_name("1abc"), "_1abc");
        assert_eq!(safe_name(""), "_");
    }

    #[test]
    fn streamed_empty_elements_use_the_root_prefixes_or_declare_their_own() {
        let prefixes = [("D", "DAV:"), ("oc", "http://owncloud.org/ns")];
        let mut out = String::new();
        empty_element_in(&mut out, &prefixes, "http://owncloud.org/ns", "fileid");
        empty_element_in(&mut out, &prefixes, "", "plain");
        empty_element_in(&mut out, &prefixes, "urn:x\"", "a b");
        assert_eq!(
            out,
            "<oc:fileid/><plain xmlns=\"\"/><X:a_b xmlns:X=\"urn:x&quot;\"/>"
        );
    }

    #[test]
    fn text_elements_collapse_when_empty() {
        let mut w = XmlWriter::new();
        w.text_element(&Namespace::Dav, "displayname", "");
        w.text_element(&Namespace::Dav, "displayname", "a<b");
        assert_eq!(
            w.as_str(),
            "<D:displayname/><D:displayname>a&lt;b</D:displayname>"
        );
    }
}
