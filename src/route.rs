//! Which part of davgate a request is for, decided from its method and path alone.
//!
//! Pure: no I/O, no authentication. Paths are checked here, once, before any handler
//! sees them: a path that could escape its tree or be read two ways is refused.

use std::fmt;

use davgate_storage::TreeRoot;
use http::Method;
use http::request::Parts;

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /healthz`: liveness, no authentication.
    Health,
    /// `OPTIONS` on a WebDAV tree: capabilities, no authentication needed.
    Options(TreeRoot),
    /// The account's files (`/files/…`) or trash (`/trash/…`).
    Files(TreeRoot),
    /// `/.well-known/caldav` or `/.well-known/carddav` (RFC 6764): a redirect to `/dav/`.
    WellKnown,
    /// `OPTIONS` under `/dav/`: CalDAV and CardDAV capabilities, no authentication needed.
    DavOptions,
    /// Calendars and contacts under `/dav/` (and a PROPFIND on `/`, where Apple's
    /// clients start discovery).
    Dav(DavArea),
    /// A path that is malformed or could escape its tree.
    BadPath(PathError),
    /// Nothing is served here.
    NotFound,
}

impl Route {
    /// Routes a request by method and path.
    pub fn from_request(parts: &Parts) -> Route {
        let path = parts.uri.path();
        if path == "/healthz" && (parts.method == Method::GET || parts.method == Method::HEAD) {
            return Route::Health;
        }
        if path == "/.well-known/caldav" || path == "/.well-known/carddav" {
            return Route::WellKnown;
        }
        if under(path, "/dav") || (path == "/" && parts.method.as_str() == "PROPFIND") {
            if let Err(e) = decode_path(path) {
                return Route::BadPath(e);
            }
            if parts.method == Method::OPTIONS {
                return Route::DavOptions;
            }
            return Route::Dav(DavArea::of(path));
        }
        let tree = if under(path, "/files") {
            TreeRoot::Files
        } else if under(path, "/trash") {
            TreeRoot::Trash
        } else {
            return Route::NotFound;
        };
        if let Err(e) = decode_path(path) {
            return Route::BadPath(e);
        }
        if parts.method == Method::OPTIONS {
            return Route::Options(tree);
        }
        Route::Files(tree)
    }

    /// Whether the route needs an authenticated principal.
    pub fn needs_auth(&self) -> bool {
        matches!(self, Route::Files(_) | Route::Dav(_))
    }
}

/// Which part of `/dav/` a request is for: it decides the scope an app password needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DavArea {
    /// `/dav/calendars/…`.
    Calendars,
    /// `/dav/addressbooks/…`.
    Contacts,
    /// The root and principals: discovery, for either kind of client.
    Discovery,
}

impl DavArea {
    fn of(path: &str) -> Self {
        if under(path, "/dav/calendars") {
            DavArea::Calendars
        } else if under(path, "/dav/addressbooks") {
            DavArea::Contacts
        } else {
            DavArea::Discovery
        }
    }
}

fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Why a path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// Decoded bytes that are not UTF-8.
    NotUtf8,
    /// A NUL byte.
    Nul,
    /// A backslash, which Windows tools read as a separator.
    Backslash,
    /// A `.` or `..` segment, plain or percent-encoded.
    DotSegment,
    /// An encoded `/` inside a segment.
    EncodedSlash,
    /// More segments than any real tree has.
    TooDeep,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::BadEscape => "the path has a '%' that is not followed by two hex digits",
            PathError::NotUtf8 => "the path does not decode to UTF-8 text",
            PathError::Nul => "the path contains a NUL byte",
            PathError::Backslash => "the path contains a backslash; use '/' between folders",
            PathError::DotSegment => "the path contains a '.' or '..' segment",
            PathError::EncodedSlash => "the path contains an encoded '/' (%2F) inside a name",
            PathError::TooDeep => "the path is nested too deeply",
        })
    }
}

/// Decodes and checks a URL path, returning its segments.
pub fn decode_path(raw: &str) -> Result<Vec<String>, PathError> {
    let mut segments = Vec::new();
    for raw_segment in raw.split('/').filter(|s| !s.is_empty()) {
        let bytes = percent_decode(raw_segment)?;
        let segment = String::from_utf8(bytes).map_err(|_| PathError::NotUtf8)?;
        if segment.contains('\0') {
            return Err(PathError::Nul);
        }
        if segment.contains('\\') {
            return Err(PathError::Backslash);
        }
        if segment.contains('/') {
            return Err(PathError::EncodedSlash);
        }
        if segment == "." || segment == ".." {
            return Err(PathError::DotSegment);
        }
        segments.push(segment);
    }
    if segments.len() > davgate_storage::MAX_DEPTH {
        return Err(PathError::TooDeep);
    }
    Ok(segments)
}

fn percent_decode(s: &str) -> Result<Vec<u8>, PathError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(PathError::BadEscape)?;
            let hex = std::str::from_utf8(hex).map_err(|_| PathError::BadEscape)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| PathError::BadEscape)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Percent-encodes one path segment, the one way every room writes hrefs.
pub fn encode_segment(segment: &str) -> String {
    crate::proto::href::encode_segment(segment)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, uri: &str) -> Route {
        let req = http::Request::builder()
            .method(method)
            .uri(uri)
            .body(())
            .unwrap();
        Route::from_request(&req.into_parts().0)
    }

    #[test]
    fn routes_by_method_and_path() {
        let table = [
            ("GET", "/healthz", Route::Health),
            ("PROPFIND", "/files/", Route::Files(TreeRoot::Files)),
            ("PROPFIND", "/files", Route::Files(TreeRoot::Files)),
            ("PUT", "/files/a%20b/c.txt", Route::Files(TreeRoot::Files)),
            ("MOVE", "/trash/x.d1", Route::Files(TreeRoot::Trash)),
            ("OPTIONS", "/files/x", Route::Options(TreeRoot::Files)),
            ("GET", "/filesystem", Route::NotFound),
            ("PROPFIND", "/.well-known/caldav", Route::WellKnown),
            ("GET", "/.well-known/carddav", Route::WellKnown),
            ("PROPFIND", "/", Route::Dav(DavArea::Discovery)),
            ("PROPFIND", "/dav/", Route::Dav(DavArea::Discovery)),
            (
                "REPORT",
                "/dav/calendars/alice/default/",
                Route::Dav(DavArea::Calendars),
            ),
            (
                "PUT",
                "/dav/addressbooks/alice/default/x.vcf",
                Route::Dav(DavArea::Contacts),
            ),
            ("OPTIONS", "/dav/calendars/alice/", Route::DavOptions),
            (
                "GET",
                "/dav/calendars/%2e%2e/x",
                Route::BadPath(PathError::DotSegment),
            ),
            ("GET", "/", Route::NotFound),
            (
                "GET",
                "/files/../etc/passwd",
                Route::BadPath(PathError::DotSegment),
            ),
            (
                "GET",
                "/files/%2e%2e/x",
                Route::BadPath(PathError::DotSegment),
            ),
            ("GET", "/files/a%00b", Route::BadPath(PathError::Nul)),
            ("GET", "/files/a%5cb", Route::BadPath(PathError::Backslash)),
            (
                "GET",
                "/files/a%2fb",
                Route::BadPath(PathError::EncodedSlash),
            ),
            ("GET", "/files/a%zz", Route::BadPath(PathError::BadEscape)),
            ("GET", "/files/%ff", Route::BadPath(PathError::NotUtf8)),
        ];
        for (method, uri, expected) in table {
            assert_eq!(route(method, uri), expected, "{method} {uri}");
        }
    }

    #[test]
    fn decodes_non_ascii_and_spaces() {
        assert_eq!(
            decode_path("/files/My%20Docs/Caf%C3%A9").unwrap(),
            ["files", "My Docs", "Café"]
        );
    }
}
