//! The conditional headers, checked before any handler sees them: `If` (RFC 4918
//! §10.4), `If-Match`, `If-None-Match` and `If-Range` (RFC 9110 §13.1).
//!
//! Pure. Parsed once here, so a malformed value (an unterminated `If` list, a lone
//! `"`) is a 400 naming the header before any handler runs; every handler takes the
//! typed [`Conditions`].

use std::fmt;

/// The conditions a request carries, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// The `If` header's lists, in order; empty when absent.
    pub if_lists: Vec<IfList>,
    /// `If-Match`, when present.
    pub if_match: Option<EtagList>,
    /// `If-None-Match`, when present.
    pub if_none_match: Option<EtagList>,
}

impl Conditions {
    /// Every lock token named anywhere in the `If` header (negated ones included: RFC
    /// 4918 §10.4.2 lets a client submit a token through `Not` as well).
    pub fn lock_tokens(&self) -> Vec<String> {
        self.if_lists
            .iter()
            .flat_map(|list| &list.conditions)
            .filter_map(|c| match &c.test {
                Test::StateToken(token) => Some(token.clone()),
                Test::Etag(_) => None,
            })
            .collect()
    }
}

/// What is known of a resource an `If` list may be about.
#[derive(Debug, Clone, Default)]
pub struct IfState<'a> {
    /// Its entity tag, bare (no `W/`, no quotes); `None` when it does not exist.
    pub etag: Option<&'a str>,
    /// The tokens of the locks covering it.
    pub lock_tokens: &'a [String],
}

impl Conditions {
    /// Whether the `If` header holds (RFC 4918 §10.4.3): any list whose conditions all
    /// hold. `state` answers for a list's resource, `None` meaning the request's own; a
    /// resource it cannot answer for fails its list. No header holds.
    pub fn if_holds<'a>(&self, state: impl Fn(Option<&str>) -> Option<IfState<'a>>) -> bool {
        self.if_lists.is_empty()
            || self.if_lists.iter().any(|list| {
                let Some(resource) = state(list.resource.as_deref()) else {
                    return false;
                };
                list.conditions.iter().all(|c| {
                    let holds = match &c.test {
                        Test::StateToken(token) => resource.lock_tokens.contains(token),
                        Test::Etag(tag) => resource.etag == Some(bare_etag(tag)),
                    };
                    holds != c.negated
                })
            })
    }

    /// Whether `If-Match` and `If-None-Match` hold for a resource with this bare entity
    /// tag (an empty one when it does not exist).
    pub fn http_hold(&self, etag: &str) -> bool {
        let listed = |list: &EtagList| match list {
            EtagList::Any => !etag.is_empty(),
            EtagList::Tags(tags) => tags.iter().any(|t| bare_etag(t) == etag),
        };
        self.if_match.as_ref().is_none_or(listed)
            && !self.if_none_match.as_ref().is_some_and(listed)
    }
}

/// An entity tag without `W/` and quotes: ours are strong, and stored bare.
fn bare_etag(tag: &str) -> &str {
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    tag.trim_matches('"')
}

/// One parenthesised list of the `If` header, with the resource it is tagged with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfList {
    /// The `<URL>` before the list, for a tagged list.
    pub resource: Option<String>,
    pub conditions: Vec<Condition>,
}

/// One condition inside an `If` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub negated: bool,
    pub test: Test,
}

/// What a condition tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// `<urn:uuid:…>`: a lock token (or any state token, such as `DAV:no-lock`).
    StateToken(String),
    /// `["etag"]`: the resource's entity tag.
    Etag(String),
}

/// `If-Match` / `If-None-Match`: `*`, or entity tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtagList {
    Any,
    Tags(Vec<String>),
}

/// Why a conditional header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConditionError {
    pub header: &'static str,
    pub reason: &'static str,
}

impl fmt::Display for ConditionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the {} header is malformed: {}; fix the header or leave it out",
            self.header, self.reason
        )
    }
}

impl std::error::Error for ConditionError {}

/// Parses the three headers; `None` values are absent headers.
pub fn parse(
    if_header: Option<&[u8]>,
    if_match: Option<&[u8]>,
    if_none_match: Option<&[u8]>,
) -> Result<Conditions, ConditionError> {
    Ok(Conditions {
        if_lists: if_header
            .map(|v| {
                parse_if(v).map_err(|reason| ConditionError {
                    header: "If",
                    reason,
                })
            })
            .transpose()?
            .unwrap_or_default(),
        if_match: if_match
            .map(|v| {
                parse_etag_list(v).map_err(|reason| ConditionError {
                    header: "If-Match",
                    reason,
                })
            })
            .transpose()?,
        if_none_match: if_none_match
            .map(|v| {
                parse_etag_list(v).map_err(|reason| ConditionError {
                    header: "If-None-Match",
                    reason,
                })
            })
            .transpose()?,
    })
}

/// Checks `If-Range` (RFC 9110 §13.1.5): one entity tag or an HTTP date. dav-server
/// reads it on every GET and panicked on a lone `"`, so it must parse here first.
pub fn check_if_range(value: &[u8]) -> Result<(), ConditionError> {
    let refuse = |reason| ConditionError {
        header: "If-Range",
        reason,
    };
    let text = std::str::from_utf8(value).map_err(|_| refuse("it is not text"))?;
    if httpdate::parse_http_date(text.trim()).is_ok() {
        return Ok(());
    }
    let mut cur = Cursor::new(value);
    cur.skip_space();
    if !matches!(cur.peek(), Some(b'"' | b'W')) {
        return Err(refuse("it is neither an entity tag nor an HTTP date"));
    }
    cur.etag().map_err(refuse)?;
    cur.skip_space();
    if !cur.done() {
        return Err(refuse("it holds more than one entity tag"));
    }
    Ok(())
}

/// A byte cursor over a header value.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, at: 0 }
    }

    fn skip_space(&mut self) {
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| matches!(b, b' ' | b'\t'))
        {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    /// Text up to (not including) `end`, which is consumed.
    fn until(&mut self, end: u8, what: &'static str) -> Result<&'a str, &'static str> {
        let rest = &self.bytes[self.at..];
        let len = rest.iter().position(|&b| b == end).ok_or(what)?;
        let text = std::str::from_utf8(&rest[..len]).map_err(|_| "it is not text")?;
        self.at += len + 1;
        Ok(text)
    }

    /// A quoted entity tag, optionally weak (`W/"…"`), returned as written.
    fn etag(&mut self) -> Result<&'a str, &'static str> {
        let start = self.at;
        if self.bytes[self.at..].starts_with(b"W/") {
            self.at += 2;
        }
        if !self.eat(b'"') {
            return Err("an entity tag must be in double quotes");
        }
        let inner = self.until(b'"', "an entity tag has no closing quote")?;
        if inner.bytes().any(|b| b < 0x21 || b == 0x7f) {
            return Err("an entity tag contains a control character or space");
        }
        std::str::from_utf8(&self.bytes[start..self.at]).map_err(|_| "it is not text")
    }
}

fn parse_if(value: &[u8]) -> Result<Vec<IfList>, &'static str> {
    let mut cur = Cursor::new(value);
    let mut lists = Vec::new();
    let mut resource = None;
    loop {
        cur.skip_space();
        match cur.peek() {
            None => break,
            Some(b'<') => {
                cur.at += 1;
                let tag = cur.until(b'>', "a resource tag has no closing '>'")?;
                // No URL holds a '"'; dav-server reads one as opening a quoted
                // string and ran past the end of the header (a panic).
                if tag.contains('"') {
                    return Err("a resource tag contains a '\"'");
                }
                resource = Some(tag.to_owned());
            }
            Some(b'(') => {
                cur.at += 1;
                lists.push(IfList {
                    resource: resource.clone(),
                    conditions: parse_list(&mut cur)?,
                });
            }
            Some(_) => return Err("expected '(' to start a list or '<' to name a resource"),
        }
    }
    if lists.is_empty() {
        return Err("it holds no condition list");
    }
    Ok(lists)
}

/// The conditions of one list, after its `(`, through its `)`.
fn parse_list(cur: &mut Cursor<'_>) -> Result<Vec<Condition>, &'static str> {
    let mut conditions = Vec::new();
    loop {
        cur.skip_space();
        if cur.eat(b')') {
            break;
        }
        if cur.done() {
            return Err("a list has no closing ')'");
        }
        let negated = cur.bytes[cur.at..]
            .get(..3)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"not"));
        if negated {
            cur.at += 3;
            cur.skip_space();
        }
        let test = if cur.eat(b'<') {
            let token = cur.until(b'>', "a state token has no closing '>'")?;
            if token.is_empty() || token.bytes().any(|b| b <= b' ' || b == b'"') {
                return Err("a state token is empty or contains spaces or a '\"'");
            }
            Test::StateToken(token.to_owned())
        } else if cur.eat(b'[') {
            let etag = cur.etag()?.to_owned();
            if !cur.eat(b']') {
                return Err("an entity tag condition has no closing ']'");
            }
            Test::Etag(etag)
        } else {
            return Err("a condition must be a <state token> or an [\"entity tag\"]");
        };
        conditions.push(Condition { negated, test });
    }
    if conditions.is_empty() {
        return Err("a list is empty");
    }
    Ok(conditions)
}

fn parse_etag_list(value: &[u8]) -> Result<EtagList, &'static str> {
    let mut cur = Cursor::new(value);
    cur.skip_space();
    if cur.eat(b'*') {
        cur.skip_space();
        return if cur.done() {
            Ok(EtagList::Any)
        } else {
            Err("'*' cannot be combined with entity tags")
        };
    }
    let mut tags = Vec::new();
    loop {
        cur.skip_space();
        if cur.done() {
            break;
        }
        if cur.eat(b',') {
            continue;
        }
        let tag = cur.etag()?;
        // RFC 9110 allows a comma inside the quotes, but dav-server splits these
        // headers on every comma and panicked on the pieces; ours never hold one.
        if tag.contains(',') {
            return Err("an entity tag contains a comma, which this server never issues");
        }
        tags.push(tag.to_owned());
        cur.skip_space();
        if !cur.done() && !cur.eat(b',') {
            return Err("entity tags must be separated by commas");
        }
    }
    if tags.is_empty() {
        return Err("it names no entity tag");
    }
    Ok(EtagList::Tags(tags))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn if_(v: &str) -> Result<Vec<IfList>, &'static str> {
        parse_if(v.as_bytes())
    }

    #[test]
    fn if_header_lists_tags_and_negation() {
        let lists =
            if_("<http://h/files/a> (<urn:uuid:1> [\"e1\"]) (Not <DAV:no-lock>) \t").unwrap();
        assert_eq!(lists.len(), 2);
        assert_eq!(lists[0].resource.as_deref(), Some("http://h/files/a"));
        assert_eq!(lists[1].resource.as_deref(), Some("http://h/files/a"));
        assert_eq!(
            lists[0].conditions,
            [
                Condition {
                    negated: false,
                    test: Test::StateToken("urn:uuid:1".into())
                },
                Condition {
                    negated: false,
                    test: Test::Etag("\"e1\"".into())
                },
            ]
        );
        assert!(lists[1].conditions[0].negated);
        assert!(if_("([W/\"weak\"])").is_ok());
    }

    #[test]
    fn malformed_if_headers_are_refused() {
        for bad in [
            "(<garbage",
            "(<urn:uuid:x> [\"unterminated)",
            "",
            "()",
            "urn:uuid:x",
            "(<urn:uuid:x>",
            "<http://h/a>",
            "(nonsense)",
            "([\"a\" )",
            "(<>)",
            // A '"' in a URL: dav-server took it for a quote and read past the end.
            "(<urn:uuid:181d4fae-7d8c-11\"z/d0-a0c91e6bf2>)",
            "<http://x/\"> (<urn:uuid:1>)",
        ] {
            assert!(if_(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn etag_lists() {
        assert_eq!(parse_etag_list(b"*"), Ok(EtagList::Any));
        assert_eq!(
            parse_etag_list(b"\"a\", W/\"b\""),
            Ok(EtagList::Tags(vec!["\"a\"".into(), "W/\"b\"".into()]))
        );
        for bad in [
            &b"\""[..],
            b"",
            b"\"a\" \"b\"",
            b"a",
            b"*, \"a\"",
            b"\"a",
            // dav-server splits on the comma inside and panicked on the lone quote.
            b", W/\"de,\"",
            b"\"a, \"",
        ] {
            assert!(
                parse_etag_list(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn if_range_is_one_entity_tag_or_a_date() {
        for good in [
            &b"\"abc\""[..],
            b" W/\"abc\" ",
            b"Thu, 01 Jan 1970 00:00:00 GMT",
        ] {
            assert_eq!(
                check_if_range(good),
                Ok(()),
                "{}",
                String::from_utf8_lossy(good)
            );
        }
        for bad in [
            &b"\""[..],
            b"W/\"",
            b"\"a\" \"b\"",
            b"tomorrow",
            b"",
            b"\xff",
        ] {
            assert!(
                check_if_range(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    fn state<'a>(etag: &'a str, tokens: &'a [String]) -> Option<IfState<'a>> {
        Some(IfState {
            etag: Some(etag),
            lock_tokens: tokens,
        })
    }

    fn if_only(value: &str) -> Conditions {
        parse(Some(value.as_bytes()), None, None).unwrap()
    }

    #[test]
    fn any_list_may_hold_and_every_condition_of_it_must() {
        let held = vec!["urn:uuid:1".to_owned()];
        let c = if_only(r#"(<urn:uuid:1> ["e1"])"#);
        assert!(c.if_holds(|_| state("e1", &held)));
        assert!(!c.if_holds(|_| state("e2", &held)));
        assert!(!c.if_holds(|_| state("e1", &[])));
        let c = if_only("(<urn:uuid:stale>) (Not <DAV:no-lock>)");
        assert!(c.if_holds(|_| state("e", &[])));
        let c = if_only("(<DAV:no-lock>)");
        assert!(!c.if_holds(|_| state("e", &held)));
        let tagged = if_only(r#"</elsewhere> (["e"])"#);
        assert!(!tagged.if_holds(|r| if r.is_none() { state("e", &[]) } else { None }));
        assert!(Conditions::default().if_holds(|_| None));
    }

    #[test]
    fn http_conditions_compare_bare_etags() {
        let c = |m: Option<&str>, n: Option<&str>| {
            parse(None, m.map(str::as_bytes), n.map(str::as_bytes)).unwrap()
        };
        assert!(c(None, None).http_hold("e"));
        assert!(c(Some("\"e\""), None).http_hold("e"));
        assert!(c(Some("\"x\", \"e\""), None).http_hold("e"));
        assert!(c(Some("*"), None).http_hold("e"));
        assert!(!c(Some("*"), None).http_hold(""));
        assert!(!c(Some("\"x\""), None).http_hold("e"));
        assert!(!c(None, Some("*")).http_hold("e"));
        assert!(!c(None, Some("W/\"e\"")).http_hold("e"));
        assert!(c(None, Some("\"x\"")).http_hold("e"));
    }

    #[test]
    fn tokens_from_every_list() {
        let c = parse(
            Some(b"(<urn:uuid:1>) (Not <urn:uuid:2> [\"e\"])"),
            None,
            None,
        )
        .unwrap();
        assert_eq!(c.lock_tokens(), ["urn:uuid:1", "urn:uuid:2"]);
    }
}
