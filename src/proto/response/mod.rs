//! Response bodies: `D:multistatus` (PROPFIND, PROPPATCH, REPORT, sync-collection) and
//! `D:error` (failed preconditions).
//!
//! Writers take decoded paths and percent-encode them once ([`super::href`]), so
//! callers never juggle two forms of a path. A [`Response`] buffers its properties
//! grouped by status (one `D:propstat` per status, first-seen order); the
//! [`Multistatus`] writes finished responses into pieces of about [`PIECE_LEN`], which
//! are sent (and freed) one by one, so no buffer of a whole long answer is ever grown.

mod condition;
mod search_set;
mod stream;

pub use condition::error_body;
pub use search_set::principal_search_property_set;
pub use stream::{MultistatusStream, PIECE_LEN};

use super::href::encode_path;
use super::names::{
    CardDavProperty, ComponentType, Namespace, Privilege, Property, ReportName, ResourceType,
};
use super::precondition::Precondition;
use super::raw::RawXml;
use super::status::Status;
use super::writer::XmlWriter;

/// A media type a collection accepts, for supported-calendar-data and
/// supported-address-data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataType<'a> {
    /// `text/calendar`, `text/vcard`, …
    pub content_type: &'a str,
    /// `2.0`, `3.0`, `4.0`.
    pub version: &'a str,
}

/// The value of one property in a response.
#[derive(Clone, Copy)]
pub enum Value<'a> {
    /// `<p/>`: a 404 entry, a propname listing, or an empty value.
    Empty,
    /// Escaped text: displayname, getetag, calendar-data, address-data, …
    Text(&'a str),
    /// A number: getcontentlength, quota-*, max-resource-size.
    Number(u64),
    /// One `D:href` from a decoded path: current-user-principal, owner, …
    Href(&'a str),
    /// Several `D:href`s from decoded paths: calendar-home-set, …
    Hrefs(&'a [String]),
    /// `D:href`s holding URIs written as given: calendar-user-address-set (`mailto:`).
    Uris(&'a [String]),
    /// A dead property's stored inner XML.
    Raw(&'a RawXml),
    /// resourcetype.
    ResourceType(&'a [ResourceType]),
    /// supported-calendar-component-set.
    Components(&'a [ComponentType]),
    /// supported-report-set.
    Reports(&'a [ReportName]),
    /// current-user-privilege-set.
    Privileges(&'a [Privilege]),
    /// supported-calendar-data / supported-address-data.
    DataTypes(&'a [DataType<'a>]),
    /// Anything else (lockdiscovery, supportedlock): the caller writes the content.
    Xml(&'a dyn Fn(&mut XmlWriter)),
}

/// One `D:response`: an href and its properties grouped by status.
#[derive(Debug, Clone)]
pub struct Response {
    path: String,
    groups: Vec<(Status, XmlWriter)>,
    error: Option<Precondition>,
    description: Option<String>,
}

impl Response {
    /// A response for a resource, by decoded path.
    pub fn new(path: &str) -> Self {
        Self {
            path: path.to_owned(),
            groups: Vec::new(),
            error: None,
            description: None,
        }
    }

    /// Adds a property with its value under a status.
    pub fn prop(&mut self, status: Status, property: &Property, value: Value<'_>) -> &mut Self {
        let w = self.group(status);
        write_property(w, property, value);
        self
    }

    /// Attaches a condition (`D:error` inside the response).
    pub fn error(&mut self, condition: Precondition) -> &mut Self {
        self.error = Some(condition);
        self
    }

    /// Attaches a `D:responsedescription`.
    pub fn description(&mut self, text: &str) -> &mut Self {
        self.description = Some(text.to_owned());
        self
    }

    fn group(&mut self, status: Status) -> &mut XmlWriter {
        let index = match self.groups.iter().position(|(s, _)| *s == status) {
            Some(index) => index,
            None => {
                self.groups.push((status, XmlWriter::new()));
                self.groups.len() - 1
            }
        };
        &mut self.groups[index].1
    }
}

/// A `D:multistatus` being written.
#[derive(Debug, Clone)]
pub struct Multistatus {
    w: XmlWriter,
    /// Pieces of the document already written, each about [`PIECE_LEN`] long.
    full: Vec<String>,
    /// Scratch for one encoded href, reused for every response.
    href: String,
}

impl Multistatus {
    /// Starts the document.
    pub fn new() -> Self {
        Self {
            w: XmlWriter::document(&Namespace::Dav, "multistatus"),
            full: Vec::new(),
            href: String::new(),
        }
    }

    /// Moves the text written so far into its own piece once it is long enough.
    fn seal_piece(&mut self) {
        let out = self.w.buffer();
        if out.len() >= PIECE_LEN {
            let piece = std::mem::replace(out, String::with_capacity(PIECE_LEN + PIECE_LEN / 4));
            self.full.push(piece);
        }
    }

    /// Writes a finished response.
    pub fn push(&mut self, mut response: Response) {
        // What was found first, then what was not, whatever order the client asked in.
        response.groups.sort_by_key(|(status, _)| status.code());
        let out = self.w.buffer();
        stream::open_response(out, &mut self.href, &response.path);
        if response.groups.is_empty() {
            // RFC 4918 §14.24 wants propstat+ or a status; a resource asked for no
            // properties (an empty D:prop) gets an empty 200 group.
            stream::propstat(out, Status::OK, "");
        }
        for (status, props) in &response.groups {
            stream::propstat(out, *status, props.as_str());
        }
        Self::tail(
            &mut self.w,
            response.error.as_ref(),
            response.description.as_deref(),
        );
        self.w.close(&Namespace::Dav, "response");
        self.seal_piece();
    }

    /// Writes a response that is only an href and a status: a member deleted since
    /// the sync token (404, RFC 6578 §3.5), or a multiget href that does not exist.
    pub fn push_status(&mut self, path: &str, status: Status) {
        self.push_status_with(path, status, None, None);
    }

    /// A status-only response with a condition and a description: how RFC 5323 §5.17
    /// and RFC 6352 §8.6.1 report a result truncated by
    /// [`Precondition::NumberOfMatchesWithinLimits`] (507 on the request URI).
    pub fn push_status_with(
        &mut self,
        path: &str,
        status: Status,
        error: Option<&Precondition>,
        description: Option<&str>,
    ) {
        let out = self.w.buffer();
        stream::open_response(out, &mut self.href, path);
        stream::status(out, status);
        Self::tail(&mut self.w, error, description);
        self.w.close(&Namespace::Dav, "response");
        self.seal_piece();
    }

    /// Closes the document; `sync_token` (sync-collection) goes last, as RFC 6578 §6.4
    /// orders it.
    pub fn finish(self, sync_token: Option<&str>) -> Vec<u8> {
        self.into_pieces(sync_token).concat().into_bytes()
    }

    /// Closes the document as [`Self::finish`] does, and returns it in pieces of about
    /// [`PIECE_LEN`], in order.
    pub fn into_pieces(mut self, sync_token: Option<&str>) -> Vec<String> {
        if let Some(token) = sync_token {
            self.w.text_element(&Namespace::Dav, "sync-token", token);
        }
        self.w.close(&Namespace::Dav, "multistatus");
        let mut pieces = self.full;
        pieces.push(self.w.into_string());
        pieces
    }

    fn tail(w: &mut XmlWriter, error: Option<&Precondition>, description: Option<&str>) {
        if let Some(condition) = error {
            w.open(&Namespace::Dav, "error");
            condition::write_condition(w, condition);
            w.close(&Namespace::Dav, "error");
        }
        if let Some(text) = description {
            w.text_element(&Namespace::Dav, "responsedescription", text);
        }
    }
}

impl Default for Multistatus {
    fn default() -> Self {
        Self::new()
    }
}

/// Writes `<p:name>value</p:name>` for one property.
fn write_property(w: &mut XmlWriter, property: &Property, value: Value<'_>) {
    let ns = property.namespace();
    let name = property.local_name();
    let dav = Namespace::Dav;
    match value {
        Value::Empty => return w.empty(&ns, name),
        Value::Text(text) => return w.text_element(&ns, name, text),
        Value::Number(n) => return w.text_element(&ns, name, &n.to_string()),
        Value::Raw(raw) if raw.is_empty() => return w.empty(&ns, name),
        Value::Hrefs(list) | Value::Uris(list) if list.is_empty() => return w.empty(&ns, name),
        _ => {}
    }
    w.open(&ns, name);
    match value {
        Value::Href(path) => w.text_element(&dav, "href", &encode_path(path)),
        Value::Hrefs(paths) => {
            for path in paths {
                w.text_element(&dav, "href", &encode_path(path));
            }
        }
        Value::Uris(uris) => {
            for uri in uris {
                w.text_element(&dav, "href", uri);
            }
        }
        Value::Raw(raw) => w.raw(raw),
        Value::ResourceType(types) => {
            for kind in types {
                let (kind_ns, kind_name) = kind.qname();
                w.empty(&kind_ns, kind_name);
            }
        }
        Value::Components(components) => {
            for component in components {
                w.empty_with(&Namespace::CalDav, "comp", &[("name", component.name())]);
            }
        }
        Value::Reports(reports) => {
            for report in reports {
                w.open(&dav, "supported-report");
                w.open(&dav, "report");
                w.empty(&report.namespace(), report.name());
                w.close(&dav, "report");
                w.close(&dav, "supported-report");
            }
        }
        Value::Privileges(privileges) => {
            for privilege in privileges {
                w.open(&dav, "privilege");
                w.empty(&dav, privilege.name());
                w.close(&dav, "privilege");
            }
        }
        Value::DataTypes(types) => {
            // RFC 6352 §6.2.2 names the element address-data-type; RFC 4791 §5.2.4
            // reuses calendar-data.
            let (type_ns, type_name) = match property {
                Property::CardDav(CardDavProperty::SupportedAddressData) => {
                    (Namespace::CardDav, "address-data-type")
                }
                _ => (Namespace::CalDav, "calendar-data"),
            };
            for t in types {
                w.empty_with(
                    &type_ns,
                    type_name,
                    &[("content-type", t.content_type), ("version", t.version)],
                );
            }
        }
        Value::Xml(content) => content(w),
        Value::Empty | Value::Text(_) | Value::Number(_) => {}
    }
    w.close(&ns, name);
}

#[cfg(test)]
mod tests;
