//! Dead property values: an element's children written back as a fragment that
//! declares every namespace it uses, so it can be stored alone and spliced into any
//! response later.
//!
//! Serializing sits here, above the reader, so the reader never needs this module.

use std::fmt;

use super::error::XmlError;
use super::escape::{Escape, escape};
use super::names::Property;
use super::reader::{Element, Limits, Node, parse_document, qualified};

/// Inner XML of an element as a self-contained fragment: every prefix it uses is
/// declared inside it, so it is valid wherever the surrounding document declares no
/// default namespace (our writers never do).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct RawXml(String);

impl RawXml {
    /// Validates and canonicalizes a stored fragment (for example a dead property
    /// value read back from the database) so it can be written into a response.
    pub fn from_fragment(fragment: &str, limits: &Limits) -> Result<Self, XmlError> {
        let wrapped = format!("<davgate-fragment>{fragment}</davgate-fragment>");
        Ok(parse_document(wrapped.as_bytes(), limits)?.inner_xml())
    }

    /// The fragment text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The fragment bytes (UTF-8).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Whether the fragment is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The fragment as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for RawXml {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawXml({:?})", self.0)
    }
}

impl Element {
    /// The children re-serialized as a self-contained fragment.
    pub fn inner_xml(&self) -> RawXml {
        serialize(&self.children)
    }
}

/// The nodes as a fragment; the output scope starts empty, so nothing outside is relied on.
fn serialize(nodes: &[Node]) -> RawXml {
    let mut out = String::new();
    let mut scope = Vec::new();
    for node in nodes {
        write_node(node, &mut scope, &mut out);
    }
    RawXml(out)
}

/// Writes a node, declaring each prefix (and the default namespace) where the output
/// so far does not already bind it to the same URI. `scope` starts empty: the fragment
/// must not rely on anything outside it.
fn write_node<'a>(node: &'a Node, scope: &mut Vec<(Option<&'a str>, &'a str)>, out: &mut String) {
    let element = match node {
        Node::Text(text) => return escape(text, Escape::Text, out),
        Node::Element(element) => element,
    };
    let mark = scope.len();
    let mut declarations: Vec<(Option<&str>, &str)> = Vec::new();
    let mut need =
        |prefix: Option<&'a str>, uri: &'a str, scope: &mut Vec<(Option<&'a str>, &'a str)>| {
            if prefix == Some("xml") {
                return;
            }
            let current = scope
                .iter()
                .rev()
                .find(|(p, _)| *p == prefix)
                .map_or("", |(_, u)| *u);
            if current != uri {
                scope.push((prefix, uri));
                declarations.push((prefix, uri));
            }
        };
    need(element.prefix.as_deref(), element.namespace.uri(), scope);
    for attribute in &element.attributes {
        if let Some(prefix) = attribute.prefix.as_deref() {
            need(Some(prefix), attribute.namespace.uri(), scope);
        }
    }
    let name = qualified(element);
    out.push('<');
    out.push_str(&name);
    for (prefix, uri) in declarations {
        match prefix {
            Some(p) => {
                out.push_str(" xmlns:");
                out.push_str(p);
            }
            None => out.push_str(" xmlns"),
        }
        out.push_str("=\"");
        escape(uri, Escape::Attribute, out);
        out.push('"');
    }
    for attribute in &element.attributes {
        out.push(' ');
        if let Some(prefix) = &attribute.prefix {
            out.push_str(prefix);
            out.push(':');
        }
        out.push_str(&attribute.name);
        out.push_str("=\"");
        escape(&attribute.value, Escape::Attribute, out);
        out.push('"');
    }
    if element.children.is_empty() {
        out.push_str("/>");
    } else {
        out.push('>');
        for child in &element.children {
            write_node(child, scope, out);
        }
        out.push_str("</");
        out.push_str(&name);
        out.push('>');
    }
    scope.truncate(mark);
}

/// A stored fragment (a file's dead property, a lock owner) as it can be spliced into
/// a response: it declares its own namespaces, so only an XML declaration in front of
/// it (older rows carry one) must go.
pub fn embeddable(xml: &[u8]) -> &str {
    let text = std::str::from_utf8(xml).unwrap_or_default().trim_start();
    match text.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map_or("", |(_, body)| body.trim_start()),
        None => text,
    }
}

/// A whole property element around its stored value, self-contained: how a file's dead
/// property is kept, so a listing splices it in as it is. `lang` is the `xml:lang` the
/// client gave it (RFC 4918 §4.3 asks us to keep it).
pub fn property_element(property: &Property, lang: Option<&str>, value: &RawXml) -> RawXml {
    let namespace = property.namespace();
    let uri = namespace.uri();
    // Never a default namespace: `value` may hold unprefixed elements in no namespace.
    let prefix = match namespace.prefix() {
        _ if uri.is_empty() => None,
        Some(prefix) => Some(prefix),
        None => Some("X"),
    };
    let mut name = String::new();
    if let Some(prefix) = prefix {
        name.push_str(prefix);
        name.push(':');
    }
    name.push_str(property.local_name());
    let mut out = String::from("<");
    out.push_str(&name);
    if let Some(prefix) = prefix {
        out.push_str(" xmlns:");
        out.push_str(prefix);
        out.push_str("=\"");
        escape(uri, Escape::Attribute, &mut out);
        out.push('"');
    }
    if let Some(lang) = lang {
        out.push_str(" xml:lang=\"");
        escape(lang, Escape::Attribute, &mut out);
        out.push('"');
    }
    if value.is_empty() {
        out.push_str("/>");
    } else {
        out.push('>');
        out.push_str(value.as_str());
        out.push_str("</");
        out.push_str(&name);
        out.push('>');
    }
    RawXml(out)
}

#[cfg(test)]
mod property_element_tests {
    use super::*;

    fn stored(body: &str) -> String {
        let doc = format!(r#"<r xmlns:D="DAV:">{body}</r>"#);
        let root = parse_document(doc.as_bytes(), &Limits::DEFAULT).unwrap();
        let element = root.elements().next().unwrap();
        let property = Property::from_parts(element.namespace.clone(), &element.name);
        property_element(&property, element.lang(), &element.inner_xml()).into_string()
    }

    #[test]
    fn a_stored_property_stands_alone_and_parses_back() {
        let table = [
            (
                r#"<Z:colour xmlns:Z="urn:x">blue &amp; green</Z:colour>"#,
                r#"<X:colour xmlns:X="urn:x">blue &amp; green</X:colour>"#,
            ),
            (r#"<Z:e xmlns:Z="urn:x"/>"#, r#"<X:e xmlns:X="urn:x"/>"#),
            (r#"<nons xmlns="">v<a/></nons>"#, "<nons>v<a/></nons>"),
            (
                r#"<D:displayname xml:lang="en">Hi</D:displayname>"#,
                r#"<D:displayname xmlns:D="DAV:" xml:lang="en">Hi</D:displayname>"#,
            ),
            (
                r#"<Z:p xmlns:Z="urn:x"><v xmlns="urn:y">1</v></Z:p>"#,
                r#"<X:p xmlns:X="urn:x"><v xmlns="urn:y">1</v></X:p>"#,
            ),
        ];
        for (sent, want) in table {
            let got = stored(sent);
            assert_eq!(got, want, "{sent}");
            let back = parse_document(got.as_bytes(), &Limits::DEFAULT).unwrap();
            assert!(!back.namespace.is_none() || back.name == "nons");
        }
    }
}
