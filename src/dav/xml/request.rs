//! PROPFIND (RFC 4918 §14.20), PROPPATCH (§14.19) and MKCOL / MKCALENDAR bodies
//! (RFC 5689, RFC 4791 §5.3.1).

use super::XmlError;
use super::names::{CALDAV, DAV, PropName};
use super::tree::{self, Element};

/// Most properties one request may name.
const MAX_PROPS: usize = 512;

/// What a PROPFIND asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropFind {
    /// Every dead property and the live ones RFC 4918 lists, plus `include`d extras.
    AllProp {
        /// Extra properties from `DAV:include`.
        include: Vec<PropName>,
    },
    /// Names only.
    PropName,
    /// These properties.
    Props(Vec<PropName>),
}

impl PropFind {
    /// Whether the answer needs `name` (allprop asks for the standard set).
    pub fn wants(&self, name: &PropName) -> bool {
        match self {
            PropFind::AllProp { include } => include.contains(name),
            PropFind::PropName => false,
            PropFind::Props(names) => names.contains(name),
        }
    }
}

/// Parses a PROPFIND body; an empty body means allprop (RFC 4918 §9.1).
pub fn propfind(body: &[u8]) -> Result<PropFind, XmlError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(PropFind::AllProp {
            include: Vec::new(),
        });
    }
    let root = tree::parse(body)?;
    expect(&root, DAV, "propfind")?;
    prop_selection(&root)?
        .ok_or_else(|| XmlError::Invalid("DAV:propfind needs allprop, propname or prop".into()))
}

/// The allprop/propname/prop choice inside a PROPFIND or a REPORT.
pub(crate) fn prop_selection(parent: &Element) -> Result<Option<PropFind>, XmlError> {
    let allprop = parent.child(DAV, "allprop").is_some();
    let propname = parent.child(DAV, "propname").is_some();
    let prop = parent.child(DAV, "prop");
    if [allprop, propname, prop.is_some()]
        .iter()
        .filter(|b| **b)
        .count()
        > 1
    {
        return Err(XmlError::Invalid(
            "allprop, propname and prop cannot be combined".into(),
        ));
    }
    if allprop {
        let include = parent
            .child(DAV, "include")
            .map(names_of)
            .unwrap_or_default();
        return Ok(Some(PropFind::AllProp { include }));
    }
    if propname {
        return Ok(Some(PropFind::PropName));
    }
    match prop {
        Some(p) => {
            if p.children.len() > MAX_PROPS {
                return Err(XmlError::TooLarge(format!(
                    "more than {MAX_PROPS} properties"
                )));
            }
            Ok(Some(PropFind::Props(names_of(p))))
        }
        None => Ok(None),
    }
}

fn names_of(parent: &Element) -> Vec<PropName> {
    parent
        .children
        .iter()
        .map(|c| PropName::new(&c.ns, &c.name))
        .collect()
}

/// One operation of a PROPPATCH, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropOp {
    /// Set a property to this element (name, value and all).
    Set(Element),
    /// Remove a property.
    Remove(PropName),
}

/// Parses a PROPPATCH body (`DAV:propertyupdate`).
pub fn propertyupdate(body: &[u8]) -> Result<Vec<PropOp>, XmlError> {
    let root = tree::parse(body)?;
    expect(&root, DAV, "propertyupdate")?;
    let mut ops = Vec::new();
    for action in &root.children {
        let set = if action.is(DAV, "set") {
            true
        } else if action.is(DAV, "remove") {
            false
        } else {
            continue;
        };
        for prop in action.children_named(DAV, "prop") {
            for p in &prop.children {
                ops.push(if set {
                    PropOp::Set(p.clone())
                } else {
                    PropOp::Remove(PropName::new(&p.ns, &p.name))
                });
            }
        }
    }
    if ops.is_empty() {
        return Err(XmlError::Invalid(
            "DAV:propertyupdate sets or removes nothing".into(),
        ));
    }
    if ops.len() > MAX_PROPS {
        return Err(XmlError::TooLarge(format!(
            "more than {MAX_PROPS} properties"
        )));
    }
    Ok(ops)
}

/// What an MKCALENDAR or extended MKCOL asks to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MkCol {
    /// The resource types named in `DAV:resourcetype` (extended MKCOL), e.g.
    /// `{urn:ietf:params:xml:ns:caldav}calendar`.
    pub resourcetype: Vec<PropName>,
    /// The initial properties, as PROPPATCH sets them.
    pub props: Vec<Element>,
}

/// Parses an MKCALENDAR body (`CALDAV:mkcalendar`) or an extended MKCOL body
/// (`DAV:mkcol`); an empty body creates with defaults.
pub fn mkcol(body: &[u8]) -> Result<MkCol, XmlError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(MkCol {
            resourcetype: Vec::new(),
            props: Vec::new(),
        });
    }
    let root = tree::parse(body)?;
    if !root.is(CALDAV, "mkcalendar") && !root.is(DAV, "mkcol") {
        return Err(XmlError::Invalid(
            "the body must be CALDAV:mkcalendar or DAV:mkcol".into(),
        ));
    }
    let mut resourcetype = Vec::new();
    let mut props = Vec::new();
    for set in root.children_named(DAV, "set") {
        for prop in set.children_named(DAV, "prop") {
            for p in &prop.children {
                if p.is(DAV, "resourcetype") {
                    resourcetype = names_of(p);
                } else {
                    props.push(p.clone());
                }
            }
        }
    }
    Ok(MkCol {
        resourcetype,
        props,
    })
}

pub(crate) fn expect(root: &Element, ns: &str, name: &str) -> Result<(), XmlError> {
    if root.is(ns, name) {
        return Ok(());
    }
    Err(XmlError::Invalid(format!(
        "the root element must be {{{ns}}}{name}, not {{{}}}{}",
        root.ns, root.name
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propfind_forms() {
        assert_eq!(
            propfind(b" ").unwrap(),
            PropFind::AllProp { include: vec![] }
        );
        assert_eq!(
            propfind(br#"<propfind xmlns="DAV:"><propname/></propfind>"#).unwrap(),
            PropFind::PropName
        );
        let thunderbird = br#"<D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:resourcetype/><D:owner/><D:current-user-principal/><D:supported-report-set/><C:supported-calendar-component-set/><CS:getctag/></D:prop></D:propfind>"#;
        let PropFind::Props(props) = propfind(thunderbird).unwrap() else {
            panic!()
        };
        assert_eq!(props.len(), 6);
        assert!(props[5].is("http://calendarserver.org/ns/", "getctag"));
        assert!(
            propfind(br#"<D:propfind xmlns:D="DAV:"><D:propname/><D:prop/></D:propfind>"#).is_err()
        );
        assert!(propfind(b"<x/>").is_err());
    }

    #[test]
    fn proppatch_keeps_order_and_whole_elements() {
        let body = br#"<D:propertyupdate xmlns:D="DAV:" xmlns:I="http://apple.com/ns/ical/"><D:set><D:prop><D:displayname>Work</D:displayname><I:calendar-color>#FF0000FF</I:calendar-color></D:prop></D:set><D:remove><D:prop><I:calendar-order/></D:prop></D:remove></D:propertyupdate>"#;
        let ops = propertyupdate(body).unwrap();
        assert!(matches!(&ops[0], PropOp::Set(e) if e.is(DAV, "displayname") && e.text == "Work"));
        assert!(
            matches!(&ops[2], PropOp::Remove(n) if n.is("http://apple.com/ns/ical/", "calendar-order"))
        );
        assert!(propertyupdate(br#"<D:propertyupdate xmlns:D="DAV:"/>"#).is_err());
    }

    #[test]
    fn mkcalendar_and_extended_mkcol() {
        let mk = mkcol(br#"<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>Tasks</D:displayname><C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>"#).unwrap();
        assert_eq!(mk.props.len(), 2);
        let ext = mkcol(br#"<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype><D:displayname>Friends</D:displayname></D:prop></D:set></D:mkcol>"#).unwrap();
        assert!(
            ext.resourcetype
                .iter()
                .any(|r| r.is("urn:ietf:params:xml:ns:carddav", "addressbook"))
        );
        assert_eq!(mkcol(b"").unwrap().props.len(), 0);
    }
}
