//! A browser as the portal sees one: keeps its cookie, sends `Origin` with every POST,
//! follows no redirect by itself, and reads the CSRF token off the last page.

use std::net::SocketAddr;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// One browser (one cookie jar) against one server.
pub struct Browser {
    http: reqwest::Client,
    base: String,
    /// Name and value of the session cookie, as last set.
    pub cookie: Option<(String, String)>,
    /// Extra headers on every request (a proxy's X-Forwarded-Proto).
    extra: Vec<(String, String)>,
    /// The CSRF token of the last page that had one.
    pub csrf: Option<String>,
}

/// A page as received.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    /// The body as sent, for downloads that are not text.
    pub bytes: Vec<u8>,
}

impl Page {
    #[track_caller]
    pub fn status(self, expected: u16) -> Self {
        assert_eq!(self.status.as_u16(), expected, "body:\n{}", self.body);
        self
    }

    #[track_caller]
    pub fn says(self, words: &str) -> Self {
        assert!(
            self.body.contains(words),
            "{words:?} not in:\n{}",
            self.body
        );
        self
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    /// The text of the element with this id (no nested elements).
    #[track_caller]
    pub fn element(&self, id: &str) -> String {
        let marker = format!("id=\"{id}\"");
        let start = self.body.find(&marker).unwrap_or_else(|| {
            panic!("no element {id} in:\n{}", self.body);
        });
        let rest = &self.body[start..];
        let open_end = rest.find('>').unwrap() + 1;
        let close = rest[open_end..].find('<').unwrap();
        rest[open_end..open_end + close].trim().to_owned()
    }
}

impl Browser {
    pub fn new(addr: SocketAddr) -> Self {
        Self::at(format!("http://{addr}"))
    }

    pub fn at(base: String) -> Self {
        Self::with_client(base, reqwest::Client::builder())
    }

    /// A browser at an `https://` base that trusts the PEM certificate `root`.
    pub fn over_tls(base: String, root: &[u8]) -> Self {
        let root = reqwest::Certificate::from_pem(root).unwrap();
        Self::with_client(base, reqwest::Client::builder().add_root_certificate(root))
    }

    fn with_client(base: String, builder: reqwest::ClientBuilder) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Browser {
            http: builder
                .redirect(reqwest::redirect::Policy::none())
                .user_agent("PortalTest/1.0 (like Firefox)")
                .build()
                .unwrap(),
            base,
            cookie: None,
            extra: Vec::new(),
            csrf: None,
        }
    }

    /// Sends `name: value` with every request.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }

    pub fn origin(&self) -> String {
        self.base.clone()
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    /// A form POST from this server's own page: Origin and the last CSRF token.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut fields: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some(token) = &self.csrf {
            fields.push(("csrf".into(), token.clone()));
        }
        let origin = self.origin();
        self.post_raw(path, &fields, Some(&origin)).await
    }

    /// A POST exactly as given: fields, and Origin or none.
    pub async fn post_raw(
        &mut self,
        path: &str,
        fields: &[(String, String)],
        origin: Option<&str>,
    ) -> Page {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode(fields));
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        self.send(req).await
    }

    /// Signs in with the password; the answer is the 303 (or the refusal). Like a
    /// browser, it then loads the page the 303 names, whose forms carry the new token.
    pub async fn sign_in(&mut self, user: &str, password: &str) -> Page {
        let page = self
            .post(
                "/account/sign-in",
                &[("user", user), ("password", password)],
            )
            .await;
        if page.status == StatusCode::SEE_OTHER {
            self.get("/account/").await;
        }
        page
    }

    async fn send(&mut self, mut req: reqwest::RequestBuilder) -> Page {
        if let Some((name, value)) = &self.cookie {
            req = req.header("cookie", format!("{name}={value}"));
        }
        for (name, value) in &self.extra {
            req = req.header(name.as_str(), value.as_str());
        }
        let resp = req.send().await.expect("portal answers");
        for set in resp.headers().get_all("set-cookie") {
            let text = set.to_str().unwrap();
            let (pair, _) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || text.contains("Max-Age=0") {
                self.cookie = None;
            } else {
                self.cookie = Some((name.to_owned(), value.to_owned()));
            }
        }
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap().to_vec();
        let page = Page {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        };
        if let Some(token) = csrf_of(&page.body) {
            self.csrf = Some(token);
        }
        page
    }
}

fn csrf_of(body: &str) -> Option<String> {
    let at = body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let end = body[at..].find('"')?;
    Some(body[at..at + end].to_owned())
}

fn encode(fields: &[(String, String)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", component(k), component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn component(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
