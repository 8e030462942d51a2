//! LOCK bodies (RFC 4918 §9.10, §14.13): which scope, and who the client says owns it.
//!
//! A LOCK with no body is a refresh; the caller tells that apart before parsing, since
//! only it knows whether the body was empty.

use super::super::error::XmlError;
use super::super::names::{Namespace, Property};
use super::super::raw::{RawXml, property_element};
use super::super::reader::{Limits, parse_document};
use super::propfind::expect_root;

/// `D:lockscope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockScope {
    /// One holder.
    Exclusive,
    /// Any number of shared holders.
    Shared,
}

/// A LOCK request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockInfo {
    /// Exclusive or shared; the only lock type is write.
    pub scope: LockScope,
    /// The whole `D:owner` element as sent, self-contained, to echo back verbatim in
    /// every lockdiscovery (RFC 4918 §14.17).
    pub owner: Option<RawXml>,
}

/// Parses a LOCK body.
pub fn parse_lockinfo(body: &[u8], limits: &Limits) -> Result<LockInfo, XmlError> {
    const CLARK: &str = "{DAV:}lockinfo";
    let root = parse_document(body, limits)?;
    expect_root(&root, &Namespace::Dav, "lockinfo", CLARK)?;
    let mut scope = None;
    let mut write = false;
    let mut owner = None;
    for child in root.elements() {
        if child.namespace != Namespace::Dav {
            continue;
        }
        match child.name.as_str() {
            "lockscope" => {
                scope = match child.elements().next() {
                    Some(e) if e.is(&Namespace::Dav, "exclusive") => Some(LockScope::Exclusive),
                    Some(e) if e.is(&Namespace::Dav, "shared") => Some(LockScope::Shared),
                    _ => {
                        return Err(XmlError::invalid(
                            CLARK,
                            "lockscope must hold exclusive or shared",
                        ));
                    }
                }
            }
            "locktype" => match child.elements().next() {
                Some(e) if e.is(&Namespace::Dav, "write") => write = true,
                _ => return Err(XmlError::invalid(CLARK, "the only lock type is write")),
            },
            "owner" => {
                let name = Property::from_parts(Namespace::Dav, "owner");
                owner = Some(property_element(&name, child.lang(), &child.inner_xml()));
            }
            _ => {}
        }
    }
    match (scope, write) {
        (Some(scope), true) => Ok(LockInfo { scope, owner }),
        (None, _) => Err(XmlError::invalid(CLARK, "lockscope is missing")),
        (_, false) => Err(XmlError::invalid(CLARK, "locktype is missing")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<LockInfo, XmlError> {
        parse_lockinfo(body.as_bytes(), &Limits::DEFAULT)
    }

    #[test]
    fn scopes_and_owners_are_read() {
        let table: [(&str, LockScope, Option<&str>); 4] = [
            (
                r#"<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>mailto:a@b</D:href></D:owner></D:lockinfo>"#,
                LockScope::Exclusive,
                Some(
                    r#"<D:owner xmlns:D="DAV:"><D:href xmlns:D="DAV:">mailto:a@b</D:href></D:owner>"#,
                ),
            ),
            // litmus writes a default namespace and a text owner.
            (
                r#"<lockinfo xmlns="DAV:"><lockscope><shared/></lockscope><locktype><write/></locktype><owner>litmus test suite</owner></lockinfo>"#,
                LockScope::Shared,
                Some(r#"<D:owner xmlns:D="DAV:">litmus test suite</D:owner>"#),
            ),
            (
                r#"<D:lockinfo xmlns:D="DAV:"><D:locktype><D:write/></D:locktype><D:lockscope><D:shared/></D:lockscope></D:lockinfo>"#,
                LockScope::Shared,
                None,
            ),
            // Unknown elements are ignored (RFC 4918 §17).
            (
                r#"<D:lockinfo xmlns:D="DAV:" xmlns:E="urn:e"><E:x/><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"#,
                LockScope::Exclusive,
                None,
            ),
        ];
        for (body, scope, owner) in table {
            let info = parse(body).unwrap();
            assert_eq!(info.scope, scope, "{body}");
            assert_eq!(info.owner.as_ref().map(RawXml::as_str), owner, "{body}");
        }
    }

    #[test]
    fn incomplete_or_foreign_bodies_are_refused() {
        for body in [
            r#"<D:lockinfo xmlns:D="DAV:"><D:locktype><D:write/></D:locktype></D:lockinfo>"#,
            r#"<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope></D:lockinfo>"#,
            r#"<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:other/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"#,
            r#"<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:read/></D:locktype></D:lockinfo>"#,
            r#"<D:propfind xmlns:D="DAV:"/>"#,
            "",
        ] {
            assert!(parse(body).is_err(), "{body}");
        }
    }
}
