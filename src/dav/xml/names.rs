//! Namespaces of the WebDAV family and the prefixes davgate writes them with.

/// WebDAV (RFC 4918).
pub const DAV: &str = "DAV:";
/// CalDAV (RFC 4791).
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
/// CardDAV (RFC 6352).
pub const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
/// Apple's CalendarServer extensions (getctag).
pub const CALENDARSERVER: &str = "http://calendarserver.org/ns/";
/// Apple iCal (calendar-color, calendar-order).
pub const APPLE_ICAL: &str = "http://apple.com/ns/ical/";
/// ownCloud (checksums, permissions, ids).
pub const OWNCLOUD: &str = "http://owncloud.org/ns";
/// Nextcloud (trash properties).
pub const NEXTCLOUD: &str = "http://nextcloud.org/ns";
/// Microsoft's Win32 file properties.
pub const MICROSOFT: &str = "urn:schemas-microsoft-com:";

/// Prefixes declared once on every multistatus davgate writes.
pub const PREFIXES: [(&str, &str); 8] = [
    ("D", DAV),
    ("C", CALDAV),
    ("CR", CARDDAV),
    ("CS", CALENDARSERVER),
    ("ICAL", APPLE_ICAL),
    ("oc", OWNCLOUD),
    ("nc", NEXTCLOUD),
    ("Z", MICROSOFT),
];

/// The declared prefix of a namespace, if it has one.
pub fn prefix(namespace: &str) -> Option<&'static str> {
    PREFIXES
        .iter()
        .find(|(_, uri)| *uri == namespace)
        .map(|(p, _)| *p)
}

/// A property name: namespace URI ("" for none) and local name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PropName {
    /// Namespace URI.
    pub ns: String,
    /// Local name.
    pub name: String,
}

impl PropName {
    /// `{ns}name`.
    pub fn new(ns: &str, name: &str) -> Self {
        PropName {
            ns: ns.to_owned(),
            name: name.to_owned(),
        }
    }

    /// Whether this is `{ns}name`.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }
}
