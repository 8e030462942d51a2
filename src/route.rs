//! Which part of davgate a request is for, and what it asks, decided once from its
//! method, path and WebDAV headers.
//!
//! Pure: no I/O, no authentication. Every later stage takes what is parsed here instead
//! of the raw request: the [`Verb`], the decoded path segments, the checked
//! `Destination` of a COPY or MOVE, the conditional headers ([`Conditions`]), the
//! `Depth` and the scope the route needs. A path that could escape its tree or be read two ways is
//! refused here, before any handler sees it. Names keep the form the client wrote (NFC
//! or NFD, as Finder sends them); the storage crate compares them by their NFC key.

mod conditions;
mod mount;
mod verb;

use std::fmt;

use davgate_storage::TreeRoot;
use http::request::Parts;

use crate::proto::{Depth, InvalidDepth};

pub use self::conditions::{
    Condition, ConditionError, Conditions, EtagList, IfList, IfState, Test, check_if_range,
    parse as parse_conditions,
};
use self::mount::under;
pub use self::mount::{FilesHost, FilesHostError, Mount};
pub use self::verb::Verb;

/// A request as routed: where it goes and what it asks, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub verb: Verb,
    pub route: Route,
    /// Where the file trees are in this request's URL space (main or files host).
    pub mount: Mount,
    /// Decoded path segments below the route's root (`/files`, `/trash`, `/dav`, or on
    /// the files host `/` and `/.trash`).
    pub path: Vec<String>,
    /// `If`, `If-Match` and `If-None-Match`, checked.
    pub conditions: Conditions,
    /// Where a COPY or MOVE in a file tree goes.
    pub destination: Option<Destination>,
    /// `Overwrite` of a COPY or MOVE: absent means `T` (RFC 4918 §10.6).
    pub overwrite: bool,
    /// `Depth` (RFC 4918 §10.2): `Ok(None)` when absent, since each room and verb has its
    /// own default. An invalid value is kept, not refused here: only the verbs that read
    /// Depth answer 400 for it.
    pub depth: Result<Option<Depth>, InvalidDepth>,
    /// A WebDAV header that does not parse. The request is refused with 400, but only
    /// once signed in, so an anonymous client still meets 401 first.
    pub bad_header: Option<HeaderError>,
}

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /healthz`: liveness, no authentication.
    Health,
    /// `GET /readyz`: database and blob store reachable, no authentication.
    Ready,
    /// `OPTIONS` on a WebDAV tree: capabilities, no authentication needed.
    Options(TreeRoot),
    /// The account's files (`/files/…`) or trash (`/trash/…`); on the files host,
    /// every path but the probes (files at `/…`, the trash at `/.trash/…`).
    Files(TreeRoot),
    /// `/.well-known/caldav` or `/.well-known/carddav` (RFC 6764): a redirect to `/dav/`.
    WellKnown,
    /// `OPTIONS` under `/dav/`: CalDAV and CardDAV capabilities, no authentication needed.
    DavOptions,
    /// `OPTIONS /`: what the server speaks, for Windows' first contact; no authentication.
    RootOptions,
    /// `PROPFIND /`: Apple's discovery for calendars and contacts, Windows' first
    /// contact for files; what it lists depends on the credential's scope.
    ServerRoot,
    /// Calendars and contacts under `/dav/` (and a PROPFIND on `/`, where Apple's
    /// clients start discovery).
    Dav(DavArea),
    /// The account portal under `/account/`: its own cookie sign-in (never Basic, never
    /// an app password); `path` holds the segments below `/account`.
    Account,
    /// A path that is malformed or could escape its tree.
    BadPath(PathError),
    /// Nothing is served here.
    NotFound,
}

impl Route {
    /// Routes a request by host, method, path and headers; `files_host` is the host
    /// that serves the files tree at `/`, if one is configured.
    pub fn from_request(parts: &Parts, files_host: Option<&FilesHost>) -> Routed {
        let verb = Verb::of(&parts.method);
        let raw = parts.uri.path();
        let mount = Mount::of_request(parts, files_host);
        let mut routed = Routed {
            verb,
            route: Route::NotFound,
            mount,
            path: Vec::new(),
            conditions: Conditions::default(),
            destination: None,
            overwrite: true,
            depth: Depth::parse(parts.headers.get("depth").map(|v| v.as_bytes())),
            bad_header: None,
        };
        let probe = matches!(verb, Verb::Get | Verb::Head);
        routed.route = if raw == "/healthz" && probe {
            Route::Health
        } else if raw == "/readyz" && probe {
            Route::Ready
        } else if mount == Mount::FilesHost {
            // Everything else on the files host is the user's: a folder named `dav`
            // or `.well-known` is a folder, and calendars stay on the main host.
            file_route(parts, files_host, &mut routed)
        } else if raw == "/.well-known/caldav" || raw == "/.well-known/carddav" {
            Route::WellKnown
        } else if raw == "/" && verb == Verb::Options {
            Route::RootOptions
        } else if raw == "/" && verb == Verb::PropFind {
            Route::ServerRoot
        } else if under(raw, "/dav") {
            match decode_path(raw) {
                Err(e) => Route::BadPath(e),
                Ok(_) if verb == Verb::Options => Route::DavOptions,
                Ok(mut segments) => {
                    if !segments.is_empty() {
                        segments.remove(0);
                    }
                    routed.path = segments;
                    Route::Dav(DavArea::of(raw))
                }
            }
        } else if under(raw, "/account") {
            match decode_path(raw) {
                Err(e) => Route::BadPath(e),
                Ok(mut segments) => {
                    segments.remove(0);
                    routed.path = segments;
                    Route::Account
                }
            }
        } else {
            file_route(parts, files_host, &mut routed)
        };
        routed
    }
}

/// A request for a file tree, if the path is in one on the request's mount.
fn file_route(parts: &Parts, files_host: Option<&FilesHost>, routed: &mut Routed) -> Route {
    let raw = parts.uri.path();
    let segments = match decode_path(raw) {
        Ok(segments) => segments,
        // Outside the trees a malformed path is simply not served.
        Err(e) if routed.mount.locate(raw, Vec::new()).is_some() => return Route::BadPath(e),
        Err(_) => return Route::NotFound,
    };
    let Some((tree, path)) = routed.mount.locate(raw, segments) else {
        return Route::NotFound;
    };
    if routed.verb == Verb::Options {
        return Route::Options(tree);
    }
    routed.path = path;
    routed.bad_header = file_headers(parts, files_host, routed).err();
    Route::Files(tree)
}

/// What a route needs of a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The files scope: `/files/` and `/trash/`.
    Files,
    /// The calendars scope.
    Calendars,
    /// The contacts scope.
    Contacts,
    /// Discovery serves either kind of client.
    CalendarsOrContacts,
    /// Any scope: the server root lists what the credential may see.
    Any,
}

/// Where a COPY or MOVE goes, decoded and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The file tree the target is in; `None` for a URL outside both trees.
    pub tree: Option<TreeRoot>,
    /// Decoded segments below the tree's root; never empty when `tree` is set.
    pub path: Vec<String>,
}

/// A WebDAV header that was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// `If`, `If-Match`, `If-None-Match` or `If-Range` does not parse.
    Condition(ConditionError),
    /// COPY or MOVE without a `Destination`.
    MissingDestination,
    /// A `Destination` that is not a URL.
    DestinationNotUrl,
    /// A `Destination` whose path is malformed.
    DestinationPath(PathError),
    /// A `Destination` naming a tree itself rather than an item in it.
    DestinationIsRoot,
    /// `Overwrite` other than `T` or `F`.
    Overwrite,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Condition(e) => e.fmt(f),
            HeaderError::MissingDestination => {
                f.write_str("COPY and MOVE need a Destination header with the target URL")
            }
            HeaderError::DestinationNotUrl => {
                f.write_str("the Destination header is not a valid URL")
            }
            HeaderError::DestinationPath(e) => write!(f, "invalid Destination path: {e}"),
            HeaderError::DestinationIsRoot => f.write_str(
                "the Destination names a whole tree: name the new file or folder inside it, \
                 e.g. Destination: /files/NAME (/NAME on the files host)",
            ),
            HeaderError::Overwrite => {
                f.write_str("the Overwrite header must be T or F (RFC 4918 §10.6)")
            }
        }
    }
}

/// The headers a file request may carry that need parsing before anything else.
fn file_headers(
    parts: &Parts,
    files_host: Option<&FilesHost>,
    routed: &mut Routed,
) -> Result<(), HeaderError> {
    let verb = routed.verb;
    let header = |name: &str| parts.headers.get(name).map(|v| v.as_bytes());
    routed.conditions =
        conditions::parse(header("if"), header("if-match"), header("if-none-match"))
            .map_err(HeaderError::Condition)?;
    if let Some(value) = header("if-range") {
        check_if_range(value).map_err(HeaderError::Condition)?;
    }
    if matches!(verb, Verb::Copy | Verb::Move) {
        let value = header("destination");
        routed.destination = Some(destination(value, routed.mount, files_host)?);
        routed.overwrite = match header("overwrite").map(<[u8]>::trim_ascii) {
            None | Some(b"T" | b"t") => true,
            Some(b"F" | b"f") => false,
            Some(_) => return Err(HeaderError::Overwrite),
        };
    }
    Ok(())
}

/// Reads a `Destination`: a path is on the request's own mount, a URL on the mount its
/// host names (so a MOVE may name the same item through the other host).
fn destination(
    value: Option<&[u8]>,
    mount: Mount,
    files_host: Option<&FilesHost>,
) -> Result<Destination, HeaderError> {
    let value = value.ok_or(HeaderError::MissingDestination)?;
    let uri = http::Uri::try_from(value).map_err(|_| HeaderError::DestinationNotUrl)?;
    let segments = decode_path(uri.path()).map_err(HeaderError::DestinationPath)?;
    let mount = match (uri.host(), files_host) {
        (Some(host), Some(files_host)) => Mount::of_host(Some(host), files_host),
        _ => mount,
    };
    let (tree, path) = match mount.locate(uri.path(), segments.clone()) {
        Some((tree, path)) => (Some(tree), path),
        None => (None, segments),
    };
    if tree.is_some() && path.is_empty() {
        return Err(HeaderError::DestinationIsRoot);
    }
    Ok(Destination { tree, path })
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
    /// What a credential needs to enter this area.
    pub fn needs(self) -> Need {
        match self {
            DavArea::Calendars => Need::Calendars,
            DavArea::Contacts => Need::Contacts,
            DavArea::Discovery => Need::CalendarsOrContacts,
        }
    }

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

    fn routed(method: &str, uri: &str, headers: &[(&str, &str)]) -> Routed {
        let mut req = http::Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        Route::from_request(&req.body(()).unwrap().into_parts().0, None)
    }

    fn route(method: &str, uri: &str) -> Route {
        routed(method, uri, &[]).route
    }

    #[test]
    fn routes_by_method_and_path() {
        let table = [
            ("GET", "/healthz", Route::Health),
            ("HEAD", "/readyz", Route::Ready),
            ("PUT", "/readyz", Route::NotFound),
            ("PROPFIND", "/files/", Route::Files(TreeRoot::Files)),
            ("PROPFIND", "/files", Route::Files(TreeRoot::Files)),
            ("PUT", "/files/a%20b/c.txt", Route::Files(TreeRoot::Files)),
            ("DELETE", "/trash/x.d1", Route::Files(TreeRoot::Trash)),
            ("OPTIONS", "/files/x", Route::Options(TreeRoot::Files)),
            ("GET", "/filesystem", Route::NotFound),
            ("GET", "/account", Route::Account),
            ("POST", "/account/app-passwords", Route::Account),
            ("GET", "/accounts", Route::NotFound),
            ("PROPFIND", "/.well-known/caldav", Route::WellKnown),
            ("GET", "/.well-known/carddav", Route::WellKnown),
            ("PROPFIND", "/", Route::ServerRoot),
            ("OPTIONS", "/", Route::RootOptions),
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
    fn parses_what_later_stages_need_once() {
        let r = routed(
            "MOVE",
            "/files/My%20Docs/a.txt",
            &[
                ("Destination", "http://h/files/Caf%C3%A9/b.txt"),
                ("If", "(<urn:uuid:1>)"),
            ],
        );
        assert_eq!(r.verb, Verb::Move);
        assert_eq!(r.route, Route::Files(TreeRoot::Files));
        assert_eq!(r.path, ["My Docs", "a.txt"]);
        assert_eq!(
            r.destination,
            Some(Destination {
                tree: Some(TreeRoot::Files),
                path: vec!["Café".into(), "b.txt".into()]
            })
        );
        assert_eq!(r.conditions.lock_tokens(), ["urn:uuid:1"]);
        assert_eq!(
            routed("REPORT", "/dav/calendars/alice/default/", &[]).path,
            ["calendars", "alice", "default"]
        );
        assert!(routed("PROPFIND", "/", &[]).path.is_empty());
    }

    #[test]
    fn depth_is_parsed_once_and_an_invalid_one_kept_for_the_room() {
        let depth = |headers: &[(&str, &str)]| routed("PROPFIND", "/files/a", headers).depth;
        assert_eq!(depth(&[]), Ok(None));
        assert_eq!(depth(&[("Depth", "0")]), Ok(Some(Depth::Zero)));
        assert_eq!(depth(&[("Depth", " 1 ")]), Ok(Some(Depth::One)));
        assert_eq!(depth(&[("Depth", "Infinity")]), Ok(Some(Depth::Infinity)));
        let invalid = depth(&[("Depth", "2")]).unwrap_err();
        assert_eq!(invalid.sent, "2");
        // The router does not refuse it: only the verbs that read Depth do.
        let r = routed("PUT", "/files/a", &[("Depth", "2")]);
        assert_eq!(r.bad_header, None);
        assert!(r.depth.is_err());
        assert_eq!(
            routed("REPORT", "/dav/calendars/alice/default/", &[("Depth", "1")]).depth,
            Ok(Some(Depth::One))
        );
        assert_eq!(
            routed("PROPFIND", "/", &[("Depth", "0")]).depth,
            Ok(Some(Depth::Zero))
        );
    }

    #[test]
    fn malformed_webdav_headers_are_refused_by_the_router() {
        type Headers<'a> = &'a [(&'a str, &'a str)];
        let table: [(&str, Headers, HeaderError); 5] = [
            ("MOVE", &[], HeaderError::MissingDestination),
            (
                "COPY",
                &[("Destination", "/files/")],
                HeaderError::DestinationIsRoot,
            ),
            (
                "MOVE",
                &[("Destination", "/trash")],
                HeaderError::DestinationIsRoot,
            ),
            (
                "MOVE",
                &[("Destination", "/files/%2e%2e/x")],
                HeaderError::DestinationPath(PathError::DotSegment),
            ),
            (
                "COPY",
                &[("Destination", "http://[::1")],
                HeaderError::DestinationNotUrl,
            ),
        ];
        for (method, headers, expected) in table {
            assert_eq!(
                routed(method, "/files/a", headers).bad_header,
                Some(expected),
                "{method} {headers:?}"
            );
        }
        assert!(matches!(
            routed("PUT", "/files/a", &[("If-Match", "\"")]).bad_header,
            Some(HeaderError::Condition(_))
        ));
        // Outside the file trees a Destination is the room's business.
        assert_eq!(
            routed("MOVE", "/files/a", &[("Destination", "http://other/x")])
                .destination
                .unwrap()
                .tree,
            None
        );
    }

    fn on_files_host(method: &str, uri: &str, headers: &[(&str, &str)]) -> Routed {
        let files_host = FilesHost::new("files.example.org").unwrap();
        let mut req = http::Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "Files.Example.org:8443");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        Route::from_request(&req.body(()).unwrap().into_parts().0, Some(&files_host))
    }

    #[test]
    fn the_files_host_serves_the_files_tree_at_the_root() {
        fn files(path: &[&'static str]) -> (Route, Vec<&'static str>) {
            (Route::Files(TreeRoot::Files), path.to_vec())
        }
        fn trash(path: &[&'static str]) -> (Route, Vec<&'static str>) {
            (Route::Files(TreeRoot::Trash), path.to_vec())
        }
        let table = [
            ("PROPFIND", "/", files(&[])),
            ("OPTIONS", "/", (Route::Options(TreeRoot::Files), vec![])),
            ("PUT", "/a%20b/c.txt", files(&["a b", "c.txt"])),
            ("PROPFIND", "/dav/", files(&["dav"])),
            (
                "GET",
                "/.well-known/caldav",
                files(&[".well-known", "caldav"]),
            ),
            ("GET", "/files/x", files(&["files", "x"])),
            ("PROPFIND", "/.trash/", trash(&[])),
            ("DELETE", "/%2Etrash/x.d1", trash(&["x.d1"])),
            (
                "OPTIONS",
                "/.trash/",
                (Route::Options(TreeRoot::Trash), vec![]),
            ),
            ("GET", "/healthz", (Route::Health, vec![])),
            ("HEAD", "/readyz", (Route::Ready, vec![])),
            ("PUT", "/healthz", files(&["healthz"])),
            (
                "GET",
                "/a/%2e%2e/b",
                (Route::BadPath(PathError::DotSegment), vec![]),
            ),
        ];
        for (method, uri, (route, path)) in table {
            let r = on_files_host(method, uri, &[]);
            assert_eq!(
                (r.route, r.mount),
                (route, Mount::FilesHost),
                "{method} {uri}"
            );
            assert_eq!(r.path, path, "{method} {uri}");
        }
        // The main host is unchanged when a files host is configured.
        let files_host = FilesHost::new("files.example.org").unwrap();
        let req = http::Request::builder()
            .method("PROPFIND")
            .uri("/")
            .header("host", "example.org")
            .body(())
            .unwrap();
        let r = Route::from_request(&req.into_parts().0, Some(&files_host));
        assert_eq!((r.route, r.mount), (Route::ServerRoot, Mount::Main));
    }

    #[test]
    fn destinations_are_read_on_the_mount_their_url_names() {
        let table = [
            ("/b.txt", TreeRoot::Files, &["b.txt"][..]),
            (
                "http://files.example.org:8443/d/b.txt",
                TreeRoot::Files,
                &["d", "b.txt"][..],
            ),
            ("/.trash/x.d1", TreeRoot::Trash, &["x.d1"][..]),
            ("/files/b.txt", TreeRoot::Files, &["files", "b.txt"][..]),
            (
                "https://example.org/files/b.txt",
                TreeRoot::Files,
                &["b.txt"][..],
            ),
        ];
        for (value, tree, path) in table {
            let r = on_files_host("MOVE", "/a.txt", &[("Destination", value)]);
            assert_eq!(r.bad_header, None, "{value}");
            assert_eq!(
                r.destination,
                Some(Destination {
                    tree: Some(tree),
                    path: path.iter().map(|s| s.to_string()).collect()
                }),
                "{value}"
            );
        }
        assert_eq!(
            on_files_host(
                "MOVE",
                "/a.txt",
                &[("Destination", "http://files.example.org/")]
            )
            .bad_header,
            Some(HeaderError::DestinationIsRoot)
        );
        assert_eq!(
            on_files_host(
                "MOVE",
                "/a.txt",
                &[("Destination", "https://example.org/dav/x")]
            )
            .destination
            .unwrap()
            .tree,
            None
        );
    }

    #[test]
    fn decodes_non_ascii_and_spaces() {
        assert_eq!(
            decode_path("/files/My%20Docs/Caf%C3%A9").unwrap(),
            ["files", "My Docs", "Café"]
        );
    }
}
