//! A small, bounded, namespace-aware element tree read from a request body.
//!
//! WebDAV request bodies are small (a PROPFIND, a filter, a list of hrefs); reading them
//! into a tree first makes the typed parsers in [`super::request`] and
//! [`super::report`] plain lookups. Depth and element count are bounded so hostile
//! input cannot exhaust the stack or memory.

use std::fmt::Write;

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

use super::XmlError;
use crate::response::escape_into;

/// Deepest nesting accepted.
const MAX_DEPTH: usize = 64;
/// Most elements accepted in one body.
const MAX_ELEMENTS: usize = 50_000;

/// One element: namespace URI ("" for none), local name, attributes, children, text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Namespace URI.
    pub ns: String,
    /// Local name.
    pub name: String,
    /// Attributes without a namespace (the only ones WebDAV uses), by local name.
    pub attrs: Vec<(String, String)>,
    /// Child elements in order.
    pub children: Vec<Element>,
    /// Concatenated character data directly inside this element.
    pub text: String,
}

impl Element {
    /// Whether this element is `{ns}name`.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    /// The first child `{ns}name`.
    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    /// Every child `{ns}name`.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    /// An attribute's value.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The text, trimmed.
    pub fn trimmed(&self) -> &str {
        self.text.trim()
    }

    /// The element as a self-contained XML fragment: every namespace it uses is declared
    /// on it, so it can be stored and embedded anywhere (dead properties).
    pub fn to_xml(&self) -> String {
        let mut namespaces: Vec<&str> = Vec::new();
        self.collect_namespaces(&mut namespaces);
        let mut out = String::new();
        self.write(&mut out, &namespaces, true);
        out
    }

    fn collect_namespaces<'a>(&'a self, into: &mut Vec<&'a str>) {
        if !self.ns.is_empty() && !into.contains(&self.ns.as_str()) {
            into.push(&self.ns);
        }
        for c in &self.children {
            c.collect_namespaces(into);
        }
    }

    fn write(&self, out: &mut String, namespaces: &[&str], root: bool) {
        let qname = match namespaces.iter().position(|n| *n == self.ns) {
            Some(i) => format!("x{i}:{}", self.name),
            None => self.name.clone(),
        };
        let _ = write!(out, "<{qname}");
        if root {
            for (i, ns) in namespaces.iter().enumerate() {
                let _ = write!(out, " xmlns:x{i}=\"");
                escape_into(out, ns);
                out.push('"');
            }
        }
        for (name, value) in &self.attrs {
            let _ = write!(out, " {name}=\"");
            escape_into(out, value);
            out.push('"');
        }
        if self.children.is_empty() && self.text.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        escape_into(out, &self.text);
        for c in &self.children {
            c.write(out, namespaces, false);
        }
        let _ = write!(out, "</{qname}>");
    }
}

/// Reads a whole document into its root element.
pub fn parse(body: &[u8]) -> Result<Element, XmlError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| XmlError::Malformed(format!("it is not UTF-8 ({e})")))?;
    let mut reader = quick_xml::NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let position = reader.buffer_position();
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| XmlError::Malformed(format!("{e} (near byte {position})")))?;
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(XmlError::Malformed("content after the root element".into()));
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XmlError::TooLarge(format!(
                        "more than {MAX_ELEMENTS} elements"
                    )));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooLarge(format!(
                        "elements nested more than {MAX_DEPTH} deep"
                    )));
                }
                let element = Element {
                    ns: namespace(&ns)?,
                    name: e.local_name().as_ref().to_owned(),
                    attrs: e
                        .attributes()
                        .filter_map(Result::ok)
                        .filter(|a| !a.key.as_ref().starts_with("xmlns"))
                        .map(|a| {
                            let name = a.key.local_name().as_ref().to_owned();
                            let value = a
                                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .map(|v| v.into_owned())
                                .unwrap_or_default();
                            (name, value)
                        })
                        .collect(),
                    children: Vec::new(),
                    text: String::new(),
                };
                if matches!(event, Event::Start(_)) {
                    stack.push(element);
                } else {
                    close(&mut stack, &mut root, element);
                }
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| XmlError::Malformed("an end tag without a start".into()))?;
                close(&mut stack, &mut root, element);
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => {
                        return Err(XmlError::Malformed("text outside the root element".into()));
                    }
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&c.into_inner());
                }
            }
            Event::GeneralRef(r) => {
                let name = r.into_inner();
                let ch = entity(&name).ok_or_else(|| {
                    XmlError::Malformed(format!("the entity &{name}; is not defined"))
                })?;
                if let Some(top) = stack.last_mut() {
                    top.text.push(ch);
                }
            }
            Event::DocType(_) => {
                return Err(XmlError::Malformed(
                    "document type declarations are not accepted".into(),
                ));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed(
            "the document ends before its elements are closed".into(),
        ));
    }
    root.ok_or_else(|| XmlError::Malformed("the body has no root element".into()))
}

fn close(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

fn namespace(ns: &ResolveResult) -> Result<String, XmlError> {
    match ns {
        ResolveResult::Bound(n) => Ok(n.as_ref().to_owned()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(p) => Err(XmlError::Malformed(format!(
            "the prefix {p:?} is not declared"
        ))),
    }
}

/// The five predefined entities and character references.
fn entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_namespaces_attributes_text_and_entities() {
        let root = parse(
            br#"<?xml version="1.0"?><D:a xmlns:D="DAV:" xmlns="urn:x"><b n="1 &amp; 2">x &lt; y&#65;<![CDATA[<raw>]]></b><D:c/></D:a>"#,
        )
        .unwrap();
        assert!(root.is("DAV:", "a"));
        let b = root.child("urn:x", "b").unwrap();
        assert_eq!(b.attr("n"), Some("1 & 2"));
        assert_eq!(b.text, "x < yA<raw>");
        assert!(root.child("DAV:", "c").is_some());
    }

    #[test]
    fn round_trips_a_fragment_with_its_namespaces() {
        let root = parse(br#"<p:prop xmlns:p="DAV:" xmlns:z="urn:z"><z:colour kind="a&quot;b">blue &amp; green<z:x/></z:colour></p:prop>"#).unwrap();
        let colour = &root.children[0];
        let xml = colour.to_xml();
        assert_eq!(
            xml,
            r#"<x0:colour xmlns:x0="urn:z" kind="a&quot;b">blue &amp; green<x0:x/></x0:colour>"#
        );
        assert_eq!(&parse(xml.as_bytes()).unwrap(), colour);
    }

    #[test]
    fn refuses_hostile_or_broken_input() {
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        let many = format!("<a>{}</a>", "<b/>".repeat(60_000));
        for bad in [
            &b"<a><b></a>"[..],
            b"<a>",
            b"",
            b"text",
            b"<a/><b/>",
            b"<a>&unknown;</a>",
            b"<x:a/>",
            b"<!DOCTYPE a [<!ENTITY e \"e\">]><a>&e;</a>",
            deep.as_bytes(),
            many.as_bytes(),
            b"\xff<a/>",
        ] {
            assert!(
                parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(&bad[..bad.len().min(40)])
            );
        }
    }
}
