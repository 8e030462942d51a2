//! Dead property values: an element's children written back as a fragment that
//! declares every namespace it uses, so it can be stored alone and spliced into any
//! response later.
//!
//! Serializing sits here, above the reader, so the reader never needs this module.

use std::fmt;

use super::error::XmlError;
use super::escape::{Escape, escape};
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
