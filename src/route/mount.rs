//! Where the file trees are mounted in a request's URL space: on the main host, files at
//! `/files/` and the trash at `/trash/`; on the files host (the `files_host` setting),
//! files at `/` and the trash at `/.trash/`.
//!
//! Every prefix strip and every href writer of the file room asks the request's
//! [`Mount`] for its prefix, so one request never mixes the two URL spaces. Which mount a
//! request is on is decided by its host alone (`Host`, or `:authority` in HTTP/2),
//! compared without the port and ignoring ASCII case.

use std::fmt;

use davgate_storage::TreeRoot;
use http::request::Parts;

/// How a file tree's paths are written in URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mount {
    /// The main host: `/files/…` and `/trash/…`, next to `/dav/` and the rest.
    #[default]
    Main,
    /// The files host: the files tree is the whole URL space, the trash `/.trash/…`.
    FilesHost,
}

impl Mount {
    /// The decoded URL path `tree` is mounted at, without a trailing slash: `""` when
    /// the tree is the host's root.
    pub fn prefix(self, tree: TreeRoot) -> &'static str {
        match (self, tree) {
            (Mount::Main, TreeRoot::Files) => "/files",
            (Mount::Main, TreeRoot::Trash) => "/trash",
            (Mount::FilesHost, TreeRoot::Files) => "",
            (Mount::FilesHost, TreeRoot::Trash) => "/.trash",
        }
    }

    /// The decoded href of `segments` below `tree`'s root; a folder's ends in `/`.
    pub fn href(self, tree: TreeRoot, segments: &[String], folder: bool) -> String {
        let mut href = String::from(self.prefix(tree));
        for segment in segments {
            href.push('/');
            href.push_str(segment);
        }
        if folder || segments.is_empty() {
            href.push('/');
        }
        href
    }

    /// The tree a path is in and its segments below that tree's root; `None` for a path
    /// outside both trees (only on the main host). `raw` is the path as sent and
    /// `segments` the same path decoded.
    pub fn locate(self, raw: &str, segments: Vec<String>) -> Option<(TreeRoot, Vec<String>)> {
        match self {
            Mount::Main => {
                let tree = if under(raw, "/files") {
                    TreeRoot::Files
                } else if under(raw, "/trash") {
                    TreeRoot::Trash
                } else {
                    return None;
                };
                Some((tree, segments.into_iter().skip(1).collect()))
            }
            // Decoded before it is compared, so `/%2Etrash/` is the trash too and no
            // path means one thing raw and another decoded.
            Mount::FilesHost if segments.first().is_some_and(|s| s == TRASH_SEGMENT) => {
                Some((TreeRoot::Trash, segments.into_iter().skip(1).collect()))
            }
            Mount::FilesHost => Some((TreeRoot::Files, segments)),
        }
    }

    /// The mount of a request: the files host when its host is `files_host`.
    pub(super) fn of_request(parts: &Parts, files_host: Option<&FilesHost>) -> Mount {
        let Some(files_host) = files_host else {
            return Mount::Main;
        };
        // HTTP/2's :authority (and an absolute-form target) is in the URI; RFC 9112 §3.2.2
        // says such a target wins over Host.
        let host = parts.uri.host().or_else(|| {
            let value = parts.headers.get(http::header::HOST)?.to_str().ok()?;
            Some(host_of(value))
        });
        Mount::of_host(host, files_host)
    }

    /// The mount a URL with this host names; a URL naming no host, or another host,
    /// is read on the main host.
    pub(super) fn of_host(host: Option<&str>, files_host: &FilesHost) -> Mount {
        match host {
            Some(host) if files_host.is(host) => Mount::FilesHost,
            _ => Mount::Main,
        }
    }
}

/// True when `path` is `prefix` or below it.
pub(super) fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The first segment of the trash on the files host: `/.trash/`.
const TRASH_SEGMENT: &str = ".trash";

/// The host name of a `Host` header value: without the port, brackets kept for IPv6.
fn host_of(value: &str) -> &str {
    let value = value.trim();
    if value.starts_with('[') {
        return value.split_inclusive(']').next().unwrap_or(value);
    }
    value.split(':').next().unwrap_or(value)
}

/// The host name the files tree is served at the root of (`files_host`), lower case,
/// without port or trailing dot.
#[derive(Clone, PartialEq, Eq)]
pub struct FilesHost(String);

impl FilesHost {
    /// Checks a configured host name: letters, digits, `-` and `.`, or an IPv4 address.
    pub fn new(name: &str) -> Result<Self, FilesHostError> {
        let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
        let valid_label = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if name.is_empty() || name.len() > 253 || !name.split('.').all(valid_label) {
            return Err(FilesHostError(name));
        }
        Ok(FilesHost(name))
    }

    /// The name, as configured.
    pub fn name(&self) -> &str {
        &self.0
    }

    /// True when `host` (no port) names this host.
    fn is(&self, host: &str) -> bool {
        host.trim_end_matches('.').eq_ignore_ascii_case(&self.0)
    }
}

impl fmt::Debug for FilesHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A `files_host` that is not a host name.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "files_host {0:?} is not a host name: give the bare name clients dial, e.g. \
     files_host = \"files.example.org\" (no scheme, port or path)"
)]
pub struct FilesHostError(String);

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, host: Option<&str>) -> Parts {
        let mut req = http::Request::builder().uri(uri);
        if let Some(host) = host {
            req = req.header("host", host);
        }
        req.body(()).unwrap().into_parts().0
    }

    #[test]
    fn the_host_decides_the_mount_ignoring_port_and_case() {
        let files = FilesHost::new("Files.Example.org").unwrap();
        let on = |uri: &str, host: Option<&str>| Mount::of_request(&parts(uri, host), Some(&files));
        assert_eq!(on("/", Some("files.example.org")), Mount::FilesHost);
        assert_eq!(on("/", Some("FILES.example.ORG:8443")), Mount::FilesHost);
        assert_eq!(on("/", Some("files.example.org.")), Mount::FilesHost);
        assert_eq!(on("/", Some("example.org")), Mount::Main);
        assert_eq!(on("/", Some("[::1]:80")), Mount::Main);
        assert_eq!(on("/", None), Mount::Main);
        // HTTP/2 :authority arrives in the URI and wins over Host.
        assert_eq!(
            on("https://files.example.org/x", Some("example.org")),
            Mount::FilesHost
        );
        assert_eq!(
            Mount::of_request(&parts("/", Some("files.example.org")), None),
            Mount::Main
        );
    }

    #[test]
    fn a_configured_host_is_a_bare_name() {
        assert_eq!(FilesHost::new("localhost").unwrap().name(), "localhost");
        assert_eq!(FilesHost::new("127.0.0.1").unwrap().name(), "127.0.0.1");
        for bad in [
            "",
            "https://files.example.org",
            "files.example.org:8443",
            "files.example.org/x",
            "-x.org",
            "a..b",
        ] {
            assert!(FilesHost::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hrefs_follow_the_mount() {
        let segs = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let table = [
            (Mount::Main, TreeRoot::Files, &[][..], true, "/files/"),
            (
                Mount::Main,
                TreeRoot::Trash,
                &["x.d1"][..],
                false,
                "/trash/x.d1",
            ),
            (Mount::FilesHost, TreeRoot::Files, &[][..], true, "/"),
            (
                Mount::FilesHost,
                TreeRoot::Files,
                &["a b", "c"][..],
                true,
                "/a b/c/",
            ),
            (Mount::FilesHost, TreeRoot::Trash, &[][..], true, "/.trash/"),
        ];
        for (mount, tree, path, folder, expected) in table {
            assert_eq!(mount.href(tree, &segs(path), folder), expected);
        }
    }

    #[test]
    fn host_of_strips_the_port() {
        assert_eq!(host_of("a.b:80"), "a.b");
        assert_eq!(host_of("[::1]:80"), "[::1]");
        assert_eq!(host_of("a.b"), "a.b");
    }
}
