//! The address people and devices are given for this server: scheme, host, port and an
//! optional path prefix, from the `public_url` setting or, without it, from the request
//! a person made. Device profiles, connection guides and QR codes are written with it.
//! Owns parsing and validating that address; not how a request's host is trusted.

use std::fmt;

/// How a client reaches the public address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// TLS (`https://`).
    Https,
    /// Plain HTTP (`http://`): loopback or a test set-up.
    Http,
}

impl Scheme {
    /// The port a URL without one means.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Https => 443,
            Scheme::Http => 80,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }
}

/// A validated public address such as `https://dav.example.org` or
/// `https://example.org:8443/davgate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    scheme: Scheme,
    host: String,
    port: u16,
    /// Empty, or `/prefix` without a trailing slash.
    prefix: String,
}

/// Why a public address cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "public_url {given:?} {why}: write it as https://HOST[:PORT][/PATH], e.g. https://dav.example.org"
)]
pub struct PublicUrlError {
    given: String,
    why: &'static str,
}

impl PublicUrl {
    /// Parses `https://HOST[:PORT][/PATH]` (or `http://`).
    pub fn parse(text: &str) -> Result<Self, PublicUrlError> {
        let fail = |why| PublicUrlError {
            given: text.to_owned(),
            why,
        };
        let (scheme, rest) = if let Some(rest) = text.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = text.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else {
            return Err(fail("does not start with https:// or http://"));
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if path.contains(['?', '#']) || authority.contains(['?', '#', '@']) {
            return Err(fail("has a query, fragment or user name"));
        }
        let (host, port) = split_port(authority).ok_or_else(|| fail("has an invalid port"))?;
        let host = Self::valid_host(host).ok_or_else(|| fail("has no valid host name"))?;
        let prefix = path.trim_end_matches('/');
        if prefix.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(fail("has spaces in its path"));
        }
        Ok(PublicUrl {
            scheme,
            host,
            port: port.unwrap_or(scheme.default_port()),
            prefix: prefix.to_owned(),
        })
    }

    /// The address of a request when no `public_url` is set: its scheme and `Host`
    /// header (`host` or `host:port`). `None` when the header is not a host.
    pub fn from_request(scheme: Scheme, host_header: &str) -> Option<Self> {
        let (host, port) = split_port(host_header)?;
        Some(PublicUrl {
            scheme,
            host: Self::valid_host(host)?,
            port: port.unwrap_or(scheme.default_port()),
            prefix: String::new(),
        })
    }

    /// Host names and IP literals (IPv6 in brackets), lowercased.
    fn valid_host(host: &str) -> Option<String> {
        let ok = !host.is_empty()
            && host.len() <= 253
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
        ok.then(|| host.to_ascii_lowercase())
    }

    /// TLS or not.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Whether clients connect with TLS.
    pub fn uses_tls(&self) -> bool {
        self.scheme == Scheme::Https
    }

    /// The host name (or IP literal), without the port.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host` or `host:port`, the port only when it is not the scheme's default: what a
    /// NAS form's "server" field or a `davs://` address takes.
    pub fn authority(&self) -> String {
        if self.port == self.scheme.default_port() {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The path prefix the server is reached under: empty, or `/prefix`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `scheme://authority`, as a browser sends it in `Origin`.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme.as_str(), self.authority())
    }

    /// The absolute URL of a server path (`/dav/principals/alice/`).
    pub fn join(&self, path: &str) -> String {
        format!("{self}{path}")
    }
}

/// Splits `host[:port]` (with `[v6]:port`); `None` for a bad port.
fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let colon = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => i,
        _ => return Some((authority, None)),
    };
    let port = authority[colon + 1..]
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)?;
    Some((&authority[..colon], Some(port)))
}

impl fmt::Display for PublicUrl {
    /// `https://host[:port]/prefix`, the port shown only when it is not the default.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.origin(), self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scheme_host_port_and_prefix() {
        let u = PublicUrl::parse("https://DAV.example.org/").unwrap();
        assert_eq!(
            (u.host(), u.port(), u.uses_tls()),
            ("dav.example.org", 443, true)
        );
        assert_eq!(u.join("/dav/"), "https://dav.example.org/dav/");
        let u = PublicUrl::parse("http://127.0.0.1:8080/sync/").unwrap();
        assert_eq!(
            (u.host(), u.port(), u.uses_tls()),
            ("127.0.0.1", 8080, false)
        );
        assert_eq!(u.join("/dav/"), "http://127.0.0.1:8080/sync/dav/");
        let u = PublicUrl::parse("https://[::1]:8443").unwrap();
        assert_eq!((u.host(), u.port()), ("[::1]", 8443));
        assert_eq!(u.to_string(), "https://[::1]:8443");
        assert_eq!(u.origin(), "https://[::1]:8443");
        let u = PublicUrl::parse("https://example.org:443/sync").unwrap();
        assert_eq!(
            (u.authority(), u.origin()),
            ("example.org".into(), "https://example.org".into())
        );
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for bad in [
            "dav.example.org",
            "ftp://x",
            "https://",
            "https://a:0",
            "https://a:99999",
            "https://user@a",
            "https://a/?x",
            "https://a b",
            "https://a/b c",
        ] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_request_host_header_gives_an_address() {
        let u = PublicUrl::from_request(Scheme::Http, "localhost:8080").unwrap();
        assert_eq!(u.to_string(), "http://localhost:8080");
        assert!(PublicUrl::from_request(Scheme::Https, "a/b").is_none());
    }
}
