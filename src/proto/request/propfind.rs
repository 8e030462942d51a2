//! PROPFIND bodies (RFC 4918 §9.1) and the property part every REPORT shares:
//! `allprop`, `propname` or `prop`, with the data selections inside `D:prop`.

use super::super::error::XmlError;
use super::super::names::{CalDavProperty, CardDavProperty, Namespace, Property};
use super::super::reader::{Element, Limits, parse_document};
use super::selection::{
    AddressDataRequest, CalendarDataRequest, parse_address_data, parse_calendar_data,
};

/// What a PROPFIND (or a REPORT's property part) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropFind {
    /// Every dead property and the RFC 4918 live ones, plus `include`d extras.
    AllProp {
        /// Properties named in `D:include` (RFC 4918 §14.8).
        include: Vec<Property>,
    },
    /// Every property name, without values.
    PropName,
    /// These properties, in request order, duplicates removed.
    Prop(Vec<Property>),
}

/// The property part of a REPORT, with the data selections that ride inside
/// `D:prop` (a `C:calendar-data` or `CR:address-data` with children).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportProps {
    /// What to return for each resource; `Prop([])` when the body names nothing.
    pub props: PropFind,
    /// The calendar-data request, if calendar-data was asked for.
    pub calendar_data: Option<CalendarDataRequest>,
    /// The address-data request, if address-data was asked for.
    pub address_data: Option<AddressDataRequest>,
}

/// Parses a PROPFIND body; an empty body means allprop (RFC 4918 §9.1).
pub fn parse_propfind(body: &[u8], limits: &Limits) -> Result<PropFind, XmlError> {
    let root = match parse_document(body, limits) {
        Err(XmlError::EmptyBody) => {
            return Ok(PropFind::AllProp {
                include: Vec::new(),
            });
        }
        other => other?,
    };
    expect_root(&root, &Namespace::Dav, "propfind", "{DAV:}propfind")?;
    let mut found: Option<PropFind> = None;
    let mut include = Vec::new();
    for child in root.elements() {
        let next = match (&child.namespace, child.name.as_str()) {
            (Namespace::Dav, "allprop") => PropFind::AllProp {
                include: Vec::new(),
            },
            (Namespace::Dav, "propname") => PropFind::PropName,
            (Namespace::Dav, "prop") => PropFind::Prop(prop_names(child)),
            (Namespace::Dav, "include") => {
                include.extend(prop_names(child));
                continue;
            }
            _ => continue,
        };
        if found.is_some() {
            return Err(XmlError::invalid(
                "{DAV:}propfind",
                "allprop, propname and prop are mutually exclusive",
            ));
        }
        found = Some(next);
    }
    match found {
        Some(PropFind::AllProp { .. }) => Ok(PropFind::AllProp { include }),
        Some(_) if !include.is_empty() => Err(XmlError::invalid(
            "{DAV:}propfind",
            "include is only allowed with allprop",
        )),
        Some(other) => Ok(other),
        // `<D:propfind/>` with nothing inside: sabre/dav and Apache read it as allprop,
        // and so do we rather than fail a client that trusts them.
        None => Ok(PropFind::AllProp { include }),
    }
}

pub(crate) fn expect_root(
    root: &Element,
    namespace: &Namespace,
    name: &str,
    expected: &'static str,
) -> Result<(), XmlError> {
    if root.is(namespace, name) {
        return Ok(());
    }
    Err(XmlError::UnexpectedRoot {
        expected,
        found: root.clark(),
    })
}

/// The properties named inside a `D:prop`, in order, each once: Nextcloud's
/// cdav-library asks for resourcetype three times in one PROPFIND.
pub(crate) fn prop_names(prop: &Element) -> Vec<Property> {
    let mut names: Vec<Property> = Vec::new();
    for child in prop.elements() {
        let property = Property::from_parts(child.namespace.clone(), &child.name);
        if !names.contains(&property) {
            names.push(property);
        }
    }
    names
}

/// The `(allprop | propname | prop)?` part of a REPORT, with data selections.
pub(crate) fn parse_report_props(root: &Element) -> Result<ReportProps, XmlError> {
    let mut props = None;
    let mut calendar_data = None;
    let mut address_data = None;
    for child in root.elements() {
        let next = match (&child.namespace, child.name.as_str()) {
            (Namespace::Dav, "allprop") => PropFind::AllProp {
                include: Vec::new(),
            },
            (Namespace::Dav, "propname") => PropFind::PropName,
            (Namespace::Dav, "prop") => {
                for selector in child.elements() {
                    let property = Property::from_parts(selector.namespace.clone(), &selector.name);
                    match property {
                        Property::CalDav(CalDavProperty::CalendarData) => {
                            calendar_data = Some(parse_calendar_data(selector)?);
                        }
                        Property::CardDav(CardDavProperty::AddressData) => {
                            address_data = Some(parse_address_data(selector)?);
                        }
                        _ => {}
                    }
                }
                PropFind::Prop(prop_names(child))
            }
            _ => continue,
        };
        if props.is_some() {
            return Err(XmlError::invalid(
                "{DAV:}prop",
                "a REPORT names its properties once (allprop, propname or prop)",
            ));
        }
        props = Some(next);
    }
    Ok(ReportProps {
        props: props.unwrap_or(PropFind::Prop(Vec::new())),
        calendar_data,
        address_data,
    })
}

/// `<limit><nresults>N</nresults></limit>` in the given namespace.
pub(crate) fn parse_nresults(
    limit: &Element,
    namespace: &Namespace,
    clark: &'static str,
) -> Result<Option<u32>, XmlError> {
    let Some(nresults) = limit.child(namespace, "nresults") else {
        return Ok(None);
    };
    let text = nresults.text();
    text.trim()
        .parse::<u32>()
        .map(Some)
        .map_err(|_| XmlError::invalid(clark, format!("nresults {text:?} is not a count")))
}
