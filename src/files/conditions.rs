//! The preconditions of a COPY or MOVE: the WebDAV `If` header (RFC 4918 §10.4) and
//! HTTP `If-Match` / `If-None-Match` (RFC 9110 §13.1), evaluated against the source.
//!
//! Pure: parsing and evaluation take what the request found (the source's ETag, the
//! tokens of the locks covering each path) and say whether the request may go on, so
//! they are tested here from strings.

use std::fmt;

/// One condition of an `If` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Condition {
    /// A state token (a lock token), true when a lock with it covers the resource.
    Token(String),
    /// An entity tag, without quotes, true when it is the resource's.
    ETag(String),
}

/// One parenthesised list: all its conditions must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IfList {
    /// The resource the list is about (a tagged list); `None` means the request's.
    pub(crate) resource: Option<String>,
    /// `(negated, condition)` pairs.
    pub(crate) conditions: Vec<(bool, Condition)>,
}

/// The `If` header does not follow the grammar of RFC 4918 §10.4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed;

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the If header is malformed: send lists such as (<lock-token>) or ([\"etag\"]), \
             optionally after a <resource> tag",
        )
    }
}

/// Parses an `If` header into its lists.
pub(crate) fn parse_if(value: &str) -> Result<Vec<IfList>, Malformed> {
    let mut lists = Vec::new();
    let mut resource: Option<String> = None;
    let mut rest = value.trim_start();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('<') {
            let (tag, after) = after.split_once('>').ok_or(Malformed)?;
            resource = Some(tag.to_owned());
            rest = after.trim_start();
            if !rest.starts_with('(') {
                return Err(Malformed);
            }
            continue;
        }
        let after = rest.strip_prefix('(').ok_or(Malformed)?;
        let (body, after) = after.split_once(')').ok_or(Malformed)?;
        lists.push(IfList {
            resource: resource.clone(),
            conditions: parse_conditions(body)?,
        });
        rest = after.trim_start();
    }
    if lists.is_empty() {
        return Err(Malformed);
    }
    Ok(lists)
}

fn parse_conditions(body: &str) -> Result<Vec<(bool, Condition)>, Malformed> {
    let mut conditions = Vec::new();
    let mut rest = body.trim_start();
    while !rest.is_empty() {
        let mut not = false;
        if let Some(after) = rest
            .get(..3)
            .filter(|word| word.eq_ignore_ascii_case("not"))
            .map(|_| &rest[3..])
        {
            not = true;
            rest = after.trim_start();
        }
        let (condition, after) = if let Some(after) = rest.strip_prefix('<') {
            let (token, after) = after.split_once('>').ok_or(Malformed)?;
            (Condition::Token(token.to_owned()), after)
        } else if let Some(after) = rest.strip_prefix('[') {
            let (tag, after) = after.split_once(']').ok_or(Malformed)?;
            (Condition::ETag(bare_etag(tag).to_owned()), after)
        } else {
            return Err(Malformed);
        };
        conditions.push((not, condition));
        rest = after.trim_start();
    }
    if conditions.is_empty() {
        return Err(Malformed);
    }
    Ok(conditions)
}

/// An entity tag without `W/` and quotes: ours are strong, and the stored form is bare.
fn bare_etag(tag: &str) -> &str {
    let tag = tag.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    tag.trim_matches('"')
}

/// Every state token the lists name, for the lock check (RFC 4918 §10.4.1: tokens are
/// submitted whether or not their list holds).
pub(crate) fn tokens(lists: &[IfList]) -> Vec<String> {
    lists
        .iter()
        .flat_map(|list| &list.conditions)
        .filter_map(|(_, condition)| match condition {
            Condition::Token(token) => Some(token.clone()),
            Condition::ETag(_) => None,
        })
        .collect()
}

/// What is known of a resource a list may be about.
#[derive(Debug, Clone, Default)]
pub(crate) struct State<'a> {
    /// Its ETag, bare; `None` when it does not exist.
    pub(crate) etag: Option<&'a str>,
    /// The tokens of the locks covering it.
    pub(crate) lock_tokens: &'a [String],
}

/// True when any list holds (RFC 4918 §10.4.3). `state` answers for a list's resource,
/// `None` meaning the request's own; a resource it cannot answer for fails the list.
pub(crate) fn any_list_holds<'a>(
    lists: &[IfList],
    state: impl Fn(Option<&str>) -> Option<State<'a>>,
) -> bool {
    lists.iter().any(|list| {
        let Some(resource) = state(list.resource.as_deref()) else {
            return false;
        };
        list.conditions.iter().all(|(not, condition)| {
            let holds = match condition {
                Condition::Token(token) => resource.lock_tokens.contains(token),
                Condition::ETag(tag) => resource.etag == Some(tag.as_str()),
            };
            holds != *not
        })
    })
}

/// `If-Match` / `If-None-Match` against the source's bare ETag: `false` means 412.
pub(crate) fn http_preconditions_hold(
    if_match: Option<&str>,
    if_none_match: Option<&str>,
    etag: &str,
) -> bool {
    let listed = |value: &str| {
        value
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || bare_etag(tag) == etag)
    };
    if_match.is_none_or(listed) && !if_none_match.is_some_and(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state<'a>(etag: &'a str, tokens: &'a [String]) -> State<'a> {
        State {
            etag: Some(etag),
            lock_tokens: tokens,
        }
    }

    #[test]
    fn lists_tags_and_negations_parse() {
        let lists = parse_if(
            r#"<http://h/files/a> (<urn:uuid:1> ["x"]) (Not <DAV:no-lock>) </files/b> ([W/"y"])"#,
        )
        .unwrap();
        assert_eq!(lists.len(), 3);
        assert_eq!(lists[0].resource.as_deref(), Some("http://h/files/a"));
        assert_eq!(
            lists[0].conditions,
            vec![
                (false, Condition::Token("urn:uuid:1".into())),
                (false, Condition::ETag("x".into()))
            ]
        );
        assert_eq!(lists[1].resource.as_deref(), Some("http://h/files/a"));
        assert!(lists[1].conditions[0].0);
        assert_eq!(lists[2].conditions[0].1, Condition::ETag("y".into()));
        assert_eq!(tokens(&lists), vec!["urn:uuid:1", "DAV:no-lock"]);
        for bad in [
            "",
            "()",
            "(<a>",
            "<a>",
            "x",
            "(junk)",
            "<a> <b> (<c>)",
            "(é<a>)",
        ] {
            assert_eq!(parse_if(bad), Err(Malformed), "{bad:?}");
        }
    }

    #[test]
    fn any_list_may_hold_and_every_condition_of_it_must() {
        let held = vec!["urn:uuid:1".to_owned()];
        let lists = parse_if(r#"(<urn:uuid:1> ["e1"])"#).unwrap();
        assert!(any_list_holds(&lists, |_| Some(state("e1", &held))));
        assert!(!any_list_holds(&lists, |_| Some(state("e2", &held))));
        assert!(!any_list_holds(&lists, |_| Some(state("e1", &[]))));
        let lists = parse_if(r#"(<urn:uuid:stale>) (Not <DAV:no-lock>)"#).unwrap();
        assert!(any_list_holds(&lists, |_| Some(state("e", &[]))));
        let lists = parse_if(r#"(<DAV:no-lock>)"#).unwrap();
        assert!(!any_list_holds(&lists, |_| Some(state("e", &held))));
        let tagged = parse_if(r#"</elsewhere> (["e"])"#).unwrap();
        assert!(!any_list_holds(&tagged, |r| r
            .is_none()
            .then(|| state("e", &[]))));
    }

    #[test]
    fn http_preconditions_compare_bare_etags() {
        assert!(http_preconditions_hold(None, None, "e"));
        assert!(http_preconditions_hold(Some("\"e\""), None, "e"));
        assert!(http_preconditions_hold(Some("\"x\", \"e\""), None, "e"));
        assert!(http_preconditions_hold(Some("*"), None, "e"));
        assert!(!http_preconditions_hold(Some("\"x\""), None, "e"));
        assert!(!http_preconditions_hold(None, Some("*"), "e"));
        assert!(!http_preconditions_hold(None, Some("W/\"e\""), "e"));
        assert!(http_preconditions_hold(None, Some("\"x\""), "e"));
    }
}
