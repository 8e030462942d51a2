//! Request bodies → typed requests: PROPFIND here, PROPPATCH/MKCALENDAR/MKCOL in
//! `proppatch`, and the REPORTs in `calendar`, `addressbook` and `sync`.
//!
//! Rule for unknown content (RFC 4918 §17): unknown elements are ignored, except
//! inside filters, where ignoring one would widen the result, so they are refused
//! with the RFC's supported-filter precondition.

mod addressbook;
mod calendar;
mod filter;
mod proppatch;
mod sync;

pub use addressbook::{
    AddressDataRequest, AddressbookQuery, CardFilter, CardPropFilter, CardPropTest, FilterTest,
};
pub use calendar::{
    CalendarDataRequest, CalendarQuery, CompFilter, CompSelection, CompTest, FreeBusyQuery,
    PropCondition, PropFilter, PropTest,
};
pub use filter::{
    Collation, MatchType, ParamFilter, ParamTest, PropSelector, Selection, TextMatch, TimeRange,
};
pub use proppatch::{
    Instruction, MkCol, MkColKind, PropertyUpdate, PropertyValue, SetProperty, parse_mkcalendar,
    parse_mkcol, parse_proppatch,
};
pub use sync::{SyncCollection, SyncLevel};

use super::error::XmlError;
use super::names::{CalDavProperty, CardDavProperty, Namespace, Property, ReportName};
use super::reader::{Element, Limits, parse_document};

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

/// A calendar-multiget or addressbook-multiget (RFC 4791 §7.9, RFC 6352 §8.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multiget {
    /// What to return for each resource.
    pub props: ReportProps,
    /// The hrefs as sent (trimmed); decode with [`super::href::decode_href`].
    pub hrefs: Vec<String>,
}

/// A REPORT body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// `C:calendar-query`.
    CalendarQuery(CalendarQuery),
    /// `C:calendar-multiget`.
    CalendarMultiget(Multiget),
    /// `C:free-busy-query`.
    FreeBusyQuery(FreeBusyQuery),
    /// `CR:addressbook-query`.
    AddressbookQuery(AddressbookQuery),
    /// `CR:addressbook-multiget`.
    AddressbookMultiget(Multiget),
    /// `D:sync-collection`.
    SyncCollection(SyncCollection),
}

impl Report {
    /// Which report this is.
    pub fn name(&self) -> ReportName {
        match self {
            Self::CalendarQuery(_) => ReportName::CalendarQuery,
            Self::CalendarMultiget(_) => ReportName::CalendarMultiget,
            Self::FreeBusyQuery(_) => ReportName::FreeBusyQuery,
            Self::AddressbookQuery(_) => ReportName::AddressbookQuery,
            Self::AddressbookMultiget(_) => ReportName::AddressbookMultiget,
            Self::SyncCollection(_) => ReportName::SyncCollection,
        }
    }
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

/// Parses a REPORT body, dispatching on its root element.
pub fn parse_report(body: &[u8], limits: &Limits) -> Result<Report, XmlError> {
    let root = parse_document(body, limits)?;
    let Some(name) = ReportName::from_qname(&root.namespace, &root.name) else {
        return Err(XmlError::UnsupportedReport {
            namespace: root.namespace.uri().to_owned(),
            name: root.name,
        });
    };
    Ok(match name {
        ReportName::CalendarQuery => Report::CalendarQuery(calendar::parse_query(&root)?),
        ReportName::CalendarMultiget => Report::CalendarMultiget(parse_multiget(&root)?),
        ReportName::FreeBusyQuery => Report::FreeBusyQuery(calendar::parse_free_busy(&root)?),
        ReportName::AddressbookQuery => Report::AddressbookQuery(addressbook::parse_query(&root)?),
        ReportName::AddressbookMultiget => Report::AddressbookMultiget(parse_multiget(&root)?),
        ReportName::SyncCollection => Report::SyncCollection(sync::parse(&root)?),
    })
}

fn parse_multiget(root: &Element) -> Result<Multiget, XmlError> {
    let hrefs = root
        .elements()
        .filter(|e| e.is(&Namespace::Dav, "href"))
        .map(|e| e.text().trim().to_owned())
        .filter(|href| !href.is_empty())
        .collect();
    Ok(Multiget {
        props: parse_report_props(root)?,
        hrefs,
    })
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
                            calendar_data = Some(calendar::parse_calendar_data(selector)?);
                        }
                        Property::CardDav(CardDavProperty::AddressData) => {
                            address_data = Some(addressbook::parse_address_data(selector)?);
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

#[cfg(test)]
mod tests;
