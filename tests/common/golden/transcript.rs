//! A client journey written down as a readable transcript: each request with the
//! headers the client sent, each response with the headers clients act on and its body,
//! XML printed in one canonical form. What changes from run to run, or between two
//! correct implementations, is masked: the server's address, lock tokens, ETags, dates
//! of "now", and the namespace prefixes a writer happens to choose.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

/// Response headers a file client acts on; the rest (Date, Content-Length, Server)
/// varies or does not matter to it.
const SHOWN_RESPONSE_HEADERS: &[&str] = &[
    "allow",
    "dav",
    "ms-author-via",
    "lock-token",
    "etag",
    "location",
    "x-oc-mtime",
];

/// Namespace URIs and the prefix every transcript writes them with.
const PREFIXES: &[(&str, &str)] = &[
    ("DAV:", "D"),
    ("urn:schemas-microsoft-com:", "Z"),
    ("http://www.apple.com/webdav_fs/props/", "A"),
    ("http://owncloud.org/ns", "oc"),
    ("http://nextcloud.org/ns", "nc"),
    ("http://sabredav.org/ns", "s"),
    ("urn:ietf:params:xml:ns:caldav", "C"),
    ("urn:ietf:params:xml:ns:carddav", "CR"),
    ("http://calendarserver.org/ns/", "CS"),
    ("http://apple.com/ns/ical/", "ICAL"),
];

/// Elements whose text is a date; masked when it is "now" (within a day), shown when it
/// is a date a client set (X-OC-Mtime, Win32LastModifiedTime).
const DATES: &[&str] = &[
    "D:getlastmodified",
    "D:creationdate",
    "Z:Win32CreationTime",
    "Z:Win32LastModifiedTime",
    "Z:Win32LastAccessTime",
];

/// The transcript of one journey.
pub struct Transcript {
    text: String,
    /// Literal strings replaced everywhere by a placeholder (address, lock tokens).
    replacements: Vec<(String, String)>,
    step: usize,
}

impl Transcript {
    /// A transcript against the server at `address` (`127.0.0.1:PORT`, shown as `HOST`).
    pub fn new(title: &str, address: &str) -> Self {
        Transcript {
            text: format!("# {title}\n"),
            replacements: vec![(address.to_owned(), "HOST".to_owned())],
            step: 0,
        }
    }

    /// Masks `secret` (a lock token) as `placeholder` from now on.
    pub fn mask(&mut self, secret: &str, placeholder: &str) {
        self.replacements
            .push((secret.to_owned(), placeholder.to_owned()));
    }

    /// Writes one request: a heading saying what the client is doing, the request line,
    /// the headers it sent, and its body.
    pub fn request(
        &mut self,
        what: &str,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) {
        self.step += 1;
        let _ = write!(
            self.text,
            "\n## {}. {what}\n\n> {method} {path}\n",
            self.step
        );
        for (name, value) in headers {
            let _ = writeln!(self.text, "> {name}: {value}");
        }
        if !body.is_empty() {
            self.text.push_str(">\n");
            for line in show_body(body).lines() {
                let _ = writeln!(self.text, "> {line}");
            }
        }
    }

    /// Writes the response to the last request.
    pub fn response(&mut self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) {
        let _ = write!(self.text, "\n< {status}\n");
        for name in SHOWN_RESPONSE_HEADERS {
            for value in headers.get_all(*name) {
                let value = value.to_str().unwrap_or("(not ASCII)");
                let value = if *name == "etag" { "(etag)" } else { value };
                let _ = writeln!(self.text, "< {name}: {value}");
            }
        }
        if !body.is_empty() {
            self.text.push_str("<\n");
            for line in show_body(body).lines() {
                let _ = writeln!(self.text, "< {line}");
            }
        }
    }

    /// The finished transcript, masked.
    pub fn finish(self) -> String {
        let mut text = self.text;
        for (secret, placeholder) in &self.replacements {
            text = text.replace(secret.as_str(), placeholder);
        }
        text
    }
}

/// A body as the transcript shows it: XML canonical and masked, text as it is, binary
/// as its length.
fn show_body(body: &[u8]) -> String {
    let text = match std::str::from_utf8(body) {
        Ok(text)
            if !text
                .chars()
                .any(|c| c.is_control() && !"\t\r\n".contains(c)) =>
        {
            text
        }
        _ => return format!("({} bytes)", body.len()),
    };
    if text.trim_start().starts_with('<')
        && let Some(canonical) = canonical_xml(text)
    {
        return canonical;
    }
    text.replace("\r\n", "\n")
}

/// An element of a parsed document.
struct Element {
    name: String,
    attributes: Vec<(String, String)>,
    children: Vec<Node>,
}

enum Node {
    Element(Element),
    Text(String),
}

/// `{uri}local` written with the canonical prefix of `uri`.
fn canonical_name(ns: &ResolveResult<'_>, local: &str) -> String {
    match ns {
        ResolveResult::Bound(ns) => {
            let uri = ns.0;
            match PREFIXES.iter().find(|(known, _)| *known == uri) {
                Some((_, prefix)) => format!("{prefix}:{local}"),
                None => format!("{{{uri}}}{local}"),
            }
        }
        _ => local.to_owned(),
    }
}

/// Parses XML into elements with canonical names, or `None` if it is not XML.
fn parse(xml: &str) -> Option<Element> {
    let mut reader = quick_xml::NsReader::from_str(xml);
    let mut stack: Vec<Element> = vec![Element {
        name: String::new(),
        attributes: Vec::new(),
        children: Vec::new(),
    }];
    loop {
        let (ns, event) = reader.read_resolved_event().ok()?;
        match event {
            Event::Start(start) => stack.push(element(&ns, &start)?),
            Event::Empty(start) => {
                let done = element(&ns, &start)?;
                stack.last_mut()?.children.push(Node::Element(done));
            }
            Event::End(_) => {
                let done = stack.pop()?;
                stack.last_mut()?.children.push(Node::Element(done));
            }
            Event::Text(t) => push_text(stack.last_mut()?, &t.xml10_content()),
            Event::CData(t) => push_text(stack.last_mut()?, &t.xml10_content()),
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().ok()? {
                    Some(c) => c,
                    None => match &*r {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        _ => return None,
                    },
                };
                push_text(stack.last_mut()?, &c.to_string());
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut root = stack.pop()?;
    if !stack.is_empty() {
        return None;
    }
    root.children.retain(|n| matches!(n, Node::Element(_)));
    match root.children.pop()? {
        Node::Element(e) if root.children.is_empty() => Some(e),
        _ => None,
    }
}

fn element(ns: &ResolveResult<'_>, start: &quick_xml::events::BytesStart<'_>) -> Option<Element> {
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.ok()?;
        let key = attribute.key.0.to_owned();
        if key == "xmlns" || key.starts_with("xmlns:") {
            continue;
        }
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .ok()?
            .into_owned();
        attributes.push((key, value));
    }
    attributes.sort();
    Some(Element {
        name: canonical_name(ns, start.local_name().into_inner()),
        attributes,
        children: Vec::new(),
    })
}

/// Adds text to an element, merged with the text before it.
fn push_text(element: &mut Element, text: &str) {
    if let Some(Node::Text(last)) = element.children.last_mut() {
        last.push_str(text);
    } else {
        element.children.push(Node::Text(text.to_owned()));
    }
}

/// The document in canonical form: one element per line, text next to its element,
/// whitespace between elements dropped, and varying values masked.
fn canonical_xml(xml: &str) -> Option<String> {
    let root = parse(xml)?;
    let mut out = String::new();
    write_element(&mut out, &root, 0, Mask::None);
    Some(out)
}

/// What a subtree's text is masked as.
#[derive(Clone, Copy, PartialEq)]
enum Mask {
    None,
    LockToken,
}

fn write_element(out: &mut String, element: &Element, depth: usize, mask: Mask) {
    let mask = if element.name == "D:locktoken" {
        Mask::LockToken
    } else {
        mask
    };
    let indent = "  ".repeat(depth);
    let mut open = format!("<{}", element.name);
    for (key, value) in &element.attributes {
        let _ = write!(open, " {key}=\"{value}\"");
    }
    let elements: Vec<&Element> = element
        .children
        .iter()
        .filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
        .collect();
    let text: String = element
        .children
        .iter()
        .filter_map(|n| match n {
            Node::Text(t) => Some(t.as_str()),
            Node::Element(_) => None,
        })
        .collect();
    let text = text.trim();
    if elements.is_empty() && text.is_empty() {
        let _ = writeln!(out, "{indent}{open}/>");
        return;
    }
    if elements.is_empty() {
        let shown = masked_text(&element.name, text, mask);
        let _ = writeln!(out, "{indent}{open}>{shown}</{}>", element.name);
        return;
    }
    let _ = writeln!(out, "{indent}{open}>");
    if !text.is_empty() {
        let _ = writeln!(out, "{indent}  {}", masked_text(&element.name, text, mask));
    }
    for child in elements {
        write_element(out, child, depth + 1, mask);
    }
    let _ = writeln!(out, "{indent}</{}>", element.name);
}

/// The text of `name` as the transcript shows it.
fn masked_text(name: &str, text: &str, mask: Mask) -> String {
    if mask == Mask::LockToken {
        return "(lock token)".into();
    }
    if name == "D:getetag" {
        return "(etag)".into();
    }
    if DATES.contains(&name) && is_now(text) {
        return "(now)".into();
    }
    text.to_owned()
}

/// Whether a date (HTTP date or RFC 3339) is within a day of now.
fn is_now(text: &str) -> bool {
    let when = httpdate::parse_http_date(text).ok().or_else(|| {
        chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .map(SystemTime::from)
    });
    let Some(when) = when else {
        return false;
    };
    let now = SystemTime::now();
    let distance = now
        .duration_since(when)
        .or_else(|_| when.duration_since(now))
        .unwrap_or_default();
    distance < Duration::from_secs(86_400)
}
