//! Bytes → a small namespace-resolved element tree, with hard bounds on hostile input.
//!
//! quick-xml tokenizes; this module resolves prefixes itself (default namespaces,
//! redeclarations, `xmlns=""`), keeps each element's original prefix so a dead
//! property can be written back faithfully (`Element::inner_xml`, in [`super::raw`]), and stops at the
//! first passed [`Limits`] bound. The tree is built with an explicit stack, so no input
//! can recurse; depth is bounded before anything recursive (drop, inner_xml) runs.

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use super::error::{Limit, XmlError};
use super::escape::{is_forbidden, is_ncname};
use super::names::Namespace;

/// The namespace the `xml:` prefix is bound to by definition.
const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";

/// Bounds on what one request body may cost to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of the body; checked before parsing starts.
    pub max_input_bytes: usize,
    /// Element nesting depth (the root is depth 1).
    pub max_depth: usize,
    /// Elements in the whole document.
    pub max_elements: usize,
    /// Bytes of text directly inside one element.
    pub max_text_bytes: usize,
    /// Attributes (namespace declarations included) on one element.
    pub max_attributes: usize,
}

impl Limits {
    /// Generous for every real client body we have seen (the largest are multigets of a
    /// few hundred hrefs and MKCALENDARs carrying a VTIMEZONE), small enough that a
    /// hostile body costs a few MiB at most.
    pub const DEFAULT: Self = Self {
        max_input_bytes: 1024 * 1024,
        max_depth: 64,
        max_elements: 20_000,
        max_text_bytes: 256 * 1024,
        max_attributes: 64,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// An element with its name resolved to a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// The resolved namespace (`Other("")` when it has none).
    pub namespace: Namespace,
    /// The local name.
    pub name: String,
    /// The prefix it was written with, kept only to re-serialize faithfully.
    pub(crate) prefix: Option<String>,
    /// Its attributes, namespace declarations excluded.
    pub attributes: Vec<Attribute>,
    /// Child elements and text, in document order; adjacent text is merged.
    pub children: Vec<Node>,
}

/// An attribute with its name resolved (unprefixed attributes have no namespace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The resolved namespace (`Other("")` for an unprefixed attribute).
    pub namespace: Namespace,
    /// The local name.
    pub name: String,
    pub(crate) prefix: Option<String>,
    /// The value, entities resolved.
    pub value: String,
}

/// A child of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Text (and CDATA), entities resolved, line ends normalized.
    Text(String),
}

/// Parses a whole document into its root element.
pub fn parse_document(body: &[u8], limits: &Limits) -> Result<Element, XmlError> {
    if body.len() > limits.max_input_bytes {
        return Err(XmlError::LimitExceeded {
            limit: Limit::InputBytes,
            max: limits.max_input_bytes,
        });
    }
    // Windows clients and some editors prefix a UTF-8 byte order mark.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = std::str::from_utf8(body).map_err(|e| {
        XmlError::malformed_at(body, e.valid_up_to(), "the body is not valid UTF-8")
    })?;
    if text.trim().is_empty() {
        return Err(XmlError::EmptyBody);
    }
    let mut reader = Reader::from_str(text);
    let mut tree = TreeBuilder::new(body, limits);
    loop {
        let offset = position(reader.buffer_position());
        let event = reader.read_event().map_err(|e| {
            XmlError::malformed_at(body, position(reader.error_position()), e.to_string())
        })?;
        match event {
            Event::Start(start) => tree.open(&start, offset)?,
            Event::Empty(start) => {
                tree.open(&start, offset)?;
                tree.close(offset)?;
            }
            Event::End(_) => tree.close(offset)?,
            Event::Text(text) => tree.text(&text.xml10_content(), offset)?,
            Event::CData(cdata) => tree.text(&cdata.xml10_content(), offset)?,
            Event::GeneralRef(reference) => tree.reference(&reference, offset)?,
            Event::Decl(_) if tree.started() => {
                return Err(tree.malformed(offset, "an XML declaration after the start"));
            }
            // Entity declarations are the one way XML can make a small body expand;
            // no DAV client sends a DOCTYPE, so refuse them outright.
            Event::DocType(_) => {
                return Err(tree.malformed(offset, "a DOCTYPE is not allowed"));
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => return tree.finish(),
        }
    }
}

fn position(offset: u64) -> usize {
    usize::try_from(offset).unwrap_or(usize::MAX)
}

/// A prefix → URI binding in scope (`None` is the default namespace).
struct Binding {
    prefix: Option<String>,
    uri: String,
}

struct Open {
    element: Element,
    /// Length of the binding stack before this element's declarations.
    bindings_mark: usize,
    text_bytes: usize,
}

struct TreeBuilder<'a> {
    input: &'a [u8],
    limits: &'a Limits,
    stack: Vec<Open>,
    bindings: Vec<Binding>,
    elements: usize,
    root: Option<Element>,
}

impl<'a> TreeBuilder<'a> {
    fn new(input: &'a [u8], limits: &'a Limits) -> Self {
        Self {
            input,
            limits,
            stack: Vec::new(),
            bindings: Vec::new(),
            elements: 0,
            root: None,
        }
    }

    fn started(&self) -> bool {
        self.root.is_some() || !self.stack.is_empty()
    }

    fn malformed(&self, offset: usize, reason: impl Into<String>) -> XmlError {
        XmlError::malformed_at(self.input, offset, reason)
    }

    fn exceeded(limit: Limit, max: usize) -> XmlError {
        XmlError::LimitExceeded { limit, max }
    }

    fn open(&mut self, start: &BytesStart<'_>, offset: usize) -> Result<(), XmlError> {
        if self.root.is_some() {
            return Err(self.malformed(offset, "a second element after the root element"));
        }
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(Self::exceeded(Limit::Elements, self.limits.max_elements));
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(Self::exceeded(Limit::Depth, self.limits.max_depth));
        }
        let bindings_mark = self.bindings.len();
        let mut plain = Vec::new();
        for (count, attribute) in start.attributes().enumerate() {
            if count >= self.limits.max_attributes {
                return Err(Self::exceeded(
                    Limit::Attributes,
                    self.limits.max_attributes,
                ));
            }
            let attribute = attribute.map_err(|e| self.malformed(offset, e.to_string()))?;
            let value = attribute
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| self.malformed(offset, e.to_string()))?;
            // Attribute values count against the text bound too: a 1 MiB `name="…"`
            // is as hostile as 1 MiB of element text.
            if value.len() > self.limits.max_text_bytes {
                return Err(Self::exceeded(Limit::TextBytes, self.limits.max_text_bytes));
            }
            if let Some(at) = forbidden_char(&value) {
                return Err(self.malformed(offset, format!("attribute value has {at}")));
            }
            let key = attribute.key.0;
            if key == "xmlns" {
                self.bind(None, &value, offset)?;
            } else if let Some(prefix) = key.strip_prefix("xmlns:") {
                self.bind(Some(prefix), &value, offset)?;
            } else {
                plain.push((key.to_owned(), value.into_owned()));
            }
        }
        let (prefix, name) = split_qname(start.name().0).ok_or_else(|| {
            self.malformed(
                offset,
                format!("{:?} is not a valid element name", start.name().0),
            )
        })?;
        let namespace = self.resolve(prefix, true, offset)?;
        let mut attributes = Vec::with_capacity(plain.len());
        for (key, value) in plain {
            let (prefix, name) = split_qname(&key).ok_or_else(|| {
                self.malformed(offset, format!("{key:?} is not a valid attribute name"))
            })?;
            attributes.push(Attribute {
                namespace: self.resolve(prefix, false, offset)?,
                name: name.to_owned(),
                prefix: prefix.map(str::to_owned),
                value,
            });
        }
        self.stack.push(Open {
            element: Element {
                namespace,
                name: name.to_owned(),
                prefix: prefix.map(str::to_owned),
                attributes,
                children: Vec::new(),
            },
            bindings_mark,
            text_bytes: 0,
        });
        Ok(())
    }

    fn bind(&mut self, prefix: Option<&str>, uri: &str, offset: usize) -> Result<(), XmlError> {
        match prefix {
            Some("xmlns") => {
                return Err(self.malformed(offset, "the xmlns prefix cannot be declared"));
            }
            Some("xml") if uri != XML_NAMESPACE => {
                return Err(self.malformed(offset, "the xml prefix cannot be rebound"));
            }
            Some(p) if !is_ncname(p) => {
                return Err(self.malformed(offset, format!("{p:?} is not a valid prefix")));
            }
            // Namespaces in XML 1.0 §3: only the default namespace may be undeclared.
            Some(p) if uri.is_empty() => {
                return Err(
                    self.malformed(offset, format!("prefix {p:?} is bound to an empty URI"))
                );
            }
            _ => {}
        }
        self.bindings.push(Binding {
            prefix: prefix.map(str::to_owned),
            uri: uri.to_owned(),
        });
        Ok(())
    }

    /// The namespace of a prefix; unprefixed attributes never take the default one.
    fn resolve(
        &self,
        prefix: Option<&str>,
        is_element: bool,
        offset: usize,
    ) -> Result<Namespace, XmlError> {
        if prefix.is_none() && !is_element {
            return Ok(Namespace::Other(String::new()));
        }
        if prefix == Some("xml") {
            return Ok(Namespace::from_uri(XML_NAMESPACE));
        }
        let bound = self
            .bindings
            .iter()
            .rev()
            .find(|b| b.prefix.as_deref() == prefix)
            .map(|b| b.uri.as_str());
        match (bound, prefix) {
            (Some(uri), _) => Ok(Namespace::from_uri(uri)),
            (None, None) => Ok(Namespace::Other(String::new())),
            (None, Some(p)) => {
                Err(self.malformed(offset, format!("namespace prefix {p:?} is not declared")))
            }
        }
    }

    fn close(&mut self, offset: usize) -> Result<(), XmlError> {
        let Some(open) = self.stack.pop() else {
            return Err(self.malformed(offset, "an end tag without a start tag"));
        };
        self.bindings.truncate(open.bindings_mark);
        match self.stack.last_mut() {
            Some(parent) => parent.element.children.push(Node::Element(open.element)),
            None => self.root = Some(open.element),
        }
        Ok(())
    }

    fn text(&mut self, text: &str, offset: usize) -> Result<(), XmlError> {
        let Some(open) = self.stack.last_mut() else {
            if text.trim().is_empty() {
                return Ok(());
            }
            return Err(self.malformed(offset, "text outside the root element"));
        };
        open.text_bytes = open.text_bytes.saturating_add(text.len());
        if open.text_bytes > self.limits.max_text_bytes {
            return Err(Self::exceeded(Limit::TextBytes, self.limits.max_text_bytes));
        }
        if let Some(at) = forbidden_char(text) {
            return Err(self.malformed(offset, format!("text has {at}")));
        }
        match open.element.children.last_mut() {
            Some(Node::Text(last)) => last.push_str(text),
            _ => open.element.children.push(Node::Text(text.to_owned())),
        }
        Ok(())
    }

    /// `&name;` and `&#N;` in text: quick-xml reports them apart from the text.
    fn reference(&mut self, reference: &BytesRef<'_>, offset: usize) -> Result<(), XmlError> {
        let resolved = match reference.resolve_char_ref() {
            Ok(Some(c)) => c,
            Ok(None) => match &**reference {
                "lt" => '<',
                "gt" => '>',
                "amp" => '&',
                "apos" => '\'',
                "quot" => '"',
                other => return Err(self.malformed(offset, format!("unknown entity &{other};"))),
            },
            Err(e) => return Err(self.malformed(offset, e.to_string())),
        };
        let mut buf = [0u8; 4];
        self.text(resolved.encode_utf8(&mut buf), offset)
    }

    fn finish(self) -> Result<Element, XmlError> {
        if let Some(open) = self.stack.last() {
            let name = qualified(&open.element);
            return Err(self.malformed(
                self.input.len(),
                format!("unexpected end of input: <{name}> is not closed"),
            ));
        }
        let (input, root) = (self.input, self.root);
        root.ok_or_else(|| XmlError::malformed_at(input, input.len(), "no root element"))
    }
}

pub(crate) fn qualified(element: &Element) -> String {
    match &element.prefix {
        Some(p) => format!("{p}:{}", element.name),
        None => element.name.clone(),
    }
}

/// Splits `prefix:local`, checking both halves are XML names.
fn split_qname(qname: &str) -> Option<(Option<&str>, &str)> {
    let (prefix, local) = match qname.split_once(':') {
        Some((p, l)) => (Some(p), l),
        None => (None, qname),
    };
    let valid = prefix.is_none_or(is_ncname) && is_ncname(local);
    valid.then_some((prefix, local))
}

/// Characters XML 1.0 §2.2 forbids, described for an error message.
fn forbidden_char(text: &str) -> Option<String> {
    text.chars().find(|c| is_forbidden(*c)).map(|c| {
        format!(
            "the character U+{:04X}, which XML 1.0 forbids",
            u32::from(c)
        )
    })
}

impl Element {
    /// Whether this element has this namespace and local name.
    pub fn is(&self, namespace: &Namespace, name: &str) -> bool {
        self.namespace == *namespace && self.name == name
    }

    /// Child elements, skipping text.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|node| match node {
            Node::Element(element) => Some(element),
            Node::Text(_) => None,
        })
    }

    /// The first child element with this name.
    pub fn child(&self, namespace: &Namespace, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(namespace, name))
    }

    /// Whether any child is an element.
    pub fn has_elements(&self) -> bool {
        self.elements().next().is_some()
    }

    /// The direct text content, concatenated.
    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|node| match node {
                Node::Text(text) => Some(text.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }

    /// The value of an unprefixed attribute.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.namespace.is_none() && a.name == name)
            .map(|a| a.value.as_str())
    }

    /// The value of `xml:lang` on this element.
    pub fn lang(&self) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.namespace.uri() == XML_NAMESPACE && a.name == "lang")
            .map(|a| a.value.as_str())
    }

    /// Clark notation, `{DAV:}prop`, for error messages.
    pub fn clark(&self) -> String {
        format!("{{{}}}{}", self.namespace.uri(), self.name)
    }
}

#[cfg(test)]
mod tests;
