//! Where the browser reached us and what this server is called in client settings:
//! `public_url` when it is configured, else the request's own host and scheme (the
//! proxy's `X-Forwarded-Proto` believed only with `trusted_proxy`).

use http::{HeaderMap, Uri, header};

use super::state::{Ctx, PortalSettings};
use crate::auth::usage::ClientInfo;
use crate::public_url::{PublicUrl, Scheme};

/// The context of one portal request.
pub(super) fn ctx(
    settings: &PortalSettings,
    headers: &HeaderMap,
    uri: &Uri,
    client: ClientInfo,
) -> Ctx {
    let secure = settings.tls
        || (settings.trusted_proxy
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("https")));
    let scheme = if secure { Scheme::Https } else { Scheme::Http };
    let request_url = host_header(headers, uri)
        .and_then(|host| PublicUrl::from_request(scheme, &host))
        .or_else(|| PublicUrl::from_request(scheme, "localhost"))
        .expect("localhost is a host name");
    let origin = request_url.origin();
    let base_url = settings.public_url.clone().unwrap_or(request_url);
    Ctx {
        client,
        secure,
        origin,
        base_url,
    }
}

/// The `Host` header (or the absolute URI's authority); [`PublicUrl::from_request`]
/// decides whether it is a plausible host.
fn host_header(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(|h| h.trim().to_owned())
        .or_else(|| uri.authority().map(|a| a.as_str().to_owned()))
}

/// Settings for common clients, written with this server's address.
pub(crate) struct ClientSettings {
    /// WebDAV address of the files (`…/files/`).
    pub files_url: String,
    /// CalDAV and CardDAV address (`…/dav/`).
    pub dav_url: String,
    /// The account's principal.
    pub principal_url: String,
    /// The host (and a port other than the default), for NAS forms that ask for server
    /// and path separately.
    pub host: String,
    /// `rclone config create …`, password included (obscured by rclone itself).
    pub rclone: String,
}

impl ClientSettings {
    /// Settings for `user` with `password` at `base_url`.
    pub(crate) fn new(base_url: &PublicUrl, user: &str, password: &str) -> Self {
        let files_url = base_url.join("/files/");
        ClientSettings {
            rclone: format!(
                "rclone config create davgate webdav url={files_url} vendor=owncloud \
                 user={user} pass={password} --obscure"
            ),
            files_url,
            dav_url: base_url.join("/dav/"),
            principal_url: base_url.join(&format!("/dav/principals/{user}/")),
            host: base_url.authority(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(public_url: Option<&str>, trusted_proxy: bool) -> PortalSettings {
        PortalSettings {
            public_url: public_url.map(|u| PublicUrl::parse(u).unwrap()),
            session_idle: std::time::Duration::from_secs(60),
            session_lifetime: std::time::Duration::from_secs(600),
            tls: false,
            trusted_proxy,
        }
    }

    fn at(settings: &PortalSettings, headers: &[(&str, &str)]) -> Ctx {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let client = ClientInfo::new("127.0.0.1".parse().unwrap(), "t");
        ctx(settings, &map, &Uri::from_static("/account/"), client)
    }

    #[test]
    fn the_proxy_is_believed_only_when_trusted() {
        let https = [("host", "dav.example.org"), ("x-forwarded-proto", "https")];
        let trusted = at(&settings(None, true), &https);
        assert!(trusted.secure);
        assert_eq!(trusted.base_url.to_string(), "https://dav.example.org");
        let untrusted = at(&settings(None, false), &https);
        assert!(!untrusted.secure);
        assert_eq!(untrusted.origin, "http://dav.example.org");
        let public = at(&settings(Some("https://files.example.org"), false), &https);
        assert_eq!(public.base_url.to_string(), "https://files.example.org");
        let odd = at(&settings(None, false), &[("host", "a b\"<x>")]);
        assert_eq!(odd.origin, "http://localhost");
    }

    #[test]
    fn client_settings_name_this_server() {
        let url = PublicUrl::parse("https://dav.example.org:8443").unwrap();
        let s = ClientSettings::new(&url, "alice", "pw");
        assert_eq!(s.files_url, "https://dav.example.org:8443/files/");
        assert_eq!(s.host, "dav.example.org:8443");
        assert!(
            s.rclone
                .contains("url=https://dav.example.org:8443/files/ vendor=owncloud")
        );
        assert!(s.rclone.ends_with("user=alice pass=pw --obscure"));
    }
}
