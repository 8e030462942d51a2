//! A fluent WebDAV client whose assertions read like the protocol.

use std::net::SocketAddr;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

/// A client for one server and one set of credentials.
#[derive(Clone)]
pub struct Dav {
    http: reqwest::Client,
    base: String,
    creds: Option<(String, String)>,
}

impl Dav {
    pub fn new(addr: SocketAddr, creds: Option<(String, String)>) -> Self {
        // reqwest is built without a default TLS provider; TLS tests need ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Dav {
            http: reqwest::Client::builder().build().expect("client"),
            base: format!("http://{addr}"),
            creds,
        }
    }

    /// A client at `base` (`https://host:port`) over a prepared `http` client (its own
    /// trusted roots, name resolution, local address): a server behind a proxy.
    pub fn over(http: reqwest::Client, base: &str, creds: Option<(String, String)>) -> Self {
        Dav {
            http,
            base: base.to_owned(),
            creds,
        }
    }

    /// The same server with other credentials.
    pub fn as_user(&self, user: &str, password: &str) -> Self {
        Dav {
            creds: Some((user.into(), password.into())),
            ..self.clone()
        }
    }

    /// The same server and credentials, dialled by another name (`localhost` for a test
    /// server's files host): the URLs, and so the `Host` header, carry that name.
    pub fn on_host(&self, host: &str) -> Self {
        let port = self.base.rsplit(':').next().expect("base has a port");
        Dav {
            base: format!("http://{host}:{port}"),
            ..self.clone()
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn req(&self, method: &str, path: &str) -> Req {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let mut builder = self.http.request(method, self.url(path));
        if let Some((user, password)) = &self.creds {
            builder = builder.basic_auth(user, Some(password));
        }
        Req { builder }
    }

    pub async fn put(&self, path: &str, body: impl Into<reqwest::Body>) -> Resp {
        self.req("PUT", path).body(body).send().await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.req("GET", path).send().await
    }

    pub async fn mkcol(&self, path: &str) -> Resp {
        self.req("MKCOL", path).send().await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.req("DELETE", path).send().await
    }

    /// PROPFIND with the given depth and an allprop body.
    pub async fn propfind(&self, path: &str, depth: &str) -> Resp {
        self.req("PROPFIND", path)
            .header("Depth", depth)
            .send()
            .await
    }

    /// PROPFIND of named DAV: properties.
    pub async fn props(&self, path: &str, depth: &str, names: &[&str]) -> Resp {
        let props: String = names.iter().map(|n| format!("<D:{n}/>")).collect();
        let body = format!(
            r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>{props}</D:prop></D:propfind>"#
        );
        self.req("PROPFIND", path)
            .header("Depth", depth)
            .body(body)
            .send()
            .await
    }
}

/// A request being built.
pub struct Req {
    builder: reqwest::RequestBuilder,
}

impl Req {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    pub fn body(mut self, body: impl Into<reqwest::Body>) -> Self {
        self.builder = self.builder.body(body);
        self
    }

    pub async fn send(self) -> Resp {
        let response = self.builder.send().await.expect("request is answered");
        let status = response.status();
        let headers = response.headers().clone();
        let version = response.version();
        let body = response.bytes().await.expect("body");
        Resp {
            status,
            headers,
            body,
            version,
        }
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub version: reqwest::Version,
}

impl Resp {
    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn status(self, expected: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            expected,
            "unexpected status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts that the body says `words`.
    #[track_caller]
    pub fn says(self, words: &str) -> Self {
        assert!(
            self.text().contains(words),
            "body lacks {words:?}: {}",
            self.text()
        );
        self
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii header").to_owned())
    }

    /// The `href`s of a multistatus, decoded as sent.
    pub fn hrefs(&self) -> Vec<String> {
        elements(&self.text(), "href")
    }

    /// Asserts the set of hrefs in a multistatus.
    #[track_caller]
    pub fn href_set(self, expected: &[&str]) -> Self {
        let mut got = self.hrefs();
        got.sort();
        let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "multistatus hrefs");
        self
    }

    /// Text of every element with this local name, whatever its prefix.
    pub fn values(&self, local_name: &str) -> Vec<String> {
        elements(&self.text(), local_name)
    }

    /// Text of the first element with this local name.
    #[track_caller]
    pub fn prop(&self, local_name: &str) -> String {
        self.values(local_name)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no {local_name} in {}", self.text()))
    }
}

/// Texts of elements named `local` (any prefix) in an XML document.
pub fn elements(xml: &str, local: &str) -> Vec<String> {
    let mut reader = quick_xml::NsReader::from_str(xml);
    let mut out = Vec::new();
    let mut inside = false;
    let mut current = String::new();
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e)) if e.local_name().as_ref() == local => {
                inside = true;
                current.clear();
            }
            Ok(quick_xml::events::Event::Empty(e)) if e.local_name().as_ref() == local => {
                out.push(String::new())
            }
            Ok(quick_xml::events::Event::Text(t)) if inside => current.push_str(&t.xml10_content()),
            Ok(quick_xml::events::Event::GeneralRef(r)) if inside => {
                let name = r.into_inner();
                let decoded = match &*name {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "quot" => '"',
                    "apos" => '\'',
                    reference => reference
                        .strip_prefix("#x")
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .or_else(|| reference.strip_prefix('#').and_then(|d| d.parse().ok()))
                        .and_then(char::from_u32)
                        .unwrap_or('?'),
                };
                current.push(decoded);
            }
            Ok(quick_xml::events::Event::End(e)) if inside && e.local_name().as_ref() == local => {
                inside = false;
                out.push(current.trim().to_owned());
            }
            Ok(quick_xml::events::Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    out
}
